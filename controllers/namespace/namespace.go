package namespace

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type reconciler struct {
	client    client.Client
	clientset kubernetes.Interface
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
}

// Setup registers the controller with the manager.
func Setup(mgr ctrl.Manager, cfg *rest.Config) error {
	// Listing every resource touches deprecated ones (v1 Endpoints);
	// their warnings mean nothing here.
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	r := &reconciler{client: mgr.GetClient(), clientset: cs, metadata: md, discovery: dc}
	return ctrl.NewControllerManagedBy(mgr).Named("namespace").For(&corev1.Namespace{}).Complete(r)
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.client.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ns.DeletionTimestamp == nil || !hasKubernetesFinalizer(ns) {
		return ctrl.Result{}, nil
	}
	conds := newConditions()
	resources, discoveryErr := r.namespacedResources()
	if discoveryErr != nil {
		conds.set(corev1.NamespaceDeletionDiscoveryFailure, true, "DiscoveryFailed", discoveryErr.Error())
	}
	remaining, finalizers, waitFor, deleteErrs := r.deleteContent(ctx, ns.Name, resources)
	if len(deleteErrs) > 0 {
		conds.set(corev1.NamespaceDeletionContentFailure, true, "ContentDeletionFailed", "Failed to delete all resource types, "+fmt.Sprint(len(deleteErrs))+" remaining: "+strings.Join(deleteErrs, ", "))
	}
	if len(remaining) > 0 {
		conds.set(corev1.NamespaceContentRemaining, true, "SomeResourcesRemain", "Some resources are remaining: "+summary(remaining))
	}
	if len(finalizers) > 0 {
		conds.set(corev1.NamespaceFinalizersRemaining, true, "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: "+summary(finalizers))
	}
	if err := r.updateConditions(ctx, ns, conds); err != nil {
		return ctrl.Result{}, err
	}
	if discoveryErr != nil || len(deleteErrs) > 0 || len(remaining) > 0 {
		// Pods take their grace period to go; look again then, or soon.
		return ctrl.Result{RequeueAfter: min(max(waitFor, time.Second), 15*time.Second)}, nil
	}
	return ctrl.Result{}, r.finalize(ctx, ns)
}

func hasKubernetesFinalizer(ns *corev1.Namespace) bool {
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return true
		}
	}
	return false
}

// namespacedResources lists the preferred version of each namespaced
// resource that can be listed and deleted.
func (r *reconciler) namespacedResources() ([]schema.GroupVersionResource, error) {
	lists, err := r.discovery.ServerPreferredNamespacedResources()
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, res := range l.APIResources {
			verbs := sets.New(res.Verbs...)
			if strings.Contains(res.Name, "/") || !verbs.HasAll("list", "delete") {
				continue
			}
			// Events live in one store under two groups; delete them once.
			if gv.Group == "events.k8s.io" && res.Name == "events" {
				continue
			}
			out = append(out, gv.WithResource(res.Name))
		}
	}
	return out, err
}

// deleteContent deletes what is left of each resource in the namespace
// and reports what remains: counts per resource, objects held by
// finalizers, and the longest pod grace period still running.
func (r *reconciler) deleteContent(ctx context.Context, ns string, resources []schema.GroupVersionResource) (remaining, finalizers map[string]int, waitFor time.Duration, errs []string) {
	remaining, finalizers = map[string]int{}, map[string]int{}
	background := metav1.DeletePropagationBackground
	for _, gvr := range resources {
		c := r.metadata.Resource(gvr).Namespace(ns)
		list, err := c.List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			continue
		}
		if err != nil {
			errs = append(errs, gvr.GroupResource().String())
			continue
		}
		name := gvr.GroupResource().String()
		for _, item := range list.Items {
			remaining[name]++
			for _, f := range item.Finalizers {
				finalizers[f]++
			}
			if item.DeletionTimestamp != nil {
				if g := item.DeletionGracePeriodSeconds; g != nil {
					waitFor = max(waitFor, time.Until(item.DeletionTimestamp.Time))
				}
				continue
			}
			err := c.Delete(ctx, item.Name, metav1.DeleteOptions{PropagationPolicy: &background, Preconditions: &metav1.Preconditions{UID: &item.UID}})
			switch {
			case err == nil, apierrors.IsNotFound(err), apierrors.IsConflict(err):
			default:
				errs = append(errs, fmt.Sprintf("%s %s: %v", name, item.Name, err))
			}
		}
	}
	return remaining, finalizers, waitFor, errs
}

func summary(m map[string]int) string {
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s has %d resource instances", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// conditions are the five deletion conditions upstream reports, False
// with their "all fine" reasons unless set.
type conditions map[corev1.NamespaceConditionType]corev1.NamespaceCondition

func newConditions() conditions {
	ok := map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
		corev1.NamespaceDeletionGVParsingFailure: "ParsedGroupVersions",
		corev1.NamespaceDeletionContentFailure:   "ContentDeleted",
		corev1.NamespaceContentRemaining:         "ContentRemoved",
		corev1.NamespaceFinalizersRemaining:      "ContentHasNoFinalizers",
	}
	msgs := map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "All resources successfully discovered",
		corev1.NamespaceDeletionGVParsingFailure: "All legacy kube types successfully parsed",
		corev1.NamespaceDeletionContentFailure:   "All content successfully deleted, may be waiting on finalization",
		corev1.NamespaceContentRemaining:         "All content successfully removed",
		corev1.NamespaceFinalizersRemaining:      "All content-preserving finalizers finished",
	}
	c := conditions{}
	for t, reason := range ok {
		c[t] = corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msgs[t]}
	}
	return c
}

func (c conditions) set(t corev1.NamespaceConditionType, on bool, reason, msg string) {
	st := corev1.ConditionFalse
	if on {
		st = corev1.ConditionTrue
	}
	c[t] = corev1.NamespaceCondition{Type: t, Status: st, Reason: reason, Message: msg}
}

func (r *reconciler) updateConditions(ctx context.Context, ns *corev1.Namespace, want conditions) error {
	updated := ns.DeepCopy()
	changed := false
	order := []corev1.NamespaceConditionType{corev1.NamespaceDeletionDiscoveryFailure, corev1.NamespaceDeletionGVParsingFailure,
		corev1.NamespaceDeletionContentFailure, corev1.NamespaceContentRemaining, corev1.NamespaceFinalizersRemaining}
	var out []corev1.NamespaceCondition
	for _, t := range order {
		c := want[t]
		c.LastTransitionTime = metav1.Now()
		found := false
		for _, old := range ns.Status.Conditions {
			if old.Type != t {
				continue
			}
			found = true
			if old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
			if old.Status != c.Status || old.Reason != c.Reason || old.Message != c.Message {
				changed = true
			}
		}
		if !found {
			changed = true
		}
		out = append(out, c)
	}
	if !changed {
		return nil
	}
	updated.Status.Conditions = out
	_, err := r.clientset.CoreV1().Namespaces().UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// finalize removes the kubernetes finalizer; with no other finalizers the
// API server then deletes the namespace.
func (r *reconciler) finalize(ctx context.Context, ns *corev1.Namespace) error {
	updated := ns.DeepCopy()
	var keep []corev1.FinalizerName
	for _, f := range ns.Spec.Finalizers {
		if f != corev1.FinalizerKubernetes {
			keep = append(keep, f)
		}
	}
	updated.Spec.Finalizers = keep
	_, err := r.clientset.CoreV1().Namespaces().Finalize(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
