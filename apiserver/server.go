package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"
	etcdkubernetes "go.etcd.io/etcd/client/v3/kubernetes"
	"go.uber.org/zap"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	crdopenapiv3 "k8s.io/apiextensions-apiserver/pkg/controller/openapiv3"
	extensionsopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle"
	mutatingpolicy "k8s.io/apiserver/pkg/admission/plugin/policy/mutating"
	validatingpolicy "k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	mutatingwebhook "k8s.io/apiserver/pkg/admission/plugin/webhook/mutating"
	validatingwebhook "k8s.io/apiserver/pkg/admission/plugin/webhook/validating"
	apiserverconfig "k8s.io/apiserver/pkg/apis/apiserver"
	apiserverconfigv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	apiserverconfigv1alpha1 "k8s.io/apiserver/pkg/apis/apiserver/v1alpha1"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/apiserver/pkg/storage/etcd3"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/utils/clock"

	skiffadmission "github.com/skiffhq/skiff/apiserver/admission"
	"github.com/skiffhq/skiff/apiserver/allocator"
	"github.com/skiffhq/skiff/apiserver/certs"
	"github.com/skiffhq/skiff/apiserver/openapi"
	"github.com/skiffhq/skiff/apiserver/rbac"
	"github.com/skiffhq/skiff/apiserver/registry"
	"github.com/skiffhq/skiff/apiserver/registry/builtin"
)

// KubeVersion is the Kubernetes version whose API skiff serves.
const KubeVersion = "1.37.2"

// Server is a built API server, ready to run.
type Server struct {
	generic  *genericapiserver.GenericAPIServer
	crd      *apiextensionsapiserver.CustomResourceDefinitions
	loopback *rest.Config
	config   CompletedConfig
	// etcdClient serves all storage and records Service allocations.
	etcdClient *etcdkubernetes.Client
	compactor  interface{ Stop() }
	// The OpenAPI configuration, to publish the apiextensions API's.
	openAPIConfig   *common.Config
	openAPIV3Config *common.OpenAPIV3Config
	openAPIV2       *openAPIV2
}

// LoopbackClientConfig returns a privileged client config for in-process
// components (controllers, the in-process agent).
func (s *Server) LoopbackClientConfig() *rest.Config { return rest.CopyConfig(s.loopback) }

