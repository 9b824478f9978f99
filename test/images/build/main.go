// Command build writes skiff's test image (package images) as an OCI
// image layout tarball: go run ./test/images/build -o bin/test-image.tar
//
// -name and -add build another image from it, with files of one's own:
//
//	go run ./test/images/build -o webhook.tar -name skiff.dev/webhook:test -add bin/skiff-webhook=./skiff-webhook
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/skiffhq/skiff/test/images"
)

func main() {
	out := flag.String("o", "bin/test-image.tar", "where to write the tarball")
	busybox := flag.String("busybox", "/bin/busybox", "the static busybox binary (Debian package busybox-static)")
	name := flag.String("name", images.Name, "the image's name")
	var adds []string
	flag.Func("add", "IMAGE_PATH=FILE: add FILE at IMAGE_PATH (e.g. bin/server=./server), executable; repeatable", func(v string) error {
		if dst, src, ok := strings.Cut(v, "="); !ok || dst == "" || src == "" {
			return fmt.Errorf("want IMAGE_PATH=FILE, got %q", v)
		}
		adds = append(adds, v)
		return nil
	})
	flag.Parse()
	var files []images.File
	for _, a := range adds {
		dst, src, _ := strings.Cut(a, "=")
		data, err := os.ReadFile(src)
		if err != nil {
			fmt.Fprintln(os.Stderr, "build-test-image:", err)
			os.Exit(1)
		}
		files = append(files, images.File{Path: strings.TrimPrefix(dst, "/"), Mode: 0o755, Data: data})
	}
	if err := build(*out, *busybox, *name, files); err != nil {
		fmt.Fprintln(os.Stderr, "build-test-image:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s\n", *out, *name)
}

func build(out, busybox, name string, files []images.File) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".test-image-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := images.BuildWith(tmp, busybox, name, files); err != nil {
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
