package builtin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"github.com/skiffhq/skiff/apiserver/registry"
)

// evictionREST serves pods/eviction (kubectl drain): it deletes a pod
// unless that would violate its PodDisruptionBudget, as upstream.
type evictionREST struct {
	store  *registry.Store
	client kubernetes.Interface
}

var (
	_ rest.NamedCreater             = &evictionREST{}
	_ rest.GroupVersionKindProvider = &evictionREST{}
)

func (r *evictionREST) New() runtime.Object { return &policyv1.Eviction{} }
func (r *evictionREST) Destroy()            {}

// GroupVersionKind implements rest.GroupVersionKindProvider.
func (r *evictionREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return policyv1.SchemeGroupVersion.WithKind("Eviction")
}

func tooManyRequests(msg, cause string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: "DisruptionBudget", Message: cause})
	if msg != "" {
		err.ErrStatus.Message = msg
	}
	return err
}

func (r *evictionREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	eviction, ok := obj.(*policyv1.Eviction)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an Eviction: %T", obj))
	}
	if eviction.Name != "" && eviction.Name != name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	if createValidation != nil {
		if err := createValidation(ctx, eviction.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	podObj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	pod := podObj.(*corev1.Pod)
	deleteOptions := eviction.DeleteOptions
	if deleteOptions == nil {
		deleteOptions = &metav1.DeleteOptions{}
	}
	if len(options.DryRun) > 0 {
		deleteOptions = deleteOptions.DeepCopy()
		deleteOptions.DryRun = options.DryRun
	}
	if deleteOptions.Preconditions == nil {
		deleteOptions.Preconditions = &metav1.Preconditions{UID: &pod.UID}
	}
	success := &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated}
	// Finished or already deleting pods need no budget.
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || pod.DeletionTimestamp != nil {
		if _, _, err := r.store.Delete(ctx, name, rest.ValidateAllObjectFunc, deleteOptions); err != nil {
			return nil, err
		}
		return success, nil
	}
	namespace := genericapirequest.NamespaceValue(ctx)
	pdbs, err := r.client.PolicyV1().PodDisruptionBudgets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var matching []policyv1.PodDisruptionBudget
	for _, pdb := range pdbs.Items {
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		matching = append(matching, pdb)
	}
	if len(matching) > 1 {
		return nil, apierrors.NewInternalError(fmt.Errorf("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."))
	}
	// A pod that is not ready may go without using up a disruption when
	// the budget's unhealthy pod policy allows it.
	if len(matching) == 1 && (podReadyForEviction(pod) || !unhealthyMayGo(&matching[0])) {
		if err := r.takeDisruption(ctx, &matching[0], pod, deleteOptions.DryRun); err != nil {
			return nil, err
		}
	}
	if _, _, err := r.store.Delete(ctx, name, rest.ValidateAllObjectFunc, deleteOptions); err != nil {
		return nil, err
	}
	return success, nil
}

func podReadyForEviction(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// unhealthyMayGo tells whether a not-ready pod may be evicted without
// using up a disruption: always under AlwaysAllow, and under the default
// IfHealthyBudget when the budget is met.
func unhealthyMayGo(pdb *policyv1.PodDisruptionBudget) bool {
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
		return true
	}
	return pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0
}

// takeDisruption records the eviction in the budget's status, refusing
// with 429 when the budget allows no more disruptions.
func (r *evictionREST) takeDisruption(ctx context.Context, pdb *policyv1.PodDisruptionBudget, pod *corev1.Pod, dryRun []string) error {
	return retry.OnError(wait.Backoff{Steps: 5, Duration: 10 * time.Millisecond, Factor: 2}, apierrors.IsConflict, func() error {
		current, err := r.client.PolicyV1().PodDisruptionBudgets(pdb.Namespace).Get(ctx, pdb.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if current.Status.ObservedGeneration < current.Generation {
			return tooManyRequests("", fmt.Sprintf("The disruption budget %s is still being processed by the server.", current.Name))
		}
		if current.Status.DisruptionsAllowed <= 0 {
			return tooManyRequests("", fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", current.Name, current.Status.DesiredHealthy, current.Status.CurrentHealthy))
		}
		current.Status.DisruptionsAllowed--
		if current.Status.DisruptedPods == nil {
			current.Status.DisruptedPods = map[string]metav1.Time{}
		}
		current.Status.DisruptedPods[pod.Name] = metav1.Now()
		_, err = r.client.PolicyV1().PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, current, metav1.UpdateOptions{DryRun: dryRun})
		return err
	})
}
