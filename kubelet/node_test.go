package kubelet

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// downRuntime is a runtime that runs nothing and can stop answering.
type downRuntime struct{ down atomic.Bool }

func (r *downRuntime) Version(context.Context) (string, error) {
	if r.down.Load() {
		return "", errors.New("connection refused")
	}
	return "fake://1", nil
}
func (r *downRuntime) StartSandbox(context.Context, *corev1.Pod, string) ([]string, error) {
	return nil, nil
}
func (r *downRuntime) StartContainer(context.Context, *corev1.Pod, *corev1.Container, int32, []Mount) error {
	return nil
}
func (r *downRuntime) Containers(context.Context, *corev1.Pod) (map[string]ContainerState, error) {
	return nil, nil
}
func (r *downRuntime) StopContainer(context.Context, *corev1.Pod, string, time.Duration) error {
	return nil
}
func (r *downRuntime) StopPod(context.Context, *corev1.Pod, time.Duration) error { return nil }
func (r *downRuntime) StopSandbox(context.Context, types.UID) error              { return nil }
func (r *downRuntime) RemovePod(context.Context, types.UID) error                { return nil }
func (r *downRuntime) Events() <-chan types.UID                                  { return nil }

func TestNodeNotReadyWhileTheRuntimeIsDown(t *testing.T) {
	client := fake.NewClientset()
	rt := &downRuntime{}
	h, err := New(Config{Client: client, Nodes: []NodeConfig{{Name: "n1", Runtime: rt, Capacity: DefaultCapacity(), KubeletPort: 10250}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n := h.nodes["n1"]
	ready := func() (corev1.NodeCondition, corev1.NodeStatus) {
		t.Helper()
		if err := h.register(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := h.postStatus(ctx, n); err != nil {
			t.Fatal(err)
		}
		node, err := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c, node.Status
			}
		}
		t.Fatal("no Ready condition")
		return corev1.NodeCondition{}, corev1.NodeStatus{}
	}
	c, st := ready()
	if c.Status != corev1.ConditionTrue || st.NodeInfo.ContainerRuntimeVersion != "fake://1" || st.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Fatalf("healthy: %+v, runtime %q, port %d", c, st.NodeInfo.ContainerRuntimeVersion, st.DaemonEndpoints.KubeletEndpoint.Port)
	}
	rt.down.Store(true)
	c, st = ready()
	if c.Status != corev1.ConditionFalse || c.Reason != "KubeletNotReady" || c.Message != "container runtime is down: connection refused" || st.NodeInfo.ContainerRuntimeVersion != "fake://1" {
		t.Fatalf("runtime down: %+v, runtime %q", c, st.NodeInfo.ContainerRuntimeVersion)
	}
	rt.down.Store(false)
	if c, _ = ready(); c.Status != corev1.ConditionTrue {
		t.Fatalf("runtime back: %+v", c)
	}
}
