package apiserver

import (
	"fmt"
	"sync"

	"github.com/google/uuid"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdopenapibuilder "k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
	builder2 "k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/cached"
	"k8s.io/kube-openapi/pkg/common/restfuladapter"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// openAPIV2 serves /openapi/v2: the built-in and apiextensions routes plus
// every served CRD version, built when a client first asks and rebuilt
// only after a CRD changes. (Upstream builds the static part at start and
// keeps it in memory for good; few clients read v2 any more.)
type openAPIV2 struct {
	service *handler.OpenAPIService
	static  func() (*spec.Swagger, error)

	mu   sync.Mutex
	crds func(labels.Selector) ([]*apiextensionsv1.CustomResourceDefinition, error)
}

func (s *Server) newOpenAPIV2() *openAPIV2 {
	static := sync.OnceValues(func() (*spec.Swagger, error) {
		routes := restfuladapter.AdaptWebServices(s.generic.Handler.GoRestfulContainer.RegisteredWebServices())
		base, err := builder2.BuildOpenAPISpecFromRoutes(routes, s.openAPIConfig)
		if err != nil {
			return nil, fmt.Errorf("building OpenAPI v2: %w", err)
		}
		ext, err := builder2.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices(s.crd.GenericAPIServer.Handler.GoRestfulContainer.RegisteredWebServices()), s.openAPIConfig)
		if err != nil {
			return nil, fmt.Errorf("building OpenAPI v2 for apiextensions: %w", err)
		}
		merged, err := crdopenapibuilder.MergeSpecs(base, ext)
		if err != nil {
			return nil, err
		}
		merged.Definitions = handler.PruneDefaults(merged.Definitions)
		return merged, nil
	})
	o := &openAPIV2{static: static}
	o.service = handler.NewOpenAPIServiceLazy(o.document())
	return o
}

// document is the lazily built, cached v2 document for the current CRDs.
func (o *openAPIV2) document() cached.Value[*spec.Swagger] {
	etag := uuid.New().String()
	build := sync.OnceValues(func() (*spec.Swagger, error) {
		doc, err := o.static()
		if err != nil {
			return nil, err
		}
		o.mu.Lock()
		list := o.crds
		o.mu.Unlock()
		if list == nil {
			return doc, nil
		}
		crds, err := list(labels.Everything())
		if err != nil {
			return nil, err
		}
		var specs []*spec.Swagger
		for _, crd := range crds {
			for _, v := range crd.Spec.Versions {
				if !v.Served {
					continue
				}
				s, err := crdopenapibuilder.BuildOpenAPIV2(crd, v.Name, crdopenapibuilder.Options{V2: true, IncludeSelectableFields: true})
				if err != nil {
					klog.ErrorS(err, "Building the OpenAPI v2 of a CRD", "crd", crd.Name, "version", v.Name)
					continue
				}
				s.Definitions = handler.PruneDefaults(s.Definitions)
				specs = append(specs, s)
			}
		}
		return crdopenapibuilder.MergeSpecs(doc, specs...)
	})
	return cached.Func(func() (*spec.Swagger, string, error) {
		doc, err := build()
		return doc, etag, err
	})
}

// watchCRDs rebuilds the document (lazily) whenever a CRD changes.
func (o *openAPIV2) watchCRDs(informer cache.SharedIndexInformer, list func(labels.Selector) ([]*apiextensionsv1.CustomResourceDefinition, error)) error {
	o.mu.Lock()
	o.crds = list
	o.mu.Unlock()
	changed := func(any) { o.service.UpdateSpecLazy(o.document()) }
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    changed,
		UpdateFunc: func(_, obj any) { changed(obj) },
		DeleteFunc: changed,
	})
	return err
}
