package kubelet

import (
	"context"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// envSource reads what env[].valueFrom and envFrom refer to.
type envSource struct {
	client      kubernetes.Interface
	pod         *corev1.Pod
	podIPs      []string
	hostIPs     []string
	allocatable corev1.ResourceList
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	// services adds the Service link variables (nodes that run
	// processes; simulated ones skip the lookups).
	services bool
}

// runnable returns the container as the runtime must start it, as
// upstream's kubelet prepares it: envFrom and env resolved to values (env
// after envFrom, later entries winning), $(VAR) references expanded in
// env values, command and args. Errors are CreateContainerConfigError.
func (s *envSource) runnable(ctx context.Context, c *corev1.Container) (*corev1.Container, error) {
	var order []string
	values := map[string]string{}
	set := func(name, value string) {
		if _, ok := values[name]; !ok {
			order = append(order, name)
		}
		values[name] = value
	}
	// Service links first: the container's own variables override them,
	// and may refer to them, as upstream.
	svcVars, err := s.serviceEnv(ctx)
	if err != nil {
		return nil, configError("listing services for the environment: %v", err)
	}
	for _, kv := range svcVars {
		set(kv.Name, kv.Value)
	}
	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := s.configMap(ctx, from.ConfigMapRef.Name)
			if err != nil {
				if optional(from.ConfigMapRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, configError("%v", err)
			}
			data = cm.Data
		case from.SecretRef != nil:
			sec, err := s.secret(ctx, from.SecretRef.Name)
			if err != nil {
				if optional(from.SecretRef.Optional) && apierrors.IsNotFound(err) {
					continue
				}
				return nil, configError("%v", err)
			}
			data = map[string]string{}
			for k, v := range sec.Data {
				data[k] = string(v)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(data)) {
			v := data[k]
			// Keys that are not valid variable names (under the relaxed
			// rules, GA since 1.34: printable ASCII but '=') are skipped,
			// as upstream does.
			if len(validation.IsRelaxedEnvVarName(from.Prefix+k)) == 0 {
				set(from.Prefix+k, v)
			}
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expand(e.Value, values))
			continue
		}
		v, ok, err := s.valueFrom(ctx, c, e.ValueFrom)
		if err != nil {
			return nil, err
		}
		if ok {
			set(e.Name, v)
		}
	}
	out := c.DeepCopy()
	out.EnvFrom = nil
	out.Env = make([]corev1.EnvVar, 0, len(order))
	for _, name := range order {
		out.Env = append(out.Env, corev1.EnvVar{Name: name, Value: values[name]})
	}
	for i := range out.Command {
		out.Command[i] = expand(out.Command[i], values)
	}
	for i := range out.Args {
		out.Args[i] = expand(out.Args[i], values)
	}
	return out, nil
}

func optional(p *bool) bool { return p != nil && *p }

func configError(format string, args ...any) *StartError {
	return &StartError{Reason: ReasonCreateConfigError, Message: fmt.Sprintf(format, args...)}
}

func (s *envSource) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if cm, ok := s.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := s.client.CoreV1().ConfigMaps(s.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if s.configMaps == nil {
		s.configMaps = map[string]*corev1.ConfigMap{}
	}
	s.configMaps[name] = cm
	return cm, nil
}

func (s *envSource) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if sec, ok := s.secrets[name]; ok {
		return sec, nil
	}
	sec, err := s.client.CoreV1().Secrets(s.pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if s.secrets == nil {
		s.secrets = map[string]*corev1.Secret{}
	}
	s.secrets[name] = sec
	return sec, nil
}

// valueFrom resolves one env[].valueFrom; ok is false for an optional
// reference that is missing (the variable is then not set).
func (s *envSource) valueFrom(ctx context.Context, c *corev1.Container, from *corev1.EnvVarSource) (string, bool, error) {
	switch {
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := s.configMap(ctx, ref.Name)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, configError("%v", err)
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if b, bin := cm.BinaryData[ref.Key]; bin {
				return string(b), true, nil
			}
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, configError("couldn't find key %s in ConfigMap %s/%s", ref.Key, s.pod.Namespace, ref.Name)
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		sec, err := s.secret(ctx, ref.Name)
		if err != nil {
			if optional(ref.Optional) && apierrors.IsNotFound(err) {
				return "", false, nil
			}
			return "", false, configError("%v", err)
		}
		v, ok := sec.Data[ref.Key]
		if !ok {
			if optional(ref.Optional) {
				return "", false, nil
			}
			return "", false, configError("couldn't find key %s in Secret %s/%s", ref.Key, s.pod.Namespace, ref.Name)
		}
		return string(v), true, nil
	case from.FieldRef != nil:
		v, err := s.field(from.FieldRef.FieldPath)
		return v, err == nil, err
	case from.ResourceFieldRef != nil:
		v, err := s.resourceField(c, from.ResourceFieldRef)
		return v, err == nil, err
	}
	return "", false, configError("env valueFrom names no source")
}

