package apiserver

import (
	"fmt"
	"sync"

	restful "github.com/emicklei/go-restful/v3"
	builder3 "k8s.io/kube-openapi/pkg/builder3"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/common/restfuladapter"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
)

// publishAPIExtensionsOpenAPI adds the apiextensions.k8s.io API to the
// main server's /openapi/v3, which clients read (upstream, the aggregator
// merges the two servers' documents); /openapi/v2 includes it already.
func (s *Server) publishAPIExtensionsOpenAPI() error {
	for _, ws := range s.crd.GenericAPIServer.Handler.GoRestfulContainer.RegisteredWebServices() {
		gv := ws.RootPath()[1:]
		doc, err := builder3.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices([]*restful.WebService{ws}), s.openAPIV3Config)
		if err != nil {
			return fmt.Errorf("building OpenAPI v3 for %s: %w", gv, err)
		}
		s.generic.OpenAPIV3VersionedService.UpdateGroupVersion(gv, doc)
	}
	return nil
}

// installOpenAPI serves /openapi/v2 and /openapi/v3, each document built
// on its first request instead of at start-up (saves start time and the
// ~15 MiB of heap they take, which idle servers never use).
func (s *Server) installOpenAPI() error {
	container := s.generic.Handler.GoRestfulContainer
	mux := s.generic.Handler.NonGoRestfulMux
	s.openAPIV2 = s.newOpenAPIV2()
	s.openAPIV2.service.RegisterOpenAPIVersionedService("/openapi/v2", mux)
	s.generic.OpenAPIVersionedService = s.openAPIV2.service
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
