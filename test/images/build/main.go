// Command build writes skiff's test image (package images) as an OCI
// image layout tarball: go run ./test/images/build -o bin/test-image.tar
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/skiffhq/skiff/test/images"
)

func main() {
	out := flag.String("o", "bin/test-image.tar", "where to write the tarball")
	busybox := flag.String("busybox", "/bin/busybox", "the static busybox binary (Debian package busybox-static)")
	flag.Parse()
	if err := build(*out, *busybox); err != nil {
		fmt.Fprintln(os.Stderr, "build-test-image:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s\n", *out, images.Name)
}

func build(out, busybox string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".test-image-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := images.Build(tmp, busybox); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}
