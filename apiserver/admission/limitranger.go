package admission

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/admission"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// LimitRanger is the plugin's name in --disable-admission-plugins.
const LimitRanger = "LimitRanger"

const limitRangerAnnotation = "kubernetes.io/limit-ranger"

// limitRanger applies the LimitRanges of a namespace: it fills in the
// default requests and limits of containers and refuses pods and claims
// outside the minimums, maximums and ratios.
type limitRanger struct {
	*admission.Handler
	ranges corelisters.LimitRangeLister
}

func (p limitRanger) limits(namespace string, typ corev1.LimitType) ([]corev1.LimitRangeItem, error) {
	list, err := p.ranges.LimitRanges(namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	var out []corev1.LimitRangeItem
	for _, lr := range list {
		for _, item := range lr.Spec.Limits {
			if item.Type == typ {
				out = append(out, item)
			}
		}
	}
	return out, nil
}

func (p limitRanger) Admit(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if !isCreate(a, "pods") {
		return nil
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	if !ok {
		return nil
	}
	items, err := p.limits(a.GetNamespace(), corev1.LimitTypeContainer)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var set []string
	for _, item := range items {
		for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
			for i := range cs {
				set = append(set, defaultResources(&cs[i], item)...)
			}
		}
	}
	if len(set) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[limitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(set, "; ")
	}
	return nil
}

// defaultResources fills a container's missing requests and limits from
// a limit range item; it describes what it set as upstream's annotation
// does ("cpu, memory request for container app").
func defaultResources(c *corev1.Container, item corev1.LimitRangeItem) []string {
	fill := func(list *corev1.ResourceList, defaults corev1.ResourceList) []string {
		var names []string
		for name, q := range defaults {
			if _, ok := (*list)[name]; ok {
				continue
			}
			if *list == nil {
				*list = corev1.ResourceList{}
			}
			(*list)[name] = q.DeepCopy()
			names = append(names, string(name))
		}
		sort.Strings(names)
		return names
	}
	var set []string
	if names := fill(&c.Resources.Requests, item.DefaultRequest); len(names) > 0 {
		set = append(set, fmt.Sprintf("%s request for container %s", strings.Join(names, ", "), c.Name))
	}
	if names := fill(&c.Resources.Limits, item.Default); len(names) > 0 {
		set = append(set, fmt.Sprintf("%s limit for container %s", strings.Join(names, ", "), c.Name))
	}
	return set
}

func (p limitRanger) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetSubresource() != "" || (a.GetOperation() != admission.Create && a.GetOperation() != admission.Update) {
		return nil
	}
	var errs []string
	switch a.GetResource().GroupResource().String() {
	case "pods":
		if a.GetOperation() != admission.Create {
			return nil
		}
		pod, ok := a.GetObject().(*corev1.Pod)
		if !ok {
			return nil
		}
		containerItems, err := p.limits(a.GetNamespace(), corev1.LimitTypeContainer)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		podItems, err := p.limits(a.GetNamespace(), corev1.LimitTypePod)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		for _, item := range containerItems {
			for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
				errs = append(errs, checkBounds("Container", item, c.Resources.Requests, c.Resources.Limits)...)
			}
		}
		if len(podItems) > 0 {
			requests, limits := corev1.ResourceList{}, corev1.ResourceList{}
			for _, c := range pod.Spec.Containers {
				add(requests, c.Resources.Requests)
				add(limits, c.Resources.Limits)
			}
			for _, item := range podItems {
				errs = append(errs, checkBounds("Pod", item, requests, limits)...)
			}
		}
	case "persistentvolumeclaims":
		pvc, ok := a.GetObject().(*corev1.PersistentVolumeClaim)
		if !ok {
			return nil
		}
		items, err := p.limits(a.GetNamespace(), corev1.LimitTypePersistentVolumeClaim)
		if err != nil {
			return apierrors.NewInternalError(err)
		}
		for _, item := range items {
			errs = append(errs, checkBounds("PersistentVolumeClaim", item, pvc.Spec.Resources.Requests, nil)...)
		}
	default:
		return nil
	}
	if len(errs) > 0 {
		return admission.NewForbidden(a, fmt.Errorf("[%s]", strings.Join(errs, ", ")))
	}
	return nil
}

func add(total, more corev1.ResourceList) {
	for name, q := range more {
		sum := total[name]
		sum.Add(q)
		total[name] = sum
	}
}

// checkBounds reports, in upstream's words, what a usage breaks of item.
func checkBounds(kind string, item corev1.LimitRangeItem, requests, limits corev1.ResourceList) []string {
	var errs []string
	names := func(l corev1.ResourceList) []string {
		out := make([]string, 0, len(l))
		for n := range l {
			out = append(out, string(n))
		}
		sort.Strings(out)
		return out
	}
	for _, n := range names(item.Min) {
		min := item.Min[corev1.ResourceName(n)]
		req, hasReq := requests[corev1.ResourceName(n)]
		lim, hasLim := limits[corev1.ResourceName(n)]
		switch {
		case !hasReq && kind != "Pod":
			errs = append(errs, fmt.Sprintf("minimum %s usage per %s is %s.  No request is specified", n, kind, min.String()))
		case hasReq && req.Cmp(min) < 0:
			errs = append(errs, fmt.Sprintf("minimum %s usage per %s is %s, but request is %s", n, kind, min.String(), req.String()))
		}
		if hasLim && lim.Cmp(min) < 0 {
			errs = append(errs, fmt.Sprintf("minimum %s usage per %s is %s, but limit is %s", n, kind, min.String(), lim.String()))
		}
	}
	for _, n := range names(item.Max) {
		max := item.Max[corev1.ResourceName(n)]
		if kind == "PersistentVolumeClaim" {
			if req, ok := requests[corev1.ResourceName(n)]; ok && req.Cmp(max) > 0 {
				errs = append(errs, fmt.Sprintf("maximum %s usage per %s is %s, but request is %s", n, kind, max.String(), req.String()))
			}
			continue
		}
		lim, hasLim := limits[corev1.ResourceName(n)]
		switch {
		case !hasLim:
			errs = append(errs, fmt.Sprintf("maximum %s usage per %s is %s.  No limit is specified", n, kind, max.String()))
		case lim.Cmp(max) > 0:
			errs = append(errs, fmt.Sprintf("maximum %s usage per %s is %s, but limit is %s", n, kind, max.String(), lim.String()))
		}
	}
	for _, n := range names(item.MaxLimitRequestRatio) {
		ratio := item.MaxLimitRequestRatio[corev1.ResourceName(n)]
		req, hasReq := requests[corev1.ResourceName(n)]
		lim, hasLim := limits[corev1.ResourceName(n)]
		if !hasReq || !hasLim || req.IsZero() {
			errs = append(errs, fmt.Sprintf("%s max limit to request ratio per %s is %s, but no request or limit is specified", n, kind, ratio.String()))
			continue
		}
		observed := float64(lim.MilliValue()) / float64(req.MilliValue())
		if observed > float64(ratio.MilliValue())/1000 {
			errs = append(errs, fmt.Sprintf("%s max limit to request ratio per %s is %s, but provided ratio is %s", n, kind, ratio.String(),
				resource.NewMilliQuantity(int64(observed*1000), resource.DecimalSI).String()))
		}
	}
	return errs
}
