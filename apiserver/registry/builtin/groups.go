package builtin

import (
	"context"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apivalidationpath "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	admissionregistrationv1api "github.com/skiffhq/skiff/apis/admissionregistration/v1"
	appsv1api "github.com/skiffhq/skiff/apis/apps/v1"
	autoscalingv2api "github.com/skiffhq/skiff/apis/autoscaling/v2"
	batchv1api "github.com/skiffhq/skiff/apis/batch/v1"
	coordinationv1api "github.com/skiffhq/skiff/apis/coordination/v1"
	corev1api "github.com/skiffhq/skiff/apis/core/v1"
	discoveryv1api "github.com/skiffhq/skiff/apis/discovery/v1"
	eventsv1api "github.com/skiffhq/skiff/apis/events/v1"
	"github.com/skiffhq/skiff/apis/internalversion"
	networkingv1api "github.com/skiffhq/skiff/apis/networking/v1"
	policyv1api "github.com/skiffhq/skiff/apis/policy/v1"
	rbacv1api "github.com/skiffhq/skiff/apis/rbac/v1"
	schedulingv1api "github.com/skiffhq/skiff/apis/scheduling/v1"
	storagev1api "github.com/skiffhq/skiff/apis/storage/v1"
	"github.com/skiffhq/skiff/apiserver/registry"
)

func init() {
	installers = append(installers,
		appsv1api.Install, batchv1api.Install, coordinationv1api.Install, discoveryv1api.Install,
		eventsv1api.Install, policyv1api.Install, networkingv1api.Install, rbacv1api.Install,
		autoscalingv2api.Install, storagev1api.Install, schedulingv1api.Install, admissionregistrationv1api.Install,
		internalversion.Installer(authenticationv1.AddToScheme, authenticationv1.SchemeGroupVersion),
		internalversion.Installer(authorizationv1.AddToScheme, authorizationv1.SchemeGroupVersion))
}

func replicasOf(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

func selectorString(s *metav1.LabelSelector) string {
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return ""
	}
	return sel.String()
}

