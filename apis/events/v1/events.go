// Package v1 holds skiff's behaviour for events.k8s.io/v1 events: scheme
// installation, field selectors and kubectl table columns. They are the
// same objects as core/v1 events, seen through the newer API.
package v1

import (
	"strings"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Install registers events.k8s.io/v1 in a scheme.
var Install = internalversion.Installer(eventsv1.AddToScheme, eventsv1.SchemeGroupVersion)

// ValidateEvent checks the fields events.k8s.io/v1 requires.
func ValidateEvent(e *eventsv1.Event) field.ErrorList {
	var errs field.ErrorList
	if e.EventTime.IsZero() {
		errs = append(errs, field.Required(field.NewPath("eventTime"), ""))
	}
	if e.ReportingController == "" {
		errs = append(errs, field.Required(field.NewPath("reportingController"), ""))
	}
	if e.ReportingInstance == "" {
		errs = append(errs, field.Required(field.NewPath("reportingInstance"), ""))
	}
	if e.Action == "" {
		errs = append(errs, field.Required(field.NewPath("action"), ""))
	}
	if e.Reason == "" {
		errs = append(errs, field.Required(field.NewPath("reason"), ""))
	}
	if e.Type != "Normal" && e.Type != "Warning" {
		errs = append(errs, field.NotSupported(field.NewPath("type"), e.Type, []string{"Normal", "Warning"}))
	}
	return errs
}

// EventColumns are the columns of kubectl get events.events.k8s.io.
var EventColumns = []metav1.TableColumnDefinition{
	table.Column("Last Seen", "string", "Time when last event from this object was observed."),
	table.Column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future."),
	table.Column("Reason", "string", "Reason is why the action was taken. It is human-readable."),
	table.Column("Object", "string", "The object this Event is about."),
	table.Column("Message", "string", "A human-readable description of the status of this operation."),
}

// EventRow renders an events.k8s.io/v1 event.
func EventRow(obj runtime.Object) ([]any, error) {
	e := obj.(*eventsv1.Event)
	last := metav1.Time{Time: e.EventTime.Time}
	if e.Series != nil {
		last = metav1.Time{Time: e.Series.LastObservedTime.Time}
	} else if !e.DeprecatedLastTimestamp.IsZero() {
		last = e.DeprecatedLastTimestamp
	}
	if last.IsZero() {
		last = e.CreationTimestamp
	}
	object := strings.ToLower(e.Regarding.Kind) + "/" + e.Regarding.Name
	return []any{table.Age(last), e.Type, e.Reason, object, strings.TrimSpace(e.Note)}, nil
}
