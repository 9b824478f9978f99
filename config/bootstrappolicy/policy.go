package bootstrappolicy

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

const (
	aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
	autoUpdate       = "rbac.authorization.kubernetes.io/autoupdate"
)

var (
	readVerbs  = []string{"get", "list", "watch"}
	writeVerbs = []string{"create", "delete", "deletecollection", "patch", "update"}
	allVerbs   = append(append([]string{}, readVerbs...), writeVerbs...)
)

func rule(verbs []string, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

func urls(verbs []string, paths ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: paths}
}

func meta(name string, labels map[string]string) metav1.ObjectMeta {
	l := map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
	for k, v := range labels {
		l[k] = v
	}
	return metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{autoUpdate: "true"}}
}

func aggregated(name, label string, labels map[string]string) rbacv1.ClusterRole {
	return rbacv1.ClusterRole{
		ObjectMeta: meta(name, labels),
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{
			{MatchLabels: map[string]string{label: "true"}},
		}},
	}
}

var (
	core         = []string{""}
	apps         = []string{"apps"}
	batch        = []string{"batch"}
	autoscaling  = []string{"autoscaling"}
	networking   = []string{"networking.k8s.io"}
	policy       = []string{"policy"}
	discovery    = []string{"discovery.k8s.io"}
	rbac         = []string{"rbac.authorization.k8s.io"}
	authz        = []string{"authorization.k8s.io"}
	authn        = []string{"authentication.k8s.io"}
	coordination = []string{"coordination.k8s.io"}
)

