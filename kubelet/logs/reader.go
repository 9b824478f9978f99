package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Options select what Read serves, as corev1.PodLogOptions.
type Options struct {
	// Tail is the number of last lines to serve; negative serves all.
	Tail int64
	// Since drops records written before it.
	Since time.Time
	// Timestamps prefixes each line with its record's time.
	Timestamps bool
	// LimitBytes stops after this many bytes; zero or negative is no limit.
	LimitBytes int64
	// Stream serves only Stdout or Stderr records; empty serves both.
	Stream string
	// Follow keeps serving new records until Running says the writer is
	// done and all it wrote was served, or ctx ends.
	Follow bool
	// Running reports whether records may still be appended (the
	// container runs). Follow polls it every PollInterval.
	Running func() bool
}

// PollInterval is how often a followed log is checked for new records.
var PollInterval = 100 * time.Millisecond

// errLimit ends a Read at LimitBytes.
var errLimit = errors.New("log limit reached")

// Read serves the records of the log file at path to w as plain output.
func Read(ctx context.Context, path string, opts Options, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { f.Close() }()
	if opts.Tail >= 0 {
		start, err := tailOffset(f, opts.Tail)
		if err != nil {
			return err
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return err
		}
	}
	out := &limitWriter{w: w, limited: opts.LimitBytes > 0, left: opts.LimitBytes}
	r := bufio.NewReaderSize(f, 64*1024)
	var pending []byte
	for {
		running := opts.Follow && opts.Running != nil && opts.Running()
		for {
			chunk, err := r.ReadBytes('\n')
			if len(chunk) > 0 {
				pending = append(pending, chunk...)
			}
			if err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			if err := serve(out, pending, opts); err != nil {
				if errors.Is(err, errLimit) {
					return nil
				}
				return err
			}
			pending = pending[:0]
		}
		if f, ok := w.(interface{ Flush() }); ok {
			f.Flush()
		}
		if !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(PollInterval):
		}
		// The file was rotated while followed: what the old one held was
		// served; go on with the new one from its start.
		if rotated(f, path) {
			nf, err := os.Open(path)
			if err != nil {
				continue
			}
			f.Close()
			f = nf
			r.Reset(f)
		}
	}
}

// rotated says whether path is no longer the open file f.
func rotated(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && !os.SameFile(a, b)
}

// serve writes one record (with its newline) as output.
func serve(w *limitWriter, rec []byte, opts Options) error {
	ts, stream, tag, content, err := parse(rec)
	if err != nil {
		return nil // a record torn by a crash; skip it as kubelet does
	}
	if opts.Stream != "" && stream != opts.Stream {
		return nil
	}
	if !opts.Since.IsZero() && ts.Before(opts.Since) {
		return nil
	}
	if opts.Timestamps {
		if err := w.write(append([]byte(ts.Format(time.RFC3339Nano)), ' ')); err != nil {
			return err
		}
	}
	if err := w.write(content); err != nil {
		return err
	}
	if tag == tagFull {
		return w.write([]byte{'\n'})
	}
	return nil
}

// parse splits a record "TIME STREAM TAG CONTENT\n".
func parse(rec []byte) (time.Time, string, string, []byte, error) {
	rec = bytes.TrimSuffix(rec, []byte{'\n'})
	fields := bytes.SplitN(rec, []byte{' '}, 4)
	if len(fields) < 3 {
		return time.Time{}, "", "", nil, fmt.Errorf("malformed log record %q", rec)
	}
	ts, err := time.Parse(time.RFC3339Nano, string(fields[0]))
	if err != nil {
		return time.Time{}, "", "", nil, fmt.Errorf("malformed log record time: %w", err)
	}
	var content []byte
	if len(fields) == 4 {
		content = fields[3]
	}
	return ts, string(fields[1]), string(fields[2]), content, nil
}

// tailOffset finds where the last n records of f begin.
func tailOffset(f *os.File, n int64) (int64, error) {
	if n == 0 {
		return f.Seek(0, io.SeekEnd)
	}
	ring := make([]int64, n)
	var count, off int64
	r := bufio.NewReaderSize(f, 64*1024)
	for {
		line, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A record longer than the buffer: read on to its end.
			start := off
			off += int64(len(line))
			for err == bufio.ErrBufferFull {
				line, err = r.ReadSlice('\n')
				off += int64(len(line))
			}
			if err == nil {
				ring[count%n] = start
				count++
				continue
			}
		} else if len(line) > 0 && err == nil {
			ring[count%n] = off
			count++
			off += int64(len(line))
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if count <= n {
		return 0, nil
	}
	return ring[count%n], nil
}

type limitWriter struct {
	w       io.Writer
	limited bool
	left    int64 // bytes still allowed when limited
}

func (l *limitWriter) write(p []byte) error {
	if l.limited {
		if l.left <= 0 {
			return errLimit
		}
		if int64(len(p)) >= l.left {
			_, err := l.w.Write(p[:l.left])
			l.left = 0
			if err == nil {
				err = errLimit
			}
			return err
		}
		l.left -= int64(len(p))
	}
	_, err := l.w.Write(p)
	return err
}
