package v1

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiffhq/skiff/apis/table"
)

// PodColumns are the columns of kubectl get pods.
var PodColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
	table.Column("Status", "string", "The aggregate status of the containers in this pod."),
	table.Column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
	table.AgeColumn,
	table.Wide("IP", "string", "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
	table.Wide("Node", "string", "NodeName is a request to schedule this pod onto a specific node."),
	table.Wide("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node."),
	table.Wide("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness."),
}

// PodRow renders a pod as kubectl's printer does.
func PodRow(obj runtime.Object) ([]any, error) {
	pod := obj.(*corev1.Pod)
	total := len(pod.Spec.Containers)
	ready := 0
	restarts := 0
	var lastRestart metav1.Time
	reason := string(pod.Status.Phase)
	if pod.Status.Reason != "" {
		reason = pod.Status.Reason
	}
	initializing := false
	for i, c := range pod.Status.InitContainerStatuses {
		restarts += int(c.RestartCount)
		if c.LastTerminationState.Terminated != nil && c.LastTerminationState.Terminated.FinishedAt.After(lastRestart.Time) {
			lastRestart = c.LastTerminationState.Terminated.FinishedAt
		}
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue
		case c.State.Terminated != nil:
			if c.State.Terminated.Reason == "" {
				if c.State.Terminated.Signal != 0 {
					reason = fmt.Sprintf("Init:Signal:%d", c.State.Terminated.Signal)
				} else {
					reason = fmt.Sprintf("Init:ExitCode:%d", c.State.Terminated.ExitCode)
				}
			} else {
				reason = "Init:" + c.State.Terminated.Reason
			}
			initializing = true
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + c.State.Waiting.Reason
			initializing = true
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
			initializing = true
		}
		break
	}
	if !initializing {
		restarts = 0
		hasRunning := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			c := pod.Status.ContainerStatuses[i]
			restarts += int(c.RestartCount)
			if c.LastTerminationState.Terminated != nil && c.LastTerminationState.Terminated.FinishedAt.After(lastRestart.Time) {
				lastRestart = c.LastTerminationState.Terminated.FinishedAt
			}
			switch {
			case c.State.Waiting != nil && c.State.Waiting.Reason != "":
				reason = c.State.Waiting.Reason
			case c.State.Terminated != nil && c.State.Terminated.Reason != "":
				reason = c.State.Terminated.Reason
			case c.State.Terminated != nil && c.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", c.State.Terminated.Signal)
			case c.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", c.State.Terminated.ExitCode)
			case c.Ready && c.State.Running != nil:
				hasRunning = true
				ready++
			}
		}
		if reason == "Completed" && hasRunning {
			if podReady(pod) {
				reason = "Running"
			} else {
				reason = "NotReady"
			}
		}
	}
	if pod.DeletionTimestamp != nil {
		if pod.Status.Reason == "NodeLost" {
			reason = "Unknown"
		} else {
			reason = "Terminating"
		}
	}
	restartCell := strconv.Itoa(restarts)
	if restarts != 0 && !lastRestart.IsZero() {
		restartCell = fmt.Sprintf("%d (%s ago)", restarts, table.Age(lastRestart))
	}
	ip := "<none>"
	if pod.Status.PodIP != "" {
		ip = pod.Status.PodIP
	}
	node := table.OrNone(pod.Spec.NodeName)
	nominated := table.OrNone(pod.Status.NominatedNodeName)
	gates := "<none>"
	if n := len(pod.Spec.ReadinessGates); n > 0 {
		trueGates := 0
		for _, g := range pod.Spec.ReadinessGates {
			for _, c := range pod.Status.Conditions {
				if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
					trueGates++
				}
			}
		}
		gates = fmt.Sprintf("%d/%d", trueGates, n)
	}
	return []any{pod.Name, fmt.Sprintf("%d/%d", ready, total), reason, restartCell, table.Age(pod.CreationTimestamp), ip, node, nominated, gates}, nil
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// NamespaceColumns are the columns of kubectl get namespaces.
var NamespaceColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Status", "string", "The status of the namespace"),
	table.AgeColumn,
}

// NamespaceRow renders a namespace.
func NamespaceRow(obj runtime.Object) ([]any, error) {
	ns := obj.(*corev1.Namespace)
	return []any{ns.Name, string(ns.Status.Phase), table.Age(ns.CreationTimestamp)}, nil
}

