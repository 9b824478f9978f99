package builtin

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"

	corev1api "github.com/skiffhq/skiff/apis/core/v1"
	"github.com/skiffhq/skiff/apiserver/registry"
)

func init() { installers = append(installers, corev1api.Install) }

func coreGroup(deps Deps) Group {
	gv := corev1.SchemeGroupVersion
	return Group{Name: "", Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{
		{
			GroupVersion: gv, Name: "namespaces", Singular: "namespace", Kind: "Namespace", ShortNames: []string{"ns"},
			New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} },
			ValidateName:     apivalidation.ValidateNamespaceName,
			Validate:         func(o runtime.Object) field.ErrorList { return corev1api.ValidateNamespace(o.(*corev1.Namespace)) },
			PrepareForCreate: prepareNamespaceForCreate,
			PrepareForUpdate: func(_ context.Context, o, old runtime.Object) {
				// spec.finalizers changes only through namespaces/finalize.
				o.(*corev1.Namespace).Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
			},
			SelectableFields: corev1api.NamespaceFields,
			Columns:          corev1api.NamespaceColumns, Row: corev1api.NamespaceRow,
			Status: true, NoGeneration: true,
			GarbageCollectionPolicy: rest.OrphanDependents,
			Storage:                 func(s *registry.Store) rest.Storage { return &namespaceREST{namespaceStorage: s, store: s} },
			// A terminating namespace goes only once spec.finalizers
			// (the namespace controller's) are done too, whichever
			// update (status, finalize, metadata) comes last.
			ShouldDeleteDuringUpdate: func(ctx context.Context, key string, obj, existing runtime.Object) bool {
				ns := obj.(*corev1.Namespace)
				return len(ns.Spec.Finalizers) == 0 && genericregistry.ShouldDeleteDuringUpdate(ctx, key, obj, existing)
			},
			Extra: func(s *registry.Store) (map[string]rest.Storage, error) {
				return map[string]rest.Storage{"finalize": newFinalizeREST(s)}, nil
			},
		},
		{
			GroupVersion: gv, Name: "pods", Singular: "pod", Kind: "Pod", Namespaced: true,
			ShortNames: []string{"po"}, Categories: []string{"all"},
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} },
			Validate: func(o runtime.Object) field.ErrorList { return corev1api.ValidatePod(o.(*corev1.Pod)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return corev1api.ValidatePodUpdate(o.(*corev1.Pod), old.(*corev1.Pod))
			},
			PrepareForCreate: func(_ context.Context, o runtime.Object) {
				pod := o.(*corev1.Pod)
				pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1api.PodQOSClass(pod)}
				corev1api.MergeLabelKeys(pod)
			},
			SelectableFields: corev1api.PodFields,
			ValidateStatus: func(o, old runtime.Object) field.ErrorList {
				return corev1api.ValidatePodStatusUpdate(o.(*corev1.Pod), old.(*corev1.Pod))
			},
			Columns: corev1api.PodColumns, Row: corev1api.PodRow,
			Status:         true,
			GracefulDelete: podGracefulDelete,
			Extra: func(s *registry.Store) (map[string]rest.Storage, error) {
				return map[string]rest.Storage{
					"binding":             &bindingREST{store: s},
					"ephemeralcontainers": newEphemeralContainersREST(s),
					"eviction":            &evictionREST{store: s, client: deps.Client},
					"log":                 &logREST{podStreamBase{store: s, kubelet: deps.Kubelet}},
					"exec":                &streamREST{podStreamBase{store: s, kubelet: deps.Kubelet}, "exec"},
					"attach":              &streamREST{podStreamBase{store: s, kubelet: deps.Kubelet}, "attach"},
					"portforward":         &streamREST{podStreamBase{store: s, kubelet: deps.Kubelet}, "portforward"},
				}, nil
			},
		},
		{
			GroupVersion: gv, Name: "services", Singular: "service", Kind: "Service", Namespaced: true,
			ShortNames: []string{"svc"}, Categories: []string{"all"},
			New: func() runtime.Object { return &corev1.Service{} }, NewList: func() runtime.Object { return &corev1.ServiceList{} },
			ValidateName: apivalidation.NameIsDNS1035Label,
			Validate:     func(o runtime.Object) field.ErrorList { return corev1api.ValidateService(o.(*corev1.Service)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return corev1api.ValidateServiceUpdate(o.(*corev1.Service), old.(*corev1.Service))
			},
			SelectableFields: corev1api.ServiceFields,
			Columns:          corev1api.ServiceColumns, Row: corev1api.ServiceRow,
			Status: true, NoGeneration: true,
			BeginCreate: deps.Services.beginCreate,
			BeginUpdate: deps.Services.beginUpdate,
			AfterDelete: deps.Services.afterDelete,
		},
		{
			GroupVersion: gv, Name: "endpoints", Singular: "endpoints", Kind: "Endpoints", Namespaced: true, ShortNames: []string{"ep"},
			New: func() runtime.Object { return &corev1.Endpoints{} }, NewList: func() runtime.Object { return &corev1.EndpointsList{} },
			Validate: func(o runtime.Object) field.ErrorList { return corev1api.ValidateEndpoints(o.(*corev1.Endpoints)) },
			Columns:  corev1api.EndpointsColumns, Row: corev1api.EndpointsRow,
		},
		{
			GroupVersion: gv, Name: "nodes", Singular: "node", Kind: "Node", ShortNames: []string{"no"},
			New: func() runtime.Object { return &corev1.Node{} }, NewList: func() runtime.Object { return &corev1.NodeList{} },
			Validate: func(o runtime.Object) field.ErrorList { return corev1api.ValidateNode(o.(*corev1.Node)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return corev1api.ValidateNodeUpdate(o.(*corev1.Node), old.(*corev1.Node))
			},
			SelectableFields: corev1api.NodeFields,
			PrepareForCreate: func(_ context.Context, o runtime.Object) {
				// Nodes report their status at creation; keep it.
			},
			Columns: corev1api.NodeColumns, Row: corev1api.NodeRow,
			Status: true, NoGeneration: true, KeepStatusOnCreate: true,
			Extra: func(s *registry.Store) (map[string]rest.Storage, error) {
				return map[string]rest.Storage{"proxy": &nodeProxyREST{kubelet: deps.Kubelet}}, nil
			},
		},
		{
			GroupVersion: gv, Name: "configmaps", Singular: "configmap", Kind: "ConfigMap", Namespaced: true, ShortNames: []string{"cm"},
			New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} },
			Validate: func(o runtime.Object) field.ErrorList { return corev1api.ValidateConfigMap(o.(*corev1.ConfigMap)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return corev1api.ValidateConfigMapUpdate(o.(*corev1.ConfigMap), old.(*corev1.ConfigMap))
			},
			Columns: corev1api.ConfigMapColumns, Row: corev1api.ConfigMapRow,
		},
		{
			GroupVersion: gv, Name: "secrets", Singular: "secret", Kind: "Secret", Namespaced: true,
			New: func() runtime.Object { return &corev1.Secret{} }, NewList: func() runtime.Object { return &corev1.SecretList{} },
			Validate: func(o runtime.Object) field.ErrorList { return corev1api.ValidateSecret(o.(*corev1.Secret)) },
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return corev1api.ValidateSecretUpdate(o.(*corev1.Secret), old.(*corev1.Secret))
			},
			SelectableFields: corev1api.SecretFields,
			Columns:          corev1api.SecretColumns, Row: corev1api.SecretRow,
			// stringData is write-only: merged into data (winning over
			// data's own keys) before validation, never stored.
			PrepareForCreate: func(_ context.Context, o runtime.Object) { mergeStringData(o.(*corev1.Secret)) },
			PrepareForUpdate: func(_ context.Context, o, _ runtime.Object) { mergeStringData(o.(*corev1.Secret)) },
		},
		{
			GroupVersion: gv, Name: "serviceaccounts", Singular: "serviceaccount", Kind: "ServiceAccount", Namespaced: true, ShortNames: []string{"sa"},
			New: func() runtime.Object { return &corev1.ServiceAccount{} }, NewList: func() runtime.Object { return &corev1.ServiceAccountList{} },
			Extra: func(s *registry.Store) (map[string]rest.Storage, error) {
				return map[string]rest.Storage{"token": &tokenREST{store: s, tokens: deps.Tokens}}, nil
			},
			Columns: corev1api.ServiceAccountColumns, Row: corev1api.ServiceAccountRow,
		},
		{
			GroupVersion: gv, Name: "events", Singular: "event", Kind: "Event", Namespaced: true, ShortNames: []string{"ev"},
			New: func() runtime.Object { return &corev1.Event{} }, NewList: func() runtime.Object { return &corev1.EventList{} },
			ValidateName:     func(string, bool) []string { return nil },
			SelectableFields: corev1api.EventFields,
			Columns:          corev1api.EventColumns, Row: corev1api.EventRow,
		},
		{
			GroupVersion: gv, Name: "persistentvolumeclaims", Singular: "persistentvolumeclaim", Kind: "PersistentVolumeClaim", Namespaced: true,
			ShortNames: []string{"pvc"},
			New:        func() runtime.Object { return &corev1.PersistentVolumeClaim{} }, NewList: func() runtime.Object { return &corev1.PersistentVolumeClaimList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return corev1api.ValidatePersistentVolumeClaim(o.(*corev1.PersistentVolumeClaim))
			},
			ValidateUpdate: func(o, old runtime.Object) field.ErrorList {
				return corev1api.ValidatePersistentVolumeClaimUpdate(o.(*corev1.PersistentVolumeClaim), old.(*corev1.PersistentVolumeClaim))
			},
			PrepareForCreate: func(_ context.Context, o runtime.Object) {
				o.(*corev1.PersistentVolumeClaim).Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
			},
			Columns: corev1api.PersistentVolumeClaimColumns, Row: corev1api.PersistentVolumeClaimRow,
			Status: true, NoGeneration: true,
		},
		{
			GroupVersion: gv, Name: "persistentvolumes", Singular: "persistentvolume", Kind: "PersistentVolume", ShortNames: []string{"pv"},
			New: func() runtime.Object { return &corev1.PersistentVolume{} }, NewList: func() runtime.Object { return &corev1.PersistentVolumeList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return corev1api.ValidatePersistentVolume(o.(*corev1.PersistentVolume))
			},
			PrepareForCreate: func(_ context.Context, o runtime.Object) {
				now := metav1.Now()
				o.(*corev1.PersistentVolume).Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
			},
			Columns: corev1api.PersistentVolumeColumns, Row: corev1api.PersistentVolumeRow,
			Status: true, NoGeneration: true,
		},
		{
			GroupVersion: gv, Name: "resourcequotas", Singular: "resourcequota", Kind: "ResourceQuota", Namespaced: true, ShortNames: []string{"quota"},
			New: func() runtime.Object { return &corev1.ResourceQuota{} }, NewList: func() runtime.Object { return &corev1.ResourceQuotaList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return corev1api.ValidateResourceQuota(o.(*corev1.ResourceQuota))
			},
			Columns: corev1api.ResourceQuotaColumns, Row: corev1api.ResourceQuotaRow,
			Status: true, NoGeneration: true,
		},
		{
			GroupVersion: gv, Name: "limitranges", Singular: "limitrange", Kind: "LimitRange", Namespaced: true, ShortNames: []string{"limits"},
			New: func() runtime.Object { return &corev1.LimitRange{} }, NewList: func() runtime.Object { return &corev1.LimitRangeList{} },
			Validate: func(o runtime.Object) field.ErrorList { return corev1api.ValidateLimitRange(o.(*corev1.LimitRange)) },
			Columns:  corev1api.LimitRangeColumns, Row: corev1api.LimitRangeRow,
		},
		{
			GroupVersion: gv, Name: "podtemplates", Singular: "podtemplate", Kind: "PodTemplate", Namespaced: true,
			New: func() runtime.Object { return &corev1.PodTemplate{} }, NewList: func() runtime.Object { return &corev1.PodTemplateList{} },
			Validate: func(o runtime.Object) field.ErrorList {
				return corev1api.ValidatePodTemplateSpec(&o.(*corev1.PodTemplate).Template, field.NewPath("template"))
			},
			Columns: corev1api.PodTemplateColumns, Row: corev1api.PodTemplateRow,
		},
	}}}}
}

