package sim

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestSandboxAddresses(t *testing.T) {
	r := New(clocktesting.NewFakeClock(time.Now()))
	ctx := context.Background()
	a := &corev1.Pod{}
	a.UID = "a"
	ips, err := r.StartSandbox(ctx, a, "10.244.3.0/24")
	if err != nil || len(ips) != 1 || ips[0] != "10.244.3.2" {
		t.Fatalf("first pod got %v, %v; want 10.244.3.2", ips, err)
	}
	// A pod that had an address before a restart keeps it.
	b := &corev1.Pod{Status: corev1.PodStatus{PodIP: "10.244.3.77"}}
	b.UID = "b"
	if ips, _ := r.StartSandbox(ctx, b, "10.244.3.0/24"); ips[0] != "10.244.3.77" {
		t.Fatalf("restarted pod got %v, want its old 10.244.3.77", ips)
	}
	// One claiming a taken or foreign address gets a fresh one.
	c := &corev1.Pod{Status: corev1.PodStatus{PodIP: "10.244.3.77"}}
	c.UID = "c"
	if ips, _ := r.StartSandbox(ctx, c, "10.244.3.0/24"); ips[0] != "10.244.3.3" {
		t.Fatalf("conflicting pod got %v, want 10.244.3.3", ips)
	}
	if err := r.RemovePod(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	d := &corev1.Pod{}
	d.UID = "d"
	if ips, _ := r.StartSandbox(ctx, d, "10.244.3.0/24"); ips[0] != "10.244.3.2" {
		t.Fatalf("freed address not reused: %v", ips)
	}
}

func TestExitScript(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	r := New(clk)
	ctx := context.Background()
	p := &corev1.Pod{}
	p.UID = "p"
	p.Annotations = map[string]string{ExitAfter: "2s", ExitCode: "3"}
	p.Spec.Containers = []corev1.Container{{Name: "c", Image: "x"}}
	if _, err := r.StartSandbox(ctx, p, "10.244.0.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, p, &p.Spec.Containers[0], 0, nil); err != nil {
		t.Fatal(err)
	}
	st, _ := r.Containers(ctx, p)
	if st["c"].Exited {
		t.Fatal("exited before its time")
	}
	clk.Step(2 * time.Second)
	select {
	case uid := <-r.Events():
		if uid != "p" {
			t.Fatalf("event for %s", uid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no exit event")
	}
	st, _ = r.Containers(ctx, p)
	if c := st["c"]; !c.Exited || c.ExitCode != 3 || c.Reason != "Error" {
		t.Fatalf("state after exit: %+v", c)
	}
	bad := p.DeepCopy()
	bad.UID = "bad"
	bad.Annotations[ExitAfter] = "soon"
	_, _ = r.StartSandbox(ctx, bad, "10.244.0.0/24")
	if err := r.StartContainer(ctx, bad, &bad.Spec.Containers[0], 0, nil); err == nil {
		t.Fatal("a bad exit-after was accepted")
	}
}
