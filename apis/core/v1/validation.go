package v1

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

var (
	supportedRestartPolicies = sets.New(corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)
	supportedDNSPolicies     = sets.New(corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault, corev1.DNSNone)
	supportedPullPolicies    = sets.New(corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)
	supportedProtocols       = sets.New(corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)
	supportedServiceTypes    = sets.New(corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName)
)

// ValidatePod checks a pod.
func ValidatePod(pod *corev1.Pod) field.ErrorList {
	return ValidatePodSpec(&pod.Spec, field.NewPath("spec"))
}

// ValidatePodUpdate checks a pod update: beyond a few fields (container
// images, activeDeadlineSeconds, tolerations added), a pod's spec is immutable.
func ValidatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	errs := ValidatePod(pod)
	specPath := field.NewPath("spec")
	mungedSpec := *pod.Spec.DeepCopy()
	// Allowed changes are copied over from the new spec into the old.
	oldSpec := old.Spec.DeepCopy()
	if len(mungedSpec.Containers) == len(oldSpec.Containers) {
		for i := range mungedSpec.Containers {
			oldSpec.Containers[i].Image = mungedSpec.Containers[i].Image
		}
	}
	if len(mungedSpec.InitContainers) == len(oldSpec.InitContainers) {
		for i := range mungedSpec.InitContainers {
			oldSpec.InitContainers[i].Image = mungedSpec.InitContainers[i].Image
		}
	}
	oldSpec.ActiveDeadlineSeconds = mungedSpec.ActiveDeadlineSeconds
	if len(mungedSpec.Tolerations) >= len(oldSpec.Tolerations) &&
		apiequality.Semantic.DeepEqual(mungedSpec.Tolerations[:len(oldSpec.Tolerations)], oldSpec.Tolerations) {
		oldSpec.Tolerations = mungedSpec.Tolerations
	}
	// nodeName is set through pods/binding.
	oldSpec.NodeName = mungedSpec.NodeName
	if old.Spec.NodeName != "" && pod.Spec.NodeName != old.Spec.NodeName {
		errs = append(errs, field.Forbidden(specPath.Child("nodeName"), "may not be changed once set"))
	}
	oldSpec.EphemeralContainers = mungedSpec.EphemeralContainers
	errs = append(errs, validateSchedulingGatesUpdate(mungedSpec.SchedulingGates, oldSpec.SchedulingGates, specPath.Child("schedulingGates"))...)
	oldSpec.SchedulingGates = mungedSpec.SchedulingGates
	if !apiequality.Semantic.DeepEqual(*oldSpec, mungedSpec) {
		errs = append(errs, field.Forbidden(specPath, "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"))
	}
	return errs
}

// ValidatePodTemplateSpec checks the pod template of a workload.
func ValidatePodTemplateSpec(t *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabels(t.Labels, fldPath.Child("metadata", "labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(t.Annotations, fldPath.Child("metadata", "annotations"))...)
	errs = append(errs, ValidatePodSpec(&t.Spec, fldPath.Child("spec"))...)
	return errs
}

// ValidatePodSpec checks a pod spec.
func ValidatePodSpec(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes := sets.New[string]()
	for i, v := range spec.Volumes {
		p := fldPath.Child("volumes").Index(i)
		errs = append(errs, validateDNSLabel(v.Name, p.Child("name"))...)
		if volumes.Has(v.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), v.Name))
		}
		volumes.Insert(v.Name)
		errs = append(errs, validateVolumeSource(&v.VolumeSource, p)...)
	}
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(fldPath.Child("containers"), ""))
	}
	names := sets.New[string]()
	errs = append(errs, validateContainers(spec.InitContainers, fldPath.Child("initContainers"), names, volumes)...)
	errs = append(errs, validateContainers(spec.Containers, fldPath.Child("containers"), names, volumes)...)
	if !supportedRestartPolicies.Has(spec.RestartPolicy) {
		errs = append(errs, notSupported(fldPath.Child("restartPolicy"), spec.RestartPolicy, sets.List(supportedRestartPolicies)))
	}
	if !supportedDNSPolicies.Has(spec.DNSPolicy) {
		errs = append(errs, notSupported(fldPath.Child("dnsPolicy"), spec.DNSPolicy, sets.List(supportedDNSPolicies)))
	}
	errs = append(errs, validatePodDNSConfig(spec.DNSConfig, spec.DNSPolicy, fldPath.Child("dnsConfig"))...)
	for k, v := range spec.NodeSelector {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(fldPath.Child("nodeSelector"), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(fldPath.Child("nodeSelector").Key(k), v, msg))
		}
	}
	if spec.ServiceAccountName != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(spec.ServiceAccountName, false) {
			errs = append(errs, field.Invalid(fldPath.Child("serviceAccountName"), spec.ServiceAccountName, msg))
		}
	}
	if spec.NodeName != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(spec.NodeName, false) {
			errs = append(errs, field.Invalid(fldPath.Child("nodeName"), spec.NodeName, msg))
		}
	}
	if sc := spec.SecurityContext; sc != nil {
		errs = append(errs, validateIDs(sc.RunAsUser, sc.RunAsGroup, fldPath.Child("securityContext"))...)
		errs = append(errs, validateSysctls(sc.Sysctls, fldPath.Child("securityContext", "sysctls"))...)
		errs = append(errs, validateSeccompProfile(sc.SeccompProfile, fldPath.Child("securityContext", "seccompProfile"))...)
		errs = append(errs, validateAppArmorProfile(sc.AppArmorProfile, fldPath.Child("securityContext", "appArmorProfile"))...)
		for i, g := range sc.SupplementalGroups {
			for _, msg := range validation.IsValidGroupID(g) {
				errs = append(errs, field.Invalid(fldPath.Child("securityContext", "supplementalGroups").Index(i), g, msg))
			}
		}
		if sc.FSGroup != nil {
			for _, msg := range validation.IsValidGroupID(*sc.FSGroup) {
				errs = append(errs, field.Invalid(fldPath.Child("securityContext", "fsGroup"), *sc.FSGroup, msg))
			}
		}
	}
	if spec.HostNetwork {
		for _, cs := range []struct {
			name string
			list []corev1.Container
		}{{"initContainers", spec.InitContainers}, {"containers", spec.Containers}} {
			for i, c := range cs.list {
				for j, port := range c.Ports {
					if port.HostPort != port.ContainerPort {
						errs = append(errs, field.Invalid(fldPath.Child(cs.name).Index(i).Child("ports").Index(j).Child("containerPort"), port.ContainerPort, "must match `hostPort` when `hostNetwork` is true"))
					}
				}
			}
		}
	}
	if spec.ActiveDeadlineSeconds != nil && *spec.ActiveDeadlineSeconds <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *spec.ActiveDeadlineSeconds, "must be between 1 and 2147483647, inclusive"))
	}
	if spec.TerminationGracePeriodSeconds != nil && *spec.TerminationGracePeriodSeconds < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *spec.TerminationGracePeriodSeconds, "must be greater than or equal to 0"))
	}
	if spec.Hostname != "" {
		errs = append(errs, validateDNSLabel(spec.Hostname, fldPath.Child("hostname"))...)
	}
	if spec.Subdomain != "" {
		errs = append(errs, validateDNSLabel(spec.Subdomain, fldPath.Child("subdomain"))...)
	}
	errs = append(errs, validateScheduling(spec, fldPath)...)
	errs = append(errs, validatePodSpecPolicies(spec, fldPath)...)
	for i, t := range spec.Tolerations {
		p := fldPath.Child("tolerations").Index(i)
		if t.Key != "" {
			errs = append(errs, metav1validation.ValidateLabelName(t.Key, p.Child("key"))...)
		}
		if t.Operator == corev1.TolerationOpExists && t.Value != "" {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Value, "value must be empty when `operator` is 'Exists'"))
		}
		if t.Operator != "" && t.Operator != corev1.TolerationOpExists && t.Operator != corev1.TolerationOpEqual {
			errs = append(errs, notSupported(p.Child("operator"), t.Operator, []corev1.TolerationOperator{corev1.TolerationOpEqual, corev1.TolerationOpExists}))
		}
		if t.Key == "" && t.Operator != corev1.TolerationOpExists {
			errs = append(errs, field.Invalid(p.Child("operator"), t.Operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
		}
	}
	return errs
}