func prepareNamespaceForCreate(_ context.Context, o runtime.Object) {
	ns := o.(*corev1.Namespace)
	ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
}

// podGracefulDelete gives a pod its grace period: the request's, else the
// pod's terminationGracePeriodSeconds; zero when it never ran on a node or
// has already finished.
func podGracefulDelete(_ context.Context, o runtime.Object, options *metav1.DeleteOptions) bool {
	if options == nil {
		return false
	}
	pod := o.(*corev1.Pod)
	period := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if options.GracePeriodSeconds != nil {
		period = *options.GracePeriodSeconds
	} else if pod.Spec.TerminationGracePeriodSeconds != nil {
		period = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		period = 0
	}
	options.GracePeriodSeconds = &period
	return true
}

// namespaceStorage is what namespaces expose of their store: everything
// but deleting a collection, which would skip termination (upstream
// refuses deletecollection on namespaces too).
type namespaceStorage interface {
	rest.Storage
	rest.Scoper
	rest.Getter
	rest.Lister
	rest.CreaterUpdater
	rest.Watcher
	rest.ShortNamesProvider
	rest.SingularNameProvider
	rest.ResetFieldsStrategy
}

// namespaceREST deletes a namespace in two steps, as upstream: the first
// delete marks it Terminating; it is removed once its finalizers are gone.
type namespaceREST struct {
	namespaceStorage
	store *registry.Store
}