// New builds the API server: the built-in groups in front, the
// apiextensions server behind them.
func (c CompletedConfig) New() (*Server, error) {
	cfg := genericapiserver.NewRecommendedConfig(Codecs)
	cfg.EffectiveVersion = newEffectiveVersion()
	cfg.RequestTimeout = c.RequestTimeout
	cfg.EnableProfiling = !c.DisableProfiling
	cfg.LongRunningFunc = genericfilters.BasicLongRunningRequestCheck(
		sets.NewString("watch", "proxy"),
		sets.NewString("attach", "exec", "proxy", "log", "portforward"),
	)

	etcdClient, err := etcdkubernetes.New(clientv3.Config{Endpoints: c.EtcdServers, DialTimeout: 20 * time.Second,
		DialKeepAliveTime: 30 * time.Second, DialKeepAliveTimeout: 10 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd: %w", err)
	}
	compactor := etcd3.NewCompactor(etcdClient.Client, storagebackend.DefaultCompactInterval, clock.RealClock{}, nil)

	serving := genericoptions.NewSecureServingOptions()
	serving.BindAddress = c.BindAddress
	serving.BindPort = c.SecurePort
	serving.Listener = c.Listener
	serving.ServerCert.CertKey = genericoptions.CertKey{CertFile: c.ServingCertFile, KeyFile: c.ServingKeyFile}
	if err := serving.ApplyTo(&cfg.SecureServing); err != nil {
		return nil, fmt.Errorf("configuring serving: %w", err)
	}
	if err := c.Audit.ApplyTo(&cfg.Config); err != nil {
		return nil, fmt.Errorf("configuring audit: %w", err)
	}
	if err := applyLoopback(&cfg.Config); err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg.LoopbackClientConfig)
	if err != nil {
		return nil, fmt.Errorf("creating the loopback client: %w", err)
	}
	cfg.SharedInformerFactory = informers.NewSharedInformerFactory(client, 10*time.Minute)
	tokens, saAuthenticator, err := c.serviceAccountTokens(client, cfg.SharedInformerFactory)
	if err != nil {
		return nil, err
	}
	if tokens.Authenticator, err = c.applyAuthentication(&cfg.Config, saAuthenticator); err != nil {
		return nil, err
	}
	rbacInformers := cfg.SharedInformerFactory.Rbac().V1()
	rbacAuthz := rbac.New(rbac.Listers{
		Roles: rbacInformers.Roles().Lister(), RoleBindings: rbacInformers.RoleBindings().Lister(),
		ClusterRoles: rbacInformers.ClusterRoles().Lister(), ClusterRoleBindings: rbacInformers.ClusterRoleBindings().Lister(),
	})
	authz, err := newAuthorizer(rbacAuthz, authorizer.AuthorizerFunc(newNodeAuthorizer(client).Authorize), c.AlwaysAllow)
	if err != nil {
		return nil, err
	}
	cfg.Authorization.Authorizer = authz
	genericapiserver.AuthorizeClientBearerToken(cfg.LoopbackClientConfig, &cfg.Authentication, &cfg.Authorization)

	namerScheme := runtime.NewScheme()
	if err := builtin.AddExternalToScheme(namerScheme); err != nil {
		return nil, err
	}
	metav1.AddToGroupVersion(namerScheme, schema.GroupVersion{Version: "v1"})
	namer := openapinamer.NewDefinitionNamer(namerScheme, apiextensionsapiserver.Scheme)
	cfg.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openAPIDefinitions, namer)
	cfg.OpenAPIConfig.Info.Title = "Kubernetes"
	cfg.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openAPIDefinitions, namer)
	cfg.OpenAPIV3Config.Info.Title = "Kubernetes"
	// Installed by installOpenAPI, with /openapi/v3 built lazily.
	cfg.SkipOpenAPIInstallation = true

	ipStore := allocator.NewStore(etcdClient.Client, c.EtcdPrefix+"/skiff.dev/allocations/clusterips")
	portStore := allocator.NewStore(etcdClient.Client, c.EtcdPrefix+"/skiff.dev/allocations/nodeports")
	services := builtin.ServiceAllocators{
		IPs:       allocator.NewIPRange(c.ServiceClusterIPRange, ipStore),
		NodePorts: allocator.NewPortRange(c.ServiceNodePortRange.Base, c.ServiceNodePortRange.Size, portStore),
	}
	kubeletTransport, err := c.kubeletTransport()
	if err != nil {
		return nil, err
	}
	groups := builtin.Groups(builtin.Deps{Authorizer: authz, RuleResolver: rbacAuthz, Services: services, Tokens: tokens, Client: client,
		Kubelet: &builtin.KubeletClient{Transport: kubeletTransport, Client: client}})
	resourceConfig := serverstorage.NewResourceConfig()
	for _, g := range groups {
		for _, v := range g.Versions {
			resourceConfig.EnableVersions(v.GroupVersion)
		}
	}
	cfg.MergedResourceConfig = resourceConfig

	etcdOpts := genericoptions.NewEtcdOptions(storagebackend.NewDefaultConfig(c.EtcdPrefix, nil))
	etcdOpts.StorageConfig.Transport.ServerList = c.EtcdServers
	storageFactory := serverstorage.NewDefaultStorageFactory(etcdOpts.StorageConfig, runtime.ContentTypeProtobuf, Codecs,
		serverstorage.NewDefaultResourceEncodingConfig(Scheme), resourceConfig, nil)
	// events.k8s.io/v1 events are core/v1 events seen through another API.
	storageFactory.AddCohabitatingResources(schema.GroupResource{Resource: "events"}, schema.GroupResource{Group: "events.k8s.io", Resource: "events"})
	if err := etcdOpts.ApplyWithStorageFactoryTo(storageFactory, &cfg.Config); err != nil {
		return nil, fmt.Errorf("configuring storage: %w", err)
	}
	cfg.RESTOptionsGetter = sharedStorage{RESTOptionsGetter: cfg.RESTOptionsGetter, client: etcdClient, compactor: compactor}

	// One aggregated discovery document for built-in and custom resources.
	cfg.AggregatedDiscoveryGroupManager = aggregated.NewResourceManager("apis")

	resolver, err := newEndpointResolver(cfg.SharedInformerFactory)
	if err != nil {
		return nil, err
	}
	// The plugin names only serve the unversioned files of ImagePolicyWebhook
	// and PodNodeSelector, plugins skiff does not have.
	admissionConfig, err := admission.ReadAdmissionConfiguration(nil, c.AdmissionConfigFile, admissionConfigScheme)
	if err != nil {
		return nil, fmt.Errorf("--admission-control-config-file: %w", err)
	}
	webhooks, err := newWebhookPlugins(client, cfg.SharedInformerFactory, authz, resolver, cfg.LoopbackClientConfig, cfg.DrainedNotify(), admissionConfig)
	if err != nil {
		return nil, err
	}
	admit, err := newAdmission(client, cfg.SharedInformerFactory, webhooks, c.DisabledAdmissionPlugins, admissionConfig)
	if err != nil {
		return nil, err
	}
	cfg.AdmissionControl = admit

	crdConfig, err := c.apiextensionsConfig(cfg, etcdOpts, sharedStorage{client: etcdClient, compactor: compactor}, resolver)
	if err != nil {
		return nil, err
	}
	crdServer, err := crdConfig.Complete().New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("creating the apiextensions server: %w", err)
	}

	generic, err := cfg.Complete().New("skiff-apiserver", crdServer.GenericAPIServer)
	if err != nil {
		return nil, fmt.Errorf("creating the API server: %w", err)
	}
	s := &Server{generic: generic, crd: crdServer, loopback: cfg.LoopbackClientConfig, config: c, etcdClient: etcdClient, compactor: compactor,
		openAPIConfig: cfg.OpenAPIConfig, openAPIV3Config: cfg.OpenAPIV3Config}
	if err := s.installGroups(groups, cfg.RESTOptionsGetter); err != nil {
		return nil, err
	}
	if err := s.installOpenAPI(); err != nil {
		return nil, err
	}
	if c.JoinToken != "" && c.ClusterSigningCertFile != "" {
		ca, err := certs.LoadCA(c.ClusterSigningCertFile, c.ClusterSigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the cluster signing CA: %w", err)
		}
		j := &joinHandlers{token: c.JoinToken, ca: ca}
		generic.Handler.NonGoRestfulMux.HandleFunc(JoinCAPath, j.serveCA)
		generic.Handler.NonGoRestfulMux.HandleFunc(JoinPath, j.serveJoin)
	}
	generic.AddPostStartHookOrDie("skiff-crd-openapi", s.runCRDOpenAPIControllers)
	generic.AddPostStartHookOrDie("start-apiserver-admission-initializer", func(ctx genericapiserver.PostStartHookContext) error {
		webhooks.resetRESTMapper(ctx)
		return nil
	})
	generic.AddPostStartHookOrDie("skiff-crd-discovery", s.runCRDGroupDiscovery)
	quiet := rest.CopyConfig(cfg.LoopbackClientConfig)
	quiet.WarningHandler = rest.NoWarnings{}
	bootstrapClient, err := kubernetes.NewForConfig(quiet)
	if err != nil {
		return nil, err
	}
	generic.AddPostStartHookOrDie("skiff-bootstrap", func(ctx genericapiserver.PostStartHookContext) error {
		return bootstrap(ctx, bootstrapClient, c)
	})
	generic.AddPostStartHookOrDie("skiff-service-allocation-repair", func(ctx genericapiserver.PostStartHookContext) error {
		go allocator.RunRepair(ctx, time.Minute, ipStore, serviceIPHoldings(client))
		go allocator.RunRepair(ctx, time.Minute, portStore, nodePortHoldings(client))
		return nil
	})
	return s, nil
}

