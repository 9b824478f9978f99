package job

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
)

func TestIndexSet(t *testing.T) {
	s := parseIndexes("0,2-4,7,9-20", 10)
	if got := s.String(); got != "0,2-4,7,9" {
		t.Fatalf("round trip = %q", got)
	}
	if got := (indexSet{}).String(); got != "" {
		t.Fatalf("empty = %q", got)
	}
}

func TestSuccessRuleMet(t *testing.T) {
	str := func(s string) *string { return &s }
	n := func(v int32) *int32 { return &v }
	done := parseIndexes("0,1,3", 5)
	cases := []struct {
		name string
		rule batchv1.SuccessPolicyRule
		want bool
	}{
		{"indexes all done", batchv1.SuccessPolicyRule{SucceededIndexes: str("0-1")}, true},
		{"an index missing", batchv1.SuccessPolicyRule{SucceededIndexes: str("0-2")}, false},
		{"count within indexes", batchv1.SuccessPolicyRule{SucceededIndexes: str("1-4"), SucceededCount: n(2)}, true},
		{"count within indexes not reached", batchv1.SuccessPolicyRule{SucceededIndexes: str("2-4"), SucceededCount: n(2)}, false},
		{"count of all", batchv1.SuccessPolicyRule{SucceededCount: n(3)}, true},
		{"count of all not reached", batchv1.SuccessPolicyRule{SucceededCount: n(4)}, false},
	}
	for _, tc := range cases {
		if got := successRuleMet(tc.rule, done, 5); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