// ServiceColumns are the columns of kubectl get services.
var ServiceColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Type", "string", "The type of the service."),
	table.Column("Cluster-IP", "string", "The cluster IP of the service."),
	table.Column("External-IP", "string", "The external IP of the service."),
	table.Column("Port(s)", "string", "The ports of the service."),
	table.AgeColumn,
	table.Wide("Selector", "string", "Route service traffic to pods with label keys and values matching this selector."),
}

// ServiceRow renders a service.
func ServiceRow(obj runtime.Object) ([]any, error) {
	svc := obj.(*corev1.Service)
	clusterIP := table.OrNone(strings.Join(svc.Spec.ClusterIPs, ","))
	if len(svc.Spec.ClusterIPs) == 0 {
		clusterIP = table.OrNone(svc.Spec.ClusterIP)
	}
	return []any{svc.Name, string(svc.Spec.Type), clusterIP, serviceExternalIP(svc), servicePorts(svc), table.Age(svc.CreationTimestamp), table.Selector(svc.Spec.Selector)}, nil
}

func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				ips = append(ips, in.IP)
			} else if in.Hostname != "" {
				ips = append(ips, in.Hostname)
			}
		}
		ips = append(ips, svc.Spec.ExternalIPs...)
		if len(ips) > 0 {
			return strings.Join(ips, ",")
		}
		return "<pending>"
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

func servicePorts(svc *corev1.Service) string {
	if len(svc.Spec.Ports) == 0 {
		return "<none>"
	}
	parts := make([]string, 0, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		s := fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort > 0 {
			s = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

// EndpointsColumns are the columns of kubectl get endpoints.
var EndpointsColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Endpoints", "string", "Endpoints of the service"),
	table.AgeColumn,
}

// EndpointsRow renders endpoints, at most three addresses then "+ N more...".
func EndpointsRow(obj runtime.Object) ([]any, error) {
	e := obj.(*corev1.Endpoints)
	var list []string
	count := 0
	for _, ss := range e.Subsets {
		for _, a := range ss.Addresses {
			if len(ss.Ports) == 0 {
				count++
				if len(list) < 3 {
					list = append(list, a.IP)
				}
				continue
			}
			for _, p := range ss.Ports {
				count++
				if len(list) < 3 {
					list = append(list, fmt.Sprintf("%s:%d", a.IP, p.Port))
				}
			}
		}
	}
	s := table.Join(list)
	if count > len(list) {
		s = fmt.Sprintf("%s + %d more...", s, count-len(list))
	}
	return []any{e.Name, s, table.Age(e.CreationTimestamp)}, nil
}

// NodeColumns are the columns of kubectl get nodes.
var NodeColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Status", "string", "The status of the node"),
	table.Column("Roles", "string", "The roles of the node"),
	table.AgeColumn,
	table.Column("Version", "string", "Kubelet Version reported by the node."),
	table.Wide("Internal-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available."),
	table.Wide("External-IP", "string", "List of addresses reachable to the node. Queried from cloud provider, if available."),
	table.Wide("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
	table.Wide("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
	table.Wide("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
}

// NodeRow renders a node.
func NodeRow(obj runtime.Object) ([]any, error) {
	n := obj.(*corev1.Node)
	var status []string
	ready := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				ready = "Ready"
			} else {
				ready = "NotReady"
			}
		}
	}
	status = append(status, ready)
	if n.Spec.Unschedulable {
		status = append(status, "SchedulingDisabled")
	}
	roles := sets.New[string]()
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, "node-role.kubernetes.io/"):
			if r := strings.TrimPrefix(k, "node-role.kubernetes.io/"); r != "" {
				roles.Insert(r)
			}
		case k == "kubernetes.io/role" && v != "":
			roles.Insert(v)
		}
	}
	roleCell := "<none>"
	if roles.Len() > 0 {
		roleCell = strings.Join(sets.List(roles), ",")
	}
	internal, external := "<none>", "<none>"
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && internal == "<none>" {
			internal = a.Address
		}
		if a.Type == corev1.NodeExternalIP && external == "<none>" {
			external = a.Address
		}
	}
	info := n.Status.NodeInfo
	return []any{n.Name, strings.Join(status, ","), roleCell, table.Age(n.CreationTimestamp), info.KubeletVersion, internal, external, table.OrNone(info.OSImage), table.OrNone(info.KernelVersion), table.OrNone(info.ContainerRuntimeVersion)}, nil
}