func appsGroup() Group {
	gv := appsv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{
		{
			GroupVersion: gv, Name: "deployments", Singular: "deployment", Kind: "Deployment", Namespaced: true,
			ShortNames: []string{"deploy"}, Categories: []string{"all"},
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
			Validate: func(o runtime.Object) field.ErrorList { return appsv1api.ValidateDeployment(o.(*appsv1.Deployment)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return appsv1api.ValidateDeploymentUpdate(o.(*appsv1.Deployment), old.(*appsv1.Deployment))
			},
			ValidateStatus: func(o, _ runtime.Object) field.ErrorList {
				return appsv1api.ValidateDeploymentStatus(o.(*appsv1.Deployment))
			},
			Columns: appsv1api.DeploymentColumns, Row: appsv1api.DeploymentRow,
			Status: true,
			Scale: &registry.ScaleAccess{
				Get: func(o runtime.Object) (int32, int32, string) {
					d := o.(*appsv1.Deployment)
					return replicasOf(d.Spec.Replicas), d.Status.Replicas, selectorString(d.Spec.Selector)
				},
				Set: func(o runtime.Object, n int32) { o.(*appsv1.Deployment).Spec.Replicas = &n },
			},
		},
		{
			GroupVersion: gv, Name: "replicasets", Singular: "replicaset", Kind: "ReplicaSet", Namespaced: true,
			ShortNames: []string{"rs"}, Categories: []string{"all"},
			New: func() runtime.Object { return &appsv1.ReplicaSet{} }, NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
			Validate: func(o runtime.Object) field.ErrorList { return appsv1api.ValidateReplicaSet(o.(*appsv1.ReplicaSet)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return appsv1api.ValidateReplicaSetUpdate(o.(*appsv1.ReplicaSet), old.(*appsv1.ReplicaSet))
			},
			SelectableFields: appsv1api.ReplicaSetFields,
			ValidateStatus: func(o, _ runtime.Object) field.ErrorList {
				return appsv1api.ValidateReplicaSetStatus(o.(*appsv1.ReplicaSet))
			},
			Columns: appsv1api.ReplicaSetColumns, Row: appsv1api.ReplicaSetRow,
			Status: true,
			Scale: &registry.ScaleAccess{
				Get: func(o runtime.Object) (int32, int32, string) {
					rs := o.(*appsv1.ReplicaSet)
					return replicasOf(rs.Spec.Replicas), rs.Status.Replicas, selectorString(rs.Spec.Selector)
				},
				Set: func(o runtime.Object, n int32) { o.(*appsv1.ReplicaSet).Spec.Replicas = &n },
			},
		},
		{
			GroupVersion: gv, Name: "statefulsets", Singular: "statefulset", Kind: "StatefulSet", Namespaced: true,
			ShortNames: []string{"sts"}, Categories: []string{"all"},
			New: func() runtime.Object { return &appsv1.StatefulSet{} }, NewList: func() runtime.Object { return &appsv1.StatefulSetList{} },
			Validate: func(o runtime.Object) field.ErrorList { return appsv1api.ValidateStatefulSet(o.(*appsv1.StatefulSet)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return appsv1api.ValidateStatefulSetUpdate(o.(*appsv1.StatefulSet), old.(*appsv1.StatefulSet))
			},
			ValidateStatus: func(o, _ runtime.Object) field.ErrorList {
				return appsv1api.ValidateStatefulSetStatus(o.(*appsv1.StatefulSet))
			},
			Columns: appsv1api.StatefulSetColumns, Row: appsv1api.StatefulSetRow,
			Status: true,
			Scale: &registry.ScaleAccess{
				Get: func(o runtime.Object) (int32, int32, string) {
					ss := o.(*appsv1.StatefulSet)
					return replicasOf(ss.Spec.Replicas), ss.Status.Replicas, selectorString(ss.Spec.Selector)
				},
				Set: func(o runtime.Object, n int32) { o.(*appsv1.StatefulSet).Spec.Replicas = &n },
			},
		},
		{
			GroupVersion: gv, Name: "daemonsets", Singular: "daemonset", Kind: "DaemonSet", Namespaced: true,
			ShortNames: []string{"ds"}, Categories: []string{"all"},
			New: func() runtime.Object { return &appsv1.DaemonSet{} }, NewList: func() runtime.Object { return &appsv1.DaemonSetList{} },
			Validate: func(o runtime.Object) field.ErrorList { return appsv1api.ValidateDaemonSet(o.(*appsv1.DaemonSet)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return appsv1api.ValidateDaemonSetUpdate(o.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet))
			},
			ValidateStatus: func(o, _ runtime.Object) field.ErrorList {
				return appsv1api.ValidateDaemonSetStatus(o.(*appsv1.DaemonSet))
			},
			Columns: appsv1api.DaemonSetColumns, Row: appsv1api.DaemonSetRow,
			Status: true,
		},
		{
			GroupVersion: gv, Name: "controllerrevisions", Singular: "controllerrevision", Kind: "ControllerRevision", Namespaced: true,
			New: func() runtime.Object { return &appsv1.ControllerRevision{} }, NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return appsv1api.ValidateControllerRevision(o.(*appsv1.ControllerRevision))
			},
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return appsv1api.ValidateControllerRevisionUpdate(o.(*appsv1.ControllerRevision), old.(*appsv1.ControllerRevision))
			},
			Columns: appsv1api.ControllerRevisionColumns, Row: appsv1api.ControllerRevisionRow,
		},
	}}}}
}