func validateContainers(cs []corev1.Container, fldPath *field.Path, names, volumes sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		c := &cs[i]
		p := fldPath.Index(i)
		if c.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			errs = append(errs, validateDNSLabel(c.Name, p.Child("name"))...)
			if names.Has(c.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
			}
			names.Insert(c.Name)
		}
		if strings.TrimSpace(c.Image) == "" {
			errs = append(errs, field.Required(p.Child("image"), ""))
		} else if c.Image != strings.TrimSpace(c.Image) {
			errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		if !supportedPullPolicies.Has(c.ImagePullPolicy) {
			errs = append(errs, notSupported(p.Child("imagePullPolicy"), c.ImagePullPolicy, sets.List(supportedPullPolicies)))
		}
		if c.TerminationMessagePolicy != corev1.TerminationMessageReadFile && c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
			errs = append(errs, notSupported(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy, []corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}))
		}
		errs = append(errs, validateContainerPorts(c.Ports, p.Child("ports"))...)
		for j, e := range c.Env {
			ep := p.Child("env").Index(j)
			if e.Name == "" {
				errs = append(errs, field.Required(ep.Child("name"), ""))
			}
			if e.Value != "" && e.ValueFrom != nil {
				errs = append(errs, field.Invalid(ep.Child("valueFrom"), "", "may not be specified when `value` is not empty"))
			}
			if vf := e.ValueFrom; vf != nil {
				sources := 0
				if vf.FieldRef != nil {
					sources++
					errs = append(errs, validateFieldRef(vf.FieldRef, envFieldPaths, ep.Child("valueFrom", "fieldRef"))...)
				}
				if vf.ResourceFieldRef != nil {
					sources++
					errs = append(errs, validateResourceFieldRef(vf.ResourceFieldRef, ep.Child("valueFrom", "resourceFieldRef"))...)
				}
				if vf.ConfigMapKeyRef != nil {
					sources++
					if vf.ConfigMapKeyRef.Key == "" {
						errs = append(errs, field.Required(ep.Child("valueFrom", "configMapKeyRef", "key"), ""))
					}
				}
				if vf.SecretKeyRef != nil {
					sources++
					if vf.SecretKeyRef.Key == "" {
						errs = append(errs, field.Required(ep.Child("valueFrom", "secretKeyRef", "key"), ""))
					}
				}
				if vf.FileKeyRef != nil {
					sources++
				}
				if sources == 0 {
					errs = append(errs, field.Invalid(ep.Child("valueFrom"), "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
				} else if sources > 1 {
					errs = append(errs, field.Invalid(ep, "", "may not have more than one field specified at a time"))
				}
			}
		}
		mountPaths := sets.New[string]()
		for j, m := range c.VolumeMounts {
			mp := p.Child("volumeMounts").Index(j)
			if m.Name == "" {
				errs = append(errs, field.Required(mp.Child("name"), ""))
			} else if !volumes.Has(m.Name) {
				errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
			}
			if m.MountPath == "" {
				errs = append(errs, field.Required(mp.Child("mountPath"), ""))
			} else if mountPaths.Has(m.MountPath) {
				errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be unique"))
			}
			mountPaths.Insert(m.MountPath)
			if m.SubPath != "" {
				errs = append(errs, validateLocalDescendingPath(m.SubPath, mp.Child("subPath"))...)
			}
			if m.SubPathExpr != "" {
				if m.SubPath != "" {
					errs = append(errs, field.Invalid(mp.Child("subPathExpr"), m.SubPathExpr, "subPathExpr and subPath are mutually exclusive"))
				}
				errs = append(errs, validateLocalDescendingPath(m.SubPathExpr, mp.Child("subPathExpr"))...)
			}
			if mode := m.MountPropagation; mode != nil {
				switch *mode {
				case corev1.MountPropagationNone, corev1.MountPropagationHostToContainer:
				case corev1.MountPropagationBidirectional:
					if c.SecurityContext == nil || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
						errs = append(errs, field.Forbidden(mp.Child("mountPropagation"), "Bidirectional mount propagation is available only to privileged containers"))
					}
				default:
					errs = append(errs, field.NotSupported(mp.Child("mountPropagation"), *mode, []corev1.MountPropagationMode{corev1.MountPropagationBidirectional, corev1.MountPropagationHostToContainer, corev1.MountPropagationNone}))
				}
			}
		}
		for _, list := range []struct {
			name string
			rl   corev1.ResourceList
		}{{"limits", c.Resources.Limits}, {"requests", c.Resources.Requests}} {
			for name, q := range list.rl {
				rp := p.Child("resources", list.name).Key(string(name))
				errs = append(errs, validateResourceName(string(name), rp)...)
				if q.Sign() < 0 {
					errs = append(errs, field.Invalid(rp, q.String(), "must be greater than or equal to 0"))
				}
			}
		}
		if sc := c.SecurityContext; sc != nil {
			errs = append(errs, validateContainerSecurityContext(sc, p.Child("securityContext"))...)
		}
		for name, q := range c.Resources.Requests {
			if l, ok := c.Resources.Limits[name]; ok && q.Cmp(l) > 0 {
				errs = append(errs, field.Invalid(p.Child("resources", "requests").Key(string(name)), q.String(), fmt.Sprintf("must be less than or equal to %s limit of %s", name, l.String())))
			}
		}
		if lc := c.Lifecycle; lc != nil {
			errs = append(errs, validateLifecycleHandler(lc.PostStart, p.Child("lifecycle", "postStart"))...)
			errs = append(errs, validateLifecycleHandler(lc.PreStop, p.Child("lifecycle", "preStop"))...)
		}
		for _, pr := range []struct {
			name  string
			probe *corev1.Probe
		}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
			errs = append(errs, validateProbe(pr.probe, p.Child(pr.name))...)
			if pr.probe != nil && pr.name != "readinessProbe" && pr.probe.SuccessThreshold != 1 {
				errs = append(errs, field.Invalid(p.Child(pr.name, "successThreshold"), pr.probe.SuccessThreshold, "must be 1"))
			}
		}
	}
	return errs
}

func validateProbe(p *corev1.Probe, fldPath *field.Path) field.ErrorList {
	if p == nil {
		return nil
	}
	errs := validateHandler(p.Exec, p.HTTPGet, p.TCPSocket, p.GRPC != nil, fldPath)
	for _, f := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", p.InitialDelaySeconds}, {"timeoutSeconds", p.TimeoutSeconds}, {"periodSeconds", p.PeriodSeconds}, {"successThreshold", p.SuccessThreshold}, {"failureThreshold", p.FailureThreshold}} {
		if f.v < 0 {
			errs = append(errs, field.Invalid(fldPath.Child(f.name), f.v, "must be greater than or equal to 0"))
		}
	}
	if p.TerminationGracePeriodSeconds != nil && *p.TerminationGracePeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(fldPath.Child("terminationGracePeriodSeconds"), *p.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return errs
}

func validateContainerPorts(ports []corev1.ContainerPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	type key struct {
		port     int32
		protocol corev1.Protocol
	}
	seen := map[key]bool{}
	for i, port := range ports {
		p := fldPath.Index(i)
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), port.Name, msg))
			}
			if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(p.Child("containerPort"), ""))
		} else {
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(p.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(p.Child("hostPort"), port.HostPort, msg))
			}
		}
		if !supportedProtocols.Has(port.Protocol) {
			errs = append(errs, notSupported(p.Child("protocol"), port.Protocol, sets.List(supportedProtocols)))
		}
		k := key{port.ContainerPort, port.Protocol}
		if port.ContainerPort != 0 && seen[k] {
			errs = append(errs, field.Duplicate(p, fmt.Sprintf("%d/%s", port.ContainerPort, port.Protocol)))
		}
		seen[k] = true
	}
	return errs
}

