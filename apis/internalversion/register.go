package internalversion

import (
	"fmt"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var metaPkgPath = reflect.TypeOf(metav1.ObjectMeta{}).PkgPath()

// RegisterKinds adds only the named kinds of gv to its internal version
// (autoscaling/v1: its Scale, while autoscaling/v2 owns the internal
// HorizontalPodAutoscaler).
func RegisterKinds(scheme *runtime.Scheme, gv schema.GroupVersion, kinds ...string) error {
	types := scheme.KnownTypes(gv)
	internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
	for _, kind := range kinds {
		t, ok := types[kind]
		if !ok {
			return fmt.Errorf("kind %s is not registered in %s", kind, gv)
		}
		scheme.AddKnownTypeWithName(internal.WithKind(kind), reflect.New(t).Interface().(runtime.Object))
	}
	return nil
}

// Register adds every object type already known in gv (other than the
// shared meta/v1 option and watch types) to gv's internal version.
func Register(scheme *runtime.Scheme, gv schema.GroupVersion) error {
	types := scheme.KnownTypes(gv)
	if len(types) == 0 {
		return fmt.Errorf("no types registered for %s", gv)
	}
	internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
	for kind, t := range types {
		if t.PkgPath() == metaPkgPath {
			continue
		}
		obj, ok := reflect.New(t).Interface().(runtime.Object)
		if !ok {
			return fmt.Errorf("type %s of kind %s is not a runtime.Object", t, kind)
		}
		scheme.AddKnownTypeWithName(internal.WithKind(kind), obj)
	}
	return nil
}

// Installer returns a scheme installer for a group version whose types
// need no defaults of skiff's own: it adds the external types, registers
// them as internal and makes gv the group's preferred version.
func Installer(addToScheme func(*runtime.Scheme) error, gv schema.GroupVersion) func(*runtime.Scheme) error {
	return func(scheme *runtime.Scheme) error {
		if err := addToScheme(scheme); err != nil {
			return err
		}
		if err := Register(scheme, gv); err != nil {
			return err
		}
		return scheme.SetVersionPriority(gv)
	}
}
