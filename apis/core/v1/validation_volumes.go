package v1

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const partitionRange = "must be between 1 and 255, inclusive"

// validateInTreeVolumes checks the required fields of the legacy in-tree
// volume plugins. skiff's node agent mounts none of them, but the API
// accepts and rejects them as upstream does, so manifests round-trip.
func validateInTreeVolumes(src *corev1.VolumeSource, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	required := func(value string, path ...string) {
		if value == "" {
			errs = append(errs, field.Required(fldPath.Child(path[0], path[1:]...), ""))
		}
	}
	partition := func(p int32, path ...string) {
		if p < 0 || p > 255 {
			errs = append(errs, field.Invalid(fldPath.Child(path[0], path[1:]...), p, partitionRange))
		}
	}
	lun := func(l int32, path ...string) {
		if l < 0 || l > 255 {
			errs = append(errs, field.Invalid(fldPath.Child(path[0], path[1:]...), l, "must be between 0 and 255, inclusive"))
		}
	}
	if v := src.GCEPersistentDisk; v != nil {
		required(v.PDName, "gcePersistentDisk", "pdName")
		partition(v.Partition, "gcePersistentDisk", "partition")
	}
	if v := src.AWSElasticBlockStore; v != nil {
		required(v.VolumeID, "awsElasticBlockStore", "volumeID")
		partition(v.Partition, "awsElasticBlockStore", "partition")
	}
	if v := src.GitRepo; v != nil {
		required(v.Repository, "gitRepo", "repository")
		errs = append(errs, validateLocalDescendingPath(v.Directory, fldPath.Child("gitRepo", "directory"))...)
	}
	if v := src.ISCSI; v != nil {
		required(v.TargetPortal, "iscsi", "targetPortal")
		required(v.IQN, "iscsi", "iqn")
		if v.IQN != "" && !strings.HasPrefix(v.IQN, "iqn") && !strings.HasPrefix(v.IQN, "eui") && !strings.HasPrefix(v.IQN, "naa") {
			errs = append(errs, field.Invalid(fldPath.Child("iscsi", "iqn"), v.IQN, "must be valid format starting with iqn, eui, or naa"))
		}
		lun(v.Lun, "iscsi", "lun")
	}
	if v := src.Glusterfs; v != nil {
		required(v.EndpointsName, "glusterfs", "endpoints")
		required(v.Path, "glusterfs", "path")
	}
	if v := src.RBD; v != nil {
		if len(v.CephMonitors) == 0 {
			errs = append(errs, field.Required(fldPath.Child("rbd", "monitors"), ""))
		}
		required(v.RBDImage, "rbd", "image")
	}
	if v := src.FlexVolume; v != nil {
		required(v.Driver, "flexVolume", "driver")
	}
	if v := src.Cinder; v != nil {
		required(v.VolumeID, "cinder", "volumeID")
	}
	if v := src.CephFS; v != nil {
		if len(v.Monitors) == 0 {
			errs = append(errs, field.Required(fldPath.Child("cephfs", "monitors"), ""))
		}
	}
	if v := src.Flocker; v != nil {
		switch {
		case v.DatasetName == "" && v.DatasetUUID == "":
			errs = append(errs, field.Required(fldPath.Child("flocker"), "one of datasetName and datasetUUID is required"))
		case v.DatasetName != "" && v.DatasetUUID != "":
			errs = append(errs, field.Invalid(fldPath.Child("flocker"), "resource", "datasetName and datasetUUID can not be specified simultaneously"))
		case strings.Contains(v.DatasetName, "/"):
			errs = append(errs, field.Invalid(fldPath.Child("flocker", "datasetName"), v.DatasetName, "must not contain '/'"))
		}
	}
	if v := src.FC; v != nil {
		switch {
		case len(v.TargetWWNs) == 0 && len(v.WWIDs) == 0:
			errs = append(errs, field.Required(fldPath.Child("fc", "targetWWNs"), "must specify either targetWWNs or wwids, but not both"))
		case len(v.TargetWWNs) != 0 && len(v.WWIDs) != 0:
			errs = append(errs, field.Invalid(fldPath.Child("fc", "targetWWNs"), v.TargetWWNs, "targetWWNs and wwids can not be specified simultaneously"))
		case len(v.TargetWWNs) != 0 && v.Lun == nil:
			errs = append(errs, field.Required(fldPath.Child("fc", "lun"), "lun is required if targetWWNs is specified"))
		case len(v.TargetWWNs) != 0 && (*v.Lun < 0 || *v.Lun > 255):
			errs = append(errs, field.Invalid(fldPath.Child("fc", "lun"), *v.Lun, "must be between 0 and 255, inclusive"))
		}
	}
	if v := src.AzureFile; v != nil {
		required(v.SecretName, "azureFile", "secretName")
		required(v.ShareName, "azureFile", "shareName")
	}
	if v := src.VsphereVolume; v != nil {
		required(v.VolumePath, "vsphereVolume", "volumePath")
	}
	if v := src.Quobyte; v != nil {
		required(v.Registry, "quobyte", "registry")
		required(v.Volume, "quobyte", "volume")
	}
	if v := src.AzureDisk; v != nil {
		required(v.DiskName, "azureDisk", "diskName")
		required(v.DataDiskURI, "azureDisk", "diskURI")
		if c := v.CachingMode; c != nil {
			modes := []corev1.AzureDataDiskCachingMode{corev1.AzureDataDiskCachingNone, corev1.AzureDataDiskCachingReadOnly, corev1.AzureDataDiskCachingReadWrite}
			if !sets.New(modes...).Has(*c) {
				errs = append(errs, field.NotSupported(fldPath.Child("azureDisk", "cachingMode"), *c, modes))
			}
		}
		if k := v.Kind; k != nil {
			kinds := []corev1.AzureDataDiskKind{corev1.AzureSharedBlobDisk, corev1.AzureDedicatedBlobDisk, corev1.AzureManagedDisk}
			if !sets.New(kinds...).Has(*k) {
				errs = append(errs, field.NotSupported(fldPath.Child("azureDisk", "kind"), *k, kinds))
			}
		}
	}
	if v := src.PhotonPersistentDisk; v != nil {
		required(v.PdID, "photonPersistentDisk", "pdID")
	}
	if v := src.PortworxVolume; v != nil {
		required(v.VolumeID, "portworxVolume", "volumeID")
	}
	if v := src.ScaleIO; v != nil {
		required(v.Gateway, "scaleIO", "gateway")
		required(v.System, "scaleIO", "system")
		required(v.VolumeName, "scaleIO", "volumeName")
	}
	if v := src.StorageOS; v != nil {
		required(v.VolumeName, "storageos", "volumeName")
		if v.VolumeName != "" {
			for _, msg := range validation.IsDNS1123Label(v.VolumeName) {
				errs = append(errs, field.Invalid(fldPath.Child("storageos", "volumeName"), v.VolumeName, msg))
			}
		}
	}
	return errs
}

