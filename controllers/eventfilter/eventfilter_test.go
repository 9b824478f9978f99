package eventfilter

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

type counter map[string]int

func (c counter) Eventf(regarding, _ runtime.Object, eventtype, reason, _, _ string, _ ...any) {
	c[regarding.(metav1.Object).GetName()+"/"+eventtype]++
}

func TestBurstThenRefill(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	got := counter{}
	r := New(got, clk)
	a := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: types.UID("u1")}}
	b := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", UID: types.UID("u2")}}
	for i := range 100 {
		r.Eventf(a, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created pod: %d", i)
	}
	for i := range 3 {
		r.Eventf(b, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "Created pod: %d", i)
		r.Eventf(a, nil, corev1.EventTypeWarning, "FailedCreate", "Create", "Error creating: %d", i)
	}
	want := counter{"a/Normal": 25, "b/Normal": 3, "a/Warning": 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("recorded %v, want %v", got, want)
	}
	// One token comes back every five minutes.
	clk.SetTime(clk.Now().Add(5*time.Minute + time.Second))
	r.Eventf(a, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "again")
	r.Eventf(a, nil, corev1.EventTypeNormal, "SuccessfulCreate", "Create", "again")
	if got["a/Normal"] != 26 {
		t.Fatalf("after five minutes a/Normal = %d, want 26", got["a/Normal"])
	}
}
