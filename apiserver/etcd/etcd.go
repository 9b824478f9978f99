package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Config configures an embedded etcd.
type Config struct {
	// DataDir holds etcd's data.
	DataDir string
	// ClientURLs are the URLs to listen on for clients; empty means a unix
	// socket in DataDir (see SocketPath).
	ClientURLs []url.URL
	// AdvertiseClientURLs default to ClientURLs.
	AdvertiseClientURLs []url.URL
	// PeerURLs default to a free loopback port.
	PeerURLs []url.URL
	// UnsafeNoFsync skips fsync (tests only: a crash may lose writes).
	UnsafeNoFsync bool
	// StartTimeout bounds how long Start waits for etcd to be ready.
	StartTimeout time.Duration
	// LogLevel is etcd's zap level ("error" unless set).
	LogLevel string
}

// Server is a running embedded etcd.
type Server struct {
	etcd      *embed.Etcd
	endpoints []string
	dataDir   string
}

// SocketPath returns the unix socket the server listens on for dataDir.
// Unix socket paths are limited to about 108 bytes, so a long data dir
// gets a socket in the temp dir named by the hash of its path.
func SocketPath(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	p := filepath.Join(abs, "etcd.sock")
	if len(p) < 100 {
		return p
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "skiff-etcd-"+hex.EncodeToString(sum[:8])+".sock")
}

// Start starts etcd and waits until it serves.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	ec := embed.NewConfig()
	ec.Name = "skiff"
	ec.Dir = cfg.DataDir
	ec.LogLevel = cfg.LogLevel
	if ec.LogLevel == "" {
		ec.LogLevel = "error"
	}
	ec.ZapLoggerBuilder = loggerBuilder(ec.LogLevel)
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	if len(cfg.ClientURLs) == 0 {
		sock := SocketPath(cfg.DataDir)
		// A socket left by a process that was killed blocks the listener.
		_ = os.Remove(sock)
		cfg.ClientURLs = []url.URL{{Scheme: "unix", Path: sock}}
	}
	if len(cfg.AdvertiseClientURLs) == 0 {
		cfg.AdvertiseClientURLs = cfg.ClientURLs
	}
	if len(cfg.PeerURLs) == 0 {
		cfg.PeerURLs = []url.URL{{Scheme: "http", Host: "127.0.0.1:0"}}
	}
	ec.ListenClientUrls = cfg.ClientURLs
	ec.AdvertiseClientUrls = cfg.AdvertiseClientURLs
	ec.ListenPeerUrls = cfg.PeerURLs
	ec.AdvertisePeerUrls = cfg.PeerURLs
	ec.InitialCluster = ec.InitialClusterFromName(ec.Name)
	// A single member elects itself; short ticks make that take tens of
	// milliseconds instead of up to a second.
	ec.TickMs = 10
	ec.ElectionMs = 100
	// Keep the history compacted and the backend small, as kube-apiserver
	// compacts on its own every 5 minutes as well.
	ec.AutoCompactionMode = "periodic"
	ec.AutoCompactionRetention = "1h"
	ec.QuotaBackendBytes = 8 * 1024 * 1024 * 1024
	// The API server accepts objects up to 3 MiB requests; etcd's default
	// request limit is 1.5 MiB, which upstream keeps too.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating etcd data dir: %w", err)
	}
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("starting etcd: %w", err)
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd failed while starting: %w", err)
	case <-time.After(timeout):
		e.Close()
		return nil, fmt.Errorf("etcd was not ready within %s", timeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	endpoints := make([]string, 0, len(cfg.AdvertiseClientURLs))
	for _, u := range cfg.AdvertiseClientURLs {
		endpoints = append(endpoints, u.String())
	}
	return &Server{etcd: e, endpoints: endpoints, dataDir: cfg.DataDir}, nil
}

// Endpoints returns the client URLs to give the API server.
func (s *Server) Endpoints() []string { return s.endpoints }

// Err reports a fatal etcd error.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// BackendPath returns the bbolt file that holds etcd's keys.
func (s *Server) BackendPath() string {
	return filepath.Join(s.dataDir, "member", "snap", "db")
}

// Close stops etcd, waiting for in-flight requests and syncing its data.
func (s *Server) Close() {
	s.etcd.Close()
}
