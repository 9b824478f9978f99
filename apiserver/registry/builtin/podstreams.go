package builtin

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	upgradeproxy "k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericrest "k8s.io/apiserver/pkg/registry/generic/rest"
	"k8s.io/apiserver/pkg/registry/rest"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/client-go/kubernetes"

	"github.com/skiffhq/skiff/apiserver/registry"
)

// KubeletClient is how the API server reaches node agents: the
// transport carries its client certificate, the nodes say where their
// agents listen (status.daemonEndpoints.kubeletEndpoint).
type KubeletClient struct {
	Transport *http.Transport
	Client    kubernetes.Interface
}

// simulatedLabel marks nodes that run no processes.
const simulatedLabel = "skiff.dev/simulated"

// nodeURL is the agent's base URL on the node.
func (k *KubeletClient) nodeURL(ctx context.Context, nodeName string) (*url.URL, error) {
	if k == nil || k.Transport == nil {
		return nil, apierrors.NewServiceUnavailable("this API server has no client configuration for node agents (--kubelet-client-certificate)")
	}
	node, err := k.Client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	if port <= 0 {
		if node.Labels[simulatedLabel] == "true" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("node %q is simulated: it runs no containers, so it has no logs, exec, attach or port-forward", nodeName))
		}
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q reports no agent endpoint (status.daemonEndpoints.kubeletEndpoint.port)", nodeName))
	}
	host := ""
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeHostName} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && host == "" {
				host = a.Address
			}
		}
	}
	if host == "" {
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("node %q has no address", nodeName))
	}
	return &url.URL{Scheme: "https", Host: net.JoinHostPort(host, strconv.Itoa(int(port)))}, nil
}

// podStreamBase finds the pod and the agent of its node.
type podStreamBase struct {
	store   *registry.Store
	kubelet *KubeletClient
}

func (b *podStreamBase) New() runtime.Object { return &corev1.Pod{} }
func (b *podStreamBase) Destroy()            {}

func (b *podStreamBase) pod(ctx context.Context, name string) (*corev1.Pod, error) {
	obj, err := b.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

// containerName picks the container as upstream: the named one, or the
// only one.
func containerName(pod *corev1.Pod, name string) (string, error) {
	var all []string
	found := false
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range list {
			all = append(all, c.Name)
			found = found || c.Name == name
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		all = append(all, c.Name)
		found = found || c.Name == name
	}
	if name != "" {
		if !found {
			return "", apierrors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
		}
		return name, nil
	}
	switch len(pod.Spec.Containers) {
	case 1:
		return pod.Spec.Containers[0].Name, nil
	case 0:
		return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, all))
}

// logREST serves pods/log by streaming the node agent's containerLogs.
type logREST struct{ podStreamBase }

var (
	_ rest.GetterWithOptions        = &logREST{}
	_ rest.StorageMetadata          = &logREST{}
	_ rest.GroupVersionKindProvider = &logREST{}
)

func (r *logREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return corev1.SchemeGroupVersion.WithKind("Pod")
}

// ProducesMIMETypes implements rest.StorageMetadata: logs are plain text.
func (r *logREST) ProducesMIMETypes(string) []string {
	return []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
}
func (r *logREST) ProducesObject(string) any { return "" }

func (r *logREST) NewGetOptions() (runtime.Object, bool, string) {
	return &corev1.PodLogOptions{}, false, ""
}

func validateLogOptions(o *corev1.PodLogOptions) field.ErrorList {
	var errs field.ErrorList
	if o.TailLines != nil && *o.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *o.TailLines, "must be greater than or equal to 0"))
	}
	if o.LimitBytes != nil && *o.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *o.LimitBytes, "must be greater than 0"))
	}
	switch {
	case o.SinceSeconds != nil && o.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case o.SinceSeconds != nil && *o.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *o.SinceSeconds, "must be greater than 0"))
	}
	if o.Stream != nil {
		switch *o.Stream {
		case corev1.LogStreamStdout, corev1.LogStreamStderr:
			if o.TailLines != nil {
				errs = append(errs, field.Forbidden(field.NewPath(""), "`tailLines` and specific `stream` are mutually exclusive for now"))
			}
		case corev1.LogStreamAll:
		default:
			errs = append(errs, field.NotSupported(field.NewPath("stream"), *o.Stream, []string{corev1.LogStreamStdout, corev1.LogStreamStderr, corev1.LogStreamAll}))
		}
	}
	return errs
}

