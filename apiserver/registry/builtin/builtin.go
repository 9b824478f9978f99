package builtin

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/apiserver/registry"
)

// Group is one API group with its resources, by version.
type Group struct {
	Name string
	// Versions in order of preference, with their resources.
	Versions []Version
}

// Version is one served version of a group.
type Version struct {
	GroupVersion schema.GroupVersion
	Resources    []*registry.Resource
}

// installers register each group's types, defaults and field selectors.
var installers []func(*runtime.Scheme) error

// AddExternalToScheme registers only the external types of every
// built-in group, for naming OpenAPI definitions: the internal copies must
// not show up as group versions there.
func AddExternalToScheme(scheme *runtime.Scheme) error {
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, coordinationv1.AddToScheme,
		discoveryv1.AddToScheme, eventsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
		rbacv1.AddToScheme, autoscalingv1.AddToScheme, autoscalingv2.AddToScheme, authenticationv1.AddToScheme, authorizationv1.AddToScheme,
		storagev1.AddToScheme, schedulingv1.AddToScheme, admissionregistrationv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	return nil
}

// Install registers every built-in group in scheme.
func Install(scheme *runtime.Scheme) error {
	for _, install := range installers {
		if err := install(scheme); err != nil {
			return err
		}
	}
	return nil
}

// Groups returns the served groups; the core group ("") comes first.
func Groups(deps Deps) []Group {
	return []Group{
		coreGroup(deps),
		appsGroup(),
		batchGroup(),
		coordinationGroup(),
		discoveryGroup(),
		eventsGroup(),
		policyGroup(),
		networkingGroup(),
		rbacGroup(),
		authenticationGroup(deps),
		authorizationGroup(deps),
		autoscalingGroup(),
		storageGroup(),
		schedulingGroup(),
		admissionregistrationGroup(),
	}
}

// Deps are what some resources need from the running server.
type Deps struct {
	// Authorizer answers access reviews.
	Authorizer authorizer.Authorizer
	// RuleResolver answers rules reviews.
	RuleResolver authorizer.RuleResolver
	// Services allocates cluster IPs and node ports.
	Services ServiceAllocators
	// Tokens issues service account tokens and reviews tokens.
	Tokens Tokens
	// Client is a privileged loopback client (evictions read and update
	// disruption budgets through it).
	Client kubernetes.Interface
	// Kubelet reaches node agents (pods/log, exec, attach, portforward).
	Kubelet *KubeletClient
}

func gvOf(gv metav1.GroupVersion) schema.GroupVersion {
	return schema.GroupVersion{Group: gv.Group, Version: gv.Version}
}
