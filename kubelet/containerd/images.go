package containerd

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/log"
	"github.com/containerd/platforms"
)

// Namespace is the containerd namespace skiff keeps pods' images and
// containers in, the one upstream's CRI uses (so `ctr -n k8s.io` shows
// them).
const Namespace = "k8s.io"

// Snapshotter prepares image layers for containers.
const Snapshotter = "overlayfs"

// Connect opens a client of the containerd at address, in Namespace.
func Connect(ctx context.Context, address string) (*containerd.Client, context.Context, error) {
	// The client logs each failed registry request through logrus at info
	// level; skiff reports pull failures itself (pod status, events).
	_ = log.SetLevel("warn")
	if _, err := os.Stat(address); err != nil {
		return nil, ctx, fmt.Errorf("no containerd at %s (is skiff running there with the containerd runtime?): %w", address, err)
	}
	c, err := containerd.New(address, containerd.WithDefaultNamespace(Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		return nil, ctx, fmt.Errorf("connecting to containerd at %s: %w", address, err)
	}
	return c, namespaces.WithNamespace(ctx, Namespace), nil
}

// Import loads an OCI image layout or docker-archive tarball and unpacks
// its images for containers to use; it returns their names.
func Import(ctx context.Context, c *containerd.Client, r io.Reader) ([]string, error) {
	imgs, err := c.Import(ctx, r, containerd.WithImportPlatform(platforms.Default()))
	if err != nil {
		return nil, fmt.Errorf("importing: %w", err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("importing: the archive names no image (an OCI layout needs the io.containerd.image.name or org.opencontainers.image.ref.name annotation)")
	}
	var names []string
	for _, img := range imgs {
		if err := containerd.NewImage(c, img).Unpack(ctx, Snapshotter); err != nil {
			return names, fmt.Errorf("unpacking %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	return names, nil
}

// ImageInfo is one line of `skiff images ls`.
type ImageInfo struct {
	Name   string
	Digest string
	Size   int64
}

// ListImages lists the images in Namespace, by name.
func ListImages(ctx context.Context, c *containerd.Client) ([]ImageInfo, error) {
	imgs, err := c.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	out := make([]ImageInfo, 0, len(imgs))
	for _, img := range imgs {
		size, err := img.Size(ctx)
		if err != nil {
			size = -1
		}
		out = append(out, ImageInfo{Name: img.Name(), Digest: img.Target().Digest.String(), Size: size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