// ValidateService checks a service.
func ValidateService(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if !supportedServiceTypes.Has(svc.Spec.Type) {
		errs = append(errs, notSupported(spec.Child("type"), svc.Spec.Type, sets.List(supportedServiceTypes)))
	}
	if v, ok := svc.Annotations[LoadBalancerAnnotation]; ok {
		errs = append(errs, ValidateLoadBalancer(v, field.NewPath("metadata", "annotations").Key(LoadBalancerAnnotation))...)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		if svc.Spec.ExternalName == "" {
			errs = append(errs, field.Required(spec.Child("externalName"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(strings.TrimSuffix(svc.Spec.ExternalName, ".")) {
				errs = append(errs, field.Invalid(spec.Child("externalName"), svc.Spec.ExternalName, msg))
			}
		}
	} else if len(svc.Spec.Ports) == 0 && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		errs = append(errs, field.Required(spec.Child("ports"), ""))
	}
	portNames := sets.New[string]()
	type key struct {
		port     int32
		protocol corev1.Protocol
	}
	seen := map[key]bool{}
	for i, port := range svc.Spec.Ports {
		p := spec.Child("ports").Index(i)
		if len(svc.Spec.Ports) > 1 && port.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if port.Name != "" {
			errs = append(errs, validateDNSLabel(port.Name, p.Child("name"))...)
			if portNames.Has(port.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), port.Name))
			}
			portNames.Insert(port.Name)
		}
		for _, msg := range validation.IsValidPortNum(int(port.Port)) {
			errs = append(errs, field.Invalid(p.Child("port"), port.Port, msg))
		}
		if !supportedProtocols.Has(port.Protocol) {
			errs = append(errs, notSupported(p.Child("protocol"), port.Protocol, sets.List(supportedProtocols)))
		}
		if port.TargetPort.IntVal != 0 || port.TargetPort.StrVal != "" {
			if port.TargetPort.StrVal != "" {
				for _, msg := range validation.IsValidPortName(port.TargetPort.StrVal) {
					errs = append(errs, field.Invalid(p.Child("targetPort"), port.TargetPort.StrVal, msg))
				}
			} else {
				for _, msg := range validation.IsValidPortNum(int(port.TargetPort.IntVal)) {
					errs = append(errs, field.Invalid(p.Child("targetPort"), port.TargetPort.IntVal, msg))
				}
			}
		}
		if port.NodePort != 0 {
			if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
				errs = append(errs, field.Forbidden(p.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
			}
			for _, msg := range validation.IsValidPortNum(int(port.NodePort)) {
				errs = append(errs, field.Invalid(p.Child("nodePort"), port.NodePort, msg))
			}
		}
		k := key{port.Port, port.Protocol}
		if seen[k] {
			errs = append(errs, field.Duplicate(p, fmt.Sprintf("%d/%s", port.Port, port.Protocol)))
		}
		seen[k] = true
	}
	for k, v := range svc.Spec.Selector {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(spec.Child("selector"), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(spec.Child("selector").Key(k), v, msg))
		}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != "" {
		errs = append(errs, field.Forbidden(spec.Child("clusterIP"), "may not be set for ExternalName services"))
	}
	if p := svc.Spec.ExternalTrafficPolicy; p != "" {
		if p != corev1.ServiceExternalTrafficPolicyCluster && p != corev1.ServiceExternalTrafficPolicyLocal {
			errs = append(errs, field.NotSupported(spec.Child("externalTrafficPolicy"), p, []corev1.ServiceExternalTrafficPolicy{corev1.ServiceExternalTrafficPolicyCluster, corev1.ServiceExternalTrafficPolicyLocal}))
		} else if svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Invalid(spec.Child("externalTrafficPolicy"), p, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
		}
	}
	if p := svc.Spec.InternalTrafficPolicy; p != nil && *p != corev1.ServiceInternalTrafficPolicyCluster && *p != corev1.ServiceInternalTrafficPolicyLocal {
		errs = append(errs, field.NotSupported(spec.Child("internalTrafficPolicy"), *p, []corev1.ServiceInternalTrafficPolicy{corev1.ServiceInternalTrafficPolicyCluster, corev1.ServiceInternalTrafficPolicyLocal}))
	}
	if p := svc.Spec.IPFamilyPolicy; p != nil {
		switch *p {
		case corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack:
		case corev1.IPFamilyPolicyRequireDualStack:
			errs = append(errs, field.Invalid(spec.Child("ipFamilyPolicy"), *p, "this cluster is not configured for dual-stack services"))
		default:
			errs = append(errs, field.NotSupported(spec.Child("ipFamilyPolicy"), *p, []corev1.IPFamilyPolicy{corev1.IPFamilyPolicySingleStack, corev1.IPFamilyPolicyPreferDualStack, corev1.IPFamilyPolicyRequireDualStack}))
		}
	}
	if len(svc.Spec.IPFamilies) > 1 {
		errs = append(errs, field.Invalid(spec.Child("ipFamilies"), svc.Spec.IPFamilies, "this cluster is not configured for dual-stack services"))
	}
	for i, ip := range svc.Spec.ExternalIPs {
		if netutils.ParseIPSloppy(ip) == nil {
			errs = append(errs, field.Invalid(spec.Child("externalIPs").Index(i), ip, "must be a valid IP address"))
		}
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone && netutils.ParseIPSloppy(ip) == nil {
		errs = append(errs, field.Invalid(spec.Child("clusterIP"), ip, "must be empty, 'None', or a valid IP address"))
	}
	if svc.Spec.SessionAffinity != corev1.ServiceAffinityNone && svc.Spec.SessionAffinity != corev1.ServiceAffinityClientIP {
		errs = append(errs, notSupported(spec.Child("sessionAffinity"), svc.Spec.SessionAffinity, []corev1.ServiceAffinity{corev1.ServiceAffinityClientIP, corev1.ServiceAffinityNone}))
	}
	errs = append(errs, validateLoadBalancerFields(svc, spec)...)
	if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
			errs = append(errs, field.Invalid(spec.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t, fmt.Sprintf("must be greater than 0 and less than %d", maxClientIPAffinitySeconds)))
		}
	}
	return errs
}

// ValidateServiceUpdate checks a service update: the cluster IPs may not change.
func ValidateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	errs := ValidateService(svc)
	spec := field.NewPath("spec")
	// Changing to or from ExternalName releases or allocates the cluster IP.
	if old.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.Type != corev1.ServiceTypeExternalName &&
		old.Spec.ClusterIP != "" && svc.Spec.ClusterIP != old.Spec.ClusterIP {
		errs = append(errs, field.Invalid(spec.Child("clusterIP"), svc.Spec.ClusterIP, "field is immutable"))
	}
	return errs
}

// ValidateConfigMap checks the keys and size of a config map.
func ValidateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	total := 0
	for k, v := range cm.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("data").Key(k), k, msg))
		}
		total += len(v)
	}
	for k, v := range cm.BinaryData {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, msg))
		}
		if _, ok := cm.Data[k]; ok {
			errs = append(errs, field.Invalid(field.NewPath("binaryData").Key(k), k, "duplicate of key present in data"))
		}
		total += len(v)
	}
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", corev1.MaxSecretSize))
	}
	return errs
}

