package apiserver

import (
	"sort"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/endpoints/discovery"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// crdGroupDiscovery lists the apiextensions group and the groups of
// served CRDs in the unaggregated /apis document, which the main server
// otherwise fills with its built-in groups only (upstream, the aggregator
// merges them). Aggregated discovery already includes them.
type crdGroupDiscovery struct {
	groups discovery.GroupManager
	mu     sync.Mutex
	known  map[string]bool
}

func (s *Server) runCRDGroupDiscovery(ctx genericapiserver.PostStartHookContext) error {
	d := &crdGroupDiscovery{groups: s.generic.DiscoveryGroupManager, known: map[string]bool{}}
	ext := apiextensionsv1.SchemeGroupVersion
	gv := metav1.GroupVersionForDiscovery{GroupVersion: ext.String(), Version: ext.Version}
	d.groups.AddGroup(metav1.APIGroup{Name: ext.Group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv})

	informer := s.crd.Informers.Apiextensions().V1().CustomResourceDefinitions()
	lister := informer.Lister()
	sync := func(any) { d.sync(lister.List) }
	_, err := informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    sync,
		UpdateFunc: func(_, obj any) { sync(obj) },
		DeleteFunc: sync,
	})
	return err
}

// sync recomputes the CRD groups from all CRDs: each served version,
// most preferred first by Kubernetes version order.
func (d *crdGroupDiscovery) sync(list func(labels.Selector) ([]*apiextensionsv1.CustomResourceDefinition, error)) {
	crds, err := list(labels.Everything())
	if err != nil {
		klog.ErrorS(err, "Listing CRDs for discovery")
		return
	}
	versions := map[string]map[string]bool{}
	for _, crd := range crds {
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			if versions[crd.Spec.Group] == nil {
				versions[crd.Spec.Group] = map[string]bool{}
			}
			versions[crd.Spec.Group][v.Name] = true
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for group := range d.known {
		if versions[group] == nil {
			d.groups.RemoveGroup(group)
			delete(d.known, group)
		}
	}
	for group, vs := range versions {
		names := make([]string, 0, len(vs))
		for v := range vs {
			names = append(names, v)
		}
		sort.Slice(names, func(i, j int) bool { return version.CompareKubeAwareVersionStrings(names[i], names[j]) > 0 })
		g := metav1.APIGroup{Name: group}
		for _, v := range names {
			g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v, Version: v})
		}
		g.PreferredVersion = g.Versions[0]
		d.groups.AddGroup(g)
		d.known[group] = true
	}
}
