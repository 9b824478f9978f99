package admission

import (
	"context"
	"fmt"
	"io"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/warning"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	psa "k8s.io/pod-security-admission/admission"
	"k8s.io/pod-security-admission/admission/api/load"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/metrics"
	"k8s.io/pod-security-admission/policy"
)

// PodSecurity is the plugin's name in --disable-admission-plugins.
const PodSecurity = "PodSecurity"

// podSecurity enforces the Pod Security Standards that namespaces ask for
// with pod-security.kubernetes.io/* labels, through the upstream library
// (k8s.io/pod-security-admission); the default level is privileged.
type podSecurity struct {
	*admission.Handler
	delegate *psa.Admission
}

type noMetrics struct{}

func (noMetrics) RecordEvaluation(metrics.Decision, psaapi.LevelVersion, metrics.Mode, psaapi.Attributes) {
}
func (noMetrics) RecordExemption(psaapi.Attributes)   {}
func (noMetrics) RecordError(bool, psaapi.Attributes) {}

type namespaceGetter struct {
	lister corelisters.NamespaceLister
	client kubernetes.Interface
}

func (g namespaceGetter) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	if ns, err := g.lister.Get(name); err == nil {
		return ns, nil
	}
	return g.client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
}

type podLister struct{ client kubernetes.Interface }

func (l podLister) ListPods(ctx context.Context, namespace string) ([]*corev1.Pod, error) {
	list, err := l.client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]*corev1.Pod, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// newPodSecurity makes the plugin with the PodSecurityConfiguration that
// config holds (defaults and exemptions), or upstream's defaults when
// config is nil.
func newPodSecurity(client kubernetes.Interface, namespaces corelisters.NamespaceLister, config io.Reader) (*podSecurity, error) {
	cfg, err := load.LoadFromReader(config)
	if err != nil {
		return nil, fmt.Errorf("loading the pod security configuration: %w", err)
	}
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, fmt.Errorf("creating the pod security evaluator: %w", err)
	}
	delegate := &psa.Admission{
		Configuration:    cfg,
		Evaluator:        evaluator,
		Metrics:          noMetrics{},
		PodSpecExtractor: psa.DefaultPodSpecExtractor{},
		NamespaceGetter:  namespaceGetter{lister: namespaces, client: client},
		PodLister:        podLister{client: client},
	}
	if err := delegate.CompleteConfiguration(); err != nil {
		return nil, fmt.Errorf("the pod security configuration: %w", err)
	}
	if err := delegate.ValidateConfiguration(); err != nil {
		return nil, fmt.Errorf("the pod security configuration: %w", err)
	}
	return &podSecurity{Handler: admission.NewHandler(admission.Create, admission.Update), delegate: delegate}, nil
}

func (p *podSecurity) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	gr := a.GetResource().GroupResource()
	if gr != corev1.Resource("pods") && gr != corev1.Resource("namespaces") && !(psa.DefaultPodSpecExtractor{}).HasPodSpec(gr) {
		return nil
	}
	op := admissionv1.Create
	if a.GetOperation() == admission.Update {
		op = admissionv1.Update
	}
	username := ""
	if u := a.GetUserInfo(); u != nil {
		username = u.GetName()
	}
	resp := p.delegate.Validate(ctx, &psaapi.AttributesRecord{
		Name: a.GetName(), Namespace: a.GetNamespace(), Kind: a.GetKind(), Resource: a.GetResource(),
		Subresource: a.GetSubresource(), Operation: op, Object: a.GetObject(), OldObject: a.GetOldObject(), Username: username,
	})
	for _, w := range resp.Warnings {
		warning.AddWarning(ctx, "", w)
	}
	if !resp.Allowed {
		if resp.Result != nil {
			return &apierrors.StatusError{ErrStatus: *resp.Result}
		}
		return admission.NewForbidden(a, fmt.Errorf("denied by PodSecurity"))
	}
	return nil
}
