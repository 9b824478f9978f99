package admission

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	schedulinglisters "k8s.io/client-go/listers/scheduling/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/klog/v2"
)

// Names of the plugins, as kube-apiserver's --disable-admission-plugins knows them.
const (
	DefaultTolerationSeconds = "DefaultTolerationSeconds"
	Priority                 = "Priority"
	DefaultStorageClass      = "DefaultStorageClass"
	DefaultIngressClass      = "DefaultIngressClass"
	TaintNodesByCondition    = "TaintNodesByCondition"
)

// defaultTolerationSeconds is how long pods tolerate their node being not
// ready or unreachable before they are evicted.
const defaultTolerationSeconds = int64(300)

func isCreate(a admission.Attributes, gr string) bool {
	return a.GetOperation() == admission.Create && a.GetSubresource() == "" && a.GetResource().GroupResource().String() == gr
}

// tolerationSeconds adds NoExecute tolerations for not-ready and
// unreachable nodes to pods that have none.
type tolerationSeconds struct{ *admission.Handler }

func (p tolerationSeconds) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if !isCreate(a, "pods") {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return nil
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		taint := &corev1.Taint{Key: key, Effect: corev1.TaintEffectNoExecute}
		tolerated := false
		for i := range pod.Spec.Tolerations {
			tolerated = tolerated || pod.Spec.Tolerations[i].ToleratesTaint(klog.Background(), taint, false)
		}
		if !tolerated {
			secs := defaultTolerationSeconds
			pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
				Key: key, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: &secs,
			})
		}
	}
	return nil
}

// priority resolves a pod's priorityClassName (or the default class) into
// spec.priority and spec.preemptionPolicy, and keeps one default class.
type priority struct {
	*admission.Handler
	classes schedulinglisters.PriorityClassLister
}

func (p priority) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	switch {
	case isCreate(a, "pods"):
		pod, ok := a.GetObject().(*corev1.Pod)
		if !ok {
			return nil
		}
		name, value, policy := "", int32(0), corev1.PreemptLowerPriority
		if pod.Spec.PriorityClassName == "" {
			if def, err := p.defaultClass(); err != nil {
				return apierrors.NewInternalError(err)
			} else if def != nil {
				name, value = def.Name, def.Value
				if def.PreemptionPolicy != nil {
					policy = *def.PreemptionPolicy
				}
			}
		} else {
			pc, err := p.classes.Get(pod.Spec.PriorityClassName)
			if apierrors.IsNotFound(err) {
				return admission.NewForbidden(a, fmt.Errorf("no PriorityClass with name %v was found", pod.Spec.PriorityClassName))
			} else if err != nil {
				return apierrors.NewInternalError(err)
			}
			name, value = pc.Name, pc.Value
			if pc.PreemptionPolicy != nil {
				policy = *pc.PreemptionPolicy
			}
		}
		if pod.Spec.Priority != nil && *pod.Spec.Priority != value {
			return admission.NewForbidden(a, fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, value))
		}
		if pod.Spec.PreemptionPolicy != nil && *pod.Spec.PreemptionPolicy != policy {
			return admission.NewForbidden(a, fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *pod.Spec.PreemptionPolicy, policy))
		}
		pod.Spec.PriorityClassName = name
		pod.Spec.Priority = &value
		pod.Spec.PreemptionPolicy = &policy
	case (a.GetOperation() == admission.Create || a.GetOperation() == admission.Update) && a.GetSubresource() == "" &&
		a.GetResource().GroupResource().String() == "priorityclasses.scheduling.k8s.io":
		pc, ok := a.GetObject().(*schedulingv1.PriorityClass)
		if !ok || !pc.GlobalDefault {
			return nil
		}
		if def, err := p.defaultClass(); err == nil && def != nil && def.Name != pc.Name {
			return admission.NewForbidden(a, fmt.Errorf("PriorityClass %v is already marked as default. Only one default can exist", def.Name))
		}
	}
	return nil
}

func (p priority) defaultClass() (*schedulingv1.PriorityClass, error) {
	list, err := p.classes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var def *schedulingv1.PriorityClass
	for _, pc := range list {
		// With more than one default (possible only by racing creates),
		// the lowest value wins, as upstream.
		if pc.GlobalDefault && (def == nil || pc.Value < def.Value) {
			def = pc
		}
	}
	return def, nil
}

// storageClass gives claims without a storageClassName the default class.
type storageClass struct {
	*admission.Handler
	classes storagelisters.StorageClassLister
}

const defaultStorageClassAnnotation = "storageclass.kubernetes.io/is-default-class"