// validateProjectedSources checks a projected volume's sources: one kind
// per source, each well formed, and no file path written twice.
func validateProjectedSources(sources []corev1.VolumeProjection, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	addPath := func(path string, p *field.Path) {
		if path == "" {
			return
		}
		if paths.Has(path) {
			errs = append(errs, field.Invalid(p, path, "conflicting duplicate paths"))
		}
		paths.Insert(path)
	}
	for i, s := range sources {
		sp := fldPath.Index(i)
		n := 0
		if s.Secret != nil {
			n++
			for j, it := range s.Secret.Items {
				addPath(it.Path, sp.Child("secret", "items").Index(j).Child("path"))
			}
		}
		if s.ConfigMap != nil {
			n++
			for j, it := range s.ConfigMap.Items {
				addPath(it.Path, sp.Child("configMap", "items").Index(j).Child("path"))
			}
		}
		if d := s.DownwardAPI; d != nil {
			n++
			for j, it := range d.Items {
				p := sp.Child("downwardAPI", "items").Index(j)
				errs = append(errs, validateDownwardAPIFile(it, p)...)
				addPath(it.Path, p.Child("path"))
			}
		}
		if t := s.ServiceAccountToken; t != nil {
			n++
			addPath(t.Path, sp.Child("serviceAccountToken", "path"))
		}
		if b := s.ClusterTrustBundle; b != nil {
			n++
			p := sp.Child("clusterTrustBundle")
			if b.Path == "" {
				errs = append(errs, field.Required(p.Child("path"), ""))
			} else {
				errs = append(errs, validateVolumeFilePath(b.Path, p.Child("path"))...)
			}
			hasName := b.Name != nil && *b.Name != ""
			hasSigner := b.SignerName != nil && *b.SignerName != ""
			switch {
			case hasName && hasSigner:
				errs = append(errs, field.Invalid(p, "", "only one of name and signerName may be used"))
			case !hasName && !hasSigner:
				errs = append(errs, field.Required(p, "either name or signerName must be specified"))
			case hasName && b.LabelSelector != nil:
				errs = append(errs, field.Invalid(p.Child("labelSelector"), "", "labelSelector may only be used with signerName"))
			}
			addPath(b.Path, p.Child("path"))
		}
		if s.PodCertificate != nil {
			n++
		}
		if n > 1 {
			errs = append(errs, field.Forbidden(sp, "may not specify more than 1 volume type per source"))
		}
	}
	return errs
}