// ValidateConfigMapUpdate refuses changes to an immutable config map.
func ValidateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	errs := ValidateConfigMap(cm)
	if old.Immutable != nil && *old.Immutable {
		if cm.Immutable == nil || !*cm.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !apiequality.Semantic.DeepEqual(cm.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
		if !apiequality.Semantic.DeepEqual(cm.BinaryData, old.BinaryData) {
			errs = append(errs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
		}
	}
	return errs
}

// ValidateSecret checks the keys, size and type-specific keys of a secret.
func ValidateSecret(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	dataPath := field.NewPath("data")
	total := 0
	for k, v := range s.Data {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, field.Invalid(dataPath.Key(k), k, msg))
		}
		total += len(v)
	}
	if total > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(dataPath, "", corev1.MaxSecretSize))
	}
	switch s.Type {
	case corev1.SecretTypeTLS:
		for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
			if _, ok := s.Data[k]; !ok {
				errs = append(errs, field.Required(dataPath.Key(k), ""))
			}
		}
	case corev1.SecretTypeDockerConfigJson:
		if _, ok := s.Data[corev1.DockerConfigJsonKey]; !ok {
			errs = append(errs, field.Required(dataPath.Key(corev1.DockerConfigJsonKey), ""))
		}
	case corev1.SecretTypeBasicAuth:
		_, u := s.Data[corev1.BasicAuthUsernameKey]
		_, p := s.Data[corev1.BasicAuthPasswordKey]
		if !u && !p {
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthUsernameKey), ""))
			errs = append(errs, field.Required(dataPath.Key(corev1.BasicAuthPasswordKey), ""))
		}
	case corev1.SecretTypeSSHAuth:
		if _, ok := s.Data[corev1.SSHAuthPrivateKey]; !ok {
			errs = append(errs, field.Required(dataPath.Key(corev1.SSHAuthPrivateKey), ""))
		}
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	}
	return errs
}

// ValidateSecretUpdate refuses type changes and changes to an immutable secret.
func ValidateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := ValidateSecret(s)
	errs = append(errs, apivalidation.ValidateImmutableField(s.Type, old.Type, field.NewPath("type"))...)
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !apiequality.Semantic.DeepEqual(s.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return errs
}

// ValidateNamespaceFinalizers checks spec.finalizers of a namespace.
func ValidateNamespaceFinalizers(ns *corev1.Namespace) field.ErrorList {
	var errs field.ErrorList
	for i, f := range ns.Spec.Finalizers {
		p := field.NewPath("spec", "finalizers").Index(i)
		s := string(f)
		if !strings.Contains(s, "/") && s != string(corev1.FinalizerKubernetes) {
			errs = append(errs, field.Invalid(p, s, "name is neither a standard finalizer name nor is it fully qualified"))
		}
	}
	return errs
}

// ValidateNamespaceUpdate keeps the metadata.name label equal to the name.
func ValidateNamespace(ns *corev1.Namespace) field.ErrorList {
	errs := ValidateNamespaceFinalizers(ns)
	if v, ok := ns.Labels[corev1.LabelMetadataName]; ok && v != ns.Name {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "labels").Key(corev1.LabelMetadataName), v, "must match the namespace name"))
	}
	return errs
}

// ValidateNode checks a node's spec.
func ValidateNode(n *corev1.Node) field.ErrorList {
	var errs field.ErrorList
	for i, t := range n.Spec.Taints {
		p := field.NewPath("spec", "taints").Index(i)
		for _, msg := range validation.IsQualifiedName(t.Key) {
			errs = append(errs, field.Invalid(p.Child("key"), t.Key, msg))
		}
		switch t.Effect {
		case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		case "":
			errs = append(errs, field.Required(p.Child("effect"), ""))
		default:
			errs = append(errs, notSupported(p.Child("effect"), t.Effect, []corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}))
		}
	}
	if n.Spec.PodCIDR != "" {
		if _, _, err := netutils.ParseCIDRSloppy(n.Spec.PodCIDR); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "podCIDR"), n.Spec.PodCIDR, "must be a valid CIDR"))
		}
	}
	return errs
}

// ValidateNodeUpdate keeps podCIDR immutable once set.
func ValidateNodeUpdate(n, old *corev1.Node) field.ErrorList {
	errs := ValidateNode(n)
	if old.Spec.PodCIDR != "" && n.Spec.PodCIDR != old.Spec.PodCIDR {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "podCIDR"), "node updates may not change podCIDR except from \"\" to valid"))
	}
	return errs
}

func validateDNSLabel(value string, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(value) {
		errs = append(errs, field.Invalid(fldPath, value, msg))
	}
	return errs
}

func notSupported[T ~string](fldPath *field.Path, value T, valid []T) *field.Error {
	return field.NotSupported(fldPath, value, valid)
}

// maxClientIPAffinitySeconds is upstream's limit on sessionAffinityConfig.clientIP.timeoutSeconds (one day).
const maxClientIPAffinitySeconds = 86400

// ValidateEndpoints checks the addresses and ports of endpoints.
func ValidateEndpoints(e *corev1.Endpoints) field.ErrorList {
	var errs field.ErrorList
	for i, ss := range e.Subsets {
		p := field.NewPath("subsets").Index(i)
		for j, a := range append(append([]corev1.EndpointAddress{}, ss.Addresses...), ss.NotReadyAddresses...) {
			if netutils.ParseIPSloppy(a.IP) == nil {
				errs = append(errs, field.Invalid(p.Child("addresses").Index(j).Child("ip"), a.IP, "must be a valid IP address"))
			}
		}
		for j, port := range ss.Ports {
			pp := p.Child("ports").Index(j)
			for _, msg := range validation.IsValidPortNum(int(port.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), port.Port, msg))
			}
			if !supportedProtocols.Has(port.Protocol) {
				errs = append(errs, notSupported(pp.Child("protocol"), port.Protocol, sets.List(supportedProtocols)))
			}
			if len(ss.Ports) > 1 && port.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			}
		}
	}
	return errs
}

// validateVolumeSource requires exactly one source and the fields each
// common source needs.
func validateVolumeSource(src *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if src.EmptyDir != nil {
		n++
		if l := src.EmptyDir.SizeLimit; l != nil && l.Sign() < 0 {
			errs = append(errs, field.Invalid(fldPath.Child("emptyDir", "sizeLimit"), l.String(), "must be greater than or equal to 0"))
		}
	}
	if src.HostPath != nil {
		n++
		if src.HostPath.Path == "" {
			errs = append(errs, field.Required(fldPath.Child("hostPath", "path"), ""))
		}
	}
	if src.ConfigMap != nil {
		n++
		if src.ConfigMap.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("configMap", "name"), ""))
		}
	}
	if src.Secret != nil {
		n++
		if src.Secret.SecretName == "" {
			errs = append(errs, field.Required(fldPath.Child("secret", "secretName"), ""))
		}
	}
	if src.PersistentVolumeClaim != nil {
		n++
		if src.PersistentVolumeClaim.ClaimName == "" {
			errs = append(errs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
		}
	}
	if src.DownwardAPI != nil {
		n++
	}
	if src.Projected != nil {
		n++
	}
	errs = append(errs, validateVolumeSourceDetails(src, fldPath)...)
	errs = append(errs, validateInTreeVolumes(src, fldPath)...)
	for _, other := range []bool{src.GCEPersistentDisk != nil, src.AWSElasticBlockStore != nil, src.GitRepo != nil, src.NFS != nil,
		src.ISCSI != nil, src.Glusterfs != nil, src.RBD != nil, src.FlexVolume != nil, src.Cinder != nil, src.CephFS != nil,
		src.Flocker != nil, src.FC != nil, src.AzureFile != nil, src.VsphereVolume != nil, src.Quobyte != nil, src.AzureDisk != nil,
		src.PhotonPersistentDisk != nil, src.PortworxVolume != nil, src.ScaleIO != nil, src.StorageOS != nil, src.CSI != nil,
		src.Ephemeral != nil, src.Image != nil} {
		if other {
			n++
		}
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(fldPath, "must specify a volume type"))
	case n > 1:
		errs = append(errs, field.Forbidden(fldPath, "may not specify more than 1 volume type"))
	}
	return errs
}

