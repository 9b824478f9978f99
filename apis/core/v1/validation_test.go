package v1

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func defaultedPod(mutate func(*corev1.Pod)) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	mutate(pod)
	SetDefaultsPod(pod)
	return pod
}

func TestValidatePod(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string // "" means valid
	}{
		{"valid", func(*corev1.Pod) {}, ""},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, "spec.containers: Required value"},
		{"no image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, "spec.containers[0].image: Required value"},
		{"bad container name", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "Bad" }, "spec.containers[0].name: Invalid value"},
		{"duplicate container", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, p.Spec.Containers[0]) }, "spec.containers[1].name: Duplicate value"},
		{"duplicate port", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 80}}
		}, `spec.containers[0].ports[1]: Duplicate value: "80/TCP"`},
		{"same port other protocol", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 53}, {ContainerPort: 53, Protocol: corev1.ProtocolUDP}}
		}, ""},
		{"mount of unknown volume", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}
		}, "spec.containers[0].volumeMounts[0].name: Not found"},
		{"bad restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy: Unsupported value"},
		{"dnsPolicy None without dnsConfig", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, "spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"},
		{"dnsPolicy None without nameservers", func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"svc.local"}}
		}, "spec.dnsConfig.nameservers: Required value"},
		{"dnsConfig valid", func(p *corev1.Pod) {
			p.Spec.DNSPolicy = corev1.DNSNone
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "::1"}, Searches: []string{"a.example.", "."}, Options: []corev1.PodDNSConfigOption{{Name: "ndots"}}}
		}, ""},
		{"four nameservers", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"}}
		}, "spec.dnsConfig.nameservers: Invalid value: [\"1.1.1.1\",\"1.1.1.2\",\"1.1.1.3\",\"1.1.1.4\"]: must not have more than 3 nameservers"},
		{"nameserver not an IP", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"dns.example"}}
		}, "spec.dnsConfig.nameservers[0]: Invalid value: \"dns.example\": must be a valid IP address"},
		{"bad search domain", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: []string{"Bad_Domain"}}
		}, "spec.dnsConfig.searches[0]: Invalid value: \"Bad_Domain\""},
		{"too many search paths", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: strings.Split(strings.Repeat("a.b ", 33)[:4*33-1], " ")}
		}, "must not have more than 32 search paths"},
		{"search list too long", func(p *corev1.Pod) {
			long := strings.Repeat("a", 60) + "." + strings.Repeat("b", 60) + "." + strings.Repeat("c", 60)
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Searches: []string{long, long, long, long, long, long, long, long, long, long, long, long}}
		}, "must not have more than 2048 characters (including spaces) in the search list"},
		{"unnamed dns option", func(p *corev1.Pod) {
			p.Spec.DNSConfig = &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{}}}
		}, "spec.dnsConfig.options[0]: Required value: must not be empty"},
		{"sysctls valid", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_local_port_range", Value: "1024 65535"}, {Name: "kernel/shm_rmid_forced", Value: "1"}}}
		}, ""},
		{"bad sysctl name", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "Net..ipv4", Value: "1"}}}
		}, "spec.securityContext.sysctls[0].name: Invalid value: \"Net..ipv4\": must have at most 253 characters and match regex"},
		{"duplicate sysctl", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: []corev1.Sysctl{{Name: "kernel.msgmax", Value: "1"}, {Name: "kernel.msgmax", Value: "2"}}}
		}, "spec.securityContext.sysctls[1].name: Duplicate value"},
		{"localhost seccomp without profile", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}}
		}, "spec.securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost"},
		{"seccomp profile escaping its directory", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("../etc/profile.json")}}
		}, `spec.containers[0].securityContext.seccompProfile.localhostProfile: Invalid value: "../etc/profile.json": must not contain '..'`},
		{"runtime default seccomp with profile", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault, LocalhostProfile: ptr("x.json")}}
		}, "spec.securityContext.seccompProfile.localhostProfile: Invalid value: \"x.json\": can only be set when seccomp type is Localhost"},
		{"unknown seccomp type", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: "Strict"}}
		}, `spec.securityContext.seccompProfile.type: Unsupported value: "Strict"`},
		{"valid profiles", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr("k8s-deny-write")}}
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("profiles/audit.json")}}
		}, ""},
		{"localhost apparmor without profile", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AppArmorProfile: &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost}}
		}, "spec.containers[0].securityContext.appArmorProfile.localhostProfile: Required value: must be set when AppArmor type is Localhost"},
		{"privileged without privilege escalation", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr(true), AllowPrivilegeEscalation: ptr(false)}
		}, "spec.containers[0].securityContext: Invalid value: cannot set `allowPrivilegeEscalation` to false and `privileged` to true"},
		{"SYS_ADMIN without privilege escalation", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}
		}, "cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN"},
		{"bad proc mount", func(p *corev1.Pod) {
			pm := corev1.ProcMountType("Masked")
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{ProcMount: &pm}
		}, `spec.containers[0].securityContext.procMount: Unsupported value: "Masked"`},
		{"duplicate mount path", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, {Name: "b", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "a", MountPath: "/data"}, {Name: "b", MountPath: "/data"}}
		}, `spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique`},
		{"absolute subPath", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "a", MountPath: "/data", SubPath: "/etc"}}
		}, `spec.containers[0].volumeMounts[0].subPath: Invalid value: "/etc": must be a relative path`},
		{"subPath and subPathExpr", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "a", MountPath: "/data", SubPath: "x", SubPathExpr: "$(POD_NAME)"}}
		}, "subPathExpr and subPath are mutually exclusive"},
		{"bidirectional propagation unprivileged", func(p *corev1.Pod) {
			mode := corev1.MountPropagationBidirectional
			p.Spec.Volumes = []corev1.Volume{{Name: "a", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "a", MountPath: "/data", MountPropagation: &mode}}
		}, "spec.containers[0].volumeMounts[0].mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers"},
		{"affinity valid", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{
				NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 50,
					Preference: corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"n1"}}}}}}},
				PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}},
			}
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.DoNotSchedule, MinDomains: ptr(int32(2))}}
		}, ""},
		{"preferred weight out of range", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 101, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname"}}}}}
		}, "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 101: must be in the range 1-100"},
		{"pod affinity without topology key", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{}}}}
		}, "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey: Required value: can not be empty"},
		{"match field other than name", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.labels", Operator: corev1.NodeSelectorOpIn, Values: []string{"x"}}}}}}}}
		}, `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key: Unsupported value: "metadata.labels"`},
		{"duplicate spread constraint", func(p *corev1.Pod) {
			c := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway}
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{c, c}
		}, "spec.topologySpreadConstraints[1]: Duplicate value: \"{zone, ScheduleAnyway}\""},
		{"minDomains with ScheduleAnyway", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.ScheduleAnyway, MinDomains: ptr(int32(2))}}
		}, "spec.topologySpreadConstraints[0].minDomains: Invalid value: 2: can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ScheduleAnyway"},
		{"lifecycle hooks valid", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}},
				PostStart: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}}
		}, ""},
		{"lifecycle hook without handler", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{}}
		}, "spec.containers[0].lifecycle.preStop: Required value: must specify a handler type"},
		{"lifecycle hook with two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}, Sleep: &corev1.SleepAction{Seconds: 1}}}
		}, "spec.containers[0].lifecycle.postStart: Forbidden: may not specify more than 1 handler type"},
		{"negative sleep", func(p *corev1.Pod) {
			p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: -1}}}
		}, "spec.containers[0].lifecycle.preStop.sleep.seconds: Invalid value: -1: must be non-negative integer"},
		{"volume details valid", func(p *corev1.Pod) {
			hp := corev1.HostPathDirectoryOrCreate
			p.Spec.Volumes = []corev1.Volume{
				{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "c"},
					Items: []corev1.KeyToPath{{Key: "a", Path: "conf/a.yaml", Mode: ptr(int32(0o644))}}, DefaultMode: ptr(int32(0o400))}}},
				{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/data", Type: &hp}}},
				{Name: "n", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs.local", Path: "/exports"}}},
				{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
			}
		}, ""},
		{"item path escaping the volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", Items: []corev1.KeyToPath{{Key: "k", Path: "../k"}}}}}}
		}, `spec.volumes[0].secret.items[0].path: Invalid value: "../k": must not contain '..'`},
		{"bad default mode", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: ptr(int32(0o1000))}}}}
		}, "spec.volumes[0].secret.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive"},
		{"bad host path type", func(p *corev1.Pod) {
			hp := corev1.HostPathType("Pipe")
			p.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: &hp}}}}
		}, `spec.volumes[0].hostPath.type: Unsupported value: "Pipe"`},
		{"relative nfs path", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "n", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "nfs", Path: "exports"}}}}
		}, `spec.volumes[0].nfs.path: Invalid value: "exports": must be an absolute path`},
		{"csi without driver", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "c", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{}}}}
		}, "spec.volumes[0].csi.driver: Required value"},
		{"short projected token", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(int64(60))}}}}}}}
		}, "spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes"},
		{"negative supplemental group", func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SupplementalGroups: []int64{-1}}
		}, "spec.securityContext.supplementalGroups[0]: Invalid value: -1"},
		{"volume with two sources", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}}}
		}, "spec.volumes[0]: Forbidden: may not specify more than 1 volume type"},
		{"config map volume without a name", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}}
		}, "spec.volumes[0].configMap.name: Required value"},
		{"env from two sources", func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", ValueFrom: &corev1.EnvVarSource{
				FieldRef:        &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
				ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "k"},
			}}}
		}, "may not have more than one field specified at a time"},
		{"topology spread with zero skew", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		}, "spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero"},
		{"node affinity In without values", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn}}}}}}}
		}, "matchExpressions[0].values: Required value"},
		{"toleration seconds without NoExecute", func(p *corev1.Pod) {
			secs := int64(5)
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: &secs}}
		}, "effect must be 'NoExecute' when `tolerationSeconds` is set"},
		{"misspelled resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"cpuu": resource.MustParse("1")}
		}, `spec.containers[0].resources.limits[cpuu]: Invalid value: "cpuu": must be a standard resource type or fully qualified`},
		{"extended resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
		}, ""},
		{"liveness success threshold", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}, SuccessThreshold: 2}
		}, "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"},
		{"probe port out of range", func(p *corev1.Pod) {
			p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(70000)}}}
		}, "spec.containers[0].readinessProbe.httpGet.port: Invalid value: 70000"},
		{"negative run as user", func(p *corev1.Pod) {
			u := int64(-1)
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: &u}
		}, "spec.securityContext.runAsUser: Invalid value: -1"},
		{"negative grace period", func(p *corev1.Pod) { v := int64(-1); p.Spec.TerminationGracePeriodSeconds = &v }, "spec.terminationGracePeriodSeconds"},
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

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"busybox":                     corev1.PullAlways,
		"busybox:latest":              corev1.PullAlways,
		"busybox:1.36":                corev1.PullIfNotPresent,
		"registry:5000/busybox":       corev1.PullAlways,
		"registry:5000/busybox:1.0":   corev1.PullIfNotPresent,
		"busybox@sha256:0123456789ab": corev1.PullIfNotPresent,
	} {
		if got := defaultPullPolicy(image); got != want {
			t.Errorf("%s: %s, want %s", image, got, want)
		}
	}
}

