package v1

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// validatePodSpecPolicies checks the pod-level fields that neither the
// containers nor scheduling cover: user namespaces, scheduling gates,
// resource claims, OS, host aliases, readiness gates, overhead and
// priority class.
func validatePodSpecPolicies(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.HostUsers != nil && !*spec.HostUsers {
		for _, ns := range []struct {
			name string
			on   bool
		}{{"hostNetwork", spec.HostNetwork}, {"hostPID", spec.HostPID}, {"hostIPC", spec.HostIPC}} {
			if ns.on {
				errs = append(errs, field.Forbidden(fldPath.Child(ns.name), "when `hostUsers` is false"))
			}
		}
	}
	gates := sets.New[string]()
	for i, g := range spec.SchedulingGates {
		p := fldPath.Child("schedulingGates").Index(i)
		errs = append(errs, metav1validation.ValidateLabelName(g.Name, p)...)
		if gates.Has(g.Name) {
			errs = append(errs, field.Duplicate(p, g.Name))
		}
		gates.Insert(g.Name)
	}
	claims := sets.New[string]()
	for i, c := range spec.ResourceClaims {
		p := fldPath.Child("resourceClaims").Index(i)
		errs = append(errs, validateDNSLabel(c.Name, p.Child("name"))...)
		if claims.Has(c.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		}
		claims.Insert(c.Name)
		switch {
		case c.ResourceClaimName == nil && c.ResourceClaimTemplateName == nil:
			errs = append(errs, field.Invalid(p, c.Name, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
		case c.ResourceClaimName != nil && c.ResourceClaimTemplateName != nil:
			errs = append(errs, field.Invalid(p, c.Name, "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"))
		case c.ResourceClaimName != nil:
			errs = append(errs, validateObjectName(*c.ResourceClaimName, p.Child("resourceClaimName"))...)
		default:
			errs = append(errs, validateObjectName(*c.ResourceClaimTemplateName, p.Child("resourceClaimTemplateName"))...)
		}
	}
	for _, cs := range []struct {
		name string
		list []corev1.Container
	}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
		for i, c := range cs.list {
			errs = append(errs, validateClaimReferences(c.Resources.Claims, claims, fldPath.Child(cs.name).Index(i).Child("resources", "claims"))...)
		}
	}
	if spec.Resources != nil {
		errs = append(errs, validateClaimReferences(spec.Resources.Claims, claims, fldPath.Child("resources", "claims"))...)
	}
	if os := spec.OS; os != nil {
		switch os.Name {
		case "":
			errs = append(errs, field.Required(fldPath.Child("os", "name"), ""))
		case corev1.Linux, corev1.Windows:
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("os", "name"), os.Name, []corev1.OSName{corev1.Linux, corev1.Windows}))
		}
	}
	for i, ha := range spec.HostAliases {
		p := fldPath.Child("hostAliases").Index(i)
		if netutils.ParseIPSloppy(ha.IP) == nil {
			errs = append(errs, field.Invalid(p.Child("ip"), ha.IP, "must be a valid IP address"))
		}
		for j, h := range ha.Hostnames {
			for _, msg := range validation.IsDNS1123Subdomain(h) {
				errs = append(errs, field.Invalid(p.Child("hostnames").Index(j), h, msg))
			}
		}
	}
	for i, g := range spec.ReadinessGates {
		errs = append(errs, metav1validation.ValidateLabelName(string(g.ConditionType), fldPath.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	for name, q := range spec.Overhead {
		p := fldPath.Child("overhead").Key(string(name))
		errs = append(errs, validateResourceName(string(name), p)...)
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
	}
	if spec.PriorityClassName != "" {
		errs = append(errs, validateObjectName(spec.PriorityClassName, fldPath.Child("priorityClassName"))...)
	}
	if pp := spec.PreemptionPolicy; pp != nil && *pp != corev1.PreemptLowerPriority && *pp != corev1.PreemptNever {
		errs = append(errs, field.NotSupported(fldPath.Child("preemptionPolicy"), *pp, []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}))
	}
	return errs
}

// validateSchedulingGatesUpdate allows gates to be removed after creation,
// never added, as upstream.
func validateSchedulingGatesUpdate(gates, old []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	before := sets.New[string]()
	for _, g := range old {
		before.Insert(g.Name)
	}
	var errs field.ErrorList
	for i, g := range gates {
		if !before.Has(g.Name) {
			errs = append(errs, field.Forbidden(fldPath.Index(i), "only deletion is allowed, but found new scheduling gate '"+g.Name+"'"))
		}
	}
	return errs
}

func validateObjectName(name string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range apivalidation.NameIsDNSSubdomain(name, false) {
		errs = append(errs, field.Invalid(fldPath, name, msg))
	}
	return errs
}

// validateClaimReferences checks that a container's (or the pod's)
// resources.claims name claims declared in spec.resourceClaims, once each.
func validateClaimReferences(refs []corev1.ResourceClaim, podClaims sets.Set[string], fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, r := range refs {
		p := fldPath.Index(i)
		if r.Name == "" {
			errs = append(errs, field.Required(p, ""))
			continue
		}
		key := r.Name
		if r.Request != "" {
			key += "/" + r.Request
		}
		if seen.Has(key) {
			errs = append(errs, field.Duplicate(p, key))
		}
		seen.Insert(key)
		if !podClaims.Has(r.Name) {
			e := field.NotFound(p, r.Name)
			if podClaims.Len() == 0 {
				e.Detail = "must be one of the names in pod.spec.resourceClaims which is empty"
			} else {
				e.Detail = "must be one of the names in pod.spec.resourceClaims: " + strings.Join(sets.List(podClaims), ", ")
			}
			errs = append(errs, e)
		}
	}
	return errs
}

// validateLabelKeys checks matchLabelKeys and mismatchLabelKeys of a pod
// affinity term or topology spread constraint: valid label names, only
// alongside a labelSelector, and not in both lists. Pods get these keys
// merged into their labelSelector at creation (MergeLabelKeys), so a key
// may appear once among the selector's expressions; a key that the
// selector uses twice (matchLabels and an expression, or two expressions)
// is the user naming it in both places.
func validateLabelKeys(match, mismatch []string, selector *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, list := range []struct {
		name string
		keys []string
	}{{"matchLabelKeys", match}, {"mismatchLabelKeys", mismatch}} {
		if len(list.keys) == 0 {
			continue
		}
		p := fldPath.Child(list.name)
		if selector == nil {
			errs = append(errs, field.Forbidden(p, "must not be specified when labelSelector is not set"))
			continue
		}
		for i, k := range list.keys {
			errs = append(errs, metav1validation.ValidateLabelName(k, p.Index(i))...)
		}
	}
	if selector != nil && len(match) > 0 {
		index := map[string]int{}
		for i, k := range match {
			index[k] = i
		}
		seen := sets.New[string]()
		for k := range selector.MatchLabels {
			seen.Insert(k)
		}
		for _, e := range selector.MatchExpressions {
			if i, ok := index[e.Key]; ok && seen.Has(e.Key) {
				errs = append(errs, field.Invalid(fldPath.Child("matchLabelKeys").Index(i), e.Key, "exists in both matchLabelKeys and labelSelector"))
			}
			seen.Insert(e.Key)
		}
	}
	mismatchSet := sets.New(mismatch...)
	for i, k := range match {
		if mismatchSet.Has(k) {
			errs = append(errs, field.Invalid(fldPath.Child("matchLabelKeys").Index(i), k, "exists in both matchLabelKeys and mismatchLabelKeys"))
		}
	}
	return errs
}

// MergeLabelKeys adds the pod's own values for the matchLabelKeys (In) and
// mismatchLabelKeys (NotIn) of its pod affinity terms and topology spread
// constraints to their labelSelectors, as upstream does when a pod is
// created; keys the pod has no label for are left out.
func MergeLabelKeys(pod *corev1.Pod) {
	merge := func(sel *metav1.LabelSelector, keys []string, op metav1.LabelSelectorOperator) {
		if sel == nil {
			return
		}
		for _, k := range keys {
			if v, ok := pod.Labels[k]; ok {
				sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: k, Operator: op, Values: []string{v}})
			}
		}
	}
	term := func(t *corev1.PodAffinityTerm) {
		merge(t.LabelSelector, t.MatchLabelKeys, metav1.LabelSelectorOpIn)
		merge(t.LabelSelector, t.MismatchLabelKeys, metav1.LabelSelectorOpNotIn)
	}
	terms := func(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm) {
		for i := range required {
			term(&required[i])
		}
		for i := range preferred {
			term(&preferred[i].PodAffinityTerm)
		}
	}
	if a := pod.Spec.Affinity; a != nil {
		if pa := a.PodAffinity; pa != nil {
			terms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
		if pa := a.PodAntiAffinity; pa != nil {
			terms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution)
		}
	}
	for i := range pod.Spec.TopologySpreadConstraints {
		c := &pod.Spec.TopologySpreadConstraints[i]
		merge(c.LabelSelector, c.MatchLabelKeys, metav1.LabelSelectorOpIn)
	}
}
