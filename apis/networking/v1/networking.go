// Package v1 holds skiff's behaviour for networking.k8s.io/v1 Ingresses,
// IngressClasses and NetworkPolicies: scheme installation, defaults,
// validation and kubectl table columns.
package v1

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Install registers networking.k8s.io/v1 and its defaults in a scheme.
func Install(scheme *runtime.Scheme) error {
	if err := internalversion.Installer(networkingv1.AddToScheme, networkingv1.SchemeGroupVersion)(scheme); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&networkingv1.NetworkPolicy{}, func(o any) { SetDefaultsNetworkPolicy(o.(*networkingv1.NetworkPolicy)) })
	return nil
}

// SetDefaultsNetworkPolicy defaults port protocols and policyTypes.
func SetDefaultsNetworkPolicy(np *networkingv1.NetworkPolicy) {
	tcp := corev1.ProtocolTCP
	for i := range np.Spec.Ingress {
		for j := range np.Spec.Ingress[i].Ports {
			if np.Spec.Ingress[i].Ports[j].Protocol == nil {
				np.Spec.Ingress[i].Ports[j].Protocol = &tcp
			}
		}
	}
	for i := range np.Spec.Egress {
		for j := range np.Spec.Egress[i].Ports {
			if np.Spec.Egress[i].Ports[j].Protocol == nil {
				np.Spec.Egress[i].Ports[j].Protocol = &tcp
			}
		}
	}
	if len(np.Spec.PolicyTypes) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

// ValidateIngress checks an ingress's rules and backends.
func ValidateIngress(ing *networkingv1.Ingress) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if ing.Spec.DefaultBackend == nil && len(ing.Spec.Rules) == 0 {
		errs = append(errs, field.Invalid(spec, ing.Spec, "either `defaultBackend` or `rules` must be specified"))
	}
	if ing.Spec.DefaultBackend != nil {
		errs = append(errs, validateBackend(ing.Spec.DefaultBackend, spec.Child("defaultBackend"))...)
	}
	for i, tls := range ing.Spec.TLS {
		tp := spec.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			check := validation.IsDNS1123Subdomain
			if strings.HasPrefix(host, "*.") {
				check = validation.IsWildcardDNS1123Subdomain
			}
			for _, msg := range check(host) {
				errs = append(errs, field.Invalid(tp.Child("hosts").Index(j), host, msg))
			}
		}
		if tls.SecretName != "" {
			for _, msg := range validation.IsDNS1123Subdomain(tls.SecretName) {
				errs = append(errs, field.Invalid(tp.Child("secretName"), tls.SecretName, msg))
			}
		}
	}
	for i, r := range ing.Spec.Rules {
		rp := spec.Child("rules").Index(i)
		if r.Host != "" {
			for _, msg := range validation.IsWildcardDNS1123Subdomain(r.Host) {
				if !strings.HasPrefix(r.Host, "*.") {
					for _, m := range validation.IsDNS1123Subdomain(r.Host) {
						errs = append(errs, field.Invalid(rp.Child("host"), r.Host, m))
					}
					break
				}
				errs = append(errs, field.Invalid(rp.Child("host"), r.Host, msg))
			}
		}
		if r.HTTP == nil {
			continue
		}
		for j, p := range r.HTTP.Paths {
			pp := rp.Child("http", "paths").Index(j)
			if p.PathType == nil {
				errs = append(errs, field.Required(pp.Child("pathType"), "pathType must be specified"))
			} else {
				switch *p.PathType {
				case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
					if !strings.HasPrefix(p.Path, "/") {
						errs = append(errs, field.Invalid(pp.Child("path"), p.Path, "must be an absolute path"))
					}
				case networkingv1.PathTypeImplementationSpecific:
					if p.Path != "" && !strings.HasPrefix(p.Path, "/") {
						errs = append(errs, field.Invalid(pp.Child("path"), p.Path, "must be an absolute path"))
					}
				default:
					errs = append(errs, field.NotSupported(pp.Child("pathType"), *p.PathType, []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific}))
				}
			}
			errs = append(errs, validateBackend(&p.Backend, pp.Child("backend"))...)
		}
	}
	return errs
}

func validateBackend(b *networkingv1.IngressBackend, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Service != nil && b.Resource != nil:
		errs = append(errs, field.Invalid(fldPath, "", "cannot set both resource and service backends"))
	case b.Service != nil:
		if b.Service.Name == "" {
			errs = append(errs, field.Required(fldPath.Child("service", "name"), ""))
		}
		if b.Service.Port.Name != "" && b.Service.Port.Number != 0 {
			errs = append(errs, field.Invalid(fldPath.Child("service", "port"), b.Service.Port, "cannot specify both port name and port number"))
		} else if b.Service.Port.Name == "" && b.Service.Port.Number == 0 {
			errs = append(errs, field.Required(fldPath.Child("service", "port"), "port name or number is required"))
		}
	case b.Resource == nil:
		errs = append(errs, field.Invalid(fldPath, "", "resource or service backend is required"))
	}
	return errs
}