func TestPodQOSClass(t *testing.T) {
	pod := defaultedPod(func(*corev1.Pod) {})
	if got := PodQOSClass(pod); got != corev1.PodQOSBestEffort {
		t.Errorf("no resources: %s", got)
	}
}

func TestValidateQuotaAndLimitRange(t *testing.T) {
	rq := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
		"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("2"), "bogus": resource.MustParse("1"),
	}}}
	if errs := ValidateResourceQuota(rq); len(errs) != 1 || !strings.Contains(errs[0].Error(), "spec.hard[bogus]") {
		t.Errorf("quota errors: %v", errs)
	}
	lr := &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer,
		Min:  corev1.ResourceList{"cpu": resource.MustParse("2")},
		Max:  corev1.ResourceList{"cpu": resource.MustParse("1")},
	}}}}
	if errs := ValidateLimitRange(lr); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "min value 2 is greater than max value 1") {
		t.Errorf("limit range errors: %v", errs)
	}
}

func TestValidatePodStatusUpdate(t *testing.T) {
	old := defaultedPod(func(*corev1.Pod) {})
	old.Status.Phase = corev1.PodSucceeded
	cases := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"unchanged", func(*corev1.Pod) {}, ""},
		{"back from terminal", func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning }, `cannot transition from terminal phase "Succeeded" to "Running"`},
		{"unknown container", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "ghost"}}
		}, `status.containerStatuses[0].name: Not found: "ghost"`},
		{"bad pod IP", func(p *corev1.Pod) { p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.300"}} }, "status.podIPs[0]: Invalid value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := old.DeepCopy()
			tc.mutate(pod)
			errs := ValidatePodStatusUpdate(pod, old)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected: %v", errs)
				}
				return
			}
			if !strings.Contains(errs.ToAggregate().Error(), tc.want) {
				t.Fatalf("errors %v do not contain %q", errs, tc.want)
			}
		})
	}
}

