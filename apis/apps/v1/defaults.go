package v1

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	corev1api "github.com/skiffhq/skiff/apis/core/v1"
)

// SetDefaultsDeployment applies upstream's Deployment defaults.
func SetDefaultsDeployment(d *appsv1.Deployment) {
	corev1api.SetDefaultsPodTemplateSpec(&d.Spec.Template)
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptr(int32(1))
	}
	s := &d.Spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptr(intstr.FromString("25%"))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptr(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptr(int32(10))
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = ptr(int32(600))
	}
}

// SetDefaultsReplicaSet applies upstream's ReplicaSet defaults.
func SetDefaultsReplicaSet(rs *appsv1.ReplicaSet) {
	corev1api.SetDefaultsPodTemplateSpec(&rs.Spec.Template)
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = ptr(int32(1))
	}
}

// SetDefaultsStatefulSet applies upstream's StatefulSet defaults.
func SetDefaultsStatefulSet(ss *appsv1.StatefulSet) {
	corev1api.SetDefaultsPodTemplateSpec(&ss.Spec.Template)
	if ss.Spec.Replicas == nil {
		ss.Spec.Replicas = ptr(int32(1))
	}
	if ss.Spec.PodManagementPolicy == "" {
		ss.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if ss.Spec.UpdateStrategy.Type == "" {
		ss.Spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
	}
	if ss.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType {
		if ss.Spec.UpdateStrategy.RollingUpdate == nil {
			ss.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		if ss.Spec.UpdateStrategy.RollingUpdate.Partition == nil {
			ss.Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(0))
		}
		if ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable == nil {
			ss.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromInt32(1))
		}
	}
	if ss.Spec.PersistentVolumeClaimRetentionPolicy == nil {
		ss.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	p := ss.Spec.PersistentVolumeClaimRetentionPolicy
	if p.WhenDeleted == "" {
		p.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if p.WhenScaled == "" {
		p.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if ss.Spec.RevisionHistoryLimit == nil {
		ss.Spec.RevisionHistoryLimit = ptr(int32(10))
	}
	for i := range ss.Spec.VolumeClaimTemplates {
		pvc := &ss.Spec.VolumeClaimTemplates[i]
		if pvc.Spec.VolumeMode == nil {
			pvc.Spec.VolumeMode = ptr(corev1.PersistentVolumeFilesystem)
		}
	}
}

// SetDefaultsDaemonSet applies upstream's DaemonSet defaults.
func SetDefaultsDaemonSet(ds *appsv1.DaemonSet) {
	corev1api.SetDefaultsPodTemplateSpec(&ds.Spec.Template)
	s := &ds.Spec.UpdateStrategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if s.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptr(intstr.FromInt32(1))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptr(intstr.FromInt32(0))
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = ptr(int32(10))
	}
}

func ptr[T any](v T) *T { return &v }
