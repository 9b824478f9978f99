// Package logs writes and reads container logs in the CRI log format the
// upstream kubelet and containerd use, one line per record:
//
//	2026-11-27T03:36:43.123456789Z stdout F hello
//
// with the time of the write, the stream and a tag: F for a full line,
// P for a part of a line longer than MaxLineSize (the rest follows). The
// Writer turns a container's output into such records; Read serves them
// back as `kubectl logs` asks (tail, since, timestamps, limitBytes,
// follow, one stream).
package logs
