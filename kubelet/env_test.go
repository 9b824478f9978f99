package kubelet

import (
	"context"
	"errors"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestRunnableResolvesEnv(t *testing.T) {
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cfg"}, Data: map[string]string{"A": "from-cm", "MODE": "fast", "1st": "x"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "sec"}, Data: map[string][]byte{"PASSWORD": []byte("s3cret")}},
	)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid-1", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.PodSpec{NodeName: "n1"},
	}
	yes := true
	c := &corev1.Container{
		Name:    "main",
		Command: []string{"sh", "-c", "echo $(GREETING) $$(NOT) $(UNKNOWN)"},
		Args:    []string{"$(MODE)"},
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}},
			{Prefix: "S_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}}},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &yes}},
		},
		Env: []corev1.EnvVar{
			{Name: "A", Value: "overridden"},
			{Name: "GREETING", Value: "hello $(A)"},
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "PASSWORD"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "nope", Optional: &yes}}},
			{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
		},
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}},
	}
	src := &envSource{client: client, pod: pod, podIPs: []string{"10.244.0.7"}, hostIPs: []string{"192.0.2.2"},
		allocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}}
	out, err := src.runnable(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, e := range out.Env {
		got[e.Name] = e.Value
		order = append(order, e.Name)
	}
	want := map[string]string{"A": "overridden", "MODE": "fast", "1st": "x", "S_PASSWORD": "s3cret", "GREETING": "hello overridden", "POD": "p",
		"APP": "web", "IP": "10.244.0.7", "PW": "s3cret", "MEM": "2048", "CPU": "250"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("env %v\nwant %v", got, want)
	}
	if fmt.Sprint(order[:4]) != "[1st A MODE S_PASSWORD]" {
		t.Fatalf("envFrom variables come first, by key: %v", order)
	}
	if out.Command[2] != "echo hello overridden $(NOT) $(UNKNOWN)" || out.Args[0] != "fast" {
		t.Fatalf("expanded command %q args %q", out.Command, out.Args)
	}
	if c.Env[1].Value != "hello $(A)" || len(c.EnvFrom) != 3 {
		t.Fatal("the pod's own container was modified")
	}

	// Required references that are missing: CreateContainerConfigError.
	for _, env := range []corev1.EnvVar{
		{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Key: "k"}}},
		{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "nope"}}},
	} {
		_, err := src.runnable(context.Background(), &corev1.Container{Name: "main", Env: []corev1.EnvVar{env}})
		var se *StartError
		if !errors.As(err, &se) || se.Reason != ReasonCreateConfigError {
			t.Errorf("%+v: %v, want CreateContainerConfigError", env.ValueFrom, err)
		}
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "1", "B": "two"}
	for in, want := range map[string]string{
		"$(A)-$(B)": "1-two", "$$(A)": "$(A)", "$(C)": "$(C)", "$(A": "$(A", "cost $5": "cost $5", "end$": "end$", "": "",
	} {
		if got := expand(in, vars); got != want {
			t.Errorf("expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestServiceLinks(t *testing.T) {
	client := fake.NewClientset(
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "my-db"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.7", Ports: []corev1.ServicePort{
				{Name: "sql", Port: 5432, Protocol: corev1.ProtocolTCP}, {Port: 53, Protocol: corev1.ProtocolUDP}}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "headless"}, Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "elsewhere"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.9"}},
	)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	env := func(links *bool, services bool, c *corev1.Container) map[string]string {
		t.Helper()
		p := pod.DeepCopy()
		p.Spec.EnableServiceLinks = links
		out, err := (&envSource{client: client, pod: p, services: services}).runnable(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, e := range out.Env {
			m[e.Name] = e.Value
		}
		return m
	}
	got := env(nil, true, &corev1.Container{Env: []corev1.EnvVar{{Name: "MY_DB_SERVICE_PORT", Value: "mine"}, {Name: "URL", Value: "$(MY_DB_SERVICE_HOST):$(MY_DB_SERVICE_PORT_SQL)"}}})
	want := map[string]string{
		"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
		"MY_DB_SERVICE_HOST": "10.96.0.7", "MY_DB_SERVICE_PORT": "mine", "MY_DB_SERVICE_PORT_SQL": "5432",
		"MY_DB_PORT": "tcp://10.96.0.7:5432", "MY_DB_PORT_5432_TCP": "tcp://10.96.0.7:5432", "MY_DB_PORT_5432_TCP_PROTO": "tcp",
		"MY_DB_PORT_5432_TCP_PORT": "5432", "MY_DB_PORT_5432_TCP_ADDR": "10.96.0.7",
		"MY_DB_PORT_53_UDP": "udp://10.96.0.7:53", "MY_DB_PORT_53_UDP_PROTO": "udp", "MY_DB_PORT_53_UDP_PORT": "53", "MY_DB_PORT_53_UDP_ADDR": "10.96.0.7",
		"URL": "10.96.0.7:5432",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("env:\n%v\nwant:\n%v", got, want)
	}
	// enableServiceLinks: false keeps only the kubernetes Service's.
	off := false
	got = env(&off, true, &corev1.Container{})
	if len(got) != 8 || got["KUBERNETES_SERVICE_HOST"] != "10.96.0.1" {
		t.Errorf("without service links: %v", got)
	}
	// Simulated nodes skip the lookups.
	if got = env(nil, false, &corev1.Container{}); len(got) != 0 {
		t.Errorf("simulated node: %v", got)
	}
}