// field resolves a downward API field path (those validation allows for
// env).
func (s *envSource) field(path string) (string, error) {
	p := s.pod
	if key, ok := subscript(path, "metadata.labels"); ok {
		return p.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return p.Annotations[key], nil
	}
	first := func(ips []string) string {
		if len(ips) == 0 {
			return ""
		}
		return ips[0]
	}
	switch path {
	case "metadata.name":
		return p.Name, nil
	case "metadata.namespace":
		return p.Namespace, nil
	case "metadata.uid":
		return string(p.UID), nil
	case "spec.nodeName":
		return p.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, nil
	case "status.hostIP":
		return first(s.hostIPs), nil
	case "status.hostIPs":
		return strings.Join(s.hostIPs, ","), nil
	case "status.podIP":
		if p.Spec.HostNetwork {
			return first(s.hostIPs), nil
		}
		return first(s.podIPs), nil
	case "status.podIPs":
		if p.Spec.HostNetwork {
			return strings.Join(s.hostIPs, ","), nil
		}
		return strings.Join(s.podIPs, ","), nil
	}
	return "", configError("unsupported fieldRef %q", path)
}

// subscript parses prefix['key'].
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// resourceField resolves a resourceFieldRef: the named container's
// request or limit (the node's allocatable for an unset limit), divided
// by the divisor and rounded up, as upstream.
func (s *envSource) resourceField(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	target := c
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		target = nil
		for _, list := range [][]corev1.Container{s.pod.Spec.InitContainers, s.pod.Spec.Containers} {
			for i := range list {
				if list[i].Name == ref.ContainerName {
					target = &list[i]
				}
			}
		}
		if target == nil {
			return "", configError("resourceFieldRef names no container %q", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", configError("unsupported resourceFieldRef %q", ref.Resource)
	}
	res := corev1.ResourceName(name)
	var q resource.Quantity
	var set bool
	if kind == "limits" {
		q, set = target.Resources.Limits[res]
		if !set {
			q, set = s.allocatable[res]
		}
	} else {
		q, set = target.Resources.Requests[res]
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if !set {
		return "0", nil
	}
	if res == corev1.ResourceCPU {
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	}
	return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
}

// expand replaces $(NAME) with NAME's value where defined, leaves unknown
// references as they are and turns $$ into $, as upstream's expansion.
func expand(s string, values map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := values[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// serviceEnv is the Docker-links style variables of the Services the pod
// sees, as upstream's kubelet: those of its namespace when
// enableServiceLinks (the default), and always the kubernetes Service of
// the default namespace. Headless Services give none.
func (s *envSource) serviceEnv(ctx context.Context) ([]corev1.EnvVar, error) {
	if s.client == nil || !s.services {
		return nil, nil
	}
	links := s.pod.Spec.EnableServiceLinks == nil || *s.pod.Spec.EnableServiceLinks
	chosen := map[string]*corev1.Service{}
	if links {
		list, err := s.client.CoreV1().Services(s.pod.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			chosen[list.Items[i].Name] = &list.Items[i]
		}
	}
	if _, taken := chosen["kubernetes"]; !taken || s.pod.Namespace != metav1.NamespaceDefault {
		svc, err := s.client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		switch {
		case err == nil:
			if _, taken := chosen["kubernetes"]; !taken {
				chosen["kubernetes"] = svc
			}
		case !apierrors.IsNotFound(err):
			return nil, err
		}
	}
	var out []corev1.EnvVar
	for _, name := range slices.Sorted(maps.Keys(chosen)) {
		out = append(out, serviceVars(chosen[name])...)
	}
	return out, nil
}

// serviceVars are one Service's variables: NAME_SERVICE_HOST/PORT, a
// NAME_SERVICE_PORT_<PORT NAME> per named port, and the Docker link ones
// (NAME_PORT, NAME_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]).
func serviceVars(svc *corev1.Service) []corev1.EnvVar {
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone {
		return nil
	}
	prefix := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
	var out []corev1.EnvVar
	add := func(name, value string) { out = append(out, corev1.EnvVar{Name: name, Value: value}) }
	add(prefix+"_SERVICE_HOST", ip)
	if len(svc.Spec.Ports) == 0 {
		return out
	}
	first := svc.Spec.Ports[0]
	add(prefix+"_SERVICE_PORT", strconv.Itoa(int(first.Port)))
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			add(prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")), strconv.Itoa(int(p.Port)))
		}
	}
	hostPort := net.JoinHostPort(ip, strconv.Itoa(int(first.Port)))
	add(prefix+"_PORT", strings.ToLower(string(first.Protocol))+"://"+hostPort)
	for _, p := range svc.Spec.Ports {
		proto := strings.ToLower(string(p.Protocol))
		port := strconv.Itoa(int(p.Port))
		base := prefix + "_PORT_" + port + "_" + strings.ToUpper(proto)
		add(base, proto+"://"+net.JoinHostPort(ip, port))
		add(base+"_PROTO", proto)
		add(base+"_PORT", port)
		add(base+"_ADDR", ip)
	}
	return out
}
