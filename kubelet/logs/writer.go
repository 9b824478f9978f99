package logs

import (
	"bytes"
	"io"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Streams a record may come from.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Tags of a record.
const (
	tagFull    = "F"
	tagPartial = "P"
)

// MaxLineSize is the longest line kept as one record (16 KiB, as
// containerd's CRI plugin); longer lines are split into partial records.
const MaxLineSize = 16 * 1024

// Writer appends CRI log records to an underlying writer (the log file).
// Each stream gets its own line buffer from Stream; records of different
// streams are never interleaved within a line. It is safe for concurrent
// use by the streams.
type Writer struct {
	mu    sync.Mutex
	out   io.Writer
	clock clock.PassiveClock
	buf   []byte
}

// NewWriter writes records to out, timed by clk (the real clock when nil).
func NewWriter(out io.Writer, clk clock.PassiveClock) *Writer {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Writer{out: out, clock: clk}
}

// Stream returns the writer of one stream (Stdout or Stderr). Close it at
// the stream's end to write a last line that had no newline.
func (w *Writer) Stream(name string) io.WriteCloser {
	return &streamWriter{w: w, name: name}
}

func (w *Writer) record(stream, tag string, line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = w.buf[:0]
	w.buf = w.clock.Now().UTC().AppendFormat(w.buf, time.RFC3339Nano)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, stream...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, tag...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, line...)
	w.buf = append(w.buf, '\n')
	_, err := w.out.Write(w.buf)
	return err
}

type streamWriter struct {
	w       *Writer
	name    string
	pending []byte
}

// Write implements io.Writer: complete lines become F records, a pending
// line longer than MaxLineSize a P record.
func (s *streamWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			s.pending = append(s.pending, p...)
			break
		}
		line := p[:i]
		if len(s.pending) > 0 {
			s.pending = append(s.pending, line...)
			line = s.pending
		}
		if err := s.emit(line, true); err != nil {
			return 0, err
		}
		s.pending = s.pending[:0]
		p = p[i+1:]
	}
	for len(s.pending) >= MaxLineSize {
		if err := s.w.record(s.name, tagPartial, s.pending[:MaxLineSize]); err != nil {
			return 0, err
		}
		s.pending = append(s.pending[:0], s.pending[MaxLineSize:]...)
	}
	return n, nil
}

// emit writes one line, in MaxLineSize parts when longer.
func (s *streamWriter) emit(line []byte, full bool) error {
	for len(line) > MaxLineSize {
		if err := s.w.record(s.name, tagPartial, line[:MaxLineSize]); err != nil {
			return err
		}
		line = line[MaxLineSize:]
	}
	tag := tagFull
	if !full {
		tag = tagPartial
	}
	return s.w.record(s.name, tag, line)
}

// Close writes what is left of the last line as a full record, as
// containerd does when a stream ends without a newline.
func (s *streamWriter) Close() error {
	if len(s.pending) == 0 {
		return nil
	}
	err := s.emit(s.pending, true)
	s.pending = nil
	return err
}