func batchGroup() Group {
	gv := batchv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{
		{
			GroupVersion: gv, Name: "jobs", Singular: "job", Kind: "Job", Namespaced: true, Categories: []string{"all"},
			New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} },
			PrepareForCreate: func(_ context.Context, o runtime.Object) {
				j := o.(*batchv1.Job)
				batchv1api.GenerateSelector(j, j.UID)
			},
			Validate: func(o runtime.Object) field.ErrorList { return batchv1api.ValidateJob(o.(*batchv1.Job)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return batchv1api.ValidateJobUpdate(o.(*batchv1.Job), old.(*batchv1.Job))
			},
			SelectableFields: batchv1api.JobFields,
			Columns:          batchv1api.JobColumns, Row: batchv1api.JobRow,
			Status: true,
		},
		{
			GroupVersion: gv, Name: "cronjobs", Singular: "cronjob", Kind: "CronJob", Namespaced: true,
			ShortNames: []string{"cj"}, Categories: []string{"all"},
			New: func() runtime.Object { return &batchv1.CronJob{} }, NewList: func() runtime.Object { return &batchv1.CronJobList{} },
			Validate: func(o runtime.Object) field.ErrorList { return batchv1api.ValidateCronJob(o.(*batchv1.CronJob)) },
			Columns:  batchv1api.CronJobColumns, Row: batchv1api.CronJobRow,
			Status: true,
		},
	}}}}
}

func coordinationGroup() Group {
	gv := coordinationv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{{
		GroupVersion: gv, Name: "leases", Singular: "lease", Kind: "Lease", Namespaced: true,
		New: func() runtime.Object { return &coordinationv1.Lease{} }, NewList: func() runtime.Object { return &coordinationv1.LeaseList{} },
		Validate: func(o runtime.Object) field.ErrorList {
			return coordinationv1api.ValidateLease(o.(*coordinationv1.Lease))
		},
		Columns: coordinationv1api.LeaseColumns, Row: coordinationv1api.LeaseRow,
	}}}}}
}

func discoveryGroup() Group {
	gv := discoveryv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{{
		GroupVersion: gv, Name: "endpointslices", Singular: "endpointslice", Kind: "EndpointSlice", Namespaced: true,
		New: func() runtime.Object { return &discoveryv1.EndpointSlice{} }, NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
		Validate: func(o runtime.Object) field.ErrorList {
			return discoveryv1api.ValidateEndpointSlice(o.(*discoveryv1.EndpointSlice))
		},
		ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
			return discoveryv1api.ValidateEndpointSliceUpdate(o.(*discoveryv1.EndpointSlice), old.(*discoveryv1.EndpointSlice))
		},
		Columns: discoveryv1api.EndpointSliceColumns, Row: discoveryv1api.EndpointSliceRow,
	}}}}}
}

func eventsGroup() Group {
	gv := eventsv1.SchemeGroupVersion
	// Stored as core/v1 Events, in the same keys as the core API's.
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{{
		GroupVersion: gv, Name: "events", Singular: "event", Kind: "Event", Namespaced: true,
		New: func() runtime.Object { return &corev1.Event{} }, NewList: func() runtime.Object { return &corev1.EventList{} },
		ValidateName:     func(string, bool) []string { return nil },
		Validate:         func(o runtime.Object) field.ErrorList { return eventsv1api.ValidateEvent(o.(*corev1.Event)) },
		SelectableFields: corev1api.EventFields,
		Columns:          corev1api.EventColumns, Row: corev1api.EventRow,
	}}}}}
}

func policyGroup() Group {
	gv := policyv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{{
		GroupVersion: gv, Name: "poddisruptionbudgets", Singular: "poddisruptionbudget", Kind: "PodDisruptionBudget", Namespaced: true,
		ShortNames: []string{"pdb"},
		New:        func() runtime.Object { return &policyv1.PodDisruptionBudget{} }, NewList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} },
		Validate: func(o runtime.Object) field.ErrorList {
			return policyv1api.ValidatePodDisruptionBudget(o.(*policyv1.PodDisruptionBudget))
		},
		Columns: policyv1api.PodDisruptionBudgetColumns, Row: policyv1api.PodDisruptionBudgetRow,
		Status: true,
	}}}}}
}

