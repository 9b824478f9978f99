package pageout

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// File asks the kernel to reclaim this process's pages of the file mapped
// from path (MADV_PAGEOUT): clean file pages that start-up touched are
// dropped from the resident set, and a later access faults the page back
// in from the file. MADV_PAGEOUT never discards anonymous memory, so a
// mapping that changed between reading /proc/self/maps and the call loses
// nothing. It returns the bytes advised; kernels before 5.4 answer
// EINVAL, which is reported.
func File(path string) (int64, error) {
	return releaseFilePages(path)
}

// Executable does the same for the running binary's own mapping: code and
// tables used only at start-up (OpenAPI building, scheme registration).
func Executable() (int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return 0, err
	}
	return releaseFilePages(exe)
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