func (r *logREST) Get(ctx context.Context, name string, opts runtime.Object) (runtime.Object, error) {
	o, ok := opts.(*corev1.PodLogOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", opts))
	}
	if errs := validateLogOptions(o); len(errs) > 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, name, errs)
	}
	pod, err := r.pod(ctx, name)
	if err != nil {
		return nil, err
	}
	container, err := containerName(pod, o.Container)
	if err != nil {
		return nil, err
	}
	streamer := &genericrest.LocationStreamer{
		Transport:       r.kubelet.transport(),
		ContentType:     "text/plain",
		Flush:           o.Follow,
		ResponseChecker: genericrest.NewGenericHttpResponseChecker(corev1.Resource("pods/log"), name),
		RedirectChecker: genericrest.PreventRedirects,
	}
	if pod.Spec.NodeName == "" {
		return streamer, nil // not scheduled: no logs yet, as upstream
	}
	base, err := r.kubelet.nodeURL(ctx, pod.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.Previous {
		q.Set("previous", "true")
	}
	if o.Timestamps {
		q.Set("timestamps", "true")
	}
	if o.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*o.SinceSeconds, 10))
	}
	if o.SinceTime != nil {
		q.Set("sinceTime", o.SinceTime.UTC().Format("2006-01-02T15:04:05Z07:00"))
	}
	if o.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*o.TailLines, 10))
	}
	if o.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*o.LimitBytes, 10))
	}
	if o.Stream != nil {
		q.Set("stream", *o.Stream)
	}
	base.Path = fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container)
	base.RawQuery = q.Encode()
	streamer.Location = base
	return streamer, nil
}

func (k *KubeletClient) transport() http.RoundTripper {
	if k == nil || k.Transport == nil {
		return nil
	}
	return k.Transport
}

// streamREST serves pods/exec, pods/attach and pods/portforward: an
// upgrade-aware proxy to the node agent, with kubectl's WebSocket
// protocols translated to the agent's SPDY as upstream does.
type streamREST struct {
	podStreamBase
	kind string // "exec", "attach" or "portforward"
}

var (
	_ rest.Connecter                = &streamREST{}
	_ rest.GroupVersionKindProvider = &streamREST{}
)

func (r *streamREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	switch r.kind {
	case "exec":
		return corev1.SchemeGroupVersion.WithKind("PodExecOptions")
	case "attach":
		return corev1.SchemeGroupVersion.WithKind("PodAttachOptions")
	}
	return corev1.SchemeGroupVersion.WithKind("PodPortForwardOptions")
}

func (r *streamREST) NewConnectOptions() (runtime.Object, bool, string) {
	switch r.kind {
	case "exec":
		return &corev1.PodExecOptions{}, false, ""
	case "attach":
		return &corev1.PodAttachOptions{}, false, ""
	}
	return &corev1.PodPortForwardOptions{}, false, ""
}

func (r *streamREST) ConnectMethods() []string { return []string{http.MethodGet, http.MethodPost} }