func networkingGroup() Group {
	gv := networkingv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{
		{
			GroupVersion: gv, Name: "ingresses", Singular: "ingress", Kind: "Ingress", Namespaced: true, ShortNames: []string{"ing"},
			New: func() runtime.Object { return &networkingv1.Ingress{} }, NewList: func() runtime.Object { return &networkingv1.IngressList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return networkingv1api.ValidateIngress(o.(*networkingv1.Ingress))
			},
			Columns: networkingv1api.IngressColumns, Row: networkingv1api.IngressRow,
			Status: true,
		},
		{
			GroupVersion: gv, Name: "ingressclasses", Singular: "ingressclass", Kind: "IngressClass",
			New: func() runtime.Object { return &networkingv1.IngressClass{} }, NewList: func() runtime.Object { return &networkingv1.IngressClassList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return networkingv1api.ValidateIngressClass(o.(*networkingv1.IngressClass))
			},
			Columns: networkingv1api.IngressClassColumns, Row: networkingv1api.IngressClassRow,
		},
		{
			GroupVersion: gv, Name: "networkpolicies", Singular: "networkpolicy", Kind: "NetworkPolicy", Namespaced: true, ShortNames: []string{"netpol"},
			New: func() runtime.Object { return &networkingv1.NetworkPolicy{} }, NewList: func() runtime.Object { return &networkingv1.NetworkPolicyList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return networkingv1api.ValidateNetworkPolicy(o.(*networkingv1.NetworkPolicy))
			},
			Columns: networkingv1api.NetworkPolicyColumns, Row: networkingv1api.NetworkPolicyRow,
		},
	}}}}
}

func rbacGroup() Group {
	gv := rbacv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{
		{
			GroupVersion: gv, Name: "roles", Singular: "role", Kind: "Role", Namespaced: true, ValidateName: pathSegmentName,
			New: func() runtime.Object { return &rbacv1.Role{} }, NewList: func() runtime.Object { return &rbacv1.RoleList{} },
			Validate: func(o runtime.Object) field.ErrorList { return rbacv1api.ValidateRole(o.(*rbacv1.Role)) },
			Columns:  rbacv1api.RoleColumns, Row: rbacv1api.RoleRow,
		},
		{
			GroupVersion: gv, Name: "clusterroles", Singular: "clusterrole", Kind: "ClusterRole", ValidateName: pathSegmentName,
			New: func() runtime.Object { return &rbacv1.ClusterRole{} }, NewList: func() runtime.Object { return &rbacv1.ClusterRoleList{} },
			Validate: func(o runtime.Object) field.ErrorList { return rbacv1api.ValidateClusterRole(o.(*rbacv1.ClusterRole)) },
			Columns:  rbacv1api.RoleColumns, Row: rbacv1api.RoleRow,
		},
		{
			GroupVersion: gv, Name: "rolebindings", Singular: "rolebinding", Kind: "RoleBinding", Namespaced: true, ValidateName: pathSegmentName,
			New: func() runtime.Object { return &rbacv1.RoleBinding{} }, NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				b := o.(*rbacv1.RoleBinding)
				return rbacv1api.ValidateRoleBinding(b.RoleRef, b.Subjects, true)
			},
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				b := o.(*rbacv1.RoleBinding)
				errs := rbacv1api.ValidateRoleBinding(b.RoleRef, b.Subjects, true)
				return append(errs, rbacv1api.ValidateRoleRefUpdate(b.RoleRef, old.(*rbacv1.RoleBinding).RoleRef)...)
			},
			Columns: rbacv1api.BindingColumns, Row: rbacv1api.BindingRow,
		},
		{
			GroupVersion: gv, Name: "clusterrolebindings", Singular: "clusterrolebinding", Kind: "ClusterRoleBinding", ValidateName: pathSegmentName,
			New: func() runtime.Object { return &rbacv1.ClusterRoleBinding{} }, NewList: func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				b := o.(*rbacv1.ClusterRoleBinding)
				return rbacv1api.ValidateRoleBinding(b.RoleRef, b.Subjects, false)
			},
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				b := o.(*rbacv1.ClusterRoleBinding)
				errs := rbacv1api.ValidateRoleBinding(b.RoleRef, b.Subjects, false)
				return append(errs, rbacv1api.ValidateRoleRefUpdate(b.RoleRef, old.(*rbacv1.ClusterRoleBinding).RoleRef)...)
			},
			Columns: rbacv1api.BindingColumns, Row: rbacv1api.BindingRow,
		},
	}}}}
}

