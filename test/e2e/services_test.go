package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiffhq/skiff/test/images"
	"github.com/skiffhq/skiff/test/testserver"
)

// servicesManifest: three httpd pods that answer with their name, the
// Services in front of them, a StatefulSet behind a headless Service, an
// ExternalName and a client pod.
const servicesManifest = `apiVersion: apps/v1
kind: Deployment
metadata: {name: svcweb}
spec:
  replicas: 3
  selector: {matchLabels: {app: svcweb}}
  template:
    metadata: {labels: {app: svcweb}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: %[1]s
        command: [sh, -c, 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']
        ports: [{name: web, containerPort: 8080}]
        readinessProbe: {tcpSocket: {port: web}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: svcweb}
spec:
  selector: {app: svcweb}
  ports: [{name: http, port: 80, targetPort: web}]
---
apiVersion: v1
kind: Service
metadata: {name: svcweb-rr, annotations: {proxy.skiff.dev/load-balancer: round-robin}}
spec:
  selector: {app: svcweb}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: svcweb-sticky}
spec:
  selector: {app: svcweb}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: svcweb-np}
spec:
  type: NodePort
  selector: {app: svcweb}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: svcweb-lb}
spec:
  type: LoadBalancer
  selector: {app: svcweb}
  ports: [{port: 18081, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: alias}
spec:
  type: ExternalName
  externalName: svcweb.default.svc.cluster.local
---
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{name: tcp, port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: db, image: %[1]s, command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: echo, labels: {app: echo}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: %[1]s, command: [nc, -ll, -p, "9000", -e, cat]}
---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{port: 9000}]
---
apiVersion: v1
kind: Pod
metadata: {name: svcclient}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: %[1]s, command: [sleep, "3600"]}
`