// validateScheduling checks node affinity and topology spread constraints.
func validateScheduling(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if a := spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms := a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		p := fldPath.Child("affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
		if len(terms) == 0 {
			errs = append(errs, field.Required(p, "must have at least one node selector term"))
		}
		for i, term := range terms {
			errs = append(errs, validateNodeSelectorTerm(term, p.Index(i))...)
		}
	}
	errs = append(errs, validateAffinityTerms(spec.Affinity, fldPath.Child("affinity"))...)
	type spreadKey struct {
		key  string
		when corev1.UnsatisfiableConstraintAction
	}
	spreads := map[spreadKey]bool{}
	for i, c := range spec.TopologySpreadConstraints {
		p := fldPath.Child("topologySpreadConstraints").Index(i)
		if c.MaxSkew <= 0 {
			errs = append(errs, field.Invalid(p.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
		}
		if c.TopologyKey == "" {
			errs = append(errs, field.Required(p.Child("topologyKey"), "can not be empty"))
		}
		if c.WhenUnsatisfiable != corev1.DoNotSchedule && c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			errs = append(errs, field.NotSupported(p.Child("whenUnsatisfiable"), c.WhenUnsatisfiable, []corev1.UnsatisfiableConstraintAction{corev1.DoNotSchedule, corev1.ScheduleAnyway}))
		}
		if c.MinDomains != nil && *c.MinDomains <= 0 {
			errs = append(errs, field.Invalid(p.Child("minDomains"), *c.MinDomains, "must be greater than 0"))
		} else if c.MinDomains != nil && c.WhenUnsatisfiable != corev1.DoNotSchedule {
			errs = append(errs, field.Invalid(p.Child("minDomains"), *c.MinDomains, fmt.Sprintf("can only use minDomains if whenUnsatisfiable=%s, not %s", corev1.DoNotSchedule, c.WhenUnsatisfiable)))
		}
		if c.TopologyKey != "" {
			errs = append(errs, metav1validation.ValidateLabelName(c.TopologyKey, p.Child("topologyKey"))...)
		}
		k := spreadKey{c.TopologyKey, c.WhenUnsatisfiable}
		if spreads[k] {
			errs = append(errs, field.Duplicate(p, fmt.Sprintf("{%v, %v}", c.TopologyKey, c.WhenUnsatisfiable)))
		}
		spreads[k] = true
		if c.LabelSelector != nil {
			errs = append(errs, metav1validation.ValidateLabelSelector(c.LabelSelector, metav1validation.LabelSelectorValidationOptions{}, p.Child("labelSelector"))...)
		}
		errs = append(errs, validateLabelKeys(c.MatchLabelKeys, nil, c.LabelSelector, p)...)
		for _, pol := range []struct {
			name string
			v    *corev1.NodeInclusionPolicy
		}{{"nodeAffinityPolicy", c.NodeAffinityPolicy}, {"nodeTaintsPolicy", c.NodeTaintsPolicy}} {
			if pol.v != nil && *pol.v != corev1.NodeInclusionPolicyHonor && *pol.v != corev1.NodeInclusionPolicyIgnore {
				errs = append(errs, field.NotSupported(p.Child(pol.name), *pol.v, []corev1.NodeInclusionPolicy{corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore}))
			}
		}
	}
	for i, t := range spec.Tolerations {
		switch t.Effect {
		case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("tolerations").Index(i).Child("effect"), t.Effect,
				[]corev1.TaintEffect{corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute}))
		}
		if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
			errs = append(errs, field.Invalid(fldPath.Child("tolerations").Index(i).Child("effect"), t.Effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
	}
	return errs
}

func validateNodeSelectorRequirement(req corev1.NodeSelectorRequirement, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch req.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(req.Values) == 0 {
			errs = append(errs, field.Required(fldPath.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(req.Values) > 0 {
			errs = append(errs, field.Forbidden(fldPath.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(req.Values) != 1 {
			errs = append(errs, field.Required(fldPath.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
		}
	default:
		errs = append(errs, field.Invalid(fldPath.Child("operator"), req.Operator, "not a valid selector operator"))
	}
	for _, msg := range validation.IsQualifiedName(req.Key) {
		errs = append(errs, field.Invalid(fldPath.Child("key"), req.Key, msg))
	}
	return errs
}

var standardResources = sets.New("cpu", "memory", "ephemeral-storage", "storage", "pods")

// validateResourceName accepts the standard resources, huge pages and
// fully qualified extended resources (example.com/gpu).
func validateResourceName(name string, fldPath *field.Path) field.ErrorList {
	if standardResources.Has(name) || strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) {
		return nil
	}
	if strings.Contains(name, "/") {
		var errs field.ErrorList
		for _, msg := range validation.IsQualifiedName(name) {
			errs = append(errs, field.Invalid(fldPath, name, msg))
		}
		return errs
	}
	return field.ErrorList{field.Invalid(fldPath, name, "must be a standard resource type or fully qualified")}
}

func validateIDs(user, group *int64, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if user != nil {
		for _, msg := range validation.IsValidUserID(*user) {
			errs = append(errs, field.Invalid(fldPath.Child("runAsUser"), *user, msg))
		}
	}
	if group != nil {
		for _, msg := range validation.IsValidGroupID(*group) {
			errs = append(errs, field.Invalid(fldPath.Child("runAsGroup"), *group, msg))
		}
	}
	return errs
}

func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Type == intstr.String {
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(fldPath, port.StrVal, msg))
		}
		return errs
	}
	for _, msg := range validation.IsValidPortNum(port.IntValue()) {
		errs = append(errs, field.Invalid(fldPath, port.IntValue(), msg))
	}
	return errs
}

// ValidateEphemeralContainersUpdate checks an update through
// pods/ephemeralcontainers: containers may be added, never changed or
// removed, and may not have ports, probes or resources.
func ValidateEphemeralContainersUpdate(pod, old *corev1.Pod) field.ErrorList {
	p := field.NewPath("spec", "ephemeralContainers")
	names := sets.New[string]()
	for _, c := range pod.Spec.InitContainers {
		names.Insert(c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names.Insert(c.Name)
	}
	targets := names.Clone()
	common := make([]corev1.Container, 0, len(pod.Spec.EphemeralContainers))
	for _, c := range pod.Spec.EphemeralContainers {
		common = append(common, corev1.Container(c.EphemeralContainerCommon))
	}
	errs := validateContainers(common, p, names, volumeNames(pod))
	oldByName := map[string]corev1.EphemeralContainer{}
	for _, c := range old.Spec.EphemeralContainers {
		oldByName[c.Name] = c
	}
	seen := sets.New[string]()
	for i, c := range pod.Spec.EphemeralContainers {
		cp := p.Index(i)
		seen.Insert(c.Name)
		if prev, ok := oldByName[c.Name]; ok {
			if !apiequality.Semantic.DeepEqual(prev, c) {
				errs = append(errs, field.Forbidden(cp, "existing ephemeral containers may not be changed"))
			}
			continue
		}
		if len(c.Ports) > 0 {
			errs = append(errs, field.Forbidden(cp.Child("ports"), "cannot be set for an Ephemeral Container"))
		}
		for _, f := range []struct {
			name string
			set  bool
		}{{"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil}, {"startupProbe", c.StartupProbe != nil}, {"lifecycle", c.Lifecycle != nil}} {
			if f.set {
				errs = append(errs, field.Forbidden(cp.Child(f.name), "cannot be set for an Ephemeral Container"))
			}
		}
		if len(c.Resources.Limits)+len(c.Resources.Requests) > 0 {
			errs = append(errs, field.Forbidden(cp.Child("resources"), "cannot be set for an Ephemeral Container"))
		}
		if c.TargetContainerName != "" && !targets.Has(c.TargetContainerName) {
			errs = append(errs, field.NotFound(cp.Child("targetContainerName"), c.TargetContainerName))
		}
	}
	for name := range oldByName {
		if !seen.Has(name) {
			errs = append(errs, field.Forbidden(p, fmt.Sprintf("existing ephemeral containers %q may not be removed", name)))
		}
	}
	return errs
}

func volumeNames(pod *corev1.Pod) sets.Set[string] {
	out := sets.New[string]()
	for _, v := range pod.Spec.Volumes {
		out.Insert(v.Name)
	}
	return out
}

var podPhases = []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown}

// ValidatePodStatusUpdate checks a status written by a node agent or a
// controller: known phase, no way back from a terminal phase, statuses
// only for containers of the spec, valid pod and host IPs.
func ValidatePodStatusUpdate(pod, old *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	st := field.NewPath("status")
	known := false
	for _, p := range podPhases {
		known = known || pod.Status.Phase == p
	}
	if !known && pod.Status.Phase != "" {
		errs = append(errs, field.NotSupported(st.Child("phase"), pod.Status.Phase, podPhases))
	}
	terminal := func(p corev1.PodPhase) bool { return p == corev1.PodSucceeded || p == corev1.PodFailed }
	if terminal(old.Status.Phase) && pod.Status.Phase != old.Status.Phase {
		errs = append(errs, field.Forbidden(st.Child("phase"), fmt.Sprintf("cannot transition from terminal phase %q to %q", old.Status.Phase, pod.Status.Phase)))
	}
	errs = append(errs, validateContainerStatuses(pod.Status.ContainerStatuses, pod.Spec.Containers, st.Child("containerStatuses"))...)
	errs = append(errs, validateContainerStatuses(pod.Status.InitContainerStatuses, pod.Spec.InitContainers, st.Child("initContainerStatuses"))...)
	if len(pod.Status.PodIPs) > 2 {
		errs = append(errs, field.TooMany(st.Child("podIPs"), len(pod.Status.PodIPs), 2))
	}
	for i, ip := range pod.Status.PodIPs {
		if netutils.ParseIPSloppy(ip.IP) == nil {
			errs = append(errs, field.Invalid(st.Child("podIPs").Index(i), ip.IP, "must be a valid IP address"))
		}
	}
	if pod.Status.PodIP != "" && len(pod.Status.PodIPs) > 0 && pod.Status.PodIP != pod.Status.PodIPs[0].IP {
		errs = append(errs, field.Invalid(st.Child("podIP"), pod.Status.PodIP, "must match the first entry of `podIPs`"))
	}
	if ip := pod.Status.HostIP; ip != "" && netutils.ParseIPSloppy(ip) == nil {
		errs = append(errs, field.Invalid(st.Child("hostIP"), ip, "must be a valid IP address"))
	}
	return errs
}

func validateContainerStatuses(statuses []corev1.ContainerStatus, containers []corev1.Container, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for _, c := range containers {
		names.Insert(c.Name)
	}
	for i, cs := range statuses {
		p := fldPath.Index(i)
		if !names.Has(cs.Name) {
			errs = append(errs, field.NotFound(p.Child("name"), cs.Name))
		}
		states := 0
		for _, set := range []bool{cs.State.Waiting != nil, cs.State.Running != nil, cs.State.Terminated != nil} {
			if set {
				states++
			}
		}
		if states > 1 {
			errs = append(errs, field.Forbidden(p.Child("state"), "may not specify more than 1 state"))
		}
		if cs.RestartCount < 0 {
			errs = append(errs, field.Invalid(p.Child("restartCount"), cs.RestartCount, "must be greater than or equal to 0"))
		}
	}
	return errs
}

// Limits of the resolver configuration, as glibc and the kubelet apply them.
const (
	maxDNSNameservers     = 3
	maxDNSSearchPaths     = 32
	maxDNSSearchListChars = 2048
)

// validatePodDNSConfig checks dnsConfig against dnsPolicy: None needs at
// least one nameserver; nameservers are IPs, at most three; search domains
// are DNS subdomains (a trailing dot allowed), at most 32 and 2048
// characters in all; options are named.
func validatePodDNSConfig(cfg *corev1.PodDNSConfig, policy corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if policy == corev1.DNSNone && cfg == nil {
		return append(errs, field.Required(fldPath, "must provide `dnsConfig` when `dnsPolicy` is None"))
	}
	if cfg == nil {
		return nil
	}
	if policy == corev1.DNSNone && len(cfg.Nameservers) == 0 {
		errs = append(errs, field.Required(fldPath.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"))
	}
	if len(cfg.Nameservers) > maxDNSNameservers {
		errs = append(errs, field.Invalid(fldPath.Child("nameservers"), cfg.Nameservers, fmt.Sprintf("must not have more than %d nameservers", maxDNSNameservers)))
	}
	for i, ns := range cfg.Nameservers {
		errs = append(errs, validation.IsValidIP(fldPath.Child("nameservers").Index(i), ns)...)
	}
	if len(cfg.Searches) > maxDNSSearchPaths {
		errs = append(errs, field.Invalid(fldPath.Child("searches"), cfg.Searches, fmt.Sprintf("must not have more than %d search paths", maxDNSSearchPaths)))
	}
	if n := len(strings.Join(cfg.Searches, " ")); n > maxDNSSearchListChars {
		errs = append(errs, field.Invalid(fldPath.Child("searches"), cfg.Searches, fmt.Sprintf("must not have more than %d characters (including spaces) in the search list", maxDNSSearchListChars)))
	}
	for i, search := range cfg.Searches {
		if search == "." {
			continue
		}
		for _, msg := range validation.IsDNS1123Subdomain(strings.TrimSuffix(search, ".")) {
			errs = append(errs, field.Invalid(fldPath.Child("searches").Index(i), search, msg))
		}
	}
	for i, opt := range cfg.Options {
		if opt.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("options").Index(i), "must not be empty"))
		}
	}
	return errs
}

// sysctlNameFmt is a sysctl name with dots or slashes as separators.
const sysctlNameFmt = `([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?`

var sysctlNameRE = regexp.MustCompile("^" + sysctlNameFmt + "$")

const maxSysctlNameLen = 253

// validateSysctls checks pod sysctl names and that none repeats.
func validateSysctls(sysctls []corev1.Sysctl, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, s := range sysctls {
		p := fldPath.Index(i).Child("name")
		switch {
		case s.Name == "":
			errs = append(errs, field.Required(p, ""))
		case len(s.Name) > maxSysctlNameLen || !sysctlNameRE.MatchString(s.Name):
			errs = append(errs, field.Invalid(p, s.Name, fmt.Sprintf("must have at most %d characters and match regex %s", maxSysctlNameLen, sysctlNameFmt)))
		}
		if seen.Has(s.Name) {
			errs = append(errs, field.Duplicate(p, s.Name))
		}
		seen.Insert(s.Name)
	}
	return errs
}

// validateContainerSecurityContext checks a container's security context:
// IDs, profiles, proc mount and the combinations upstream refuses.
func validateContainerSecurityContext(sc *corev1.SecurityContext, fldPath *field.Path) field.ErrorList {
	errs := validateIDs(sc.RunAsUser, sc.RunAsGroup, fldPath)
	errs = append(errs, validateSeccompProfile(sc.SeccompProfile, fldPath.Child("seccompProfile"))...)
	errs = append(errs, validateAppArmorProfile(sc.AppArmorProfile, fldPath.Child("appArmorProfile"))...)
	if sc.ProcMount != nil {
		switch *sc.ProcMount {
		case corev1.DefaultProcMount, corev1.UnmaskedProcMount:
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("procMount"), *sc.ProcMount, []corev1.ProcMountType{corev1.DefaultProcMount, corev1.UnmaskedProcMount}))
		}
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		if sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(fldPath, field.OmitValueType{}, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
		}
		if sc.Capabilities != nil {
			for _, c := range sc.Capabilities.Add {
				if c == "SYS_ADMIN" || c == "CAP_SYS_ADMIN" {
					errs = append(errs, field.Invalid(fldPath, field.OmitValueType{}, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"))
					break
				}
			}
		}
	}
	return errs
}

// validateSeccompProfile checks a seccomp profile: a known type, and a
// relative localhost profile exactly when the type is Localhost.
func validateSeccompProfile(sp *corev1.SeccompProfile, fldPath *field.Path) field.ErrorList {
	if sp == nil {
		return nil
	}
	var errs field.ErrorList
	switch sp.Type {
	case corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined:
	case "":
		errs = append(errs, field.Required(fldPath.Child("type"), "type is required when seccompProfile is set"))
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("type"), sp.Type, []corev1.SeccompProfileType{corev1.SeccompProfileTypeLocalhost, corev1.SeccompProfileTypeRuntimeDefault, corev1.SeccompProfileTypeUnconfined}))
	}
	lp := fldPath.Child("localhostProfile")
	switch {
	case sp.Type == corev1.SeccompProfileTypeLocalhost && sp.LocalhostProfile == nil:
		errs = append(errs, field.Required(lp, "must be set when seccomp type is Localhost"))
	case sp.Type == corev1.SeccompProfileTypeLocalhost:
		errs = append(errs, validateLocalDescendingPath(*sp.LocalhostProfile, lp)...)
	case sp.LocalhostProfile != nil:
		errs = append(errs, field.Invalid(lp, *sp.LocalhostProfile, "can only be set when seccomp type is Localhost"))
	}
	return errs
}

// maxAppArmorProfileLength bounds an AppArmor profile name.
const maxAppArmorProfileLength = 4095

// validateAppArmorProfile checks an AppArmor profile the way
// validateSeccompProfile checks seccomp.
func validateAppArmorProfile(ap *corev1.AppArmorProfile, fldPath *field.Path) field.ErrorList {
	if ap == nil {
		return nil
	}
	var errs field.ErrorList
	switch ap.Type {
	case corev1.AppArmorProfileTypeLocalhost, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined:
	case "":
		errs = append(errs, field.Required(fldPath.Child("type"), "type is required when appArmorProfile is set"))
	default:
		errs = append(errs, field.NotSupported(fldPath.Child("type"), ap.Type, []corev1.AppArmorProfileType{corev1.AppArmorProfileTypeLocalhost, corev1.AppArmorProfileTypeRuntimeDefault, corev1.AppArmorProfileTypeUnconfined}))
	}
	lp := fldPath.Child("localhostProfile")
	switch {
	case ap.Type == corev1.AppArmorProfileTypeLocalhost && (ap.LocalhostProfile == nil || strings.TrimSpace(*ap.LocalhostProfile) == ""):
		errs = append(errs, field.Required(lp, "must be set when AppArmor type is Localhost"))
	case ap.Type == corev1.AppArmorProfileTypeLocalhost && len(*ap.LocalhostProfile) > maxAppArmorProfileLength:
		errs = append(errs, field.TooLong(lp, "", maxAppArmorProfileLength))
	case ap.Type != corev1.AppArmorProfileTypeLocalhost && ap.LocalhostProfile != nil:
		errs = append(errs, field.Invalid(lp, *ap.LocalhostProfile, "can only be set when AppArmor type is Localhost"))
	}
	return errs
}

// validateLocalDescendingPath refuses absolute paths and paths that climb
// out of their base with "..".
func validateLocalDescendingPath(p string, fldPath *field.Path) field.ErrorList {
	if strings.HasPrefix(p, "/") {
		return field.ErrorList{field.Invalid(fldPath, p, "must be a relative path")}
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(fldPath, p, "must not contain '..'")}
		}
	}
	return nil
}

