package server

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"testing"

	"github.com/skiffhq/skiff/apiserver/certs"
)

// TestJoinedChecksEveryPair: an agent whose files were torn by a crash
// joins again instead of failing on them.
func TestJoinedChecksEveryPair(t *testing.T) {
	ca, err := (certs.PKI{Dir: t.TempDir()}).Ensure(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := agentPKI{dir: t.TempDir()}
	clientCert, clientKey, err := ca.IssuePEM(pkix.Name{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}, nil, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		t.Fatal(err)
	}
	servingCert, servingKey, err := ca.IssuePEM(pkix.Name{CommonName: "system:node:n1"}, []string{"n1"}, nil, x509.ExtKeyUsageServerAuth)
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{p.ca(): ca.CertPEM(), p.clientCert(): clientCert, p.clientKey(): clientKey, p.servingCert(): servingCert, p.servingKey(): servingKey} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !p.joined("n1") {
		t.Fatal("complete certificates not recognized")
	}
	if p.joined("n2") {
		t.Fatal("another node's certificates taken")
	}
	if err := os.WriteFile(p.servingKey(), servingKey[:len(servingKey)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if p.joined("n1") {
		t.Fatal("a torn serving key taken as joined")
	}
}