// ClusterRoles returns the bootstrap cluster roles.
func ClusterRoles() []rbacv1.ClusterRole {
	return []rbacv1.ClusterRole{
		{
			ObjectMeta: meta("cluster-admin", nil),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"*"}, []string{"*"}, "*"),
				urls([]string{"*"}, "*"),
			},
		},
		{
			ObjectMeta: meta("system:discovery", nil),
			Rules: []rbacv1.PolicyRule{urls([]string{"get"},
				"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/")},
		},
		{
			ObjectMeta: meta("system:basic-user", nil),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"create"}, authz, "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
				rule([]string{"create"}, authn, "selfsubjectreviews"),
			},
		},
		{
			ObjectMeta: meta("system:public-info-viewer", nil),
			Rules:      []rbacv1.PolicyRule{urls([]string{"get"}, "/healthz", "/livez", "/readyz", "/version", "/version/")},
		},
		{
			ObjectMeta: meta("system:monitoring", nil),
			Rules: []rbacv1.PolicyRule{urls([]string{"get"},
				"/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*", "/metrics", "/metrics/slis")},
		},
		{
			ObjectMeta: meta("system:auth-delegator", nil),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"create"}, authn, "tokenreviews"),
				rule([]string{"create"}, authz, "subjectaccessreviews"),
			},
		},
		{
			// What a node agent needs; the Node authorizer (not RBAC) grants
			// it to each node for its own objects, as upstream.
			ObjectMeta: meta("system:node", nil),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"create"}, authn, "tokenreviews"),
				rule([]string{"create"}, authz, "localsubjectaccessreviews", "subjectaccessreviews"),
				rule(readVerbs, core, "services"),
				rule([]string{"create", "get", "list", "watch", "patch", "update", "delete"}, core, "nodes"),
				rule([]string{"patch", "update"}, core, "nodes/status"),
				rule([]string{"create", "patch", "update"}, core, "events"),
				rule(readVerbs, core, "pods"),
				rule([]string{"create", "delete"}, core, "pods"),
				rule([]string{"patch", "update"}, core, "pods/status"),
				rule([]string{"create"}, core, "pods/eviction"),
				rule([]string{"get"}, core, "configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes"),
				rule([]string{"create"}, core, "serviceaccounts/token"),
				rule([]string{"get", "create", "update", "patch", "delete"}, coordination, "leases"),
			},
		},
		{
			ObjectMeta: meta("system:node-proxier", nil),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"list", "watch"}, core, "services", "endpoints"),
				rule([]string{"get", "list", "watch"}, core, "nodes"),
				rule([]string{"create", "patch", "update"}, core, "events"),
				rule([]string{"list", "watch"}, discovery, "endpointslices"),
			},
		},
		{
			ObjectMeta: meta("system:kube-scheduler", nil),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"create", "patch", "update"}, core, "events"),
				rule([]string{"create"}, coordination, "leases"),
				rule([]string{"get", "update"}, coordination, "leases"),
				rule(readVerbs, core, "nodes", "namespaces", "pods", "services", "replicationcontrollers",
					"persistentvolumeclaims", "persistentvolumes"),
				rule([]string{"delete"}, core, "pods"),
				rule([]string{"create"}, core, "pods/binding", "bindings"),
				rule([]string{"patch", "update"}, core, "pods/status"),
				rule(readVerbs, apps, "replicasets", "statefulsets"),
				rule(readVerbs, policy, "poddisruptionbudgets"),
				rule([]string{"create"}, authn, "tokenreviews"),
				rule([]string{"create"}, authz, "subjectaccessreviews"),
			},
		},
		{
			ObjectMeta: meta("system:kube-controller-manager", nil),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"create", "patch", "update"}, core, "events"),
				rule([]string{"create", "get", "update"}, coordination, "leases"),
				rule([]string{"create", "get", "update"}, core, "secrets", "serviceaccounts"),
				rule([]string{"create"}, core, "serviceaccounts/token"),
				rule([]string{"create"}, authn, "tokenreviews"),
				rule([]string{"create"}, authz, "subjectaccessreviews"),
				// The garbage collector and quota controllers watch everything.
				rule([]string{"list", "watch"}, []string{"*"}, "*"),
			},
		},
		aggregated("admin", aggregateToAdmin, nil),
		aggregated("edit", aggregateToEdit, map[string]string{aggregateToAdmin: "true"}),
		aggregated("view", aggregateToView, map[string]string{aggregateToEdit: "true"}),
		{
			ObjectMeta: meta("system:aggregate-to-admin", map[string]string{aggregateToAdmin: "true"}),
			Rules: []rbacv1.PolicyRule{
				rule(allVerbs, rbac, "rolebindings", "roles"),
				rule([]string{"create"}, authz, "localsubjectaccessreviews"),
			},
		},
		{
			ObjectMeta: meta("system:aggregate-to-edit", map[string]string{aggregateToEdit: "true"}),
			Rules: []rbacv1.PolicyRule{
				rule([]string{"impersonate"}, core, "serviceaccounts"),
				rule(writeVerbs, core, "pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"),
				rule([]string{"create"}, core, "pods/eviction"),
				rule(writeVerbs, core, "configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
					"replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"),
				rule([]string{"create"}, core, "serviceaccounts/token"),
				rule(writeVerbs, apps, "daemonsets", "deployments", "deployments/rollback", "deployments/scale",
					"replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"),
				rule(writeVerbs, autoscaling, "horizontalpodautoscalers"),
				rule(writeVerbs, batch, "cronjobs", "jobs"),
				rule(writeVerbs, networking, "ingresses", "networkpolicies"),
				rule(writeVerbs, policy, "poddisruptionbudgets"),
				rule([]string{"create", "delete", "deletecollection", "patch", "update"}, core, "endpoints"),
				rule([]string{"create", "delete", "deletecollection", "patch", "update"}, discovery, "endpointslices"),
				rule(allVerbs, coordination, "leases"),
			},
		},
		{
			ObjectMeta: meta("system:aggregate-to-view", map[string]string{aggregateToView: "true"}),
			Rules: []rbacv1.PolicyRule{
				rule(readVerbs, core, "pods", "configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status",
					"replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services", "services/status"),
				rule(readVerbs, core, "bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
					"replicationcontrollers/status", "resourcequotas", "resourcequotas/status"),
				rule(readVerbs, core, "namespaces"),
				rule(readVerbs, discovery, "endpointslices"),
				rule(readVerbs, apps, "controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
					"deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"),
				rule(readVerbs, autoscaling, "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
				rule(readVerbs, batch, "cronjobs", "cronjobs/status", "jobs", "jobs/status"),
				rule(readVerbs, networking, "ingresses", "ingresses/status", "networkpolicies"),
				rule(readVerbs, policy, "poddisruptionbudgets", "poddisruptionbudgets/status"),
			},
		},
	}
}

func binding(name, role string, subjects ...rbacv1.Subject) rbacv1.ClusterRoleBinding {
	return rbacv1.ClusterRoleBinding{
		ObjectMeta: meta(name, nil),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   subjects,
	}
}

func group(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: name}
}

func userSubject(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// ClusterRoleBindings returns the bootstrap cluster role bindings.
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	return []rbacv1.ClusterRoleBinding{
		binding("cluster-admin", "cluster-admin", group(user.SystemPrivilegedGroup)),
		binding("system:discovery", "system:discovery", group(user.AllAuthenticated)),
		binding("system:basic-user", "system:basic-user", group(user.AllAuthenticated)),
		binding("system:public-info-viewer", "system:public-info-viewer", group(user.AllAuthenticated), group(user.AllUnauthenticated)),
		binding("system:monitoring", "system:monitoring", group(user.MonitoringGroup)),
		binding("system:node-proxier", "system:node-proxier", userSubject(user.KubeProxy)),
		// skiff's node agents are their nodes' service proxies too.
		binding("skiff:node-proxier", "system:node-proxier", group("system:nodes")),
		binding("system:kube-scheduler", "system:kube-scheduler", userSubject(user.KubeScheduler)),
		binding("system:kube-controller-manager", "system:kube-controller-manager", userSubject(user.KubeControllerManager)),
	}
}
