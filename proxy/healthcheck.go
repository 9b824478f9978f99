package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
)

// healthCheck is what a Service's health check node port reports: how
// many of its endpoints are on this node.
type healthCheck struct {
	Port  int32
	Local int
}

// healthServers answer on the health check node ports of the Services
// with externalTrafficPolicy Local, as kube-proxy does: 200 while the
// node has an endpoint of the Service, 503 when it has none, so that an
// external load balancer sends traffic only to nodes that keep it.
type healthServers struct {
	mu      sync.Mutex
	servers map[types.NamespacedName]*healthServer
	logger  klog.Logger
}

type healthServer struct {
	port  int32
	local int
	mu    sync.Mutex
	srv   *http.Server
}

func newHealthServers(logger klog.Logger) *healthServers {
	return &healthServers{servers: map[types.NamespacedName]*healthServer{}, logger: logger}
}

// sync serves want and stops what is no longer wanted.
func (h *healthServers) sync(want map[types.NamespacedName]healthCheck) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, s := range h.servers {
		if w, ok := want[name]; !ok || w.Port != s.port {
			_ = s.srv.Close()
			delete(h.servers, name)
		}
	}
	for name, w := range want {
		if s, ok := h.servers[name]; ok {
			s.mu.Lock()
			s.local = w.Local
			s.mu.Unlock()
			continue
		}
		l, err := net.Listen("tcp", ":"+strconv.Itoa(int(w.Port)))
		if err != nil {
			h.logger.Error(err, "serving a health check node port", "service", name, "port", w.Port)
			continue
		}
		s := &healthServer{port: w.Port, local: w.Local}
		s.srv = &http.Server{Handler: s.handler(name), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := s.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.logger.Error(err, "health check node port", "service", name)
			}
		}()
		h.servers[name] = s
	}
}

func (s *healthServer) handler(name types.NamespacedName) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		local := s.local
		s.mu.Unlock()
		body, _ := json.Marshal(map[string]any{
			"service":             map[string]string{"namespace": name.Namespace, "name": name.Name},
			"localEndpoints":      local,
			"serviceProxyHealthy": true,
		})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Load-Balancing-Endpoint-Weight", strconv.Itoa(local))
		if local == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		} else {
			w.WriteHeader(http.StatusOK)
		}
		_, _ = w.Write(body)
	})
}

// close stops every server.
func (h *healthServers) close(ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, s := range h.servers {
		_ = s.srv.Shutdown(ctx)
		delete(h.servers, name)
	}
}