func (r *streamREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	pod, err := r.pod(ctx, name)
	if err != nil {
		return nil, err
	}
	if pod.Spec.NodeName == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("pod %s does not have a host assigned", name))
	}
	var path string
	q := url.Values{}
	var streams translator.Options
	switch o := opts.(type) {
	case *corev1.PodExecOptions:
		if len(o.Command) == 0 {
			return nil, apierrors.NewBadRequest("you must specify at least one command for the container")
		}
		if !o.Stdin && !o.Stdout && !o.Stderr {
			return nil, apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
		}
		if phase := pod.Status.Phase; phase == corev1.PodSucceeded || phase == corev1.PodFailed {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot exec into a container in a completed pod; current phase is %s", phase))
		}
		c, err := containerName(pod, o.Container)
		if err != nil {
			return nil, err
		}
		path = fmt.Sprintf("/exec/%s/%s/%s", pod.Namespace, pod.Name, c)
		for _, arg := range o.Command {
			q.Add("command", arg)
		}
		streams = streamParams(q, o.Stdin, o.Stdout, o.Stderr, o.TTY)
	case *corev1.PodAttachOptions:
		if !o.Stdin && !o.Stdout && !o.Stderr {
			return nil, apierrors.NewBadRequest("you must specify at least 1 of stdin, stdout, stderr")
		}
		if phase := pod.Status.Phase; phase == corev1.PodSucceeded || phase == corev1.PodFailed {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot attach to a container in a completed pod; current phase is %s", phase))
		}
		c, err := containerName(pod, o.Container)
		if err != nil {
			return nil, err
		}
		path = fmt.Sprintf("/attach/%s/%s/%s", pod.Namespace, pod.Name, c)
		streams = streamParams(q, o.Stdin, o.Stdout, o.Stderr, o.TTY)
	case *corev1.PodPortForwardOptions:
		for _, p := range o.Ports {
			if p < 1 || p > 65535 {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid port %d: must be between 1 and 65535", p))
			}
			q.Add("port", strconv.Itoa(int(p)))
		}
		path = fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name)
	default:
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", opts))
	}
	loc, err := r.kubelet.nodeURL(ctx, pod.Spec.NodeName)
	if err != nil {
		return nil, err
	}
	loc.Path, loc.RawQuery = path, q.Encode()
	handler := upgradeproxy.NewUpgradeAwareHandler(loc, r.kubelet.Transport, false, true, upgradeproxy.NewErrorResponder(responder))
	if r.kind == "portforward" {
		return translator.NewTranslatingHandler(handler, translator.NewTunnelingHandler(handler), wsstream.IsWebSocketRequestWithTunnelingProtocol), nil
	}
	return translator.NewTranslatingHandler(handler,
		translator.NewStreamTranslatorHandler(loc, r.kubelet.Transport, 0, streams),
		wsstream.IsWebSocketRequestWithStreamCloseProtocol), nil
}

// streamParams puts the streams into the agent's query (input, output,
// error, tty) and returns them for the WebSocket translator.
func streamParams(q url.Values, stdin, stdout, stderr, tty bool) translator.Options {
	for name, on := range map[string]bool{"input": stdin, "output": stdout, "error": stderr, "tty": tty} {
		if on {
			q.Set(name, "1")
		}
	}
	return translator.Options{Stdin: stdin, Stdout: stdout, Stderr: stderr, Tty: tty}
}

// nodeProxyREST serves nodes/proxy: requests passed to the node's agent
// (e.g. /api/v1/nodes/NAME/proxy/stats/summary).
type nodeProxyREST struct {
	kubelet *KubeletClient
}

var (
	_ rest.Connecter                = &nodeProxyREST{}
	_ rest.GroupVersionKindProvider = &nodeProxyREST{}
)

func (r *nodeProxyREST) New() runtime.Object { return &corev1.Node{} }
func (r *nodeProxyREST) Destroy()            {}

func (r *nodeProxyREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return corev1.SchemeGroupVersion.WithKind("NodeProxyOptions")
}

func (r *nodeProxyREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.NodeProxyOptions{}, true, "path"
}

func (r *nodeProxyREST) ConnectMethods() []string {
	return []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions}
}

func (r *nodeProxyREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*corev1.NodeProxyOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options object: %#v", opts))
	}
	loc, err := r.kubelet.nodeURL(ctx, name)
	if err != nil {
		return nil, err
	}
	loc.Path = "/" + strings.TrimPrefix(o.Path, "/")
	return upgradeproxy.NewUpgradeAwareHandler(loc, r.kubelet.Transport, true, false, upgradeproxy.NewErrorResponder(responder)), nil
}