func (r *namespaceREST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := r.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)
	if options == nil {
		options = metav1.NewDeleteOptions(0)
	}
	if options.Preconditions != nil {
		if options.Preconditions.UID != nil && *options.Preconditions.UID != ns.UID {
			return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *options.Preconditions.UID, ns.UID))
		}
		if options.Preconditions.ResourceVersion != nil && *options.Preconditions.ResourceVersion != ns.ResourceVersion {
			return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name, fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *options.Preconditions.ResourceVersion, ns.ResourceVersion))
		}
	}
	if ns.DeletionTimestamp.IsZero() {
		if deleteValidation != nil {
			if err := deleteValidation(ctx, ns); err != nil {
				return nil, false, err
			}
		}
		out, err := r.markTerminating(ctx, name, options)
		return out, false, err
	}
	if len(ns.Spec.Finalizers) > 0 {
		return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name,
			fmt.Errorf("The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."))
	}
	return r.store.Delete(ctx, name, deleteValidation, options)
}

func (r *namespaceREST) markTerminating(ctx context.Context, name string, options *metav1.DeleteOptions) (runtime.Object, error) {
	key, err := r.store.KeyFunc(ctx, name)
	if err != nil {
		return nil, err
	}
	now := metav1.Now()
	out := &corev1.Namespace{}
	dryRun := len(options.DryRun) > 0 && options.DryRun[0] == metav1.DryRunAll
	// Written straight to storage, as upstream does: clients may not set
	// deletionTimestamp through an update.
	err = r.store.Store.Storage.GuaranteedUpdate(ctx, key, out, false, nil, storage.SimpleUpdate(func(existing runtime.Object) (runtime.Object, error) {
		ns := existing.(*corev1.Namespace)
		if ns.DeletionTimestamp.IsZero() {
			ns.DeletionTimestamp = &now
			ns.DeletionGracePeriodSeconds = ptrInt64(0)
		}
		ns.Status.Phase = corev1.NamespaceTerminating
		return ns, nil
	}), dryRun, nil)
	if err != nil {
		return nil, storeerr.InterpretUpdateError(err, corev1.Resource("namespaces"), name)
	}
	if len(out.Spec.Finalizers) == 0 && len(out.Finalizers) == 0 {
		// Nothing holds it: remove it now.
		obj, _, err := r.store.Delete(ctx, name, nil, options)
		return obj, err
	}
	return out, nil
}