// pathSegmentName accepts the names RBAC objects may have (system:node
// and the like): anything that is a valid path segment.
func pathSegmentName(name string, prefix bool) []string {
	return apivalidationpath.IsValidPathSegmentName(name)
}

func autoscalingGroup() Group {
	gv := autoscalingv2.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{{
		GroupVersion: gv, Name: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler", Kind: "HorizontalPodAutoscaler",
		Namespaced: true, ShortNames: []string{"hpa"}, Categories: []string{"all"},
		New:     func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} },
		NewList: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} },
		Validate: func(o runtime.Object) field.ErrorList {
			return autoscalingv2api.ValidateHorizontalPodAutoscaler(o.(*autoscalingv2.HorizontalPodAutoscaler))
		},
		Columns: autoscalingv2api.HorizontalPodAutoscalerColumns, Row: autoscalingv2api.HorizontalPodAutoscalerRow,
		Status: true,
	}}}}}
}

func storageGroup() Group {
	gv := storagev1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{{
		GroupVersion: gv, Name: "storageclasses", Singular: "storageclass", Kind: "StorageClass", ShortNames: []string{"sc"},
		New: func() runtime.Object { return &storagev1.StorageClass{} }, NewList: func() runtime.Object { return &storagev1.StorageClassList{} },
		Validate: func(o runtime.Object) field.ErrorList {
			return storagev1api.ValidateStorageClass(o.(*storagev1.StorageClass))
		},
		ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
			return storagev1api.ValidateStorageClassUpdate(o.(*storagev1.StorageClass), old.(*storagev1.StorageClass))
		},
		Columns: storagev1api.StorageClassColumns, Row: storagev1api.StorageClassRow,
	}}}}}
}

func schedulingGroup() Group {
	gv := schedulingv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{{
		GroupVersion: gv, Name: "priorityclasses", Singular: "priorityclass", Kind: "PriorityClass", ShortNames: []string{"pc"},
		New: func() runtime.Object { return &schedulingv1.PriorityClass{} }, NewList: func() runtime.Object { return &schedulingv1.PriorityClassList{} },
		Validate: func(o runtime.Object) field.ErrorList {
			return schedulingv1api.ValidatePriorityClass(o.(*schedulingv1.PriorityClass))
		},
		ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
			return schedulingv1api.ValidatePriorityClassUpdate(o.(*schedulingv1.PriorityClass), old.(*schedulingv1.PriorityClass))
		},
		Columns: schedulingv1api.PriorityClassColumns, Row: schedulingv1api.PriorityClassRow,
	}}}}}
}