// validateLoadBalancerFields checks the fields that only a LoadBalancer
// service may carry: source ranges, class, node-port allocation and the
// health check node port (with externalTrafficPolicy Local).
func validateLoadBalancerFields(svc *corev1.Service, spec *field.Path) field.ErrorList {
	var errs field.ErrorList
	lb := svc.Spec.Type == corev1.ServiceTypeLoadBalancer
	const onlyLB = "may only be used when `type` is 'LoadBalancer'"
	if len(svc.Spec.LoadBalancerSourceRanges) > 0 && !lb {
		errs = append(errs, field.Forbidden(spec.Child("loadBalancerSourceRanges"), onlyLB))
	}
	for i, r := range svc.Spec.LoadBalancerSourceRanges {
		if _, _, err := netutils.ParseCIDRSloppy(strings.TrimSpace(r)); err != nil {
			errs = append(errs, field.Invalid(spec.Child("loadBalancerSourceRanges").Index(i), r, "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24"))
		}
	}
	if c := svc.Spec.LoadBalancerClass; c != nil {
		if !lb {
			errs = append(errs, field.Forbidden(spec.Child("loadBalancerClass"), onlyLB))
		}
		errs = append(errs, metav1validation.ValidateLabelName(*c, spec.Child("loadBalancerClass"))...)
	}
	if svc.Spec.AllocateLoadBalancerNodePorts != nil && !lb {
		errs = append(errs, field.Forbidden(spec.Child("allocateLoadBalancerNodePorts"), onlyLB))
	}
	if hc := svc.Spec.HealthCheckNodePort; hc != 0 {
		if !lb || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
			errs = append(errs, field.Invalid(spec.Child("healthCheckNodePort"), hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
		} else {
			for _, msg := range validation.IsValidPortNum(int(hc)) {
				errs = append(errs, field.Invalid(spec.Child("healthCheckNodePort"), hc, msg))
			}
		}
	}
	return errs
}

// validateNodeSelectorTerm checks a node selector term's expressions and
// fields (only metadata.name, with In/NotIn and one value).
func validateNodeSelectorTerm(term corev1.NodeSelectorTerm, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for j, req := range term.MatchExpressions {
		errs = append(errs, validateNodeSelectorRequirement(req, fldPath.Child("matchExpressions").Index(j))...)
	}
	for j, req := range term.MatchFields {
		p := fldPath.Child("matchFields").Index(j)
		if req.Key != "metadata.name" {
			errs = append(errs, field.NotSupported(p.Child("key"), req.Key, []string{"metadata.name"}))
		}
		switch req.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(req.Values) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), req.Operator, "not a valid selector operator"))
		}
	}
	return errs
}

