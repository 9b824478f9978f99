package scheduler

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func node(name string, cpu string, lbls map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Spec:       corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("8Gi"), corev1.ResourcePods: resource.MustParse("3"),
		}},
	}
}

var uid int

func pod(name, cpu string, lbls map[string]string) *corev1.Pod {
	uid++
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(fmt.Sprint("u", uid)), Labels: lbls},
		Spec: corev1.PodSpec{SchedulerName: Name, Containers: []corev1.Container{{Name: "c"}}}}
	if cpu != "" {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}
	}
	return p
}

func on(p *corev1.Pod, node string) *corev1.Pod { p.Spec.NodeName = node; return p }

func testScheduler(nodes []*corev1.Node, placed ...*corev1.Pod) *Scheduler {
	s := &Scheduler{cache: newCache()}
	for _, n := range nodes {
		s.cache.upsertNode(n)
	}
	for _, p := range placed {
		s.cache.upsertPod(p)
	}
	return s
}

func place(t *testing.T, s *Scheduler, p *corev1.Pod) (string, string) {
	t.Helper()
	s.cache.mu.RLock()
	cy, err := newCycle(s.cache, p, func(string) labels.Set { return nil })
	s.cache.mu.RUnlock()
	if err != nil {
		t.Fatal(err)
	}
	_ = cy
	node, fit, err := s.place(p)
	if err != nil {
		t.Fatal(err)
	}
	return node, fit
}

func TestFilters(t *testing.T) {
	zoneA, zoneB := map[string]string{"zone": "a", "kubernetes.io/hostname": "n1"}, map[string]string{"zone": "b", "kubernetes.io/hostname": "n2"}
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	cases := []struct {
		name     string
		nodes    []*corev1.Node
		placed   []*corev1.Pod
		pod      func() *corev1.Pod
		wantNode string // "" when unschedulable
		wantMsg  string
	}{
		{"insufficient cpu everywhere", []*corev1.Node{node("n1", "1", zoneA), node("n2", "1", zoneB)}, nil,
			func() *corev1.Pod { return pod("p", "2", nil) }, "", "0/2 nodes are available: 2 Insufficient cpu."},
		{"fits on the node with room", []*corev1.Node{node("n1", "1", zoneA), node("n2", "4", zoneB)}, []*corev1.Pod{on(pod("x", "500m", nil), "n1")},
			func() *corev1.Pod { return pod("p", "1", nil) }, "n2", ""},
		{"untolerated taint and too many pods", []*corev1.Node{node("n1", "4", zoneA, notReady), node("n2", "4", zoneB)},
			[]*corev1.Pod{on(pod("a", "", nil), "n2"), on(pod("b", "", nil), "n2"), on(pod("c", "", nil), "n2")},
			func() *corev1.Pod { return pod("p", "", nil) }, "", "0/2 nodes are available: 1 Too many pods, 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }."},
		{"toleration lets it in", []*corev1.Node{node("n1", "4", zoneA, notReady)}, nil,
			func() *corev1.Pod {
				p := pod("p", "", nil)
				p.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists}}
				return p
			}, "n1", ""},
		{"node selector", []*corev1.Node{node("n1", "4", zoneA), node("n2", "4", zoneB)}, nil,
			func() *corev1.Pod {
				p := pod("p", "", nil)
				p.Spec.NodeSelector = map[string]string{"zone": "b"}
				return p
			}, "n2", ""},
		{"node selector matches nothing", []*corev1.Node{node("n1", "4", zoneA)}, nil,
			func() *corev1.Pod {
				p := pod("p", "", nil)
				p.Spec.NodeSelector = map[string]string{"zone": "z"}
				return p
			},
			"", "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."},
		{"unschedulable node", []*corev1.Node{func() *corev1.Node { n := node("n1", "4", zoneA); n.Spec.Unschedulable = true; return n }()}, nil,
			func() *corev1.Pod { return pod("p", "", nil) }, "", "0/1 nodes are available: 1 node(s) were unschedulable."},
		{"host port taken", []*corev1.Node{node("n1", "4", zoneA), node("n2", "4", zoneB)},
			[]*corev1.Pod{func() *corev1.Pod {
				p := on(pod("x", "", nil), "n1")
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
				return p
			}()},
			func() *corev1.Pod {
				p := pod("p", "", nil)
				p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP}}
				return p
			}, "n2", ""},
		{"anti-affinity keeps replicas apart", []*corev1.Node{node("n1", "4", zoneA), node("n2", "4", zoneB)},
			[]*corev1.Pod{on(pod("x", "", map[string]string{"app": "db"}), "n1")},
			func() *corev1.Pod {
				p := pod("p", "", map[string]string{"app": "db"})
				p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}}}
				return p
			}, "n2", ""},
		{"existing pod's anti-affinity", []*corev1.Node{node("n1", "4", zoneA)},
			[]*corev1.Pod{func() *corev1.Pod {
				p := on(pod("x", "", nil), "n1")
				p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}}}
				return p
			}()},
			func() *corev1.Pod { return pod("p", "", map[string]string{"app": "web"}) },
			"", "0/1 nodes are available: 1 node(s) didn't satisfy existing pods anti-affinity rules."},
		{"affinity follows the cache pod", []*corev1.Node{node("n1", "4", zoneA), node("n2", "4", zoneB)},
			[]*corev1.Pod{on(pod("cache", "", map[string]string{"app": "cache"}), "n2")},
			func() *corev1.Pod {
				p := pod("p", "", nil)
				p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}}}}}}
				return p
			}, "n2", ""},
		{"affinity with nothing to follow", []*corev1.Node{node("n1", "4", zoneA)}, nil,
			func() *corev1.Pod {
				p := pod("p", "", nil)
				p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}}}}}}
				return p
			}, "", "0/1 nodes are available: 1 node(s) didn't match pod affinity rules."},
		{"spread counts only nodes the pod may use", []*corev1.Node{node("n1", "4", zoneA), node("n2", "4", zoneB)},
			[]*corev1.Pod{on(pod("x", "", map[string]string{"app": "web"}), "n1")},
			func() *corev1.Pod {
				p := pod("p", "", map[string]string{"app": "web"})
				p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
				p.Spec.NodeSelector = map[string]string{"zone": "a"}
				return p
			}, "n1", ""},
		{"spread forbids a second pod in zone a", []*corev1.Node{node("n1", "4", zoneA), node("n2", "4", zoneB)},
			[]*corev1.Pod{on(pod("x", "", map[string]string{"app": "web"}), "n1")},
			func() *corev1.Pod {
				p := pod("p", "", map[string]string{"app": "web"})
				ignore := corev1.NodeInclusionPolicyIgnore
				p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, NodeAffinityPolicy: &ignore}}
				p.Spec.NodeSelector = map[string]string{"zone": "a"}
				return p
			}, "", "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't match pod topology spread constraints."},
		{"spread missing label", []*corev1.Node{node("n1", "4", map[string]string{})}, nil,
			func() *corev1.Pod {
				p := pod("p", "", map[string]string{"app": "web"})
				p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
				return p
			}, "", "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label)."},
		{"no nodes", nil, nil, func() *corev1.Pod { return pod("p", "", nil) }, "", "no nodes available to schedule pods"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testScheduler(tc.nodes, tc.placed...)
			node, msg := place(t, s, tc.pod())
			if node != tc.wantNode || msg != tc.wantMsg {
				t.Fatalf("placed on %q with %q, want %q with %q", node, msg, tc.wantNode, tc.wantMsg)
			}
		})
	}
}

