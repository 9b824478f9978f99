package apiserver

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/apiserver/rbac"
	"github.com/skiffhq/skiff/config/bootstrappolicy"
)

// NodesGroup is the group node agents authenticate in.
const NodesGroup = "system:nodes"

// nodeName is the node a user is the agent of (system:node:NAME in
// system:nodes).
func nodeName(u user.Info) (string, bool) {
	if u == nil || !slices.Contains(u.GetGroups(), NodesGroup) || !strings.HasPrefix(u.GetName(), "system:node:") {
		return "", false
	}
	name := strings.TrimPrefix(u.GetName(), "system:node:")
	return name, name != ""
}

// nodeAuthorizer is upstream's Node authorization mode, by its rules: a
// node agent may do what the system:node role lists, but read a Secret,
// ConfigMap or PersistentVolumeClaim, or request a token of a service
// account, only when a pod bound to it uses that object. What it may
// write of nodes and pods is limited further by the NodeRestriction
// admission plugin.
type nodeAuthorizer struct {
	rules  []rbacv1.PolicyRule
	client kubernetes.Interface
}

func newNodeAuthorizer(client kubernetes.Interface) *nodeAuthorizer {
	a := &nodeAuthorizer{client: client}
	for _, r := range bootstrappolicy.ClusterRoles() {
		if r.Name == "system:node" {
			a.rules = r.Rules
		}
	}
	return a
}

func (a *nodeAuthorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	node, ok := nodeName(attrs.GetUser())
	if !ok {
		return authorizer.DecisionNoOpinion, "", nil
	}
	if attrs.IsResourceRequest() && attrs.GetAPIGroup() == "" {
		kind := ""
		switch r, sub := attrs.GetResource(), attrs.GetSubresource(); {
		case r == "secrets" && sub == "":
			kind = "secret"
		case r == "configmaps" && sub == "":
			kind = "configmap"
		case r == "persistentvolumeclaims" && sub == "":
			kind = "persistentvolumeclaim"
		case r == "serviceaccounts" && sub == "token":
			if attrs.GetVerb() != "create" {
				return authorizer.DecisionNoOpinion, "", nil
			}
			kind = "serviceaccount"
		}
		if kind != "" {
			if kind != "serviceaccount" && attrs.GetVerb() != "get" || attrs.GetName() == "" {
				return authorizer.DecisionNoOpinion, fmt.Sprintf("node %q can only get individual %ss", node, kind), nil
			}
			related, err := a.related(ctx, node, attrs.GetNamespace(), kind, attrs.GetName())
			if err != nil {
				return authorizer.DecisionNoOpinion, "", err
			}
			if !related {
				return authorizer.DecisionNoOpinion, fmt.Sprintf("no relationship found between node %q and this object", node), nil
			}
			return authorizer.DecisionAllow, "", nil
		}
	}
	for i := range a.rules {
		if rbac.RuleAllows(attrs, &a.rules[i]) {
			return authorizer.DecisionAllow, "", nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// related says whether a pod bound to the node uses the object.
func (a *nodeAuthorizer) related(ctx context.Context, node, namespace, kind, name string) (bool, error) {
	pods, err := a.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(), ResourceVersion: "0"})
	if err != nil {
		return false, err
	}
	for i := range pods.Items {
		if slices.Contains(podReferences(&pods.Items[i], kind), name) {
			return true, nil
		}
	}
	return false, nil
}

// podReferences lists the objects of a kind a pod uses.
func podReferences(pod *corev1.Pod, kind string) []string {
	var out []string
	add := func(k, name string) {
		if k == kind && name != "" {
			out = append(out, name)
		}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	add("serviceaccount", sa)
	for _, s := range pod.Spec.ImagePullSecrets {
		add("secret", s.Name)
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.Secret != nil:
			add("secret", v.Secret.SecretName)
		case v.ConfigMap != nil:
			add("configmap", v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil:
			add("persistentvolumeclaim", v.PersistentVolumeClaim.ClaimName)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					add("secret", s.Secret.Name)
				}
				if s.ConfigMap != nil {
					add("configmap", s.ConfigMap.Name)
				}
			}
		}
	}
	visit := func(c *corev1.Container) {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				add("secret", e.SecretRef.Name)
			}
			if e.ConfigMapRef != nil {
				add("configmap", e.ConfigMapRef.Name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if e.ValueFrom.SecretKeyRef != nil {
				add("secret", e.ValueFrom.SecretKeyRef.Name)
			}
			if e.ValueFrom.ConfigMapKeyRef != nil {
				add("configmap", e.ValueFrom.ConfigMapKeyRef.Name)
			}
		}
	}
	for i := range pod.Spec.InitContainers {
		visit(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		visit(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.EphemeralContainers {
		c := corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		visit(&c)
	}
	return out
}
