package etcd

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ReleaseBackendPages asks the kernel to reclaim the pages of the
// backend's memory map. etcd maps its bbolt file with MAP_POPULATE so
// that a restart reads the whole file in at once; after start-up those
// pages are counted in the process's RSS although most are never touched
// again. MADV_PAGEOUT drops them from this process (the file keeps the
// data; a later read faults the page back in). MADV_PAGEOUT never
// discards anonymous memory, so a mapping that changed between reading
// /proc/self/maps and the call loses nothing. It returns the bytes
// advised; kernels before 5.4 answer EINVAL, which is reported.
func (s *Server) ReleaseBackendPages() (int64, error) {
	return releaseFilePages(s.BackendPath())
}

func releaseFilePages(path string) (int64, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("reading memory maps: %w", err)
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || strings.Join(fields[5:], " ") != path {
			continue
		}
		bounds := strings.SplitN(fields[0], "-", 2)
		if len(bounds) != 2 {
			continue
		}
		start, err1 := strconv.ParseUint(bounds[0], 16, 64)
		end, err2 := strconv.ParseUint(bounds[1], 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		_, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(start), uintptr(end-start), unix.MADV_PAGEOUT)
		if errno != 0 {
			return total, fmt.Errorf("madvise %s: %w", path, errno)
		}
		total += int64(end - start)
	}
	if err := sc.Err(); err != nil {
		return total, fmt.Errorf("reading memory maps: %w", err)
	}
	return total, nil
}