func (p storageClass) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if !isCreate(a, "persistentvolumeclaims") {
		return nil
	}
	pvc, ok := a.GetObject().(*corev1.PersistentVolumeClaim)
	if !ok || pvc.Spec.StorageClassName != nil {
		return nil
	}
	list, err := p.classes.List(labels.Everything())
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var defaults []*storagev1.StorageClass
	for _, sc := range list {
		if sc.Annotations[defaultStorageClassAnnotation] == "true" {
			defaults = append(defaults, sc)
		}
	}
	if len(defaults) == 0 {
		return nil
	}
	// The newest default wins, as upstream.
	sort.Slice(defaults, func(i, j int) bool {
		if !defaults[i].CreationTimestamp.Equal(&defaults[j].CreationTimestamp) {
			return defaults[j].CreationTimestamp.Before(&defaults[i].CreationTimestamp)
		}
		return defaults[i].Name < defaults[j].Name
	})
	name := defaults[0].Name
	pvc.Spec.StorageClassName = &name
	return nil
}

// ingressClass gives ingresses without a class the default class.
type ingressClass struct {
	*admission.Handler
	classes networkinglisters.IngressClassLister
}

func (p ingressClass) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if !isCreate(a, "ingresses.networking.k8s.io") {
		return nil
	}
	ing, ok := a.GetObject().(*networkingv1.Ingress)
	if !ok || ing.Spec.IngressClassName != nil || ing.Annotations["kubernetes.io/ingress.class"] != "" {
		return nil
	}
	list, err := p.classes.List(labels.Everything())
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var def *networkingv1.IngressClass
	for _, ic := range list {
		if ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" && (def == nil || def.CreationTimestamp.Before(&ic.CreationTimestamp)) {
			def = ic
		}
	}
	if def != nil {
		name := def.Name
		ing.Spec.IngressClassName = &name
	}
	return nil
}

// nodeTaints marks new nodes not ready until their agent says otherwise.
type nodeTaints struct{ *admission.Handler }

func (p nodeTaints) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if !isCreate(a, "nodes") {
		return nil
	}
	node, ok := a.GetObject().(*corev1.Node)
	if !ok {
		return nil
	}
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady && t.Effect == corev1.TaintEffectNoSchedule {
			return nil
		}
	}
	node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
	return nil
}

// Listers are what the plugins read.
type Listers struct {
	Namespaces      corelisters.NamespaceLister
	LimitRanges     corelisters.LimitRangeLister
	PriorityClasses schedulinglisters.PriorityClassLister
	StorageClasses  storagelisters.StorageClassLister
	IngressClasses  networkinglisters.IngressClassLister
	ServiceAccounts corelisters.ServiceAccountLister
}

// Named is a plugin with its name in --disable-admission-plugins.
type Named struct {
	Name   string
	Plugin admission.Interface
}

// Plugins returns the plugins in kube-apiserver's order, without the
// disabled ones. config holds the plugins' configurations of
// --admission-control-config-file (only PodSecurity takes one).
func Plugins(client kubernetes.Interface, l Listers, disabled map[string]bool, config admission.ConfigProvider) ([]Named, error) {
	psConfig, err := config.ConfigFor(PodSecurity)
	if err != nil {
		return nil, fmt.Errorf("reading the %s configuration: %w", PodSecurity, err)
	}
	ps, err := newPodSecurity(client, l.Namespaces, psConfig)
	if err != nil {
		return nil, err
	}
	all := []Named{
		{LimitRanger, limitRanger{admission.NewHandler(admission.Create, admission.Update), l.LimitRanges}},
		{ServiceAccount, serviceAccount{admission.NewHandler(admission.Create), client, l.ServiceAccounts}},
		{NodeRestriction, nodeRestriction{admission.NewHandler(admission.Create, admission.Update, admission.Delete), client}},
		{TaintNodesByCondition, nodeTaints{admission.NewHandler(admission.Create)}},
		{PodSecurity, ps},
		{Priority, priority{admission.NewHandler(admission.Create, admission.Update), l.PriorityClasses}},
		{DefaultTolerationSeconds, tolerationSeconds{admission.NewHandler(admission.Create)}},
		{DefaultStorageClass, storageClass{admission.NewHandler(admission.Create), l.StorageClasses}},
		{DefaultIngressClass, ingressClass{admission.NewHandler(admission.Create), l.IngressClasses}},
	}
	var out []Named
	for _, p := range all {
		if !disabled[p.Name] {
			out = append(out, p)
		}
	}
	return out, nil
}
