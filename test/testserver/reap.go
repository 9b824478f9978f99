package testserver

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// runcRoot is where containerd's runc shim keeps the k8s.io namespace's
// container state.
const runcRoot = "/run/containerd/runc/k8s.io"

// ReapContainers is a test's last line of defence for a node agent whose
// data dir is dir: registered before the agent starts, it runs after the
// agent stopped and kills what a failed test left running there — the
// containers (runc), their shims (by PID, found by their containerd
// address), and unmounts the pods' network namespaces and tmpfs volumes.
// A test that passed leaves nothing for it.
func ReapContainers(t testing.TB, dir string) {
	t.Cleanup(func() {
		reaped := reapRunc(dir) + reapShims(dir) + unmountUnder(dir)
		if reaped > 0 && !t.Failed() {
			t.Errorf("%d containers, shims or mounts were left under %s", reaped, dir)
		}
	})
}

func reapRunc(dir string) int {
	out, err := exec.Command("runc", "--root", runcRoot, "list", "-f", "json").Output()
	if err != nil {
		return 0
	}
	var list []struct {
		ID     string `json:"id"`
		Bundle string `json:"bundle"`
	}
	if json.Unmarshal(out, &list) != nil {
		return 0
	}
	n := 0
	for _, c := range list {
		if strings.HasPrefix(c.Bundle, dir+"/") {
			_ = exec.Command("runc", "--root", runcRoot, "kill", c.ID, "KILL").Run()
			_ = exec.Command("runc", "--root", runcRoot, "delete", "-f", c.ID).Run()
			n++
		}
	}
	return n
}

func reapShims(dir string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	n := 0
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) == 0 || !strings.HasSuffix(args[0], "containerd-shim-runc-v2") || !strings.Contains(string(b), dir+"/") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			n++
		}
	}
	return n
}

func unmountUnder(dir string) int {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			if unix.Unmount(f[4], unix.MNT_DETACH) == nil {
				n++
			}
		}
	}
	return n
}
