package v1

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestConversionRoundTrip(t *testing.T) {
	now := metav1.NewMicroTime(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
	in := &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "e", Namespace: "ns"},
		EventTime:           now,
		Series:              &eventsv1.EventSeries{Count: 3, LastObservedTime: now},
		ReportingController: "ctrl", ReportingInstance: "ctrl-1",
		Action: "Scheduling", Reason: "Scheduled", Type: "Normal", Note: "assigned",
		Regarding:       corev1.ObjectReference{Kind: "Pod", Name: "p", Namespace: "ns"},
		DeprecatedCount: 3,
	}
	var core corev1.Event
	ToCore(in, &core)
	if core.Message != "assigned" || core.InvolvedObject.Name != "p" || core.Series.Count != 3 || core.ReportingController != "ctrl" {
		t.Fatalf("to core: %+v", core)
	}
	var back eventsv1.Event
	FromCore(&core, &back)
	if !equality.Semantic.DeepEqual(in, &back) {
		t.Fatalf("round trip changed the event:\n%+v\n%+v", in, &back)
	}
}

func TestSchemeConvertsThroughTheCoreType(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := Install(scheme); err != nil {
		t.Fatal(err)
	}
	core := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e"}, Message: "hi"}
	out, err := scheme.ConvertToVersion(core, eventsv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	ev, ok := out.(*eventsv1.Event)
	if !ok || ev.Note != "hi" {
		t.Fatalf("converted to %T %+v", out, out)
	}
}
