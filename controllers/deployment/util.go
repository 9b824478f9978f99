package deployment

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/rand"
)

// Annotations the controller keeps on Deployments and ReplicaSets.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	lastAppliedAnnotation     = "kubectl.kubernetes.io/last-applied-configuration"
)

// Condition reasons, as upstream's.
const (
	reasonNewRSCreated   = "NewReplicaSetCreated"
	reasonFoundNewRS     = "FoundNewReplicaSet"
	reasonRSUpdated      = "ReplicaSetUpdated"
	reasonNewRSAvailable = "NewReplicaSetAvailable"
	reasonTimedOut       = "ProgressDeadlineExceeded"
	reasonPaused         = "DeploymentPaused"
	reasonResumed        = "DeploymentResumed"
	reasonMinAvailable   = "MinimumReplicasAvailable"
	reasonMinUnavailable = "MinimumReplicasUnavailable"
)

// templateHash names a template: an FNV-32a hash of its JSON form and the
// collision count, encoded as upstream encodes pod-template-hash.
func templateHash(t *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	b, _ := json.Marshal(t)
	h.Write(b)
	if collisionCount != nil {
		var buf [4]byte
		binary.LittleEndian.PutUint32(buf[:], uint32(*collisionCount))
		h.Write(buf[:])
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// sameTemplate compares templates ignoring the pod-template-hash label.
func sameTemplate(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	if len(a.Labels) == 0 {
		a.Labels = nil
	}
	if len(b.Labels) == 0 {
		b.Labels = nil
	}
	return apiequality.Semantic.DeepEqual(a, b)
}

func revision(rs *appsv1.ReplicaSet) int64 {
	v, err := strconv.ParseInt(rs.Annotations[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return v
}

func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// resolveFenceposts turns maxSurge and maxUnavailable into counts: surge
// rounds up, unavailability down, and they are never both zero.
func resolveFenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate == nil {
		return 0, 0
	}
	want := int(replicas(d.Spec.Replicas))
	ru := d.Spec.Strategy.RollingUpdate
	s, _ := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(ru.MaxSurge, intstr.FromString("25%")), want, true)
	u, _ := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(ru.MaxUnavailable, intstr.FromString("25%")), want, false)
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u)
}

func specReplicas(list []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range list {
		if rs != nil {
			n += replicas(rs.Spec.Replicas)
		}
	}
	return n
}

func byCreation(list []*appsv1.ReplicaSet) {
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].CreationTimestamp.Equal(&list[j].CreationTimestamp) {
			return list[i].Name < list[j].Name
		}
		return list[i].CreationTimestamp.Before(&list[j].CreationTimestamp)
	})
}

// copyAnnotations passes the Deployment's own annotations on to its
// ReplicaSets, except those about the Deployment object itself.
func copyAnnotations(from map[string]string, to map[string]string) bool {
	changed := false
	for k, v := range from {
		if k == lastAppliedAnnotation || k == RevisionAnnotation || k == RevisionHistoryAnnotation ||
			k == DesiredReplicasAnnotation || k == MaxReplicasAnnotation {
			continue
		}
		if to[k] != v {
			to[k] = v
			changed = true
		}
	}
	return changed
}

// appendHistory records a revision a ReplicaSet had before it became the
// newest again (kubectl rollout undo).
func appendHistory(history string, old int64) string {
	if old == 0 {
		return history
	}
	parts := []string{}
	if history != "" {
		parts = strings.Split(history, ",")
	}
	return strings.Join(append(parts, strconv.FormatInt(old, 10)), ",")
}
