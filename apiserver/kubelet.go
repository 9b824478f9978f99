package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// kubeletTransport is the HTTPS transport to node agents: the client
// certificate of --kubelet-client-certificate, agents' certificates
// verified by --kubelet-certificate-authority (not verified without it,
// as upstream). Nil when no client certificate is configured. HTTP/1.1
// only: exec and port-forward upgrade the connection.
func (c CompletedConfig) kubeletTransport() (*http.Transport, error) {
	if c.KubeletClientCertFile == "" && c.KubeletClientKeyFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.KubeletClientCertFile, c.KubeletClientKeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading --kubelet-client-certificate/--kubelet-client-key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.KubeletCAFile != "" {
		pem, err := os.ReadFile(c.KubeletCAFile)
		if err != nil {
			return nil, fmt.Errorf("loading --kubelet-certificate-authority: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--kubelet-certificate-authority %s holds no certificate", c.KubeletCAFile)
		}
		tc.RootCAs = pool
	} else {
		tc.InsecureSkipVerify = true //nolint:gosec // upstream's behaviour without --kubelet-certificate-authority
	}
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 25,
	}, nil
}
