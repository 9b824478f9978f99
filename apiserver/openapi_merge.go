package apiserver

import (
	"fmt"
	"sync"

	restful "github.com/emicklei/go-restful/v3"
	"k8s.io/apiserver/pkg/server/routes"
	"k8s.io/kube-openapi/pkg/aggregator"
	builder2 "k8s.io/kube-openapi/pkg/builder"
	builder3 "k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/common/restfuladapter"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// publishAPIExtensionsOpenAPI adds the apiextensions.k8s.io API to the
// main server's /openapi/v2 and /openapi/v3, which clients read (upstream,
// the aggregator merges the two servers' documents). It returns the merged
// v2 document, the base onto which CRD schemas are added.
func (s *Server) publishAPIExtensionsOpenAPI() (*spec.Swagger, error) {
	services := s.crd.GenericAPIServer.Handler.GoRestfulContainer.RegisteredWebServices()
	for _, ws := range services {
		gv := ws.RootPath()[1:]
		doc, err := builder3.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices([]*restful.WebService{ws}), s.openAPIV3Config)
		if err != nil {
			return nil, fmt.Errorf("building OpenAPI v3 for %s: %w", gv, err)
		}
		s.generic.OpenAPIV3VersionedService.UpdateGroupVersion(gv, doc)
	}

	ext, err := builder2.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices(services), s.openAPIConfig)
	if err != nil {
		return nil, fmt.Errorf("building OpenAPI v2 for apiextensions: %w", err)
	}
	// A copy: the served document may be being marshalled concurrently.
	base := s.generic.StaticOpenAPISpec
	merged := &spec.Swagger{VendorExtensible: base.VendorExtensible, SwaggerProps: base.SwaggerProps}
	merged.Paths = &spec.Paths{VendorExtensible: base.Paths.VendorExtensible, Paths: map[string]spec.PathItem{}}
	for k, v := range base.Paths.Paths {
		merged.Paths.Paths[k] = v
	}
	merged.Definitions = spec.Definitions{}
	for k, v := range base.Definitions {
		merged.Definitions[k] = v
	}
	merged.Parameters = map[string]spec.Parameter{}
	for k, v := range base.Parameters {
		merged.Parameters[k] = v
	}
	if err := aggregator.MergeSpecsIgnorePathConflictRenamingDefinitionsAndParameters(merged, ext); err != nil {
		return nil, fmt.Errorf("merging the apiextensions OpenAPI: %w", err)
	}
	if err := s.generic.OpenAPIVersionedService.UpdateSpec(merged); err != nil {
		return nil, err
	}
	return merged, nil
}

// installOpenAPI serves /openapi/v2, built now because CRD schemas are
// merged into it, and /openapi/v3, each group version built on its first
// request instead of at start-up (saves start time and ~8 MiB of heap
// that idle servers never use).
func (s *Server) installOpenAPI() error {
	container := s.generic.Handler.GoRestfulContainer
	mux := s.generic.Handler.NonGoRestfulMux
	s.generic.OpenAPIVersionedService, s.generic.StaticOpenAPISpec = routes.OpenAPI{Config: s.openAPIConfig}.InstallV2(container, mux)
	v3 := handler3.NewOpenAPIService()
	if err := v3.RegisterOpenAPIV3VersionedService("/openapi/v3", mux); err != nil {
		return fmt.Errorf("installing /openapi/v3: %w", err)
	}
	for _, ws := range container.RegisteredWebServices() {
		ws := ws
		build := sync.OnceValues(func() (*spec3.OpenAPI, error) {
			return builder3.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices([]*restful.WebService{ws}), s.openAPIV3Config)
		})
		v3.UpdateGroupVersionLazy(ws.RootPath()[1:], cached.Func(func() (*spec3.OpenAPI, string, error) {
			doc, err := build()
			return doc, "static", err
		}))
	}
	s.generic.OpenAPIV3VersionedService = v3
	return nil
}
