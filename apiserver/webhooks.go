package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/initializer"
	mutatingpolicy "k8s.io/apiserver/pkg/admission/plugin/policy/mutating"
	validatingpolicy "k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	webhookinit "k8s.io/apiserver/pkg/admission/plugin/webhook/initializer"
	mutatingwebhook "k8s.io/apiserver/pkg/admission/plugin/webhook/mutating"
	validatingwebhook "k8s.io/apiserver/pkg/admission/plugin/webhook/validating"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/apiserver/pkg/util/webhook"
	cacheddiscovery "k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// endpointResolver sends a webhook's (or a CRD conversion webhook's)
// Service reference to one of the Service's ready endpoints, as
// kube-apiserver does with --enable-aggregator-routing: a webhook served
// by a pod is reached without a service proxy in the API server's path.
type endpointResolver struct {
	services corelisters.ServiceLister
	slices   proxy.EndpointSliceGetter
}

func newEndpointResolver(factory informers.SharedInformerFactory) (webhook.ServiceResolver, error) {
	slices, err := proxy.NewEndpointSliceListerGetter(factory.Discovery().V1().EndpointSlices().Lister())
	if err != nil {
		return nil, err
	}
	return endpointResolver{services: factory.Core().V1().Services().Lister(), slices: slices}, nil
}

// ResolveEndpoint implements webhook.ServiceResolver.
func (r endpointResolver) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	return proxy.ResolveEndpoint(r.services, r.slices, namespace, name, port)
}

// authResolverWrapper lets webhooks that point at the API server itself
// use the loopback credentials, as kube-apiserver's.
func authResolverWrapper(loopback *rest.Config) webhook.AuthenticationInfoResolverWrapper {
	return webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, loopback, noop.NewTracerProvider())
}

// webhookPlugins are k8s.io/apiserver's MutatingAdmissionPolicy,
// MutatingAdmissionWebhook, ValidatingAdmissionPolicy and
// ValidatingAdmissionWebhook, initialized as
// kube-apiserver initializes them: they watch their configurations through
// the informer factory (a policy's parameters through a dynamic client)
// and act on every matching request.
type webhookPlugins struct {
	mutatingPolicy, mutating, policy, validating admission.Interface
	// restMapper maps the resources of policies' rules and parameters; it
	// must be reset once the server serves discovery, and then regularly.
	restMapper *restmapper.DeferredDiscoveryRESTMapper
}

func newWebhookPlugins(client kubernetes.Interface, factory informers.SharedInformerFactory, authz authorizer.Authorizer,
	resolver webhook.ServiceResolver, loopback *rest.Config, drained <-chan struct{}, config admission.ConfigProvider) (webhookPlugins, error) {
	dynamicClient, err := dynamic.NewForConfig(loopback)
	if err != nil {
		return webhookPlugins{}, err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(cacheddiscovery.NewMemCacheClient(client.Discovery()))
	// Each plugin reads its part of --admission-control-config-file (the
	// webhooks' kubeConfigFile, the policies' static manifests), as
	// kube-apiserver's plugin registry passes it.
	var configErr error
	configFor := func(name string) io.Reader {
		r, err := config.ConfigFor(name)
		if err != nil && configErr == nil {
			configErr = fmt.Errorf("reading the %s configuration: %w", name, err)
		}
		return r
	}
	policy, err := validatingpolicy.NewPlugin(configFor(validatingpolicy.PluginName))
	if err != nil {
		return webhookPlugins{}, fmt.Errorf("creating %s: %w", validatingpolicy.PluginName, err)
	}
	mutatingPolicy, err := mutatingpolicy.NewPlugin(configFor(mutatingpolicy.PluginName))
	if err != nil {
		return webhookPlugins{}, fmt.Errorf("creating %s: %w", mutatingpolicy.PluginName, err)
	}
	mutating, err := mutatingwebhook.NewMutatingWebhook(configFor(mutatingwebhook.PluginName))
	if err != nil {
		return webhookPlugins{}, fmt.Errorf("creating %s: %w", mutatingwebhook.PluginName, err)
	}
	validating, err := validatingwebhook.NewValidatingAdmissionWebhook(configFor(validatingwebhook.PluginName))
	if err != nil {
		return webhookPlugins{}, fmt.Errorf("creating %s: %w", validatingwebhook.PluginName, err)
	}
	if configErr != nil {
		return webhookPlugins{}, configErr
	}
	inits := admission.PluginInitializers{
		initializer.New(client, dynamicClient, factory, authz, utilfeature.DefaultFeatureGate, compatibility.DefaultBuildEffectiveVersion(), drained, mapper),
		webhookinit.NewPluginInitializer(authResolverWrapper(loopback), resolver),
	}
	for _, p := range []admission.Interface{mutatingPolicy, mutating, policy, validating} {
		inits.Initialize(p)
		if err := admission.ValidateInitialization(p); err != nil {
			return webhookPlugins{}, err
		}
	}
	return webhookPlugins{mutatingPolicy: mutatingPolicy, mutating: mutating, policy: policy, validating: validating, restMapper: mapper}, nil
}

// resetRESTMapper forgets discovery now and every 30 s, as kube-apiserver's
// admission initializer hook does, so that policies see new resources.
func (w webhookPlugins) resetRESTMapper(ctx context.Context) {
	w.restMapper.Reset()
	go wait.Until(w.restMapper.Reset, 30*time.Second, ctx.Done())
}