// applyLoopback gives in-process clients a private certificate, served
// for the loopback server name, and a config with a fresh bearer token
// (authorized as system:masters by AuthorizeClientBearerToken), as
// SecureServingOptionsWithLoopback does, but with a fast ECDSA key.
func applyLoopback(cfg *genericapiserver.Config) error {
	certPEM, keyPEM, err := certs.SelfSignedPEM(genericapiserver.LoopbackClientServerNameOverride, 365*24*time.Hour)
	if err != nil {
		return fmt.Errorf("creating the loopback certificate: %w", err)
	}
	provider, err := dynamiccertificates.NewStaticSNICertKeyContent("self-signed loopback", certPEM, keyPEM, genericapiserver.LoopbackClientServerNameOverride)
	if err != nil {
		return err
	}
	cfg.SecureServing.SNICerts = append([]dynamiccertificates.SNICertKeyContentProvider{provider}, cfg.SecureServing.SNICerts...)
	loopback, err := cfg.SecureServing.NewLoopbackClientConfig(uuid.New().String(), certPEM)
	if err != nil {
		return fmt.Errorf("creating the loopback client config: %w", err)
	}
	cfg.LoopbackClientConfig = loopback
	return nil
}

func openAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := openapi.GetOpenAPIDefinitions(ref)
	for k, v := range extensionsopenapi.GetOpenAPIDefinitions(ref) {
		defs[k] = v
	}
	return defs
}

