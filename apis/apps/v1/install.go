package v1

import (
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"strconv"

	"github.com/skiffhq/skiff/apis/fieldselector"
	"github.com/skiffhq/skiff/apis/internalversion"
)

// Install registers apps/v1 (external and internal) and its defaults in scheme.
func Install(scheme *runtime.Scheme) error {
	if err := appsv1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := internalversion.Register(scheme, appsv1.SchemeGroupVersion); err != nil {
		return err
	}
	scheme.AddTypeDefaultingFunc(&appsv1.Deployment{}, func(o any) { SetDefaultsDeployment(o.(*appsv1.Deployment)) })
	scheme.AddTypeDefaultingFunc(&appsv1.ReplicaSet{}, func(o any) { SetDefaultsReplicaSet(o.(*appsv1.ReplicaSet)) })
	scheme.AddTypeDefaultingFunc(&appsv1.StatefulSet{}, func(o any) { SetDefaultsStatefulSet(o.(*appsv1.StatefulSet)) })
	scheme.AddTypeDefaultingFunc(&appsv1.DaemonSet{}, func(o any) { SetDefaultsDaemonSet(o.(*appsv1.DaemonSet)) })
	if err := fieldselector.Register(scheme, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), &appsv1.ReplicaSet{}, ReplicaSetFields); err != nil {
		return err
	}
	return scheme.SetVersionPriority(appsv1.SchemeGroupVersion)
}

// ReplicaSetFields returns the field selector keys of a replica set.
func ReplicaSetFields(obj runtime.Object) fields.Set {
	return fields.Set{"status.replicas": strconv.Itoa(int(obj.(*appsv1.ReplicaSet).Status.Replicas))}
}
