package server

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	"github.com/skiffhq/skiff/kubelet"
)

// cpuSample is a CPU time reading, kept to turn the next into a rate.
type cpuSample struct {
	at    time.Time
	total uint64
}

// rates turns cumulative CPU times into nano-cores between readings.
type rates struct {
	mu   sync.Mutex
	last map[string]cpuSample
}

func (r *rates) nanoCores(key string, at time.Time, total uint64) *uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]cpuSample{}
	}
	prev, ok := r.last[key]
	r.last[key] = cpuSample{at, total}
	if !ok || !at.After(prev.at) || total < prev.total {
		return nil
	}
	v := uint64(float64(total-prev.total) / at.Sub(prev.at).Seconds())
	return &v
}

// summary serves /stats/summary, as upstream's kubelet: the node's and
// each pod's and container's CPU and memory use, from the cgroups.
func (s *Server) summary(w http.ResponseWriter, req *http.Request) {
	now := metav1.Now()
	sum := statsv1alpha1.Summary{Node: s.nodeStats(now)}
	usage, _ := s.cfg.Streamer.(kubelet.UsageProvider)
	if s.cfg.Pods != nil && usage != nil {
		for _, pod := range s.cfg.Pods() {
			if pod.Status.Phase != corev1.PodRunning {
				continue
			}
			byName, err := usage.Usage(req.Context(), pod)
			if err != nil || len(byName) == 0 {
				continue
			}
			ps := statsv1alpha1.PodStats{
				PodRef: statsv1alpha1.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
				CPU:    &statsv1alpha1.CPUStats{Time: now, UsageCoreNanoSeconds: new(uint64), UsageNanoCores: new(uint64)},
				Memory: &statsv1alpha1.MemoryStats{Time: now, UsageBytes: new(uint64), WorkingSetBytes: new(uint64), RSSBytes: new(uint64)},
			}
			if pod.Status.StartTime != nil {
				ps.StartTime = *pod.Status.StartTime
			}
			for _, cs := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
				u, ok := byName[cs.Name]
				if !ok {
					continue
				}
				at := metav1.NewTime(u.Time)
				c := statsv1alpha1.ContainerStats{Name: cs.Name,
					CPU: &statsv1alpha1.CPUStats{Time: at, UsageCoreNanoSeconds: new(u.CPUNanoSeconds),
						UsageNanoCores: s.rates.nanoCores(cs.ContainerID, u.Time, u.CPUNanoSeconds)},
					Memory: &statsv1alpha1.MemoryStats{Time: at, UsageBytes: new(u.MemoryBytes), WorkingSetBytes: new(u.WorkingSetBytes),
						RSSBytes: new(u.RSSBytes), PageFaults: new(u.PageFaults), MajorPageFaults: new(u.MajorPageFaults)},
				}
				if cs.State.Running != nil {
					c.StartTime = cs.State.Running.StartedAt
				}
				*ps.CPU.UsageCoreNanoSeconds += u.CPUNanoSeconds
				if c.CPU.UsageNanoCores != nil {
					*ps.CPU.UsageNanoCores += *c.CPU.UsageNanoCores
				}
				*ps.Memory.UsageBytes += u.MemoryBytes
				*ps.Memory.WorkingSetBytes += u.WorkingSetBytes
				*ps.Memory.RSSBytes += u.RSSBytes
				ps.Containers = append(ps.Containers, c)
			}
			sum.Pods = append(sum.Pods, ps)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(sum)
}

// nodeStats reads the machine's CPU (/proc/stat) and memory
// (/proc/meminfo).
func (s *Server) nodeStats(now metav1.Time) statsv1alpha1.NodeStats {
	ns := statsv1alpha1.NodeStats{NodeName: s.cfg.NodeName}
	if total, ok := procCPU(); ok {
		ns.CPU = &statsv1alpha1.CPUStats{Time: now, UsageCoreNanoSeconds: new(total), UsageNanoCores: s.rates.nanoCores("node", now.Time, total)}
	}
	if mem := meminfo(); mem["MemTotal"] > 0 {
		usage := mem["MemTotal"] - mem["MemFree"]
		ws := mem["MemTotal"] - mem["MemAvailable"]
		avail := mem["MemAvailable"]
		ns.Memory = &statsv1alpha1.MemoryStats{Time: now, UsageBytes: &usage, WorkingSetBytes: &ws, AvailableBytes: &avail}
	}
	if up, ok := uptime(); ok {
		ns.StartTime = metav1.NewTime(now.Add(-up).Truncate(time.Second))
	}
	return ns
}

// procCPU is the CPU time spent not idle, in nanoseconds (USER_HZ 100).
func procCPU() (uint64, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[0] != "cpu" {
			continue
		}
		var busy uint64
		for i, v := range fields[1:] {
			n, _ := strconv.ParseUint(v, 10, 64)
			if i != 3 && i != 4 { // idle, iowait
				busy += n
			}
		}
		return busy * uint64(time.Second/100), true
	}
	return 0, false
}

// meminfo reads /proc/meminfo in bytes.
func meminfo() map[string]uint64 {
	out := map[string]uint64{}
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 2 {
			n, _ := strconv.ParseUint(fields[1], 10, 64)
			out[strings.TrimSuffix(fields[0], ":")] = n * 1024
		}
	}
	return out
}

func uptime() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return 0, false
	}
	secs, err := strconv.ParseFloat(fields[0], 64)
	return time.Duration(secs * float64(time.Second)), err == nil
}