// admissionregistrationGroup serves the webhook configurations that the
// MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins act on,
// and the policies and bindings of the ValidatingAdmissionPolicy and
// MutatingAdmissionPolicy plugins.
func admissionregistrationGroup() Group {
	gv := admissionregistrationv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{
		{
			GroupVersion: gv, Name: "mutatingwebhookconfigurations", Singular: "mutatingwebhookconfiguration", Kind: "MutatingWebhookConfiguration",
			Categories: []string{"api-extensions"},
			New:        func() runtime.Object { return &admissionregistrationv1.MutatingWebhookConfiguration{} },
			NewList:    func() runtime.Object { return &admissionregistrationv1.MutatingWebhookConfigurationList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateMutatingWebhookConfiguration(o.(*admissionregistrationv1.MutatingWebhookConfiguration))
			},
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateMutatingWebhookConfigurationUpdate(o.(*admissionregistrationv1.MutatingWebhookConfiguration), old.(*admissionregistrationv1.MutatingWebhookConfiguration))
			},
			Columns: admissionregistrationv1api.WebhookConfigurationColumns, Row: admissionregistrationv1api.MutatingWebhookConfigurationRow,
		},
		{
			GroupVersion: gv, Name: "validatingwebhookconfigurations", Singular: "validatingwebhookconfiguration", Kind: "ValidatingWebhookConfiguration",
			Categories: []string{"api-extensions"},
			New:        func() runtime.Object { return &admissionregistrationv1.ValidatingWebhookConfiguration{} },
			NewList:    func() runtime.Object { return &admissionregistrationv1.ValidatingWebhookConfigurationList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateValidatingWebhookConfiguration(o.(*admissionregistrationv1.ValidatingWebhookConfiguration))
			},
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateValidatingWebhookConfigurationUpdate(o.(*admissionregistrationv1.ValidatingWebhookConfiguration), old.(*admissionregistrationv1.ValidatingWebhookConfiguration))
			},
			Columns: admissionregistrationv1api.WebhookConfigurationColumns, Row: admissionregistrationv1api.ValidatingWebhookConfigurationRow,
		},
		{
			GroupVersion: gv, Name: "validatingadmissionpolicies", Singular: "validatingadmissionpolicy", Kind: "ValidatingAdmissionPolicy",
			Categories: []string{"api-extensions"},
			New:        func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicy{} },
			NewList:    func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateValidatingAdmissionPolicy(o.(*admissionregistrationv1.ValidatingAdmissionPolicy))
			},
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateValidatingAdmissionPolicyUpdate(o.(*admissionregistrationv1.ValidatingAdmissionPolicy), old.(*admissionregistrationv1.ValidatingAdmissionPolicy))
			},
			ValidateStatus: func(o, old runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateValidatingAdmissionPolicyStatus(o.(*admissionregistrationv1.ValidatingAdmissionPolicy), old.(*admissionregistrationv1.ValidatingAdmissionPolicy))
			},
			Status:  true,
			Columns: admissionregistrationv1api.PolicyColumns, Row: admissionregistrationv1api.PolicyRow,
		},
		{
			GroupVersion: gv, Name: "validatingadmissionpolicybindings", Singular: "validatingadmissionpolicybinding", Kind: "ValidatingAdmissionPolicyBinding",
			Categories: []string{"api-extensions"},
			New:        func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyBinding{} },
			NewList:    func() runtime.Object { return &admissionregistrationv1.ValidatingAdmissionPolicyBindingList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateValidatingAdmissionPolicyBinding(o.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding))
			},
			ValidateUpdate: func(o, _ runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateValidatingAdmissionPolicyBinding(o.(*admissionregistrationv1.ValidatingAdmissionPolicyBinding))
			},
			Columns: admissionregistrationv1api.BindingColumns, Row: admissionregistrationv1api.BindingRow,
		},
		{
			GroupVersion: gv, Name: "mutatingadmissionpolicies", Singular: "mutatingadmissionpolicy", Kind: "MutatingAdmissionPolicy",
			Categories: []string{"api-extensions"},
			New:        func() runtime.Object { return &admissionregistrationv1.MutatingAdmissionPolicy{} },
			NewList:    func() runtime.Object { return &admissionregistrationv1.MutatingAdmissionPolicyList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateMutatingAdmissionPolicy(o.(*admissionregistrationv1.MutatingAdmissionPolicy))
			},
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateMutatingAdmissionPolicyUpdate(o.(*admissionregistrationv1.MutatingAdmissionPolicy), old.(*admissionregistrationv1.MutatingAdmissionPolicy))
			},
			Columns: admissionregistrationv1api.MutatingPolicyColumns, Row: admissionregistrationv1api.MutatingPolicyRow,
		},
		{
			GroupVersion: gv, Name: "mutatingadmissionpolicybindings", Singular: "mutatingadmissionpolicybinding", Kind: "MutatingAdmissionPolicyBinding",
			Categories: []string{"api-extensions"},
			New:        func() runtime.Object { return &admissionregistrationv1.MutatingAdmissionPolicyBinding{} },
			NewList:    func() runtime.Object { return &admissionregistrationv1.MutatingAdmissionPolicyBindingList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateMutatingAdmissionPolicyBinding(o.(*admissionregistrationv1.MutatingAdmissionPolicyBinding))
			},
			ValidateUpdate: func(o, _ runtime.Object) field.ErrorList {
				return admissionregistrationv1api.ValidateMutatingAdmissionPolicyBinding(o.(*admissionregistrationv1.MutatingAdmissionPolicyBinding))
			},
			Columns: admissionregistrationv1api.BindingColumns, Row: admissionregistrationv1api.MutatingBindingRow,
		},
	}}}}
}
