package v1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/apis/fieldselector"
	"github.com/skiffhq/skiff/apis/internalversion"
)

// Install registers core/v1 (external and internal), its defaults and its
// field selectors in scheme.
func Install(scheme *runtime.Scheme) error {
	if err := corev1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := internalversion.Register(scheme, corev1.SchemeGroupVersion); err != nil {
		return err
	}
	if err := addOptionsConversions(scheme); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&corev1.Pod{}, func(o any) { SetDefaultsPod(o.(*corev1.Pod)) })
	scheme.AddTypeDefaultingFunc(&corev1.PodTemplate{}, func(o any) { SetDefaultsPodTemplateSpec(&o.(*corev1.PodTemplate).Template) })
	scheme.AddTypeDefaultingFunc(&corev1.Service{}, func(o any) { SetDefaultsService(o.(*corev1.Service)) })
	scheme.AddTypeDefaultingFunc(&corev1.Secret{}, func(o any) { SetDefaultsSecret(o.(*corev1.Secret)) })
	scheme.AddTypeDefaultingFunc(&corev1.Endpoints{}, func(o any) { SetDefaultsEndpoints(o.(*corev1.Endpoints)) })
	scheme.AddTypeDefaultingFunc(&corev1.Namespace{}, func(o any) { SetDefaultsNamespace(o.(*corev1.Namespace)) })
	scheme.AddTypeDefaultingFunc(&corev1.Node{}, func(o any) { SetDefaultsNode(o.(*corev1.Node)) })
	scheme.AddTypeDefaultingFunc(&corev1.PersistentVolumeClaim{}, func(o any) { SetDefaultsPersistentVolumeClaim(o.(*corev1.PersistentVolumeClaim)) })
	scheme.AddTypeDefaultingFunc(&corev1.LimitRange{}, func(o any) { SetDefaultsLimitRange(o.(*corev1.LimitRange)) })
	scheme.AddTypeDefaultingFunc(&corev1.PersistentVolume{}, func(o any) { SetDefaultsPersistentVolume(o.(*corev1.PersistentVolume)) })

	gv := corev1.SchemeGroupVersion
	for _, f := range []struct {
		kind    string
		example runtime.Object
		fields  func(runtime.Object) fields.Set
	}{
		{"Pod", &corev1.Pod{}, PodFields},
		{"Event", &corev1.Event{}, EventFields},
		{"Namespace", &corev1.Namespace{}, NamespaceFields},
		{"Secret", &corev1.Secret{}, SecretFields},
		{"Node", &corev1.Node{}, NodeFields},
		{"Service", &corev1.Service{}, ServiceFields},
	} {
		if err := fieldselector.Register(scheme, gv.WithKind(f.kind), f.example, f.fields); err != nil {
			return err
		}
	}
	return scheme.SetVersionPriority(gv)
}
