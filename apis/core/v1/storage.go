package v1

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/table"
)

var supportedAccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod}

// SetDefaultsPersistentVolumeClaim defaults the volume mode.
func SetDefaultsPersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) {
	if pvc.Spec.VolumeMode == nil {
		pvc.Spec.VolumeMode = ptr(corev1.PersistentVolumeFilesystem)
	}
}

// SetDefaultsPersistentVolume defaults the reclaim policy and volume mode.
func SetDefaultsPersistentVolume(pv *corev1.PersistentVolume) {
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		pv.Spec.VolumeMode = ptr(corev1.PersistentVolumeFilesystem)
	}
}

func validateAccessModes(modes []corev1.PersistentVolumeAccessMode, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(modes) == 0 {
		errs = append(errs, field.Required(fldPath, "at least 1 access mode is required"))
	}
	for _, m := range modes {
		ok := false
		for _, s := range supportedAccessModes {
			ok = ok || m == s
		}
		if !ok {
			errs = append(errs, field.NotSupported(fldPath, m, supportedAccessModes))
		}
	}
	return errs
}

// ValidatePersistentVolumeClaim checks access modes and the storage request.
func ValidatePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateAccessModes(pvc.Spec.AccessModes, spec.Child("accessModes"))
	q, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	switch {
	case !ok:
		errs = append(errs, field.Required(spec.Child("resources").Key(string(corev1.ResourceStorage)), ""))
	case q.Sign() <= 0:
		errs = append(errs, field.Invalid(spec.Child("resources").Key(string(corev1.ResourceStorage)), q.String(), "must be greater than zero"))
	}
	return errs
}

// ValidatePersistentVolumeClaimUpdate allows only growing the request (and
// a few mutable fields) once bound, as upstream.
func ValidatePersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	errs := ValidatePersistentVolumeClaim(pvc)
	newSpec, oldSpec := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	newSpec.Resources, oldSpec.Resources = corev1.VolumeResourceRequirements{}, corev1.VolumeResourceRequirements{}
	newSpec.VolumeAttributesClassName, oldSpec.VolumeAttributesClassName = nil, nil
	if oldSpec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	if oldSpec.StorageClassName == nil {
		oldSpec.StorageClassName = newSpec.StorageClassName
	}
	if fmt.Sprint(newSpec) != fmt.Sprint(oldSpec) {
		errs = append(errs, field.Forbidden(field.NewPath("spec"), "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"))
	}
	return errs
}

// ValidatePersistentVolume checks capacity, access modes and the source.
func ValidatePersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	spec := field.NewPath("spec")
	errs := validateAccessModes(pv.Spec.AccessModes, spec.Child("accessModes"))
	if q, ok := pv.Spec.Capacity[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(spec.Child("capacity").Key(string(corev1.ResourceStorage)), ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(spec.Child("capacity").Key(string(corev1.ResourceStorage)), q.String(), "must be greater than zero"))
	}
	switch pv.Spec.PersistentVolumeReclaimPolicy {
	case corev1.PersistentVolumeReclaimRetain, corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle:
	default:
		errs = append(errs, field.NotSupported(spec.Child("persistentVolumeReclaimPolicy"), pv.Spec.PersistentVolumeReclaimPolicy,
			[]corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimRetain, corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle}))
	}
	n := 0
	src := pv.Spec.PersistentVolumeSource
	for _, set := range []bool{src.HostPath != nil, src.Local != nil, src.NFS != nil, src.CSI != nil, src.ISCSI != nil, src.FC != nil,
		src.GCEPersistentDisk != nil, src.AWSElasticBlockStore != nil, src.Glusterfs != nil, src.RBD != nil, src.CephFS != nil,
		src.Cinder != nil, src.FlexVolume != nil, src.AzureFile != nil, src.AzureDisk != nil, src.VsphereVolume != nil,
		src.Quobyte != nil, src.PhotonPersistentDisk != nil, src.PortworxVolume != nil, src.ScaleIO != nil, src.StorageOS != nil, src.Flocker != nil} {
		if set {
			n++
		}
	}
	if n == 0 {
		errs = append(errs, field.Required(spec, "must specify a volume type"))
	} else if n > 1 {
		errs = append(errs, field.Forbidden(spec, "may not specify more than 1 volume type"))
	}
	if src.HostPath != nil && src.HostPath.Path == "" {
		errs = append(errs, field.Required(spec.Child("hostPath", "path"), ""))
	}
	if src.Local != nil && src.Local.Path == "" {
		errs = append(errs, field.Required(spec.Child("local", "path"), ""))
	}
	return errs
}

