// Package v1 holds skiff's behaviour for discovery.k8s.io/v1
// EndpointSlices: scheme installation, defaults, validation and kubectl
// table columns.
package v1

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

const maxEndpoints = 1000

// Install registers discovery.k8s.io/v1 and its defaults in a scheme.
func Install(scheme *runtime.Scheme) error {
	if err := internalversion.Installer(discoveryv1.AddToScheme, discoveryv1.SchemeGroupVersion)(scheme); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&discoveryv1.EndpointSlice{}, func(o any) {
		s := o.(*discoveryv1.EndpointSlice)
		for i := range s.Ports {
			if s.Ports[i].Protocol == nil {
				p := corev1.ProtocolTCP
				s.Ports[i].Protocol = &p
			}
			if s.Ports[i].Name == nil {
				n := ""
				s.Ports[i].Name = &n
			}
		}
	})
	return nil
}

// ValidateEndpointSlice checks an endpoint slice.
func ValidateEndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	var errs field.ErrorList
	switch s.AddressType {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN:
	case "":
		errs = append(errs, field.Required(field.NewPath("addressType"), ""))
	default:
		errs = append(errs, field.NotSupported(field.NewPath("addressType"), s.AddressType, []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6, discoveryv1.AddressTypeFQDN}))
	}
	if len(s.Endpoints) > maxEndpoints {
		errs = append(errs, field.TooMany(field.NewPath("endpoints"), len(s.Endpoints), maxEndpoints))
	}
	for i, e := range s.Endpoints {
		ap := field.NewPath("endpoints").Index(i).Child("addresses")
		if len(e.Addresses) == 0 {
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		}
		for j, a := range e.Addresses {
			ip := netutils.ParseIPSloppy(a)
			switch s.AddressType {
			case discoveryv1.AddressTypeIPv4:
				if ip == nil || ip.To4() == nil {
					errs = append(errs, field.Invalid(ap.Index(j), a, "must be a valid IPv4 address"))
				}
			case discoveryv1.AddressTypeIPv6:
				if ip == nil || ip.To4() != nil {
					errs = append(errs, field.Invalid(ap.Index(j), a, "must be a valid IPv6 address"))
				}
			case discoveryv1.AddressTypeFQDN:
				for _, msg := range validation.IsFullyQualifiedDomainName(ap.Index(j), a) {
					errs = append(errs, msg)
				}
			}
		}
	}
	for i, port := range s.Ports {
		pp := field.NewPath("ports").Index(i)
		if port.Port != nil {
			for _, msg := range validation.IsValidPortNum(int(*port.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), *port.Port, msg))
			}
		}
	}
	return errs
}

// ValidateEndpointSliceUpdate keeps addressType immutable.
func ValidateEndpointSliceUpdate(s, old *discoveryv1.EndpointSlice) field.ErrorList {
	errs := ValidateEndpointSlice(s)
	if s.AddressType != old.AddressType {
		errs = append(errs, field.Invalid(field.NewPath("addressType"), s.AddressType, "field is immutable"))
	}
	return errs
}

// EndpointSliceColumns are the columns of kubectl get endpointslices.
var EndpointSliceColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("AddressType", "string", "The IP protocol for this slice"),
	table.Column("Ports", "string", "The ports for this slice"),
	table.Column("Endpoints", "string", "The endpoints for this slice"),
	table.AgeColumn,
}

// EndpointSliceRow renders an endpoint slice, at most three addresses.
func EndpointSliceRow(obj runtime.Object) ([]any, error) {
	s := obj.(*discoveryv1.EndpointSlice)
	ports := "<unset>"
	if len(s.Ports) > 0 {
		var ps []string
		for _, p := range s.Ports {
			if p.Port != nil {
				ps = append(ps, fmt.Sprint(*p.Port))
			}
		}
		ports = table.Join(ps)
	}
	var addrs []string
	count := 0
	for _, e := range s.Endpoints {
		for _, a := range e.Addresses {
			count++
			if len(addrs) < 3 {
				addrs = append(addrs, a)
			}
		}
	}
	eps := "<unset>"
	if count > 0 {
		eps = strings.Join(addrs, ",")
		if count > len(addrs) {
			eps = fmt.Sprintf("%s + %d more...", eps, count-len(addrs))
		}
	}
	return []any{s.Name, string(s.AddressType), ports, eps, table.Age(s.CreationTimestamp)}, nil
}
