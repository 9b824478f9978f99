package pageout

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// mappedRSS returns the resident kilobytes of this process's mappings of path.
func mappedRSS(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	total, inside := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			inside = len(fields) >= 6 && strings.Join(fields[5:], " ") == path
			continue
		}
		if inside && fields[0] == "Rss:" {
			kb, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			total += kb
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

func TestReleaseFilePagesKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	want := bytes.Repeat([]byte("skiff-bbolt-page"), 256*1024) // 4 MiB
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(data) }()

	before := mappedRSS(t, path)
	if before < 3*1024 {
		t.Fatalf("MAP_POPULATE left only %d KiB resident of 4096", before)
	}
	n, err := releaseFilePages(path)
	if err != nil {
		t.Fatalf("releaseFilePages: %v", err)
	}
	if n != int64(len(want)) {
		t.Fatalf("advised %d bytes, want %d", n, len(want))
	}
	if after := mappedRSS(t, path); after >= before {
		t.Fatalf("resident %d KiB after release, %d before", after, before)
	}
	if !bytes.Equal(data, want) {
		t.Fatal("mapping content changed after release")
	}
	if n, err := releaseFilePages(filepath.Join(t.TempDir(), "unmapped")); err != nil || n != 0 {
		t.Fatalf("unmapped file: advised %d, err %v", n, err)
	}
}
