package logs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiffhq/skiff/test/testserver"
)

func writeLog(t *testing.T, clk *clocktesting.FakeClock, steps func(out, errw func(string))) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f, clk)
	so, se := w.Stream(Stdout), w.Stream(Stderr)
	steps(func(s string) {
		if _, err := so.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}, func(s string) {
		if _, err := se.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	})
	so.Close()
	se.Close()
	return path
}

func read(t *testing.T, path string, opts Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Read(context.Background(), path, opts, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWriterRecords(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 3, 0, 0, 5, time.UTC))
	path := writeLog(t, clk, func(out, errw func(string)) {
		out("hel")
		out("lo\nwor")
		errw("oops\n")
		clk.Step(time.Second)
		out("ld\nno newline")
	})
	got, _ := os.ReadFile(path)
	want := "2026-11-27T03:00:00.000000005Z stdout F hello\n" +
		"2026-11-27T03:00:00.000000005Z stderr F oops\n" +
		"2026-11-27T03:00:01.000000005Z stdout F world\n" +
		"2026-11-27T03:00:01.000000005Z stdout F no newline\n"
	if string(got) != want {
		t.Fatalf("records:\n%s\nwant:\n%s", got, want)
	}
}

func TestLongLinesArePartial(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC))
	long := strings.Repeat("x", MaxLineSize+10)
	path := writeLog(t, clk, func(out, _ func(string)) { out(long + "\n") })
	got, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " stdout P ") || !strings.HasSuffix(lines[1], " stdout F xxxxxxxxxx") {
		t.Fatalf("want one P and one F record, got %d records: %.80q", len(lines), lines)
	}
	if r := read(t, path, Options{Tail: -1}); r != long+"\n" {
		t.Fatalf("read back %d bytes, want %d", len(r), len(long)+1)
	}
	// Without a newline, a pending line flushes at MaxLineSize.
	path = writeLog(t, clk, func(out, _ func(string)) { out(long) })
	if r := read(t, path, Options{Tail: -1}); r != long+"\n" {
		t.Fatalf("read back %d bytes, want %d", len(r), len(long)+1)
	}
}

func TestReadOptions(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	path := writeLog(t, clk, func(out, errw func(string)) {
		for i := range 5 {
			out(strings.Repeat(string(rune('a'+i)), 3) + "\n")
			if i == 2 {
				errw("err\n")
			}
			clk.Step(time.Second)
		}
	})
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"all", Options{Tail: -1}, "aaa\nbbb\nccc\nerr\nddd\neee\n"},
		{"tail 2", Options{Tail: 2}, "ddd\neee\n"},
		{"tail 0", Options{Tail: 0}, ""},
		{"tail more than there is", Options{Tail: 50}, "aaa\nbbb\nccc\nerr\nddd\neee\n"},
		{"since", Options{Tail: -1, Since: t0.Add(3 * time.Second)}, "ddd\neee\n"},
		{"stderr only", Options{Tail: -1, Stream: Stderr}, "err\n"},
		{"stdout tail", Options{Tail: 3, Stream: Stdout}, "ddd\neee\n"},
		{"limit", Options{Tail: -1, LimitBytes: 6}, "aaa\nbb"},
		{"timestamps", Options{Tail: 1, Timestamps: true}, "2026-11-27T03:00:04Z eee\n"},
	}
	for _, c := range cases {
		if got := read(t, path, c.opts); got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestTornRecordIsSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	os.WriteFile(path, []byte("garbage\n2026-11-27T03:00:00Z stdout F ok\n"), 0o600)
	if got := read(t, path, Options{Tail: -1}); got != "ok\n" {
		t.Fatalf("got %q", got)
	}
}

func TestFollowEndsWhenWriterStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f, nil).Stream(Stdout)
	w.Write([]byte("first\n"))
	var running atomic.Bool
	running.Store(true)
	var b testserver.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Read(context.Background(), path, Options{Tail: -1, Follow: true, Running: running.Load}, &b)
	}()
	waitFor(t, func() bool { return b.String() == "first\n" })
	w.Write([]byte("second\n"))
	waitFor(t, func() bool { return b.String() == "first\nsecond\n" })
	w.Write([]byte("last\n"))
	running.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the writer stopped")
	}
	if b.String() != "first\nsecond\nlast\n" {
		t.Fatalf("followed %q", b.String())
	}
}

func TestRotation(t *testing.T) {
	defer func(d time.Duration) { PollInterval = d }(PollInterval)
	PollInterval = 5 * time.Millisecond
	path := filepath.Join(t.TempDir(), "0.log")
	rf, err := OpenRotatingFile(path, 200, 3)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC))
	rf.now = clk.Now
	w := NewWriter(rf, clk).Stream(Stdout)

	// Follow from the start: it goes on into the files that follow.
	var followed testserver.SyncBuffer
	var running atomic.Bool
	running.Store(true)
	done := make(chan error, 1)
	go func() {
		done <- Read(context.Background(), path, Options{Tail: -1, Follow: true, Running: running.Load}, &followed)
	}()
	var want strings.Builder
	for i := range 20 {
		line := fmt.Sprintf("line %02d", i)
		want.WriteString(line + "\n")
		if _, err := w.Write([]byte(line + "\n")); err != nil {
			t.Fatal(err)
		}
		clk.Step(time.Second)
		// Let the follower catch up with each file before it rotates away.
		waitFor(t, func() bool { return strings.HasSuffix(followed.String(), line+"\n") })
	}
	running.Store(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if followed.String() != want.String() {
		t.Fatalf("followed across rotations:\n%s\nwant:\n%s", followed.String(), want.String())
	}
	rotatedFiles, _ := filepath.Glob(path + ".*")
	if len(rotatedFiles) != 2 {
		t.Fatalf("rotated files %v, want the newest 2 (3 files in all)", rotatedFiles)
	}
	info, _ := os.Stat(path)
	if info.Size() > 200 {
		t.Fatalf("current file %d bytes, over the 200 allowed", info.Size())
	}
	// The current file holds the latest lines, as kubectl logs shows.
	if got := read(t, path, Options{Tail: 1}); got != "line 19\n" {
		t.Fatalf("tail of the current file %q", got)
	}
	rf.Close()
}
