package v1

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kptr "k8s.io/utils/ptr"
)

func TestValidatePodSpecPoliciesAndVolumes(t *testing.T) {
	withVolume := func(src corev1.VolumeSource) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: src}} }
	}
	spread := func(c corev1.TopologySpreadConstraint) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			c.MaxSkew, c.TopologyKey, c.WhenUnsatisfiable = 1, "zone", corev1.DoNotSchedule
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{c}
		}
	}
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string // "" means valid
	}{
		{"hostUsers false with hostNetwork", func(p *corev1.Pod) {
			p.Spec.HostUsers, p.Spec.HostNetwork = kptr.To(false), true
			p.Spec.Containers[0].Ports = nil
		}, "spec.hostNetwork: Forbidden: when `hostUsers` is false"},
		{"hostUsers false with hostPID", func(p *corev1.Pod) { p.Spec.HostUsers, p.Spec.HostPID = kptr.To(false), true }, "spec.hostPID: Forbidden"},
		{"hostUsers true with hostPID", func(p *corev1.Pod) { p.Spec.HostUsers, p.Spec.HostPID = kptr.To(true), true }, ""},
		{"duplicate scheduling gate", func(p *corev1.Pod) {
			p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}, {Name: "example.com/wait"}}
		}, `spec.schedulingGates[1]: Duplicate value: "example.com/wait"`},
		{"bad scheduling gate", func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "no spaces"}} }, "spec.schedulingGates[0]: Invalid value"},
		{"resource claim both sources", func(p *corev1.Pod) {
			p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: kptr.To("a"), ResourceClaimTemplateName: kptr.To("b")}}
		}, "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"},
		{"resource claim no source", func(p *corev1.Pod) { p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu"}} }, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"},
		{"container claim unknown", func(p *corev1.Pod) {
			p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimName: kptr.To("a")}}
			p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "fpga"}}
		}, `spec.containers[0].resources.claims[0]: Not found: "fpga": must be one of the names in pod.spec.resourceClaims: gpu`},
		{"container claim known", func(p *corev1.Pod) {
			p.Spec.ResourceClaims = []corev1.PodResourceClaim{{Name: "gpu", ResourceClaimTemplateName: kptr.To("t")}}
			p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
		}, ""},
		{"bad os", func(p *corev1.Pod) { p.Spec.OS = &corev1.PodOS{Name: "plan9"} }, `spec.os.name: Unsupported value: "plan9"`},
		{"host alias bad ip", func(p *corev1.Pod) { p.Spec.HostAliases = []corev1.HostAlias{{IP: "nope", Hostnames: []string{"a"}}} }, "spec.hostAliases[0].ip: Invalid value"},
		{"host alias bad name", func(p *corev1.Pod) {
			p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"A_B"}}}
		}, "spec.hostAliases[0].hostnames[0]: Invalid value"},
		{"readiness gate", func(p *corev1.Pod) { p.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "bad gate"}} }, "spec.readinessGates[0].conditionType: Invalid value"},
		{"negative overhead", func(p *corev1.Pod) { p.Spec.Overhead = corev1.ResourceList{"cpu": resource.MustParse("-1")} }, "spec.overhead[cpu]: Invalid value"},
		{"bad priority class", func(p *corev1.Pod) { p.Spec.PriorityClassName = "High" }, "spec.priorityClassName: Invalid value"},
		{"bad toleration key", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "a b", Operator: corev1.TolerationOpExists}}
		}, "spec.tolerations[0].key: Invalid value"},
		{"matchLabelKeys without selector", spread(corev1.TopologySpreadConstraint{MatchLabelKeys: []string{"app"}}),
			"spec.topologySpreadConstraints[0].matchLabelKeys: Forbidden: must not be specified when labelSelector is not set"},
		{"matchLabelKeys and matchLabels", spread(corev1.TopologySpreadConstraint{MatchLabelKeys: []string{"app"},
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "x"}, MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}}),
			`spec.topologySpreadConstraints[0].matchLabelKeys[0]: Invalid value: "app": exists in both matchLabelKeys and labelSelector`},
		{"matchLabelKeys merged once", spread(corev1.TopologySpreadConstraint{MatchLabelKeys: []string{"app"},
			LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"x"}}}}}), ""},
		{"affinity match and mismatch", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{}, MatchLabelKeys: []string{"k"}, MismatchLabelKeys: []string{"k"}}}}}
		}, `spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].matchLabelKeys[0]: Invalid value: "k": exists in both matchLabelKeys and mismatchLabelKeys`},
		{"gce pd without name", withVolume(corev1.VolumeSource{GCEPersistentDisk: &corev1.GCEPersistentDiskVolumeSource{}}), "spec.volumes[0].gcePersistentDisk.pdName: Required value"},
		{"ebs partition", withVolume(corev1.VolumeSource{AWSElasticBlockStore: &corev1.AWSElasticBlockStoreVolumeSource{VolumeID: "v", Partition: 300}}),
			"spec.volumes[0].awsElasticBlockStore.partition: Invalid value: 300"},
		{"iscsi iqn", withVolume(corev1.VolumeSource{ISCSI: &corev1.ISCSIVolumeSource{TargetPortal: "1.2.3.4:3260", IQN: "x"}}), "must be valid format starting with iqn, eui, or naa"},
		{"fc both", withVolume(corev1.VolumeSource{FC: &corev1.FCVolumeSource{TargetWWNs: []string{"a"}, WWIDs: []string{"b"}}}), "targetWWNs and wwids can not be specified simultaneously"},
		{"rbd", withVolume(corev1.VolumeSource{RBD: &corev1.RBDVolumeSource{}}), "spec.volumes[0].rbd.monitors: Required value"},
		{"azure disk caching", withVolume(corev1.VolumeSource{AzureDisk: &corev1.AzureDiskVolumeSource{DiskName: "d", DataDiskURI: "u", CachingMode: kptr.To(corev1.AzureDataDiskCachingMode("Fast"))}}),
			`spec.volumes[0].azureDisk.cachingMode: Unsupported value: "Fast"`},
		{"projected two kinds in one source", withVolume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{
			ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}},
			Secret:    &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}}}),
			"spec.volumes[0].projected.sources[0]: Forbidden: may not specify more than 1 volume type per source"},
		{"projected duplicate path", withVolume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Items: []corev1.KeyToPath{{Key: "a", Path: "f"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Items: []corev1.KeyToPath{{Key: "b", Path: "f"}}}}}}}),
			`spec.volumes[0].projected.sources[1].secret.items[0].path: Invalid value: "f": conflicting duplicate paths`},
		{"projected downward api field", withVolume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ip", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}}}}}),
			`spec.volumes[0].projected.sources[0].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: "status.podIP"`},
		{"cluster trust bundle both", withVolume(corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ClusterTrustBundle: &corev1.ClusterTrustBundleProjection{Path: "ca.pem", Name: kptr.To("a"), SignerName: kptr.To("example.com/s")}}}}}),
			"only one of name and signerName may be used"},
		{"downward api label subscript", withVolume(corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "app", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}}}}), ""},
		{"env field path", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.hostname"}}}}
		}, `spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.hostname"`},
		{"env pod ip", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
		}, ""},
		{"resource divisor", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: resource.MustParse("3")}}}}
		}, "only divisor's values 1m and 1 are supported with the cpu resource"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidatePod(defaultedPod(tc.mutate))
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Fatalf("errors %v do not contain %q", errs, tc.want)
			}
		})
	}
}

