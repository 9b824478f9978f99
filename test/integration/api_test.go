package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/testserver"
)

func ns(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[len(name)-50:]
	}
	name = strings.Trim(name, "-")
	_, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func podSpec(image string) corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}}
}

func statusCode(err error) int32 {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Code
	}
	return 0
}

// TestAPI runs the API behaviour tests against one shared server.
func TestAPI(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()

	t.Run("secret stringData is merged into data", func(t *testing.T) {
		sec, err := c.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sd"},
			Data: map[string][]byte{"a": []byte("old"), "b": []byte("kept")}, StringData: map[string]string{"a": "new", "c": "plain"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.CoreV1().Secrets("default").Get(ctx, "sd", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*corev1.Secret{sec, got} {
			if string(s.Data["a"]) != "new" || string(s.Data["b"]) != "kept" || string(s.Data["c"]) != "plain" || s.StringData != nil {
				t.Fatalf("secret data %q stringData %q", s.Data, s.StringData)
			}
		}
		got.StringData = map[string]string{"b": "updated"}
		upd, err := c.CoreV1().Secrets("default").Update(ctx, got, metav1.UpdateOptions{})
		if err != nil || string(upd.Data["b"]) != "updated" || upd.StringData != nil {
			t.Fatalf("update: %v %q %q", err, upd.Data, upd.StringData)
		}
	})

	t.Run("bootstrap", func(t *testing.T) {
		for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
			got, err := c.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("namespace %s: %v", name, err)
			}
			if got.Status.Phase != corev1.NamespaceActive || got.Labels[corev1.LabelMetadataName] != name {
				t.Errorf("namespace %s: phase %q labels %v", name, got.Status.Phase, got.Labels)
			}
		}
		svc, err := c.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP != "10.96.0.1" || svc.Spec.Ports[0].Port != 443 {
			t.Errorf("kubernetes service: clusterIP %s ports %v", svc.Spec.ClusterIP, svc.Spec.Ports)
		}
	})

	t.Run("deployment defaults", func(t *testing.T) {
		n := ns(t, c)
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: podSpec("nginx")},
			},
		}
		got, err := c.AppsV1().Deployments(n).Create(ctx, d, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := got.Spec
		if *s.Replicas != 1 || s.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType ||
			s.Strategy.RollingUpdate.MaxSurge.String() != "25%" || s.Strategy.RollingUpdate.MaxUnavailable.String() != "25%" ||
			*s.RevisionHistoryLimit != 10 || *s.ProgressDeadlineSeconds != 600 {
			t.Errorf("deployment spec defaults wrong: %+v", s)
		}
		ps := s.Template.Spec
		if ps.RestartPolicy != corev1.RestartPolicyAlways || ps.DNSPolicy != corev1.DNSClusterFirst || *ps.TerminationGracePeriodSeconds != 30 ||
			ps.SchedulerName != "default-scheduler" || ps.Containers[0].ImagePullPolicy != corev1.PullAlways ||
			ps.Containers[0].TerminationMessagePath != "/dev/termination-log" || ps.Containers[0].TerminationMessagePolicy != corev1.TerminationMessageReadFile {
			t.Errorf("pod template defaults wrong: %+v", ps)
		}
		if got.Generation != 1 {
			t.Errorf("generation = %d, want 1", got.Generation)
		}
		// A spec change bumps the generation; a status write through the
		// main resource is ignored.
		got.Spec.Replicas = ptr.To[int32](3)
		got.Status.Replicas = 7
		upd, err := c.AppsV1().Deployments(n).Update(ctx, got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Generation != 2 || upd.Status.Replicas != 0 {
			t.Errorf("after update: generation %d status.replicas %d, want 2 and 0", upd.Generation, upd.Status.Replicas)
		}
		// Scale subresource.
		scale, err := c.AppsV1().Deployments(n).GetScale(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if scale.Spec.Replicas != 3 || scale.Status.Selector != "app=web" {
			t.Errorf("scale = %+v", scale)
		}
		scale.Spec.Replicas = 5
		if _, err := c.AppsV1().Deployments(n).UpdateScale(ctx, "web", scale, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		d2, _ := c.AppsV1().Deployments(n).Get(ctx, "web", metav1.GetOptions{})
		if *d2.Spec.Replicas != 5 {
			t.Errorf("replicas after scale = %d, want 5", *d2.Spec.Replicas)
		}
		// Status subresource changes status only.
		d2.Status.Replicas = 4
		d2.Spec.Replicas = ptr.To[int32](9)
		st, err := c.AppsV1().Deployments(n).UpdateStatus(ctx, d2, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if st.Status.Replicas != 4 || *st.Spec.Replicas != 5 {
			t.Errorf("status update: status.replicas %d spec.replicas %d, want 4 and 5", st.Status.Replicas, *st.Spec.Replicas)
		}
	})

	t.Run("pod defaults", func(t *testing.T) {
		n := ns(t, c)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "a", Image: "busybox:1.36"}, {Name: "b", Image: "busybox"}, {Name: "c", Image: "busybox:latest"},
		}}}
		got, err := c.CoreV1().Pods(n).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want := []corev1.PullPolicy{corev1.PullIfNotPresent, corev1.PullAlways, corev1.PullAlways}
		for i, c := range got.Spec.Containers {
			if c.ImagePullPolicy != want[i] {
				t.Errorf("container %s: pull policy %s, want %s", c.Name, c.ImagePullPolicy, want[i])
			}
		}
		if got.Status.Phase != corev1.PodPending || got.Status.QOSClass != corev1.PodQOSBestEffort || !*got.Spec.EnableServiceLinks {
			t.Errorf("pod status %+v enableServiceLinks %v", got.Status, got.Spec.EnableServiceLinks)
		}
	})

	t.Run("job defaults and selector", func(t *testing.T) {
		n := ns(t, c)
		job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
		got, err := c.BatchV1().Jobs(n).Create(ctx, job, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *got.Spec.Completions != 1 || *got.Spec.Parallelism != 1 || *got.Spec.BackoffLimit != 6 || *got.Spec.CompletionMode != batchv1.NonIndexedCompletion {
			t.Errorf("job defaults: %+v", got.Spec)
		}
		uid := string(got.UID)
		if got.Spec.Selector.MatchLabels["batch.kubernetes.io/controller-uid"] != uid || got.Spec.Template.Labels["job-name"] != "j" {
			t.Errorf("generated selector %v labels %v", got.Spec.Selector, got.Spec.Template.Labels)
		}
	})

	t.Run("validation", func(t *testing.T) {
		n := ns(t, c)
		cases := []struct {
			name   string
			create func() error
			want   []string
		}{
			{"pod without containers", func() error {
				_, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, metav1.CreateOptions{})
				return err
			}, []string{"spec.containers: Required value"}},
			{"pod without image", func() error {
				_, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: podSpec("")}, metav1.CreateOptions{})
				return err
			}, []string{"spec.containers[0].image: Required value"}},
			{"bad name", func() error {
				_, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "Bad_Name"}}, metav1.CreateOptions{})
				return err
			}, []string{"metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"}},
			{"duplicate container ports", func() error {
				spec := podSpec("busybox")
				spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 80}}
				_, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: spec}, metav1.CreateOptions{})
				return err
			}, []string{"spec.containers[0].ports[1]: Duplicate value: \"80/TCP\""}},
			{"selector does not match template", func() error {
				d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "b"}}, Spec: podSpec("nginx")},
				}}
				_, err := c.AppsV1().Deployments(n).Create(ctx, d, metav1.CreateOptions{})
				return err
			}, []string{"spec.template.metadata.labels: Invalid value", "`selector` does not match template `labels`"}},
			{"job with restartPolicy Always", func() error {
				_, err := c.BatchV1().Jobs(n).Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j"}, Spec: batchv1.JobSpec{
					Template: corev1.PodTemplateSpec{Spec: podSpec("busybox")}}}, metav1.CreateOptions{})
				return err
			}, []string{"spec.template.spec.restartPolicy: Unsupported value: \"Always\""}},
			{"cronjob with a bad schedule", func() error {
				_, err := c.BatchV1().CronJobs(n).Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "cj"}, Spec: batchv1.CronJobSpec{
					Schedule: "every minute", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}}}, metav1.CreateOptions{})
				return err
			}, []string{"spec.schedule: Invalid value: \"every minute\""}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.create()
				if !apierrors.IsInvalid(err) {
					t.Fatalf("err = %v, want 422 Invalid", err)
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err.Error(), w)
					}
				}
			})
		}
	})

	t.Run("immutable fields", func(t *testing.T) {
		n := ns(t, c)
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d"}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a", "x": "y"}}, Spec: podSpec("nginx")},
		}}
		if _, err := c.AppsV1().Deployments(n).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// The deployment controller writes the object too (its revision
		// annotation): update the latest version.
		var err error
		for range 10 {
			got, gerr := c.AppsV1().Deployments(n).Get(ctx, "d", metav1.GetOptions{})
			if gerr != nil {
				t.Fatal(gerr)
			}
			got.Spec.Selector.MatchLabels["x"] = "y"
			if _, err = c.AppsV1().Deployments(n).Update(ctx, got, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
				break
			}
		}
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.selector: Invalid value") || !strings.Contains(err.Error(), "field is immutable") {
			t.Errorf("changing the selector: %v", err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		n := ns(t, c)
		rc := c.CoreV1().RESTClient()
		// Malformed JSON is a 400.
		res := rc.Post().Namespace(n).Resource("configmaps").Body([]byte(`{"apiVersion":"v1","kind":"ConfigMap",`)).SetHeader("Content-Type", "application/json").Do(ctx)
		if code := statusOf(res.Error()); code != http.StatusBadRequest {
			t.Errorf("malformed JSON: status %d (%v), want 400", code, res.Error())
		}
		// Unknown resource is a 404.
		res = rc.Get().AbsPath("/api/v1/namespaces", n, "widgets").Do(ctx)
		if code := statusOf(res.Error()); code != http.StatusNotFound {
			t.Errorf("unknown resource: status %d, want 404", code)
		}
		// Stale resourceVersion is a 409.
		cm, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data = map[string]string{"a": "1"}
		if _, err := c.CoreV1().ConfigMaps(n).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		cm.Data = map[string]string{"a": "2"}
		if _, err := c.CoreV1().ConfigMaps(n).Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("stale update: %v, want 409", err)
		}
		// A body over 3 MiB is refused with 413.
		big := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Data: map[string]string{"a": strings.Repeat("x", 3<<20+10)}}
		if _, err := c.CoreV1().ConfigMaps(n).Create(ctx, big, metav1.CreateOptions{}); statusCode(err) != http.StatusRequestEntityTooLarge {
			t.Errorf("3 MiB body: %v, want 413", err)
		}
		// An object over the 1 MiB config map limit is invalid.
		big.Data["a"] = strings.Repeat("x", 1<<20+10)
		if _, err := c.CoreV1().ConfigMaps(n).Create(ctx, big, metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
			t.Errorf("1 MiB config map: %v, want 422", err)
		}
		// An object over etcd's 1.5 MiB request limit (a pod with a large
		// annotation-free spec) gets the upstream error, not a crash.
		huge := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "huge"}, Spec: podSpec("busybox")}
		huge.Spec.Containers[0].Args = []string{strings.Repeat("y", 2<<20)}
		_, err = c.CoreV1().Pods(n).Create(ctx, huge, metav1.CreateOptions{})
		if code := statusCode(err); code != http.StatusRequestEntityTooLarge && code != http.StatusUnprocessableEntity {
			t.Errorf("2 MiB pod: %v (code %d), want 413 or 422", err, code)
		}
		// Creating in a missing namespace is a 404 naming the namespace.
		_, err = c.CoreV1().ConfigMaps("no-such-ns").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), `namespaces "no-such-ns" not found`) {
			t.Errorf("missing namespace: %v", err)
		}
	})

	t.Run("namespace termination", func(t *testing.T) {
		n := ns(t, c)
		if err := c.CoreV1().Namespaces().Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := c.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase != corev1.NamespaceTerminating || got.DeletionTimestamp == nil {
			t.Fatalf("after delete: phase %s deletionTimestamp %v", got.Status.Phase, got.DeletionTimestamp)
		}
		_, err = c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "because it is being terminated") {
			t.Errorf("create in terminating namespace: %v", err)
		}
		// Clearing spec.finalizers through namespaces/finalize lets the
		// next delete remove it.
		got.Spec.Finalizers = nil
		if _, err := c.CoreV1().Namespaces().Finalize(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().Namespaces().Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace still there after finalize and delete: %v", err)
		}
	})

	t.Run("selectors and pagination", func(t *testing.T) {
		n := ns(t, c)
		for i := 0; i < 5; i++ {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Labels: map[string]string{"i": fmt.Sprint(i % 2)}}, Spec: podSpec("busybox")}
			if i < 2 {
				pod.Spec.NodeName = "node-a"
			}
			if _, err := c.CoreV1().Pods(n).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		count := func(opts metav1.ListOptions) int {
			l, err := c.CoreV1().Pods(n).List(ctx, opts)
			if err != nil {
				t.Fatalf("%+v: %v", opts, err)
			}
			return len(l.Items)
		}
		if got := count(metav1.ListOptions{FieldSelector: "spec.nodeName=node-a"}); got != 2 {
			t.Errorf("spec.nodeName=node-a: %d pods, want 2", got)
		}
		if got := count(metav1.ListOptions{FieldSelector: "status.phase=Pending"}); got != 5 {
			t.Errorf("status.phase=Pending: %d pods, want 5", got)
		}
		if got := count(metav1.ListOptions{FieldSelector: "metadata.name=p3"}); got != 1 {
			t.Errorf("metadata.name=p3: %d pods, want 1", got)
		}
		if got := count(metav1.ListOptions{LabelSelector: "i=1"}); got != 2 {
			t.Errorf("i=1: %d pods, want 2", got)
		}
		_, err := c.CoreV1().Pods(n).List(ctx, metav1.ListOptions{FieldSelector: "spec.bogus=x"})
		if statusCode(err) != http.StatusBadRequest {
			t.Errorf("unknown field selector: %v, want 400", err)
		}
		page, err := c.CoreV1().Pods(n).List(ctx, metav1.ListOptions{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		seen := len(page.Items)
		for page.Continue != "" {
			if page, err = c.CoreV1().Pods(n).List(ctx, metav1.ListOptions{Limit: 2, Continue: page.Continue}); err != nil {
				t.Fatal(err)
			}
			seen += len(page.Items)
		}
		if seen != 5 {
			t.Errorf("paged through %d pods, want 5", seen)
		}
	})

	t.Run("binding", func(t *testing.T) {
		n := ns(t, c)
		if _, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: podSpec("busybox")}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
		if err := c.CoreV1().Pods(n).Bind(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod, _ := c.CoreV1().Pods(n).Get(ctx, "p", metav1.GetOptions{})
		if pod.Spec.NodeName != "node-1" {
			t.Errorf("nodeName = %q", pod.Spec.NodeName)
		}
		scheduled := false
		for _, cond := range pod.Status.Conditions {
			scheduled = scheduled || (cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionTrue)
		}
		if !scheduled {
			t.Errorf("no PodScheduled=True condition: %v", pod.Status.Conditions)
		}
		b.Target.Name = "node-2"
		if err := c.CoreV1().Pods(n).Bind(ctx, b, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
			t.Errorf("second binding: %v, want 409", err)
		}

		// A binding's UID must match the pod's; a dry run changes nothing;
		// a gated pod cannot be bound; a missing pod is 404.
		q, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: podSpec("busybox")}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wrongUID := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "q", UID: "not-the-uid"}, Target: corev1.ObjectReference{Name: "node-1"}}
		if err := c.CoreV1().Pods(n).Bind(ctx, wrongUID, metav1.CreateOptions{}); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "UID") {
			t.Errorf("binding with another UID: %v, want 409 naming the UID", err)
		}
		if err := c.CoreV1().Pods(n).Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "q", UID: q.UID}, Target: corev1.ObjectReference{Name: "node-1"}},
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("dry-run binding: %v", err)
		}
		if got, _ := c.CoreV1().Pods(n).Get(ctx, "q", metav1.GetOptions{}); got.Spec.NodeName != "" {
			t.Errorf("after a dry-run binding: nodeName %q", got.Spec.NodeName)
		}
		if err := c.CoreV1().Pods(n).Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "q", UID: q.UID}, Target: corev1.ObjectReference{Name: "node-1"}}, metav1.CreateOptions{}); err != nil {
			t.Errorf("binding with the pod's UID: %v", err)
		}
		gatedSpec := podSpec("busybox")
		gatedSpec.SchedulingGates = []corev1.PodSchedulingGate{{Name: "example.com/wait"}}
		if _, err := c.CoreV1().Pods(n).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "gated"}, Spec: gatedSpec}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().Pods(n).Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "gated"}, Target: corev1.ObjectReference{Name: "node-1"}}, metav1.CreateOptions{}); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "schedulingGates") {
			t.Errorf("binding a gated pod: %v, want 409 naming schedulingGates", err)
		}
		if err := c.CoreV1().Pods(n).Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "missing"}, Target: corev1.ObjectReference{Name: "node-1"}}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("binding a missing pod: %v, want 404", err)
		}
	})

	t.Run("watch", func(t *testing.T) {
		n := ns(t, c)
		// Only "w": the namespace also gets kube-root-ca.crt.
		w, err := c.CoreV1().ConfigMaps(n).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=w"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		if _, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "w"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Added || ev.Object.(*corev1.ConfigMap).Name != "w" {
				t.Errorf("event %s %v", ev.Type, ev.Object)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event within 10s")
		}
	})

	t.Run("server-side apply and dry-run", func(t *testing.T) {
		n := ns(t, c)
		apply := func(manager string, data string, force bool) error {
			body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ssa"},"data":%s}`, data)
			_, err := c.CoreV1().ConfigMaps(n).Patch(ctx, "ssa", types.ApplyPatchType, []byte(body), metav1.PatchOptions{FieldManager: manager, Force: &force})
			return err
		}
		if err := apply("alice", `{"a":"1"}`, false); err != nil {
			t.Fatal(err)
		}
		if err := apply("bob", `{"a":"2"}`, false); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "conflict with \"alice\"") {
			t.Errorf("conflicting apply: %v", err)
		}
		if err := apply("bob", `{"a":"2"}`, true); err != nil {
			t.Errorf("forced apply: %v", err)
		}
		cm, _ := c.CoreV1().ConfigMaps(n).Get(ctx, "ssa", metav1.GetOptions{})
		if cm.Data["a"] != "2" || len(cm.ManagedFields) == 0 {
			t.Errorf("after forced apply: data %v managedFields %d", cm.Data, len(cm.ManagedFields))
		}
		_, err := c.CoreV1().ConfigMaps(n).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "dry"}}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().ConfigMaps(n).Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("dry-run create persisted: %v", err)
		}
	})
}

func statusOf(err error) int {
	return int(statusCode(err))
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) { return cond() }); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