// ConfigMapColumns are the columns of kubectl get configmaps.
var ConfigMapColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Data", "string", "Data contains the configuration data."),
	table.AgeColumn,
}

// ConfigMapRow renders a config map.
func ConfigMapRow(obj runtime.Object) ([]any, error) {
	cm := obj.(*corev1.ConfigMap)
	return []any{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), table.Age(cm.CreationTimestamp)}, nil
}

// SecretColumns are the columns of kubectl get secrets.
var SecretColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Type", "string", "The type of the secret"),
	table.Column("Data", "string", "The number of data items in the secret"),
	table.AgeColumn,
}

// SecretRow renders a secret.
func SecretRow(obj runtime.Object) ([]any, error) {
	s := obj.(*corev1.Secret)
	return []any{s.Name, string(s.Type), int64(len(s.Data)), table.Age(s.CreationTimestamp)}, nil
}

// ServiceAccountColumns are the columns of kubectl get serviceaccounts.
var ServiceAccountColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
	table.AgeColumn,
}

// ServiceAccountRow renders a service account.
func ServiceAccountRow(obj runtime.Object) ([]any, error) {
	sa := obj.(*corev1.ServiceAccount)
	return []any{sa.Name, int64(len(sa.Secrets)), table.Age(sa.CreationTimestamp)}, nil
}

// EventColumns are the columns of kubectl get events (core/v1).
var EventColumns = []metav1.TableColumnDefinition{
	table.Column("Last Seen", "string", "Time when last event from this object was observed."),
	table.Column("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future."),
	table.Column("Reason", "string", "Short, machine understandable string that gives the reason for the transition into the object's current status."),
	table.Column("Object", "string", "Object this event is about."),
	table.Wide("Subobject", "string", "Subobject of the involved object."),
	table.Wide("Source", "string", "The component reporting this event. Should be a short machine understandable string."),
	table.Column("Message", "string", "A human-readable description of the status of this operation."),
	table.Wide("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
	table.Wide("Count", "string", "The number of times this event has occurred."),
	table.Wide("Name", "string", "Name must be unique within a namespace."),
}

// EventRow renders a core/v1 event.
func EventRow(obj runtime.Object) ([]any, error) {
	e := obj.(*corev1.Event)
	first := e.FirstTimestamp
	if first.IsZero() {
		first = metav1.Time{Time: e.EventTime.Time}
	}
	last := e.LastTimestamp
	if last.IsZero() {
		last = first
	}
	if e.Series != nil {
		last = metav1.Time{Time: e.Series.LastObservedTime.Time}
	}
	if first.IsZero() {
		first = e.CreationTimestamp
	}
	if last.IsZero() {
		last = e.CreationTimestamp
	}
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	if e.Source.Host != "" {
		source += ", " + e.Source.Host
	}
	count := e.Count
	if e.Series != nil {
		count = e.Series.Count
	} else if count == 0 {
		count = 1
	}
	object := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
	return []any{table.Age(last), e.Type, e.Reason, object, e.InvolvedObject.FieldPath, source, strings.TrimSpace(e.Message), table.Age(first), int64(count), e.Name}, nil
}

// PodTemplateColumns are the columns of kubectl get podtemplates.
var PodTemplateColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Containers", "string", "Names of each container in the template."),
	table.Column("Images", "string", "Images referenced by each container in the template."),
	table.Column("Pod Labels", "string", "The labels for the pod template."),
}

// PodTemplateRow renders a pod template.
func PodTemplateRow(obj runtime.Object) ([]any, error) {
	pt := obj.(*corev1.PodTemplate)
	names := make([]string, 0, len(pt.Template.Spec.Containers))
	images := make([]string, 0, len(pt.Template.Spec.Containers))
	for _, c := range pt.Template.Spec.Containers {
		names = append(names, c.Name)
		images = append(images, c.Image)
	}
	return []any{pt.Name, strings.Join(names, ","), strings.Join(images, ","), table.Selector(pt.Template.Labels)}, nil
}
