package containerd

import (
	"context"
	"time"

	cgroup1 "github.com/containerd/cgroups/v3/cgroup1/stats"
	cgroup2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/typeurl/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/skiffhq/skiff/kubelet"
)

var _ kubelet.UsageProvider = (*Runtime)(nil)

// Usage implements kubelet.UsageProvider from the tasks' cgroup metrics
// (cgroup v1 or v2).
func (r *Runtime) Usage(ctx context.Context, pod *corev1.Pod) (map[string]kubelet.Usage, error) {
	ctx = r.ns(ctx)
	list, err := r.podContainers(ctx, pod.UID)
	if err != nil {
		return nil, err
	}
	latest := map[string]int32{}
	out := map[string]kubelet.Usage{}
	for _, c := range list {
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue
		}
		task, err := c.Task(ctx, nil)
		if err != nil {
			continue
		}
		if st, err := task.Status(ctx); err != nil || st.Status != containerd.Running {
			continue
		}
		name := info.Labels[labelContainer]
		attempt := r.ioPaths(pod.UID, name, info.Labels[labelAttempt]).attempt
		if a, seen := latest[name]; seen && a > attempt {
			continue
		}
		m, err := task.Metrics(ctx)
		if err != nil {
			continue
		}
		data, err := typeurl.UnmarshalAny(m.Data)
		if err != nil {
			continue
		}
		u := kubelet.Usage{Time: time.Now()}
		if m.Timestamp != nil {
			u.Time = m.Timestamp.AsTime()
		}
		switch s := data.(type) {
		case *cgroup1.Metrics:
			if s.CPU != nil && s.CPU.Usage != nil {
				u.CPUNanoSeconds = s.CPU.Usage.Total
			}
			if mem := s.Memory; mem != nil {
				if mem.Usage != nil {
					u.MemoryBytes = mem.Usage.Usage
				}
				u.WorkingSetBytes = sub(u.MemoryBytes, mem.TotalInactiveFile)
				u.RSSBytes, u.PageFaults, u.MajorPageFaults = mem.TotalRSS, mem.TotalPgFault, mem.TotalPgMajFault
			}
		case *cgroup2.Metrics:
			if s.CPU != nil {
				u.CPUNanoSeconds = s.CPU.UsageUsec * 1000
			}
			if mem := s.Memory; mem != nil {
				u.MemoryBytes = mem.Usage
				u.WorkingSetBytes = sub(mem.Usage, mem.InactiveFile)
				u.RSSBytes, u.PageFaults, u.MajorPageFaults = mem.Anon, mem.Pgfault, mem.Pgmajfault
			}
		default:
			continue
		}
		latest[name] = attempt
		out[name] = u
	}
	return out, nil
}

func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
