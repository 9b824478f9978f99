package registry

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Resource describes one served resource of a group version.
type Resource struct {
	// GroupVersion is the external group version the resource is served in.
	GroupVersion schema.GroupVersion
	// Name is the plural resource name ("pods").
	Name string
	// Singular is the singular resource name ("pod").
	Singular string
	// Kind is the kind of the objects ("Pod").
	Kind string
	// Namespaced tells whether objects live in a namespace.
	Namespaced bool
	// ShortNames and Categories are reported in discovery (kubectl get po, kubectl get all).
	ShortNames []string
	Categories []string

	New     func() runtime.Object
	NewList func() runtime.Object

	// ValidateName checks metadata.name; nil means a DNS-1123 subdomain.
	ValidateName func(name string, prefix bool) []string
	// Validate and ValidateUpdate check the type-specific rules of a
	// (defaulted) object; object metadata is checked by the strategy.
	Validate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate func(obj, old runtime.Object) field.ErrorList
	// PrepareForCreate and PrepareForUpdate clear or carry over
	// server-owned fields before validation.
	PrepareForCreate func(ctx context.Context, obj runtime.Object)
	PrepareForUpdate func(ctx context.Context, obj, old runtime.Object)
	// Warnings returns warnings for a created or updated object.
	Warnings func(obj runtime.Object) []string

	// SelectableFields adds type-specific field selector keys
	// (spec.nodeName for pods); metadata.name/namespace are always there.
	SelectableFields func(obj runtime.Object) fields.Set

	// Columns and Row make the kubectl get table. Row returns one cell per
	// column. Without them, the table has NAME and AGE only.
	Columns []metav1.TableColumnDefinition
	Row     func(obj runtime.Object) ([]any, error)

	// Status splits the object into spec and status: the main resource
	// ignores status changes, a status subresource is served that changes
	// only status, and metadata.generation counts spec changes.
	Status bool
	// NoGeneration keeps metadata.generation unset (namespaces, services).
	NoGeneration bool
	// KeepStatusOnCreate keeps the status a client creates the object
	// with (nodes report theirs when they register).
	KeepStatusOnCreate bool

	// ValidateStatus checks an update through the status subresource.
	ValidateStatus func(obj, old runtime.Object) field.ErrorList

	// Scale serves the scale subresource (autoscaling/v1 Scale).
	Scale *ScaleAccess

	// GracefulDelete reports whether a delete is graceful, setting
	// options.GracePeriodSeconds when it is (pods).
	GracefulDelete func(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool

	// GarbageCollectionPolicy is the default propagation of deletes;
	// empty means background (upstream's default for most resources).
	GarbageCollectionPolicy rest.GarbageCollectionPolicy

	// Extra returns additional subresources (pods/binding,
	// namespaces/finalize) given the main store.
	Extra func(store *Store) (map[string]rest.Storage, error)

	// Storage replaces the main resource's storage, wrapping the store
	// (namespaces, whose delete marks them Terminating).
	Storage func(store *Store) rest.Storage

	// BeginCreate, BeginUpdate and AfterDelete are the store's hooks
	// (allocating and releasing Service cluster IPs and node ports).
	BeginCreate genericregistry.BeginCreateFunc
	BeginUpdate genericregistry.BeginUpdateFunc
	AfterDelete genericregistry.AfterDeleteFunc
	// ShouldDeleteDuringUpdate, when set, decides whether an update that
	// leaves a deleted object without finalizers removes it; by default
	// only metadata.finalizers count (namespaces also wait for
	// spec.finalizers).
	ShouldDeleteDuringUpdate func(ctx context.Context, key string, obj, existing runtime.Object) bool

	// Virtual marks a resource without storage (SubjectAccessReview):
	// Extra must return its storage under the key "".
	Virtual bool
}

// ScaleAccess reads and writes the replica count of a scalable resource.
type ScaleAccess struct {
	// Get returns spec.replicas, status.replicas and the label selector in
	// string form.
	Get func(obj runtime.Object) (specReplicas, statusReplicas int32, selector string)
	// Set writes spec.replicas.
	Set func(obj runtime.Object, replicas int32)
}

// GroupResource returns the resource's group and plural name.
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.GroupVersion.Group, Resource: r.Name}
}