func TestScoringSpreadsLoad(t *testing.T) {
	s := testScheduler([]*corev1.Node{node("n1", "4", nil), node("n2", "4", nil)}, on(pod("x", "2", nil), "n1"))
	for range 5 {
		if n, _ := place(t, s, pod("p", "500m", nil)); n != "n2" {
			t.Fatalf("least-allocated chose %q, want the emptier n2", n)
		}
	}
}

func TestPreferredNodeAffinityWins(t *testing.T) {
	s := testScheduler([]*corev1.Node{node("n1", "4", map[string]string{"disk": "hdd"}), node("n2", "4", map[string]string{"disk": "ssd"})})
	p := pod("p", "", nil)
	p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{
		Weight: 50, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "disk", Operator: corev1.NodeSelectorOpIn, Values: []string{"ssd"}}}}}}}}
	for range 5 {
		if n, _ := place(t, s, p); n != "n2" {
			t.Fatalf("chose %q, want n2 (preferred ssd)", n)
		}
	}
}

func TestCacheAssumeAndForget(t *testing.T) {
	s := testScheduler([]*corev1.Node{node("n1", "1", nil)})
	p := pod("p", "1", nil)
	s.cache.assume(p, "n1")
	if _, msg := place(t, s, pod("q", "1", nil)); msg != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Fatalf("assumed pod not counted: %q", msg)
	}
	s.cache.forget(p.UID)
	if n, _ := place(t, s, pod("q", "1", nil)); n != "n1" {
		t.Fatalf("forgotten pod still counted")
	}
	// A bound pod that finishes frees its node.
	s.cache.upsertPod(on(p, "n1"))
	done := p.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	s.cache.upsertPod(done)
	if n, _ := place(t, s, pod("q", "1", nil)); n != "n1" {
		t.Fatalf("terminal pod still counted")
	}
}
