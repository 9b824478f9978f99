package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/continuity"
	"k8s.io/client-go/util/keyutil"

	"github.com/skiffhq/skiff/apiserver"
)

// agentPKI is where a joined agent keeps its identity.
type agentPKI struct{ dir string }

func (p agentPKI) ca() string          { return filepath.Join(p.dir, "ca.crt") }
func (p agentPKI) clientCert() string  { return filepath.Join(p.dir, "client.crt") }
func (p agentPKI) clientKey() string   { return filepath.Join(p.dir, "client.key") }
func (p agentPKI) servingCert() string { return filepath.Join(p.dir, "serving.crt") }
func (p agentPKI) servingKey() string  { return filepath.Join(p.dir, "serving.key") }

// joined says whether the agent holds certificates for nodeName.
func (p agentPKI) joined(nodeName string) bool {
	for _, f := range []string{p.ca(), p.clientCert(), p.clientKey(), p.servingCert(), p.servingKey()} {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	if _, err := tls.LoadX509KeyPair(p.servingCert(), p.servingKey()); err != nil {
		return false
	}
	pair, err := tls.LoadX509KeyPair(p.clientCert(), p.clientKey())
	if err != nil || len(pair.Certificate) == 0 {
		return false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	return err == nil && cert.Subject.CommonName == "system:node:"+nodeName && time.Until(cert.NotAfter) > 24*time.Hour
}

// join gets the agent its certificates from the server: the CA, checked
// with the join token before the token is sent; then client and serving
// certificates for its own keys, which never leave this machine.
func join(ctx context.Context, server, token, nodeName string, hosts []string, ips []net.IP, p agentPKI) error {
	server = strings.TrimSuffix(server, "/")
	// The CA is not known yet: fetched without verification, trusted only
	// if its MAC proves the server knows the token.
	insecure := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // verified by the MAC below
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+apiserver.JoinCAPath, nil)
	if err != nil {
		return fmt.Errorf("--server %q: %w", server, err)
	}
	resp, err := insecure.Do(req)
	if err != nil {
		return fmt.Errorf("reaching the server: %w", err)
	}
	var ca apiserver.JoinCA
	err = decodeJoin(resp, &ca)
	if err != nil {
		return fmt.Errorf("fetching the cluster CA: %w", err)
	}
	if apiserver.JoinMAC(token, []byte(ca.CA)) != ca.MAC {
		return errors.New("the server's CA does not match the join token: wrong --token, or not the server it claims to be")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ca.CA)) {
		return errors.New("the server sent no usable CA certificate")
	}

	clientKey, clientCSR, err := newCSR(pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}}, nil, nil)
	if err != nil {
		return err
	}
	servingKey, servingCSR, err := newCSR(pkix.Name{CommonName: "system:node:" + nodeName}, hosts, ips)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(apiserver.JoinRequest{NodeName: nodeName, ClientCSR: string(clientCSR), ServingCSR: string(servingCSR)})
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, server+apiserver.JoinPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	verified := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err = verified.Do(req)
	if err != nil {
		return fmt.Errorf("joining: %w", err)
	}
	var jr apiserver.JoinResponse
	if err := decodeJoin(resp, &jr); err != nil {
		return fmt.Errorf("joining: %w", err)
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{p.ca(), []byte(ca.CA), 0o644}, {p.clientKey(), clientKey, 0o600}, {p.clientCert(), []byte(jr.ClientCert), 0o644},
		{p.servingKey(), servingKey, 0o600}, {p.servingCert(), []byte(jr.ServingCert), 0o644},
	} {
		// Whole files or none: a crash mid-join leaves the agent to join
		// again (joined() checks every pair), never a torn key.
		if err := continuity.AtomicWriteFile(f.path, f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

func decodeJoin(resp *http.Response, into any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return json.Unmarshal(b, into)
	case http.StatusUnauthorized:
		return errors.New("the server refused the join token (401)")
	case http.StatusNotFound:
		return errors.New("the server does not accept agents (is it a skiff server?)")
	}
	return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
}

// newCSR makes a key and a certificate request for it, PEM-encoded.
func newCSR(subject pkix.Name, hosts []string, ips []net.IP) (keyPEM, csrPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: hosts, IPAddresses: ips}, key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}