func ptrInt64(v int64) *int64 { return &v }

// finalizeREST changes spec.finalizers of a namespace (namespaces/finalize).
type finalizeREST struct {
	store *genericregistry.Store
}

func newFinalizeREST(s *registry.Store) *finalizeREST {
	return &finalizeREST{store: s.WithUpdatePreparer(func(_ context.Context, obj, old runtime.Object) {
		// Only spec.finalizers changes here.
		ns, oldNS := obj.(*corev1.Namespace), old.(*corev1.Namespace)
		finalizers := ns.Spec.Finalizers
		meta := ns.ObjectMeta
		*ns = *oldNS.DeepCopy()
		ns.ObjectMeta = meta
		ns.Spec.Finalizers = finalizers
	})}
}

func (r *finalizeREST) New() runtime.Object { return &corev1.Namespace{} }
func (r *finalizeREST) Destroy()            {}

func (r *finalizeREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// ephemeralContainersREST serves pods/ephemeralcontainers (kubectl debug):
// only spec.ephemeralContainers changes, and only by additions.
type ephemeralContainersREST struct {
	store *genericregistry.Store
}

func newEphemeralContainersREST(s *registry.Store) *ephemeralContainersREST {
	return &ephemeralContainersREST{store: s.WithUpdatePreparer(func(_ context.Context, obj, old runtime.Object) {
		pod, oldPod := obj.(*corev1.Pod), old.(*corev1.Pod)
		ephemeral := pod.Spec.EphemeralContainers
		meta := pod.ObjectMeta
		*pod = *oldPod.DeepCopy()
		pod.ObjectMeta = meta
		pod.Spec.EphemeralContainers = ephemeral
	}, func(obj, old runtime.Object) field.ErrorList {
		return corev1api.ValidateEphemeralContainersUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
	})}
}

func (r *ephemeralContainersREST) New() runtime.Object { return &corev1.Pod{} }
func (r *ephemeralContainersREST) Destroy()            {}

func (r *ephemeralContainersREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *ephemeralContainersREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// mergeStringData moves a Secret's stringData into its data, as upstream
// does when converting a v1 Secret.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}
