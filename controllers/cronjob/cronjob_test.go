package cronjob

import (
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Jobs that started in the same second are ordered by name (their
// scheduled minute), so that the newest one is always the one kept.
func TestOldestFirst(t *testing.T) {
	second := metav1.NewTime(time.Date(2026, 11, 27, 14, 0, 5, 0, time.UTC))
	earlier := metav1.NewTime(second.Add(-time.Minute))
	job := func(name string, start *metav1.Time) *batchv1.Job {
		return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: second}, Status: batchv1.JobStatus{StartTime: start}}
	}
	for _, order := range [][]string{{"tick-29412842", "tick-29412841", "tick-29412840"}, {"tick-29412840", "tick-29412842", "tick-29412841"}} {
		var jobs []*batchv1.Job
		for _, n := range order {
			jobs = append(jobs, job(n, &second))
		}
		jobs = append(jobs, job("tick-29412899", &earlier), job("never-started", nil))
		oldestFirst(jobs)
		var got []string
		for _, j := range jobs {
			got = append(got, j.Name)
		}
		want := []string{"tick-29412899", "never-started", "tick-29412840", "tick-29412841", "tick-29412842"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("from %v: %v, want %v", order, got, want)
		}
	}
}

func TestMostRecent(t *testing.T) {
	every5, _ := cron.ParseStandard("*/5 * * * *")
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name       string
		since, now time.Time
		want       time.Time
		wantMissed int
	}{
		{"none due", base, base.Add(4 * time.Minute), time.Time{}, 0},
		{"one due", base, base.Add(6 * time.Minute), base.Add(5 * time.Minute), 1},
		{"several missed: the latest", base, base.Add(31 * time.Minute), base.Add(30 * time.Minute), 6},
		{"a year missed still finds the latest", base, base.Add(365*24*time.Hour + 7*time.Minute), base.Add(365*24*time.Hour + 5*time.Minute), -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, missed := mostRecent(every5, tc.since, tc.now)
			if !got.Equal(tc.want) {
				t.Fatalf("most recent = %s, want %s", got, tc.want)
			}
			if tc.wantMissed >= 0 && missed != tc.wantMissed {
				t.Fatalf("missed = %d, want %d", missed, tc.wantMissed)
			}
			if tc.wantMissed < 0 && missed <= tooManyMissed {
				t.Fatalf("missed = %d, want more than %d", missed, tooManyMissed)
			}
		})
	}
}

func TestScheduleTimeZone(t *testing.T) {
	tz := "Asia/Tokyo"
	cj := &batchv1.CronJob{Spec: batchv1.CronJobSpec{Schedule: "0 9 * * *", TimeZone: &tz}}
	sched, loc, err := Schedule(cj)
	if err != nil {
		t.Fatal(err)
	}
	next := sched.Next(time.Date(2025, 12, 31, 23, 0, 0, 0, time.UTC).In(loc))
	if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !next.Equal(want) { // 09:00 JST
		t.Fatalf("next = %s, want %s", next.UTC(), want)
	}
	cj.Spec.Schedule = "61 * * * *"
	if _, _, err := Schedule(cj); err == nil {
		t.Fatal("a bad schedule parsed")
	}
}