// admissionConfigScheme decodes AdmissionConfiguration files
// (apiserver.config.k8s.io and apiserver.k8s.io), as kube-apiserver's.
var admissionConfigScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(apiserverconfig.AddToScheme(s))
	utilruntime.Must(apiserverconfigv1alpha1.AddToScheme(s))
	utilruntime.Must(apiserverconfigv1.AddToScheme(s))
	return s
}()

func newAdmission(client kubernetes.Interface, factory informers.SharedInformerFactory, webhooks webhookPlugins, disabled []string, config admission.ConfigProvider) (admission.Interface, error) {
	lc, err := lifecycle.NewLifecycle(sets.New(metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic))
	if err != nil {
		return nil, err
	}
	lc.SetExternalKubeInformerFactory(factory)
	lc.SetExternalKubeClientSet(client)
	if err := lc.ValidateInitialization(); err != nil {
		return nil, err
	}
	off := map[string]bool{}
	for _, name := range disabled {
		off[name] = true
	}
	chain := []skiffadmission.Named{{Name: lifecycle.PluginName, Plugin: lc}}
	plugins, err := skiffadmission.Plugins(client, skiffadmission.Listers{
		Namespaces:      factory.Core().V1().Namespaces().Lister(),
		LimitRanges:     factory.Core().V1().LimitRanges().Lister(),
		ServiceAccounts: factory.Core().V1().ServiceAccounts().Lister(),
		PriorityClasses: factory.Scheduling().V1().PriorityClasses().Lister(),
		StorageClasses:  factory.Storage().V1().StorageClasses().Lister(),
		IngressClasses:  factory.Networking().V1().IngressClasses().Lister(),
	}, off, config)
	if err != nil {
		return nil, err
	}
	chain = append(chain, plugins...)
	// As kube-apiserver's order: policies and webhooks after the built-in
	// plugins, mutating before validating.
	for _, p := range []skiffadmission.Named{
		{Name: mutatingpolicy.PluginName, Plugin: webhooks.mutatingPolicy},
		{Name: mutatingwebhook.PluginName, Plugin: webhooks.mutating},
		{Name: validatingpolicy.PluginName, Plugin: webhooks.policy},
		{Name: validatingwebhook.PluginName, Plugin: webhooks.validating},
	} {
		if !off[p.Name] {
			chain = append(chain, p)
		}
	}
	return chainPlugins(chain)
}

func (s *Server) installGroups(groups []builtin.Group, optsGetter genericRESTOptionsGetter) error {
	var named []*genericapiserver.APIGroupInfo
	for _, g := range groups {
		// The scheme's own parameter codec also reads the subresources'
		// options (pods/log, exec, attach, portforward) from the query.
		info := genericapiserver.NewDefaultAPIGroupInfo(g.Name, Scheme, runtime.NewParameterCodec(Scheme), Codecs)
		info.PrioritizedVersions = nil
		for _, v := range g.Versions {
			storage := map[string]restStorage{}
			for _, res := range v.Resources {
				st, err := registry.NewStorage(res, Scheme, optsGetter)
				if err != nil {
					return err
				}
				for k, v := range st {
					storage[k] = v
				}
			}
			info.VersionedResourcesStorageMap[v.GroupVersion.Version] = storage
			info.PrioritizedVersions = append(info.PrioritizedVersions, v.GroupVersion)
		}
		if g.Name == "" {
			if err := s.generic.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &info); err != nil {
				return fmt.Errorf("installing the core API group: %w", err)
			}
			continue
		}
		named = append(named, &info)
	}
	// One call builds one OpenAPI model and type converter for all groups.
	if err := s.generic.InstallAPIGroups(named...); err != nil {
		return fmt.Errorf("installing API groups: %w", err)
	}
	return nil
}