// PersistentVolumeClaimColumns are the columns of kubectl get pvc.
var PersistentVolumeClaimColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Status", "string", "The phase of the claim."),
	table.Column("Volume", "string", "The volume bound to the claim."),
	table.Column("Capacity", "string", "The capacity of the bound volume."),
	table.Column("Access Modes", "string", "The access modes of the bound volume."),
	table.Column("StorageClass", "string", "The storage class of the claim."),
	table.Column("VolumeAttributesClass", "string", "The volume attributes class of the claim."),
	table.AgeColumn,
	table.Wide("VolumeMode", "string", "The volume mode of the claim."),
}

// PersistentVolumeClaimRow renders a claim.
func PersistentVolumeClaimRow(obj runtime.Object) ([]any, error) {
	pvc := obj.(*corev1.PersistentVolumeClaim)
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		if q, ok := pvc.Status.Capacity[corev1.ResourceStorage]; ok {
			capacity = q.String()
		}
		modes = accessModes(pvc.Status.AccessModes)
	}
	return []any{pvc.Name, phase, pvc.Spec.VolumeName, capacity, modes, deref(pvc.Spec.StorageClassName, "<unset>"),
		deref(pvc.Spec.VolumeAttributesClassName, "<unset>"), table.Age(pvc.CreationTimestamp), volumeMode(pvc.Spec.VolumeMode)}, nil
}

// PersistentVolumeColumns are the columns of kubectl get pv.
var PersistentVolumeColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Capacity", "string", "The capacity of the volume."),
	table.Column("Access Modes", "string", "The access modes of the volume."),
	table.Column("Reclaim Policy", "string", "What happens to the volume when its claim is released."),
	table.Column("Status", "string", "The phase of the volume."),
	table.Column("Claim", "string", "The claim bound to the volume."),
	table.Column("StorageClass", "string", "The storage class of the volume."),
	table.Column("VolumeAttributesClass", "string", "The volume attributes class of the volume."),
	table.Column("Reason", "string", "Why the volume is in its phase."),
	table.AgeColumn,
	table.Wide("VolumeMode", "string", "The volume mode of the volume."),
}

// PersistentVolumeRow renders a volume.
func PersistentVolumeRow(obj runtime.Object) ([]any, error) {
	pv := obj.(*corev1.PersistentVolume)
	claim := ""
	if ref := pv.Spec.ClaimRef; ref != nil {
		claim = ref.Namespace + "/" + ref.Name
	}
	capacity := ""
	if q, ok := pv.Spec.Capacity[corev1.ResourceStorage]; ok {
		capacity = q.String()
	}
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	class := pv.Spec.StorageClassName
	return []any{pv.Name, capacity, accessModes(pv.Spec.AccessModes), string(pv.Spec.PersistentVolumeReclaimPolicy), phase, claim,
		class, deref(pv.Spec.VolumeAttributesClassName, "<unset>"), pv.Status.Reason, table.Age(pv.CreationTimestamp), volumeMode(pv.Spec.VolumeMode)}, nil
}

func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	short := map[corev1.PersistentVolumeAccessMode]string{corev1.ReadWriteOnce: "RWO", corev1.ReadOnlyMany: "ROX", corev1.ReadWriteMany: "RWX", corev1.ReadWriteOncePod: "RWOP"}
	var out []string
	for _, m := range modes {
		out = append(out, short[m])
	}
	return strings.Join(out, ",")
}

func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return "<unset>"
	}
	return string(*m)
}

func deref(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// ResourceQuotaColumns are the columns of kubectl get resourcequotas.
var ResourceQuotaColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.AgeColumn,
	table.Column("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
	table.Column("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
}

// ResourceQuotaRow renders a quota as used/hard pairs.
func ResourceQuotaRow(obj runtime.Object) ([]any, error) {
	rq := obj.(*corev1.ResourceQuota)
	var requests, limits []string
	hardByName := map[string]bool{}
	for name := range rq.Spec.Hard {
		hardByName[string(name)] = true
	}
	for _, name := range table.SortedKeys(hardByName) {
		hard := rq.Spec.Hard[corev1.ResourceName(name)]
		used := rq.Status.Used[corev1.ResourceName(name)]
		cell := fmt.Sprintf("%s: %s/%s", name, used.String(), hard.String())
		if strings.HasPrefix(name, "limits.") {
			limits = append(limits, cell)
		} else {
			requests = append(requests, cell)
		}
	}
	return []any{rq.Name, table.Age(rq.CreationTimestamp), strings.Join(requests, ", "), strings.Join(limits, ", ")}, nil
}

// LimitRangeColumns are the columns of kubectl get limitranges.
var LimitRangeColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Created At", "date", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]),
}

// LimitRangeRow renders a limit range.
func LimitRangeRow(obj runtime.Object) ([]any, error) {
	lr := obj.(*corev1.LimitRange)
	return []any{lr.Name, lr.CreationTimestamp.UTC().Format("2006-01-02T15:04:05Z")}, nil
}

var quotaScopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
	corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopePriorityClass,
	corev1.ResourceQuotaScopeCrossNamespacePodAffinity, corev1.ResourceQuotaScopeVolumeAttributesClass}