// validateAffinityTerms checks preferred node affinity and pod (anti-)
// affinity: weights of 1-100, topology keys, selectors and namespaces.
func validateAffinityTerms(a *corev1.Affinity, fldPath *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	weight := func(w int32, p *field.Path) {
		if w <= 0 || w > 100 {
			errs = append(errs, field.Invalid(p, w, "must be in the range 1-100"))
		}
	}
	if na := a.NodeAffinity; na != nil {
		p := fldPath.Child("nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution")
		for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			weight(t.Weight, p.Index(i).Child("weight"))
			errs = append(errs, validateNodeSelectorTerm(t.Preference, p.Index(i).Child("preference"))...)
		}
	}
	podTerms := func(required []corev1.PodAffinityTerm, preferred []corev1.WeightedPodAffinityTerm, p *field.Path) {
		for i, t := range required {
			errs = append(errs, validatePodAffinityTerm(t, p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))...)
		}
		for i, t := range preferred {
			pp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			weight(t.Weight, pp.Child("weight"))
			errs = append(errs, validatePodAffinityTerm(t.PodAffinityTerm, pp.Child("podAffinityTerm"))...)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		podTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAffinity"))
	}
	if pa := a.PodAntiAffinity; pa != nil {
		podTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, pa.PreferredDuringSchedulingIgnoredDuringExecution, fldPath.Child("podAntiAffinity"))
	}
	return errs
}

