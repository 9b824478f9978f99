package registry

import (
	"context"
	"reflect"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// strategy implements the create, update and delete strategies of a
// Resource for genericregistry.Store.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	res *Resource
}

func newStrategy(typer runtime.ObjectTyper, res *Resource) *strategy {
	return &strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, res: res}
}

func (s *strategy) NamespaceScoped() bool { return s.res.Namespaced }

func (s *strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	if s.res.Status {
		if !s.res.KeepStatusOnCreate {
			setField(obj, "Status", nil)
		}
		if !s.res.NoGeneration {
			if m, err := meta.Accessor(obj); err == nil {
				m.SetGeneration(1)
			}
		}
	}
	if s.res.PrepareForCreate != nil {
		s.res.PrepareForCreate(ctx, obj)
	}
}

func (s *strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	if s.res.Status {
		setField(obj, "Status", fieldOf(old, "Status"))
		if !s.res.NoGeneration {
			bumpGenerationOnSpecChange(obj, old)
		}
	}
	if s.res.PrepareForUpdate != nil {
		s.res.PrepareForUpdate(ctx, obj, old)
	}
}

func (s *strategy) validateName() apivalidation.ValidateNameFunc {
	if s.res.ValidateName != nil {
		return s.res.ValidateName
	}
	return apivalidation.NameIsDNSSubdomain
}

func (s *strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	errs := apivalidation.ValidateObjectMetaAccessor(m, s.res.Namespaced, s.validateName(), field.NewPath("metadata"))
	if s.res.Validate != nil {
		errs = append(errs, s.res.Validate(obj)...)
	}
	return errs
}

func (s *strategy) WarningsOnCreate(ctx context.Context, obj runtime.Object) []string {
	if s.res.Warnings != nil {
		return s.res.Warnings(obj)
	}
	return nil
}

func (s *strategy) Canonicalize(obj runtime.Object) {}

func (s *strategy) AllowCreateOnUpdate(ctx context.Context) bool { return false }

func (s *strategy) AllowUnconditionalUpdate(ctx context.Context) bool { return true }

// ValidateUpdate checks the type-specific rules; rest.BeforeUpdate already
// validates object metadata and its immutable fields for every resource.
func (s *strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	switch {
	case s.res.ValidateUpdate != nil:
		return s.res.ValidateUpdate(obj, old)
	case s.res.Validate != nil:
		return s.res.Validate(obj)
	}
	return nil
}

func (s *strategy) WarningsOnUpdate(ctx context.Context, obj, old runtime.Object) []string {
	return s.WarningsOnCreate(ctx, obj)
}

// GetResetFields tells server-side apply which fields the main resource
// does not own: status, when a status subresource exists.
func (s *strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.res.Status {
		return nil
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(s.res.GroupVersion.String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (s *strategy) DefaultGarbageCollectionPolicy(ctx context.Context) rest.GarbageCollectionPolicy {
	if s.res.GarbageCollectionPolicy != "" {
		return s.res.GarbageCollectionPolicy
	}
	return rest.DeleteDependents
}

// CheckGracefulDelete implements rest.RESTGracefulDeleteStrategy.
func (s *strategy) CheckGracefulDelete(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	if s.res.GracefulDelete == nil {
		return false
	}
	return s.res.GracefulDelete(ctx, obj, options)
}

// statusStrategy updates only the status of an object: everything else is
// carried over from the stored object.
type statusStrategy struct {
	*strategy
}

func (s statusStrategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	for _, name := range []string{"Spec"} {
		if f := fieldOf(old, name); f.IsValid() {
			setField(obj, name, f)
		}
	}
	m, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 == nil && err2 == nil {
		// Status writers must not change what the main resource owns.
		m.SetGeneration(oldMeta.GetGeneration())
		m.SetLabels(oldMeta.GetLabels())
		m.SetFinalizers(oldMeta.GetFinalizers())
		m.SetOwnerReferences(oldMeta.GetOwnerReferences())
	}
}

// ValidateUpdate checks the new status, when the resource has rules for it.
func (s statusStrategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	if s.res.ValidateStatus != nil {
		return s.res.ValidateStatus(obj, old)
	}
	return nil
}

func (s statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(s.res.GroupVersion.String()): fieldpath.NewSet(
			fieldpath.MakePathOrDie("spec"),
			fieldpath.MakePathOrDie("metadata", "labels"),
		),
	}
}

// fieldOf returns the named top-level struct field of obj, or the zero
// Value when obj has none.
func fieldOf(obj runtime.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.Elem().FieldByName(name)
}

// setField sets the named field of obj to a deep copy of value, or to its
// zero value when value is nil or invalid.
func setField(obj runtime.Object, name string, value any) {
	f := fieldOf(obj, name)
	if !f.IsValid() || !f.CanSet() {
		return
	}
	rv, ok := value.(reflect.Value)
	if !ok || !rv.IsValid() {
		f.Set(reflect.Zero(f.Type()))
		return
	}
	// Copy so that new and old share no maps or slices.
	f.Set(deepCopyValue(rv))
}

// deepCopyValue copies a struct value using its generated DeepCopy method.
func deepCopyValue(v reflect.Value) reflect.Value {
	ptr := reflect.New(v.Type())
	ptr.Elem().Set(v)
	m := ptr.MethodByName("DeepCopy")
	if !m.IsValid() {
		return v
	}
	out := m.Call(nil)[0]
	return out.Elem()
}

func bumpGenerationOnSpecChange(obj, old runtime.Object) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return
	}
	oldMeta, err := meta.Accessor(old)
	if err != nil {
		return
	}
	newSpec, oldSpec := fieldOf(obj, "Spec"), fieldOf(old, "Spec")
	gen := oldMeta.GetGeneration()
	if newSpec.IsValid() && oldSpec.IsValid() && !equality.Semantic.DeepEqual(newSpec.Interface(), oldSpec.Interface()) {
		gen++
	}
	m.SetGeneration(gen)
}
