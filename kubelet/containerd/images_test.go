package containerd

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/images"
)

// startContainerd runs a private containerd for the test and stops it at
// the end.
func startContainerd(t *testing.T) *Supervisor {
	t.Helper()
	needContainerd(t)
	s := &Supervisor{Dir: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			t.Errorf("containerd: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := s.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestImportAndListTheTestImage(t *testing.T) {
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("busybox-static is not installed (hack/install-deps.sh)")
	}
	s := startContainerd(t)
	var tarball bytes.Buffer
	if err := images.Build(&tarball, "/bin/busybox"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, ctx, err := Connect(ctx, s.Address())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	names, err := Import(ctx, c, bytes.NewReader(tarball.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != images.Name {
		t.Fatalf("imported %v, want [%s]", names, images.Name)
	}
	// Importing again is harmless.
	if _, err := Import(ctx, c, bytes.NewReader(tarball.Bytes())); err != nil {
		t.Fatal(err)
	}
	list, err := ListImages(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != images.Name || !strings.HasPrefix(list[0].Digest, "sha256:") || list[0].Size <= 0 {
		t.Fatalf("listed %+v", list)
	}
	img, err := c.GetImage(ctx, images.Name)
	if err != nil {
		t.Fatal(err)
	}
	if unpacked, err := img.IsUnpacked(ctx, Snapshotter); err != nil || !unpacked {
		t.Fatalf("image not unpacked for %s: %v", Snapshotter, err)
	}
	if _, err := Import(ctx, c, strings.NewReader("not a tarball")); err == nil {
		t.Fatal("importing garbage succeeded")
	}
}