// apiextensionsConfig derives the CRD server's configuration from the main
// one, as kube-apiserver does: same serving, auth and admission; its own
// scheme, storage codec and resources.
func (c CompletedConfig) apiextensionsConfig(main *genericapiserver.RecommendedConfig, etcdOpts *genericoptions.EtcdOptions, shared sharedStorage,
	resolver webhook.ServiceResolver) (*apiextensionsapiserver.Config, error) {
	generic := main.Config
	generic.PostStartHooks = map[string]genericapiserver.PostStartHookConfigEntry{}
	generic.RESTOptionsGetter = nil
	generic.MergedResourceConfig = apiextensionsapiserver.DefaultAPIResourceConfigSource()

	crdEtcd := *etcdOpts
	crdEtcd.StorageConfig.Codec = apiextensionsapiserver.Codecs.LegacyCodec(apiextensionsv1beta1.SchemeGroupVersion, apiextensionsv1.SchemeGroupVersion)
	crdEtcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(apiextensionsv1beta1.SchemeGroupVersion, schema.GroupKind{Group: apiextensionsv1beta1.GroupName})
	crdEtcd.SkipHealthEndpoints = true
	if err := crdEtcd.ApplyTo(&generic); err != nil {
		return nil, fmt.Errorf("configuring CRD storage: %w", err)
	}
	crdShared, extShared := shared, shared
	extShared.RESTOptionsGetter = generic.RESTOptionsGetter
	generic.RESTOptionsGetter = extShared
	// Its OpenAPI is published by the main server (publishAPIExtensionsOpenAPI).
	generic.SkipOpenAPIInstallation = true
	return &apiextensionsapiserver.Config{
		GenericConfig: &genericapiserver.RecommendedConfig{Config: generic, SharedInformerFactory: main.SharedInformerFactory},
		ExtraConfig: apiextensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: withGetter(crdShared, apiextensionsoptions.NewCRDRESTOptionsGetter(crdEtcd, generic.ResourceTransformers, generic.StorageObjectCountTracker)),
			MasterCount:          1,
			AuthResolverWrapper:  authResolverWrapper(main.LoopbackClientConfig),
			ServiceResolver:      resolver,
		},
	}, nil
}

// runCRDOpenAPIControllers publishes CRD schemas in the main server's
// /openapi/v2 and /openapi/v3, which is the one clients reach.
func (s *Server) runCRDOpenAPIControllers(ctx genericapiserver.PostStartHookContext) error {
	crdInformer := s.crd.Informers.Apiextensions().V1().CustomResourceDefinitions()
	if err := s.publishAPIExtensionsOpenAPI(); err != nil {
		return err
	}
	if err := s.openAPIV2.watchCRDs(crdInformer.Informer(), crdInformer.Lister().List); err != nil {
		return err
	}
	if s.generic.OpenAPIV3VersionedService != nil {
		go crdopenapiv3.NewController(crdInformer).Run(s.generic.OpenAPIV3VersionedService, ctx.Done())
	}
	return nil
}

// Handler returns the server's HTTP handler (tests and in-process use).
func (s *Server) Handler() http.Handler { return s.generic.Handler }

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	klog.FromContext(ctx).Info("Starting the API server", "address", s.config.BindAddress, "port", s.config.SecurePort)
	err := s.generic.PrepareRun().RunWithContext(ctx)
	// Storage is shut down with the server; the shared client goes last.
	s.compactor.Stop()
	if cerr := s.etcdClient.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("closing the etcd client: %w", cerr)
	}
	return err
}

func withGetter(s sharedStorage, getter genericRESTOptionsGetter) sharedStorage {
	s.RESTOptionsGetter = getter
	return s
}
