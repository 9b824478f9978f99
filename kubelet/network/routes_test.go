package network

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestWantedRoutes(t *testing.T) {
	got := WantedRoutes("10.244.0.0/24", []string{"192.0.2.2"}, []NodeRoute{
		{PodCIDR: "10.244.1.0/24", Via: "192.0.2.3"}, // another machine
		{PodCIDR: "10.244.2.0/24", Via: "192.0.2.2"}, // another agent on this machine
		{PodCIDR: "10.244.0.0/24", Via: "192.0.2.9"}, // our own CIDR
		{PodCIDR: "", Via: "192.0.2.4"},              // no podCIDR yet
		{PodCIDR: "bogus", Via: "192.0.2.5"},
	})
	if fmt.Sprint(got) != "map[10.244.1.0/24:192.0.2.3]" {
		t.Fatalf("wanted routes %v", got)
	}
}

// TestSyncRoutes programs routes in a network namespace of its own.
func TestSyncRoutes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 is not installed")
	}
	done := make(chan error, 1)
	go func() {
		// This thread enters a new netns and dies with the goroutine.
		runtime.LockOSThread()
		done <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return err
			}
			ctx := context.Background()
			for _, args := range [][]string{{"link", "add", "d0", "type", "veth", "peer", "name", "d1"}, {"addr", "add", "192.0.2.1/24", "dev", "d0"},
				{"link", "set", "d1", "up"}, {"link", "set", "d0", "up"},
				{"route", "add", "10.77.0.0/24", "via", "192.0.2.50"}} { // not ours: stays
				if err := ip(ctx, args...); err != nil {
					return err
				}
			}
			show := func() string {
				out, _ := exec.Command("ip", "route", "show").Output()
				return string(out)
			}
			if err := SyncRoutes(ctx, map[string]string{"10.99.1.0/24": "192.0.2.9", "10.99.2.0/24": "192.0.2.10"}); err != nil {
				return err
			}
			if out := show(); !strings.Contains(out, "10.99.1.0/24 via 192.0.2.9 dev d0 proto 83") || !strings.Contains(out, "10.99.2.0/24 via 192.0.2.10") {
				return fmt.Errorf("routes after the first sync:\n%s", out)
			}
			// A node moved, another left: the routes follow, others stay.
			if err := SyncRoutes(ctx, map[string]string{"10.99.1.0/24": "192.0.2.11"}); err != nil {
				return err
			}
			out := show()
			if !strings.Contains(out, "10.99.1.0/24 via 192.0.2.11") || strings.Contains(out, "10.99.2.0/24") || !strings.Contains(out, "10.77.0.0/24 via 192.0.2.50") {
				return fmt.Errorf("routes after the second sync:\n%s", out)
			}
			return nil
		}()
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
