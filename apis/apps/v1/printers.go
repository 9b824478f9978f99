package v1

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiffhq/skiff/apis/table"
)

var (
	containersColumn = table.Wide("Containers", "string", "Names of each container in the template.")
	imagesColumn     = table.Wide("Images", "string", "Images referenced by each container in the template.")
	selectorColumn   = table.Wide("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.")
)

// ContainersAndImages formats the containers and images of a pod template.
func ContainersAndImages(t *corev1.PodTemplateSpec) (string, string) {
	names := make([]string, 0, len(t.Spec.Containers))
	images := make([]string, 0, len(t.Spec.Containers))
	for _, c := range t.Spec.Containers {
		names = append(names, c.Name)
		images = append(images, c.Image)
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

// DeploymentColumns are the columns of kubectl get deployments.
var DeploymentColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Ready", "string", "Number of the pod with ready state"),
	table.Column("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
	table.Column("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
	table.AgeColumn,
	containersColumn, imagesColumn, selectorColumn,
}

// DeploymentRow renders a deployment.
func DeploymentRow(obj runtime.Object) ([]any, error) {
	d := obj.(*appsv1.Deployment)
	containers, images := ContainersAndImages(&d.Spec.Template)
	return []any{d.Name, fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)), int64(d.Status.UpdatedReplicas), int64(d.Status.AvailableReplicas),
		table.Age(d.CreationTimestamp), containers, images, table.LabelSelector(d.Spec.Selector)}, nil
}

// ReplicaSetColumns are the columns of kubectl get replicasets.
var ReplicaSetColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Desired", "integer", "Replicas is the number of desired replicas."),
	table.Column("Current", "integer", "Replicas is the most recently observed number of replicas."),
	table.Column("Ready", "integer", "The number of ready replicas for this replica set."),
	table.AgeColumn,
	containersColumn, imagesColumn, selectorColumn,
}

// ReplicaSetRow renders a replica set.
func ReplicaSetRow(obj runtime.Object) ([]any, error) {
	rs := obj.(*appsv1.ReplicaSet)
	containers, images := ContainersAndImages(&rs.Spec.Template)
	return []any{rs.Name, int64(replicas(rs.Spec.Replicas)), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
		table.Age(rs.CreationTimestamp), containers, images, table.LabelSelector(rs.Spec.Selector)}, nil
}

// StatefulSetColumns are the columns of kubectl get statefulsets.
var StatefulSetColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Ready", "string", "Number of the pod with ready state"),
	table.AgeColumn,
	containersColumn, imagesColumn,
}

// StatefulSetRow renders a stateful set.
func StatefulSetRow(obj runtime.Object) ([]any, error) {
	ss := obj.(*appsv1.StatefulSet)
	containers, images := ContainersAndImages(&ss.Spec.Template)
	return []any{ss.Name, fmt.Sprintf("%d/%d", ss.Status.ReadyReplicas, replicas(ss.Spec.Replicas)), table.Age(ss.CreationTimestamp), containers, images}, nil
}

// DaemonSetColumns are the columns of kubectl get daemonsets.
var DaemonSetColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod)."),
	table.Column("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
	table.Column("Ready", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
	table.Column("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
	table.Column("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
	table.Column("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
	table.AgeColumn,
	containersColumn, imagesColumn, selectorColumn,
}

// DaemonSetRow renders a daemon set.
func DaemonSetRow(obj runtime.Object) ([]any, error) {
	ds := obj.(*appsv1.DaemonSet)
	containers, images := ContainersAndImages(&ds.Spec.Template)
	st := ds.Status
	return []any{ds.Name, int64(st.DesiredNumberScheduled), int64(st.CurrentNumberScheduled), int64(st.NumberReady), int64(st.UpdatedNumberScheduled), int64(st.NumberAvailable),
		table.Selector(ds.Spec.Template.Spec.NodeSelector), table.Age(ds.CreationTimestamp), containers, images, table.LabelSelector(ds.Spec.Selector)}, nil
}

// ControllerRevisionColumns are the columns of kubectl get controllerrevisions.
var ControllerRevisionColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Controller", "string", "Controller of the object"),
	table.Column("Revision", "string", "Revision indicates the revision of the state represented by Data."),
	table.AgeColumn,
}

// ControllerRevisionRow renders a controller revision.
func ControllerRevisionRow(obj runtime.Object) ([]any, error) {
	cr := obj.(*appsv1.ControllerRevision)
	controller := "<none>"
	if ref := metav1.GetControllerOf(cr); ref != nil {
		group := ""
		if gv, err := schemaParseGroup(ref.APIVersion); err == nil {
			group = gv
		}
		kind := strings.ToLower(ref.Kind)
		if group != "" {
			kind += "." + group
		}
		controller = kind + "/" + ref.Name
	}
	return []any{cr.Name, controller, cr.Revision, table.Age(cr.CreationTimestamp)}, nil
}

func schemaParseGroup(apiVersion string) (string, error) {
	if i := strings.Index(apiVersion, "/"); i >= 0 {
		return apiVersion[:i], nil
	}
	return "", nil
}

func replicas(r *int32) int32 {
	if r == nil {
		return 0
	}
	return *r
}
