package logs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// Upstream kubelet's defaults for containerLogMaxSize and
// containerLogMaxFiles.
const (
	DefaultMaxSize  = 10 * 1024 * 1024
	DefaultMaxFiles = 5
)

// RotatingFile is a container's log file that is rotated, as the
// kubelet's log manager does, once it grows past maxSize: renamed to
// PATH.<time> and a new PATH started; of the rotated files only the
// newest maxFiles-1 are kept. Writes are whole records (Writer's), so a
// record is never split between files.
type RotatingFile struct {
	path     string
	maxSize  int64
	maxFiles int
	now      func() time.Time

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRotatingFile opens (appending) or creates the log at path.
func OpenRotatingFile(path string, maxSize int64, maxFiles int) (*RotatingFile, error) {
	r := &RotatingFile{path: path, maxSize: maxSize, maxFiles: max(1, maxFiles), now: time.Now}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, info.Size()
	return nil
}

// Write implements io.Writer.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		if err := r.rotate(); err != nil {
			return 0, fmt.Errorf("rotating %s: %w", r.path, err)
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return err
	}
	stamp := r.now().UTC().Format("20060102-150405")
	target := r.path + "." + stamp
	for i := 1; fileExists(target); i++ {
		target = fmt.Sprintf("%s.%s-%d", r.path, stamp, i)
	}
	if err := os.Rename(r.path, target); err != nil {
		return err
	}
	if err := r.open(); err != nil {
		return err
	}
	old, err := filepath.Glob(r.path + ".*")
	if err != nil {
		return err
	}
	slices.Sort(old) // oldest first: the stamps sort by time
	for len(old) > r.maxFiles-1 {
		if err := os.Remove(old[0]); err != nil && !os.IsNotExist(err) {
			return err
		}
		old = old[1:]
	}
	return nil
}

// Close closes the current file.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f.Close()
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
