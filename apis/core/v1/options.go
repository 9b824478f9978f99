package v1

import (
	"net/url"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/runtime"
)

// addOptionsConversions teaches the scheme to read the query parameters
// of the pod and node subresources (log, exec, attach, portforward,
// proxy) into their options, as the API server's parameter codec needs.
func addOptionsConversions(scheme *runtime.Scheme) error {
	for _, c := range []struct {
		out any
		fn  conversion.ConversionFunc
	}{
		{(*corev1.PodLogOptions)(nil), func(a, b any, s conversion.Scope) error {
			return podLogOptions(a.(*url.Values), b.(*corev1.PodLogOptions), s)
		}},
		{(*corev1.PodExecOptions)(nil), func(a, b any, s conversion.Scope) error {
			return podExecOptions(a.(*url.Values), b.(*corev1.PodExecOptions), s)
		}},
		{(*corev1.PodAttachOptions)(nil), func(a, b any, s conversion.Scope) error {
			return podAttachOptions(a.(*url.Values), b.(*corev1.PodAttachOptions), s)
		}},
		{(*corev1.PodPortForwardOptions)(nil), func(a, b any, s conversion.Scope) error {
			in, out := *a.(*url.Values), b.(*corev1.PodPortForwardOptions)
			if v, ok := in["ports"]; ok {
				return metav1.Convert_Slice_string_To_Slice_int32(&v, &out.Ports, s)
			}
			out.Ports = nil
			return nil
		}},
		{(*corev1.PodProxyOptions)(nil), func(a, b any, s conversion.Scope) error {
			in, out := *a.(*url.Values), b.(*corev1.PodProxyOptions)
			out.Path = in.Get("path")
			return nil
		}},
		{(*corev1.NodeProxyOptions)(nil), func(a, b any, s conversion.Scope) error {
			in, out := *a.(*url.Values), b.(*corev1.NodeProxyOptions)
			out.Path = in.Get("path")
			return nil
		}},
		{(*corev1.ServiceProxyOptions)(nil), func(a, b any, s conversion.Scope) error {
			in, out := *a.(*url.Values), b.(*corev1.ServiceProxyOptions)
			out.Path = in.Get("path")
			return nil
		}},
	} {
		if err := scheme.AddConversionFunc((*url.Values)(nil), c.out, c.fn); err != nil {
			return err
		}
	}
	return nil
}

// boolParam sets out from a query parameter when present.
func boolParam(in url.Values, name string, out *bool, s conversion.Scope) error {
	if v, ok := in[name]; ok {
		return runtime.Convert_Slice_string_To_bool(&v, out, s)
	}
	*out = false
	return nil
}

func podLogOptions(a *url.Values, out *corev1.PodLogOptions, s conversion.Scope) error {
	in := *a
	out.Container = in.Get("container")
	for name, p := range map[string]*bool{"follow": &out.Follow, "previous": &out.Previous, "timestamps": &out.Timestamps,
		"insecureSkipTLSVerifyBackend": &out.InsecureSkipTLSVerifyBackend} {
		if err := boolParam(in, name, p, s); err != nil {
			return err
		}
	}
	for name, p := range map[string]**int64{"sinceSeconds": &out.SinceSeconds, "tailLines": &out.TailLines, "limitBytes": &out.LimitBytes} {
		*p = nil
		if v, ok := in[name]; ok {
			if err := runtime.Convert_Slice_string_To_Pointer_int64(&v, p, s); err != nil {
				return err
			}
		}
	}
	out.SinceTime = nil
	if v, ok := in["sinceTime"]; ok {
		if err := metav1.Convert_Slice_string_To_Pointer_v1_Time(&v, &out.SinceTime, s); err != nil {
			return err
		}
	}
	out.Stream = nil
	if v, ok := in["stream"]; ok && len(v) > 0 {
		out.Stream = &v[0]
	}
	return nil
}

func podExecOptions(a *url.Values, out *corev1.PodExecOptions, s conversion.Scope) error {
	in := *a
	out.Container = in.Get("container")
	out.Command = in["command"]
	for name, p := range map[string]*bool{"stdin": &out.Stdin, "stdout": &out.Stdout, "stderr": &out.Stderr, "tty": &out.TTY} {
		if err := boolParam(in, name, p, s); err != nil {
			return err
		}
	}
	return nil
}

func podAttachOptions(a *url.Values, out *corev1.PodAttachOptions, s conversion.Scope) error {
	in := *a
	out.Container = in.Get("container")
	for name, p := range map[string]*bool{"stdin": &out.Stdin, "stdout": &out.Stdout, "stderr": &out.Stderr, "tty": &out.TTY} {
		if err := boolParam(in, name, p, s); err != nil {
			return err
		}
	}
	return nil
}