// validateDownwardAPIFile checks one file of a downwardAPI volume or
// projection.
func validateDownwardAPIFile(it corev1.DownwardAPIVolumeFile, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateVolumeFilePath(it.Path, p.Child("path"))...)
	errs = append(errs, validateFileMode(it.Mode, p.Child("mode"))...)
	switch {
	case it.FieldRef != nil && it.ResourceFieldRef != nil:
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "fieldRef and resourceFieldRef can not be specified simultaneously"))
	case it.FieldRef == nil && it.ResourceFieldRef == nil:
		errs = append(errs, field.Required(p, "one of fieldRef and resourceFieldRef is required"))
	case it.FieldRef != nil:
		errs = append(errs, validateFieldRef(it.FieldRef, volumeFieldPaths, p.Child("fieldRef"))...)
	default:
		errs = append(errs, validateResourceFieldRef(it.ResourceFieldRef, p.Child("resourceFieldRef"))...)
	}
	return errs
}

var (
	// volumeFieldPaths are the pod fields a downwardAPI volume can expose;
	// labels and annotations may also be subscripted, e.g. metadata.labels['app'].
	volumeFieldPaths = []string{"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"}
	// envFieldPaths are those an environment variable can take.
	envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
		"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}
	resourceFieldRefs = []string{"limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu", "requests.ephemeral-storage", "requests.memory"}
)

// validateFieldRef checks a downward API fieldRef against the paths its
// consumer supports.
func validateFieldRef(fs *corev1.ObjectFieldSelector, valid []string, fldPath *field.Path) field.ErrorList {
	p := fldPath.Child("fieldPath")
	if fs.FieldPath == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if fs.APIVersion != "" && fs.APIVersion != "v1" {
		return field.ErrorList{field.NotSupported(fldPath.Child("apiVersion"), fs.APIVersion, []string{"v1"})}
	}
	for _, prefix := range []string{"metadata.labels", "metadata.annotations"} {
		if rest, ok := strings.CutPrefix(fs.FieldPath, prefix+"['"); ok {
			key, ok := strings.CutSuffix(rest, "']")
			if !ok {
				break
			}
			var errs field.ErrorList
			var msgs []string
			if prefix == "metadata.labels" {
				msgs = validation.IsQualifiedName(key)
			} else {
				msgs = validation.IsQualifiedName(strings.ToLower(key))
			}
			for _, msg := range msgs {
				errs = append(errs, field.Invalid(p, fs.FieldPath, msg))
			}
			return errs
		}
	}
	if !sets.New(valid...).Has(fs.FieldPath) {
		return field.ErrorList{field.NotSupported(p, fs.FieldPath, valid)}
	}
	return nil
}

// validateResourceFieldRef checks a downward API resourceFieldRef.
func validateResourceFieldRef(rf *corev1.ResourceFieldSelector, fldPath *field.Path) field.ErrorList {
	p := fldPath.Child("resource")
	switch {
	case rf.Resource == "":
		return field.ErrorList{field.Required(p, "")}
	case strings.HasPrefix(rf.Resource, "limits.hugepages-"), strings.HasPrefix(rf.Resource, "requests.hugepages-"):
	case !sets.New(resourceFieldRefs...).Has(rf.Resource):
		return field.ErrorList{field.NotSupported(p, rf.Resource, resourceFieldRefs)}
	}
	if rf.Divisor.IsZero() {
		return nil
	}
	d := rf.Divisor.String()
	switch {
	case strings.HasSuffix(rf.Resource, ".cpu"):
		if d != "1m" && d != "1" {
			return field.ErrorList{field.Invalid(fldPath.Child("divisor"), d, "only divisor's values 1m and 1 are supported with the cpu resource")}
		}
	case !sets.New("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei").Has(d):
		return field.ErrorList{field.Invalid(fldPath.Child("divisor"), d, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource")}
	}
	return nil
}