func TestSchedulingGatesOnlyRemoved(t *testing.T) {
	old := defaultedPod(func(p *corev1.Pod) { p.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "a"}, {Name: "b"}} })
	removed := old.DeepCopy()
	removed.Spec.SchedulingGates = removed.Spec.SchedulingGates[1:]
	if errs := ValidatePodUpdate(removed, old); len(errs) > 0 {
		t.Fatalf("removing a gate: %v", errs)
	}
	added := old.DeepCopy()
	added.Spec.SchedulingGates = append(added.Spec.SchedulingGates, corev1.PodSchedulingGate{Name: "c"})
	errs := ValidatePodUpdate(added, old)
	if want := "spec.schedulingGates[2]: Forbidden: only deletion is allowed, but found new scheduling gate 'c'"; !strings.Contains(errs.ToAggregate().Error(), want) {
		t.Fatalf("adding a gate: %v, want %q", errs, want)
	}
}

func TestMergeLabelKeys(t *testing.T) {
	pod := defaultedPod(func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "web", "pod-template-hash": "abc"}
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, MatchLabelKeys: []string{"pod-template-hash", "missing"}}}
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{}, MismatchLabelKeys: []string{"app"}}}}}
	})
	MergeLabelKeys(pod)
	got := pod.Spec.TopologySpreadConstraints[0].LabelSelector.MatchExpressions
	if len(got) != 1 || got[0].Key != "pod-template-hash" || got[0].Operator != metav1.LabelSelectorOpIn || got[0].Values[0] != "abc" {
		t.Fatalf("spread selector expressions = %+v", got)
	}
	anti := pod.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].LabelSelector.MatchExpressions
	if len(anti) != 1 || anti[0].Operator != metav1.LabelSelectorOpNotIn || anti[0].Values[0] != "web" {
		t.Fatalf("anti-affinity expressions = %+v", anti)
	}
	if errs := ValidatePod(pod); len(errs) > 0 {
		t.Fatalf("merged pod invalid: %v", errs)
	}
}