func validatePodAffinityTerm(t corev1.PodAffinityTerm, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if t.TopologyKey == "" {
		errs = append(errs, field.Required(fldPath.Child("topologyKey"), "can not be empty"))
	} else {
		errs = append(errs, metav1validation.ValidateLabelName(t.TopologyKey, fldPath.Child("topologyKey"))...)
	}
	opts := metav1validation.LabelSelectorValidationOptions{}
	if t.LabelSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(t.LabelSelector, opts, fldPath.Child("labelSelector"))...)
	}
	if t.NamespaceSelector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(t.NamespaceSelector, opts, fldPath.Child("namespaceSelector"))...)
	}
	for i, ns := range t.Namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			errs = append(errs, field.Invalid(fldPath.Child("namespaces").Index(i), ns, msg))
		}
	}
	errs = append(errs, validateLabelKeys(t.MatchLabelKeys, t.MismatchLabelKeys, t.LabelSelector, fldPath)...)
	return errs
}

// validateLifecycleHandler checks a postStart or preStop hook: exactly one
// of exec, httpGet, tcpSocket and sleep, each well formed.
func validateLifecycleHandler(h *corev1.LifecycleHandler, fldPath *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	errs := validateHandler(h.Exec, h.HTTPGet, h.TCPSocket, h.Sleep != nil, fldPath)
	if h.Sleep != nil && h.Sleep.Seconds < 0 {
		errs = append(errs, field.Invalid(fldPath.Child("sleep", "seconds"), h.Sleep.Seconds, "must be non-negative integer"))
	}
	return errs
}

// validateHandler checks the action shared by probes and lifecycle hooks:
// exactly one handler (other is the probe's gRPC or the hook's sleep) and
// well-formed exec, httpGet and tcpSocket actions.
func validateHandler(exec *corev1.ExecAction, httpGet *corev1.HTTPGetAction, tcp *corev1.TCPSocketAction, other bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	handlers := 0
	for _, set := range []bool{exec != nil, httpGet != nil, tcp != nil, other} {
		if set {
			handlers++
		}
	}
	if handlers == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a handler type"))
	} else if handlers > 1 {
		errs = append(errs, field.Forbidden(fldPath, "may not specify more than 1 handler type"))
	}
	if exec != nil && len(exec.Command) == 0 {
		errs = append(errs, field.Required(fldPath.Child("exec", "command"), ""))
	}
	if httpGet != nil {
		errs = append(errs, validatePortNumOrName(httpGet.Port, fldPath.Child("httpGet", "port"))...)
		if httpGet.Scheme != corev1.URISchemeHTTP && httpGet.Scheme != corev1.URISchemeHTTPS {
			errs = append(errs, field.NotSupported(fldPath.Child("httpGet", "scheme"), httpGet.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
		}
	}
	if tcp != nil {
		errs = append(errs, validatePortNumOrName(tcp.Port, fldPath.Child("tcpSocket", "port"))...)
	}
	return errs
}

const fileModeMsg = "must be a number between 0 and 0777 (octal), both inclusive"

func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode < 0 || *mode > 0o777) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeMsg)}
	}
	return nil
}

// validateKeyToPaths checks the items of a config map, secret or
// downward API volume: a key (or field) and a relative path inside the
// volume, and an optional file mode.
func validateKeyToPaths(items []corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, it := range items {
		p := fldPath.Index(i)
		if it.Key == "" {
			errs = append(errs, field.Required(p.Child("key"), ""))
		}
		errs = append(errs, validateVolumeFilePath(it.Path, p.Child("path"))...)
		errs = append(errs, validateFileMode(it.Mode, p.Child("mode"))...)
	}
	return errs
}

// validateVolumeFilePath requires a relative path that stays inside the
// volume and does not start with "..", which the kubelet reserves.
func validateVolumeFilePath(path string, fldPath *field.Path) field.ErrorList {
	if path == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	errs := validateLocalDescendingPath(path, fldPath)
	if strings.HasPrefix(path, "..") {
		errs = append(errs, field.Invalid(fldPath, path, "must not start with '..'"))
	}
	return errs
}

var supportedHostPathTypes = []corev1.HostPathType{
	corev1.HostPathUnset, corev1.HostPathDirectoryOrCreate, corev1.HostPathDirectory, corev1.HostPathFileOrCreate,
	corev1.HostPathFile, corev1.HostPathSocket, corev1.HostPathCharDev, corev1.HostPathBlockDev,
}

// validateVolumeSourceDetails checks the fields inside the volume types
// skiff's users meet most: projections, modes, host paths, NFS, CSI,
// generic ephemeral and image volumes.
func validateVolumeSourceDetails(src *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if cm := src.ConfigMap; cm != nil {
		errs = append(errs, validateKeyToPaths(cm.Items, fldPath.Child("configMap", "items"))...)
		errs = append(errs, validateFileMode(cm.DefaultMode, fldPath.Child("configMap", "defaultMode"))...)
	}
	if sec := src.Secret; sec != nil {
		errs = append(errs, validateKeyToPaths(sec.Items, fldPath.Child("secret", "items"))...)
		errs = append(errs, validateFileMode(sec.DefaultMode, fldPath.Child("secret", "defaultMode"))...)
	}
	if d := src.DownwardAPI; d != nil {
		errs = append(errs, validateFileMode(d.DefaultMode, fldPath.Child("downwardAPI", "defaultMode"))...)
		for i, it := range d.Items {
			errs = append(errs, validateDownwardAPIFile(it, fldPath.Child("downwardAPI", "items").Index(i))...)
		}
	}
	if pr := src.Projected; pr != nil {
		p := fldPath.Child("projected")
		errs = append(errs, validateFileMode(pr.DefaultMode, p.Child("defaultMode"))...)
		errs = append(errs, validateProjectedSources(pr.Sources, p.Child("sources"))...)
		for i, s := range pr.Sources {
			sp := p.Child("sources").Index(i)
			if s.ConfigMap != nil {
				errs = append(errs, validateKeyToPaths(s.ConfigMap.Items, sp.Child("configMap", "items"))...)
			}
			if s.Secret != nil {
				errs = append(errs, validateKeyToPaths(s.Secret.Items, sp.Child("secret", "items"))...)
			}
			if t := s.ServiceAccountToken; t != nil {
				errs = append(errs, validateVolumeFilePath(t.Path, sp.Child("serviceAccountToken", "path"))...)
				if t.ExpirationSeconds != nil && *t.ExpirationSeconds < 600 {
					errs = append(errs, field.Invalid(sp.Child("serviceAccountToken", "expirationSeconds"), *t.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
				}
			}
		}
	}
	if hp := src.HostPath; hp != nil && hp.Type != nil && !slices.Contains(supportedHostPathTypes, *hp.Type) {
		errs = append(errs, field.NotSupported(fldPath.Child("hostPath", "type"), *hp.Type, supportedHostPathTypes))
	}
	if nfs := src.NFS; nfs != nil {
		if nfs.Server == "" {
			errs = append(errs, field.Required(fldPath.Child("nfs", "server"), ""))
		}
		if nfs.Path == "" {
			errs = append(errs, field.Required(fldPath.Child("nfs", "path"), ""))
		} else if !strings.HasPrefix(nfs.Path, "/") {
			errs = append(errs, field.Invalid(fldPath.Child("nfs", "path"), nfs.Path, "must be an absolute path"))
		}
	}
	if csi := src.CSI; csi != nil {
		if csi.Driver == "" {
			errs = append(errs, field.Required(fldPath.Child("csi", "driver"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(csi.Driver)) {
				errs = append(errs, field.Invalid(fldPath.Child("csi", "driver"), csi.Driver, msg))
			}
		}
	}
	if e := src.Ephemeral; e != nil && e.VolumeClaimTemplate == nil {
		errs = append(errs, field.Required(fldPath.Child("ephemeral", "volumeClaimTemplate"), ""))
	}
	if img := src.Image; img != nil {
		if img.Reference == "" {
			errs = append(errs, field.Required(fldPath.Child("image", "reference"), ""))
		}
		switch img.PullPolicy {
		case "", corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever:
		default:
			errs = append(errs, field.NotSupported(fldPath.Child("image", "pullPolicy"), img.PullPolicy, []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}))
		}
	}
	return errs
}