// get fetches url on a new connection (a Service balances connections)
// and returns the body.
func get(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// testServices checks the node's service proxy and DNS end to end.
func testServices(t testing.TB, srv *testserver.Server, node string) {
	t.Helper()
	k := mustKubectl(t, srv)
	kt := func(args ...string) string { t.Helper(); return strings.TrimSpace(k(args...)) }
	if out, err := srv.KubectlStdin(fmt.Sprintf(servicesManifest, images.Name), "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	kt("rollout", "status", "deployment/svcweb", "--timeout=90s")
	kt("rollout", "status", "statefulset/db", "--timeout=90s")
	kt("wait", "--for=condition=Ready", "pod/svcclient", "--timeout=60s")
	pods := strings.Fields(kt("get", "pods", "-l", "app=svcweb", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(pods) != 3 {
		t.Fatalf("svcweb pods: %v", pods)
	}
	clusterIP := kt("get", "service", "svcweb", "-o", "jsonpath={.spec.clusterIP}")
	dnsIP := kt("get", "service", "-n", "kube-system", "kube-dns", "-o", "jsonpath={.spec.clusterIP}")
	if dnsIP != "10.96.0.10" {
		t.Fatalf("kube-dns cluster IP %q, want 10.96.0.10", dnsIP)
	}

	// From the node: every endpoint answers in turn at random.
	seen := map[string]int{}
	eventually(t, 30*time.Second, func() error {
		body, err := get("http://" + clusterIP + "/")
		if err != nil {
			return err
		}
		seen[body]++
		if len(seen) < 3 {
			return fmt.Errorf("answers so far: %v", seen)
		}
		return nil
	})
	for body := range seen {
		if !slices.Contains(pods, body) {
			t.Fatalf("answer %q is none of the pods %v", body, pods)
		}
	}

	// From a pod, by IP and by name (resolv.conf search list, ndots:5).
	exec := func(pod string, args ...string) (string, error) {
		out, err := srv.Kubectl(append([]string{"exec", pod, "--"}, args...)...)
		return strings.TrimSpace(out), err
	}
	for _, url := range []string{"http://" + clusterIP + "/", "http://svcweb/", "http://svcweb.default.svc.cluster.local/"} {
		eventually(t, 20*time.Second, func() error {
			out, err := exec("svcclient", "wget", "-q", "-O", "-", url)
			if err != nil || !slices.Contains(pods, out) {
				return fmt.Errorf("wget %s from a pod: %v %q", url, err, out)
			}
			return nil
		})
	}
	if out, _ := exec("svcclient", "cat", "/etc/resolv.conf"); !strings.Contains(out, "nameserver 10.96.0.10") ||
		!strings.Contains(out, "search default.svc.cluster.local svc.cluster.local cluster.local") || !strings.Contains(out, "ndots:5") {
		t.Fatalf("the pod's resolv.conf:\n%s", out)
	}
	// Hairpin: a pod reaches itself through its Service.
	eventually(t, 20*time.Second, func() error {
		for range 6 {
			if out, err := exec(pods[0], "wget", "-q", "-O", "-", "http://svcweb/"); err != nil || !slices.Contains(pods, out) {
				return fmt.Errorf("wget from behind the Service: %v %q", err, out)
			}
		}
		return nil
	})

	// DNS from the node, through the kube-dns Service.
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(dnsIP, "53"))
	}}
	lookup := func(name string) ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return resolver.LookupHost(ctx, name)
	}
	eventually(t, 20*time.Second, func() error {
		if addrs, err := lookup("svcweb.default.svc.cluster.local"); err != nil || !slices.Equal(addrs, []string{clusterIP}) {
			return fmt.Errorf("svcweb: %v %v, want %s", addrs, err, clusterIP)
		}
		return nil
	})
	if _, err := lookup("nothere.default.svc.cluster.local"); err == nil || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("an unknown Service resolves: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, srvs, err := resolver.LookupSRV(ctx, "http", "tcp", "svcweb.default.svc.cluster.local")
	cancel()
	if err != nil || len(srvs) != 1 || srvs[0].Port != 80 || srvs[0].Target != "svcweb.default.svc.cluster.local." {
		t.Errorf("SRV _http._tcp.svcweb: %v %+v", err, srvs)
	}
	if addrs, err := lookup("alias.default.svc.cluster.local"); err != nil || !slices.Contains(addrs, clusterIP) {
		t.Errorf("the ExternalName alias: %v %v, want %s through its CNAME", addrs, err, clusterIP)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	names, err := resolver.LookupAddr(ctx, clusterIP)
	cancel()
	if err != nil || !slices.Equal(names, []string{"svcweb.default.svc.cluster.local."}) {
		t.Errorf("reverse lookup of %s: %v %v", clusterIP, names, err)
	}
	if addrs, err := lookup("10-1-2-3.default.pod.cluster.local"); err != nil || !slices.Equal(addrs, []string{"10.1.2.3"}) {
		t.Errorf("a pod name: %v %v", addrs, err)
	}
	// Headless: the StatefulSet's pods by their stable names, and all of them by the Service's.
	db0 := kt("get", "pod", "db-0", "-o", "jsonpath={.status.podIP}")
	db1 := kt("get", "pod", "db-1", "-o", "jsonpath={.status.podIP}")
	eventually(t, 20*time.Second, func() error {
		if addrs, err := lookup("db-0.db.default.svc.cluster.local"); err != nil || !slices.Equal(addrs, []string{db0}) {
			return fmt.Errorf("db-0.db: %v %v, want %s", addrs, err, db0)
		}
		addrs, err := lookup("db.default.svc.cluster.local")
		slices.Sort(addrs)
		want := []string{db0, db1}
		slices.Sort(want)
		if err != nil || !slices.Equal(addrs, want) {
			return fmt.Errorf("db: %v %v, want %v", addrs, err, want)
		}
		return nil
	})
	if out, err := exec("svcclient", "nslookup", "db-1.db.default.svc.cluster.local"); err != nil || !strings.Contains(out, db1) {
		t.Errorf("nslookup from a pod: %v\n%s", err, out)
	}

	// Round-robin: each endpoint in turn.
	rrIP := kt("get", "service", "svcweb-rr", "-o", "jsonpath={.spec.clusterIP}")
	counts := map[string]int{}
	for range 9 {
		body, err := get("http://" + rrIP + "/")
		if err != nil {
			t.Fatal(err)
		}
		counts[body]++
	}
	if len(counts) != 3 {
		t.Errorf("round-robin over 9 connections: %v, want each pod 3 times", counts)
	}
	for body, n := range counts {
		if n != 3 {
			t.Errorf("round-robin over 9 connections: %v, want each pod 3 times (%s)", counts, body)
		}
	}
	// ClientIP affinity: one client, one pod.
	stickyIP := kt("get", "service", "svcweb-sticky", "-o", "jsonpath={.spec.clusterIP}")
	first, err := get("http://" + stickyIP + "/")
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if body, err := get("http://" + stickyIP + "/"); err != nil || body != first {
			t.Fatalf("session affinity: %q then %q (%v)", first, body, err)
		}
	}

	// NodePort and LoadBalancer on the node's address.
	nodeIP := kt("get", "node", node, "-o", `jsonpath={.status.addresses[?(@.type=="InternalIP")].address}`)
	nodePort := kt("get", "service", "svcweb-np", "-o", "jsonpath={.spec.ports[0].nodePort}")
	// On every address of the machine (--nodeport-addresses 0.0.0.0/0), loopback too.
	for _, ip := range []string{nodeIP, "127.0.0.1"} {
		if body, err := get("http://" + net.JoinHostPort(ip, nodePort) + "/"); err != nil || !slices.Contains(pods, body) {
			t.Errorf("node port %s on %s: %v %q", nodePort, ip, err, body)
		}
	}
	var ingress string
	eventually(t, 20*time.Second, func() error {
		ingress = kt("get", "service", "svcweb-lb", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}")
		if !strings.Contains(ingress, nodeIP) {
			return fmt.Errorf("load balancer ingress %q, want the node's %s", ingress, nodeIP)
		}
		return nil
	})
	if body, err := get("http://" + net.JoinHostPort(nodeIP, "18081") + "/"); err != nil || !slices.Contains(pods, body) {
		t.Errorf("load balancer %s:18081: %v %q", nodeIP, err, body)
	}

	// A connection through a Service outlives a restart of the server
	// (and its proxy, which rewrites the whole table when it starts).
	kt("wait", "--for=condition=Ready", "pod/echo", "--timeout=60s")
	echoIP := kt("get", "service", "echo", "-o", "jsonpath={.spec.clusterIP}")
	var conn net.Conn
	eventually(t, 20*time.Second, func() error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(echoIP, "9000"), 2*time.Second)
		if err != nil {
			return err
		}
		if err := echoLine(c, "before"); err != nil {
			c.Close()
			return err
		}
		conn = c
		return nil
	})
	defer conn.Close()
	srv.Restart(t)
	eventually(t, 30*time.Second, func() error {
		out, _ := srv.Kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="ServiceProxyReady")].status}`)
		if out != "True" {
			return fmt.Errorf("ServiceProxyReady=%q after the restart", out)
		}
		return nil
	})
	if err := echoLine(conn, "after"); err != nil {
		t.Fatalf("the connection through the Service broke across the restart: %v", err)
	}

	// No endpoints: refused at once, not timing out; back when they are.
	kt("scale", "deployment", "svcweb", "--replicas=0")
	eventually(t, 30*time.Second, func() error {
		_, err := get("http://" + clusterIP + "/")
		if err == nil || !strings.Contains(err.Error(), "connection refused") {
			return fmt.Errorf("without endpoints: %v, want connection refused", err)
		}
		return nil
	})
	kt("scale", "deployment", "svcweb", "--replicas=3")
	eventually(t, 60*time.Second, func() error {
		_, err := get("http://" + clusterIP + "/")
		return err
	})
	kt("delete", "deployment", "svcweb", "--wait=true")
	kt("delete", "statefulset", "db", "--wait=true")
	kt("delete", "pod", "svcclient", "echo", "--wait=true")
	kt("delete", "service", "svcweb", "svcweb-rr", "svcweb-sticky", "svcweb-np", "svcweb-lb", "alias", "db", "echo")
}

// echoLine sends line on c and expects it back.
func echoLine(c net.Conn, line string) error {
	if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return err
	}
	buf := make([]byte, len(line)+1)
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != line+"\n" {
		return fmt.Errorf("echoed %q, want %q", buf, line)
	}
	return nil
}