// IngressColumns are the columns of kubectl get ingresses.
var IngressColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Class", "string", "The name of the IngressClass resource that should be used for ingress class."),
	table.Column("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
	table.Column("Address", "string", "Address is a list containing ingress points for the load-balancer"),
	table.Column("Ports", "string", "Ports of TLS configurations that open"),
	table.AgeColumn,
}

// IngressRow renders an ingress.
func IngressRow(obj runtime.Object) ([]any, error) {
	ing := obj.(*networkingv1.Ingress)
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	var hosts []string
	for _, r := range ing.Spec.Rules {
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	hostCell := "*"
	if len(hosts) > 0 {
		hostCell = strings.Join(hosts, ",")
	}
	var addrs []string
	for _, in := range ing.Status.LoadBalancer.Ingress {
		if in.IP != "" {
			addrs = append(addrs, in.IP)
		} else if in.Hostname != "" {
			addrs = append(addrs, in.Hostname)
		}
	}
	ports := "80"
	if len(ing.Spec.TLS) > 0 {
		ports = "80, 443"
	}
	return []any{ing.Name, class, hostCell, strings.Join(addrs, ","), ports, table.Age(ing.CreationTimestamp)}, nil
}

// IngressClassColumns are the columns of kubectl get ingressclasses.
var IngressClassColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Controller", "string", "Controller that is responsible for handling this class"),
	table.Column("Parameters", "string", "A reference to a resource with additional parameters"),
	table.AgeColumn,
}

// IngressClassRow renders an ingress class.
func IngressClassRow(obj runtime.Object) ([]any, error) {
	ic := obj.(*networkingv1.IngressClass)
	params := "<none>"
	if p := ic.Spec.Parameters; p != nil {
		group := ""
		if p.APIGroup != nil {
			group = "." + *p.APIGroup
		}
		params = fmt.Sprintf("%s%s/%s", p.Kind, group, p.Name)
	}
	return []any{ic.Name, ic.Spec.Controller, params, table.Age(ic.CreationTimestamp)}, nil
}

// ValidateIngressClass requires a controller.
func ValidateIngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	if ic.Spec.Controller == "" {
		return field.ErrorList{field.Required(field.NewPath("spec", "controller"), "")}
	}
	return nil
}

// NetworkPolicyColumns are the columns of kubectl get networkpolicies.
var NetworkPolicyColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Pod-Selector", "string", "Selects the pods to which this NetworkPolicy object applies."),
	table.AgeColumn,
}

// NetworkPolicyRow renders a network policy.
func NetworkPolicyRow(obj runtime.Object) ([]any, error) {
	np := obj.(*networkingv1.NetworkPolicy)
	sel := table.LabelSelector(&np.Spec.PodSelector)
	return []any{np.Name, sel, table.Age(np.CreationTimestamp)}, nil
}

// ValidateNetworkPolicy checks the selectors and ports of a network policy.
func ValidateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	errs = append(errs, metav1validation.ValidateLabelSelector(&np.Spec.PodSelector, metav1validation.LabelSelectorValidationOptions{}, spec.Child("podSelector"))...)
	checkPorts := func(ports []networkingv1.NetworkPolicyPort, p *field.Path) {
		for i, port := range ports {
			pp := p.Index(i)
			if port.Protocol != nil && *port.Protocol != corev1.ProtocolTCP && *port.Protocol != corev1.ProtocolUDP && *port.Protocol != corev1.ProtocolSCTP {
				errs = append(errs, field.NotSupported(pp.Child("protocol"), *port.Protocol, []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}))
			}
			if port.Port != nil && port.Port.Type == 0 {
				for _, msg := range validation.IsValidPortNum(int(port.Port.IntVal)) {
					errs = append(errs, field.Invalid(pp.Child("port"), port.Port.IntVal, msg))
				}
				if port.EndPort != nil && *port.EndPort < port.Port.IntVal {
					errs = append(errs, field.Invalid(pp.Child("endPort"), *port.EndPort, "must be greater than or equal to `port`"))
				}
			} else if port.EndPort != nil {
				errs = append(errs, field.Invalid(pp.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
			}
		}
	}
	for i, r := range np.Spec.Ingress {
		checkPorts(r.Ports, spec.Child("ingress").Index(i).Child("ports"))
	}
	for i, r := range np.Spec.Egress {
		checkPorts(r.Ports, spec.Child("egress").Index(i).Child("ports"))
	}
	for i, t := range np.Spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(spec.Child("policyTypes").Index(i), t, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}))
		}
	}
	return errs
}
