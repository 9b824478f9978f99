package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
)

// NodeRestriction limits what node agents (system:node:NAME) write to
// their own Node and Lease and the pods bound to them, as kube-apiserver's
// plugin of that name.
const NodeRestriction = "NodeRestriction"

type nodeRestriction struct {
	*admission.Handler
	client kubernetes.Interface
}

func requestingNode(u user.Info) (string, bool) {
	if u == nil || !slices.Contains(u.GetGroups(), "system:nodes") || !strings.HasPrefix(u.GetName(), "system:node:") {
		return "", false
	}
	return strings.TrimPrefix(u.GetName(), "system:node:"), true
}

func (p nodeRestriction) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	node, ok := requestingNode(a.GetUserInfo())
	if !ok {
		return nil
	}
	forbid := func(format string, args ...any) error { return admission.NewForbidden(a, fmt.Errorf(format, args...)) }
	switch gr := a.GetResource().GroupResource(); {
	case gr == corev1.Resource("pods"):
		return p.pod(ctx, a, node, forbid)
	case gr == corev1.Resource("nodes"):
		if a.GetName() != node {
			return forbid("node %q is not allowed to modify node %q", node, a.GetName())
		}
	case gr == coordinationv1.Resource("leases"):
		if a.GetNamespace() == "kube-node-lease" && a.GetName() != node {
			return forbid("can only access node lease with the same name as the requesting node")
		}
	case gr == corev1.Resource("serviceaccounts") && a.GetSubresource() == "token":
		tr, ok := a.GetObject().(*authenticationv1.TokenRequest)
		if !ok {
			return nil
		}
		ref := tr.Spec.BoundObjectRef
		if ref == nil || ref.Kind != "Pod" {
			return forbid("node requested token not bound to a pod")
		}
		pod, err := p.client.CoreV1().Pods(a.GetNamespace()).Get(ctx, ref.Name, metav1.GetOptions{ResourceVersion: "0"})
		if apierrors.IsNotFound(err) {
			return forbid("node requested token bound to a pod that does not exist")
		} else if err != nil {
			return apierrors.NewInternalError(err)
		}
		if pod.Spec.NodeName != node {
			return forbid("node requested token bound to a pod scheduled on a different node")
		}
	}
	return nil
}

func (p nodeRestriction) pod(ctx context.Context, a admission.Attributes, node string, forbid func(string, ...any) error) error {
	switch a.GetSubresource() {
	case "":
		switch a.GetOperation() {
		case admission.Create:
			pod, ok := a.GetObject().(*corev1.Pod)
			if !ok {
				return nil
			}
			if _, mirror := pod.Annotations[mirrorPodAnnotation]; !mirror {
				return forbid("pod does not have %q annotation, node %q can only create mirror pods", mirrorPodAnnotation, node)
			}
			if pod.Spec.NodeName != node {
				return forbid("node %q can only create pods with spec.nodeName set to itself", node)
			}
		case admission.Delete:
			bound, err := p.boundTo(ctx, a, node)
			if err != nil || bound {
				return err
			}
			return forbid("node %q can only delete pods with spec.nodeName set to itself", node)
		default:
			return forbid("node %q can only update pod status", node)
		}
	case "status", "eviction":
		bound, err := p.boundTo(ctx, a, node)
		if err != nil || bound {
			return err
		}
		if a.GetSubresource() == "eviction" {
			return forbid("node %q can only evict pods with spec.nodeName set to itself", node)
		}
		return forbid("node %q can only update pod status for pods with spec.nodeName set to itself", node)
	}
	return nil
}

// boundTo says whether the pod of the request is bound to node.
func (p nodeRestriction) boundTo(ctx context.Context, a admission.Attributes, node string) (bool, error) {
	if old, ok := a.GetOldObject().(*corev1.Pod); ok && old != nil {
		return old.Spec.NodeName == node, nil
	}
	pod, err := p.client.CoreV1().Pods(a.GetNamespace()).Get(ctx, a.GetName(), metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		return true, nil // the request fails as NotFound on its own
	} else if err != nil {
		return false, apierrors.NewInternalError(err)
	}
	return pod.Spec.NodeName == node, nil
}
