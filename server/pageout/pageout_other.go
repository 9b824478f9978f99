//go:build !linux

package pageout

// File is a no-op where the kernel offers no MADV_PAGEOUT.
func File(string) (int64, error) { return 0, nil }

// Executable is a no-op where the kernel offers no MADV_PAGEOUT.
func Executable() (int64, error) { return 0, nil }