// ValidateResourceQuota checks the quota's resources, amounts and scopes.
func ValidateResourceQuota(rq *corev1.ResourceQuota) field.ErrorList {
	var errs field.ErrorList
	hard := field.NewPath("spec", "hard")
	for name, q := range rq.Spec.Hard {
		p := hard.Key(string(name))
		if !strings.Contains(string(name), "/") && !quotaResourceName(string(name)) {
			errs = append(errs, field.Invalid(p, string(name), "must be a standard resource for quota"))
		}
		if q.Sign() < 0 {
			errs = append(errs, field.Invalid(p, q.String(), "must be greater than or equal to 0"))
		}
	}
	for i, scope := range rq.Spec.Scopes {
		ok := false
		for _, known := range quotaScopes {
			ok = ok || scope == known
		}
		if !ok {
			errs = append(errs, field.NotSupported(field.NewPath("spec", "scopes").Index(i), scope, quotaScopes))
		}
	}
	return errs
}

func quotaResourceName(name string) bool {
	switch {
	case strings.HasPrefix(name, "requests.") || strings.HasPrefix(name, "limits.") || strings.HasPrefix(name, "count/"):
		return true
	case strings.HasSuffix(name, ".storageclass.storage.k8s.io/requests.storage"),
		strings.HasSuffix(name, ".storageclass.storage.k8s.io/persistentvolumeclaims"):
		return true
	}
	switch corev1.ResourceName(name) {
	case corev1.ResourcePods, corev1.ResourceServices, corev1.ResourceReplicationControllers, corev1.ResourceQuotas,
		corev1.ResourceSecrets, corev1.ResourceConfigMaps, corev1.ResourcePersistentVolumeClaims, corev1.ResourceServicesNodePorts,
		corev1.ResourceServicesLoadBalancers, corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
		corev1.ResourceStorage:
		return true
	}
	return false
}

// ValidateLimitRange checks each limit's type and that min <= default
// request <= default <= max where given.
func ValidateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	var errs field.ErrorList
	types := []corev1.LimitType{corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim}
	for i, item := range lr.Spec.Limits {
		p := field.NewPath("spec", "limits").Index(i)
		switch item.Type {
		case corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim:
		default:
			errs = append(errs, field.NotSupported(p.Child("type"), item.Type, types))
		}
		if item.Type == corev1.LimitTypePod && (len(item.Default) > 0 || len(item.DefaultRequest) > 0) {
			errs = append(errs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
		}
		for name, max := range item.Max {
			if min, ok := item.Min[name]; ok && min.Cmp(max) > 0 {
				errs = append(errs, field.Invalid(p.Child("min").Key(string(name)), min.String(), fmt.Sprintf("min value %s is greater than max value %s", min.String(), max.String())))
			}
			if def, ok := item.Default[name]; ok && def.Cmp(max) > 0 {
				errs = append(errs, field.Invalid(p.Child("default").Key(string(name)), def.String(), fmt.Sprintf("default value %s is greater than max value %s", def.String(), max.String())))
			}
		}
		for name, def := range item.DefaultRequest {
			if limit, ok := item.Default[name]; ok && def.Cmp(limit) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), def.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", def.String(), limit.String())))
			}
			if min, ok := item.Min[name]; ok && min.Cmp(def) > 0 {
				errs = append(errs, field.Invalid(p.Child("defaultRequest").Key(string(name)), def.String(), fmt.Sprintf("min value %s is greater than default request value %s", min.String(), def.String())))
			}
		}
	}
	return errs
}

// SetDefaultsLimitRange fills in container limit items as upstream: a
// missing default limit is the max, a missing default request is the
// default limit, else the min.
func SetDefaultsLimitRange(lr *corev1.LimitRange) {
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		if item.Default == nil {
			item.Default = corev1.ResourceList{}
		}
		if item.DefaultRequest == nil {
			item.DefaultRequest = corev1.ResourceList{}
		}
		for name, q := range item.Max {
			if _, ok := item.Default[name]; !ok {
				item.Default[name] = q.DeepCopy()
			}
		}
		for name, q := range item.Default {
			if _, ok := item.DefaultRequest[name]; !ok {
				item.DefaultRequest[name] = q.DeepCopy()
			}
		}
		for name, q := range item.Min {
			if _, ok := item.DefaultRequest[name]; !ok {
				item.DefaultRequest[name] = q.DeepCopy()
			}
		}
	}
}
