package registry

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Store is the etcd-backed storage of one resource.
type Store struct {
	*genericregistry.Store
	res *Resource
}

var (
	_ rest.ShortNamesProvider   = &Store{}
	_ rest.CategoriesProvider   = &Store{}
	_ rest.SingularNameProvider = &Store{}
)

// ShortNames implements rest.ShortNamesProvider.
func (s *Store) ShortNames() []string { return s.res.ShortNames }

// Categories implements rest.CategoriesProvider.
func (s *Store) Categories() []string { return s.res.Categories }

// Resource returns the description the store was built from.
func (s *Store) Resource() *Resource { return s.res }

// NewStorage builds the storage of res and its subresources, keyed as the
// API installer expects ("pods", "pods/status", ...).
func NewStorage(res *Resource, scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
	out := map[string]rest.Storage{}
	if res.Virtual {
		extra, err := res.Extra(nil)
		if err != nil {
			return nil, err
		}
		for k, v := range extra {
			if k == "" {
				out[res.Name] = v
			} else {
				out[res.Name+"/"+k] = v
			}
		}
		return out, nil
	}
	store, err := NewStore(res, scheme, optsGetter)
	if err != nil {
		return nil, err
	}
	if res.Storage != nil {
		out[res.Name] = res.Storage(store)
	} else {
		out[res.Name] = store
	}
	if res.Status {
		out[res.Name+"/status"] = newStatusREST(store)
	}
	if res.Scale != nil {
		out[res.Name+"/scale"] = &ScaleREST{store: store}
	}
	if res.Extra != nil {
		extra, err := res.Extra(store)
		if err != nil {
			return nil, err
		}
		for k, v := range extra {
			out[res.Name+"/"+k] = v
		}
	}
	return out, nil
}

// NewStore builds the etcd-backed store of res.
func NewStore(res *Resource, scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*Store, error) {
	strat := newStrategy(scheme, res)
	gr := res.GroupResource()
	store := &genericregistry.Store{
		NewFunc:                   res.New,
		NewListFunc:               res.NewList,
		DefaultQualifiedResource:  gr,
		SingularQualifiedResource: schema.GroupResource{Group: gr.Group, Resource: res.Singular},
		PredicateFunc:             predicateFunc(res),
		CreateStrategy:            strat,
		UpdateStrategy:            strat,
		DeleteStrategy:            strat,
		ResetFieldsStrategy:       strat,
		TableConvertor:            newTableConvertor(res),
		ReturnDeletedObject:       res.GracefulDelete != nil,
		BeginCreate:               res.BeginCreate,
		BeginUpdate:               res.BeginUpdate,
		AfterDelete:               res.AfterDelete,
		ShouldDeleteDuringUpdate:  res.ShouldDeleteDuringUpdate,
	}
	opts := &generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: attrFunc(res)}
	if err := store.CompleteWithOptions(opts); err != nil {
		return nil, fmt.Errorf("building storage for %s: %w", gr, err)
	}
	return &Store{Store: store, res: res}, nil
}

// GetAttrs returns the labels and selectable fields of an object of res.
func (r *Resource) GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	return attrFunc(r)(obj)
}

func attrFunc(res *Resource) func(runtime.Object) (labels.Set, fields.Set, error) {
	return func(obj runtime.Object) (labels.Set, fields.Set, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil, err
		}
		f := fields.Set{"metadata.name": m.GetName()}
		if res.Namespaced {
			f["metadata.namespace"] = m.GetNamespace()
		}
		if res.SelectableFields != nil {
			for k, v := range res.SelectableFields(obj) {
				f[k] = v
			}
		}
		return labels.Set(m.GetLabels()), f, nil
	}
}

func predicateFunc(res *Resource) func(labels.Selector, fields.Selector) storageSelectionPredicate {
	return func(l labels.Selector, f fields.Selector) storageSelectionPredicate {
		return newPredicate(l, f, attrFunc(res))
	}
}

// StatusREST serves the status subresource: get, update and patch of status.
type StatusREST struct {
	store *genericregistry.Store
}

func newStatusREST(s *Store) *StatusREST {
	statusStore := *s.Store
	st := statusStrategy{strategy: s.Store.UpdateStrategy.(*strategy)}
	statusStore.UpdateStrategy = st
	statusStore.ResetFieldsStrategy = st
	statusStore.CreateStrategy = nil
	statusStore.DeleteStrategy = nil
	return &StatusREST{store: &statusStore}
}

var (
	_ rest.Patcher = &StatusREST{}
)

// New implements rest.Storage.
func (r *StatusREST) New() runtime.Object { return r.store.New() }

// Destroy implements rest.Storage; the main store owns the backend.
func (r *StatusREST) Destroy() {}

// Get implements rest.Getter.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update implements rest.Updater; only status changes are kept.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Subresources never create their parent.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields implements rest.ResetFieldsStrategy.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable implements rest.TableConvertor.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}

// WithUpdatePreparer returns a copy of the store whose updates skip the
// resource's spec/status split and run prepare instead, for writers that
// own other parts of the object than the main resource does
// (namespaces/finalize, marking a namespace Terminating).
//
// validate, when given, replaces the resource's update validation.
func (s *Store) WithUpdatePreparer(prepare func(ctx context.Context, obj, old runtime.Object), validate ...func(obj, old runtime.Object) field.ErrorList) *genericregistry.Store {
	cp := *s.Store
	st := preparerStrategy{strategy: s.Store.UpdateStrategy.(*strategy), prepare: prepare}
	if len(validate) > 0 {
		st.validate = validate[0]
	}
	cp.UpdateStrategy = st
	cp.ResetFieldsStrategy = nil
	return &cp
}

type preparerStrategy struct {
	*strategy
	prepare  func(ctx context.Context, obj, old runtime.Object)
	validate func(obj, old runtime.Object) field.ErrorList
}

func (s preparerStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	if s.validate != nil {
		return s.validate(obj, old)
	}
	return s.strategy.ValidateUpdate(ctx, obj, old)
}

func (s preparerStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	if s.prepare != nil {
		s.prepare(ctx, obj, old)
	}
}