func TestValidateServiceLoadBalancerFields(t *testing.T) {
	svc := func(typ corev1.ServiceType, mutate func(*corev1.ServiceSpec)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: corev1.ServiceSpec{Type: typ, Ports: []corev1.ServicePort{{Port: 80}}}}
		mutate(&s.Spec)
		SetDefaultsService(s)
		return s
	}
	cases := []struct {
		name string
		svc  *corev1.Service
		want string // "" means valid
	}{
		{"load balancer with everything", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.ServiceSpec) {
			s.LoadBalancerSourceRanges = []string{"10.0.0.0/8", " 192.168.0.0/16"}
			s.LoadBalancerClass = ptr("example.com/lb")
			s.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.HealthCheckNodePort = 31000
		}), ""},
		{"source ranges on ClusterIP", svc(corev1.ServiceTypeClusterIP, func(s *corev1.ServiceSpec) { s.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} }),
			"spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"},
		{"bad source range", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.ServiceSpec) { s.LoadBalancerSourceRanges = []string{"10.0.0.0"} }),
			`spec.loadBalancerSourceRanges[0]: Invalid value: "10.0.0.0": must be a list of IP ranges`},
		{"class on NodePort", svc(corev1.ServiceTypeNodePort, func(s *corev1.ServiceSpec) { s.LoadBalancerClass = ptr("example.com/lb") }),
			"spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"},
		{"bad class", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.ServiceSpec) { s.LoadBalancerClass = ptr("not a class") }),
			`spec.loadBalancerClass: Invalid value: "not a class"`},
		{"allocate node ports on ClusterIP", svc(corev1.ServiceTypeClusterIP, func(s *corev1.ServiceSpec) { s.AllocateLoadBalancerNodePorts = ptr(false) }),
			"spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"},
		{"health check port with Cluster policy", svc(corev1.ServiceTypeLoadBalancer, func(s *corev1.ServiceSpec) { s.HealthCheckNodePort = 31000 }),
			"spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"},
	}
	annotated := func(v string) *corev1.Service {
		s := svc(corev1.ServiceTypeClusterIP, func(*corev1.ServiceSpec) {})
		s.Annotations = map[string]string{LoadBalancerAnnotation: v}
		return s
	}
	cases = append(cases, []struct {
		name string
		svc  *corev1.Service
		want string
	}{
		{"round-robin", annotated("round-robin"), ""},
		{"least-connections", annotated("least-connections"),
			`metadata.annotations[proxy.skiff.dev/load-balancer]: Invalid value: "least-connections": least-connections needs IPVS, which this node's kernel lacks`},
		{"unknown balancing", annotated("fastest"),
			`metadata.annotations[proxy.skiff.dev/load-balancer]: Unsupported value: "fastest": supported values: "random", "round-robin", "source-hash"`},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidateService(tc.svc)
			if tc.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if got := errs.ToAggregate(); got == nil || !strings.Contains(got.Error(), tc.want) {
				t.Fatalf("errors %v do not contain %q", got, tc.want)
			}
		})
	}
}
