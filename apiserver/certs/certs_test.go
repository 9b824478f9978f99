package certs

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"testing"

	certutil "k8s.io/client-go/util/cert"
)

func TestEnsureKeepsAndRenews(t *testing.T) {
	p := PKI{Dir: t.TempDir()}
	if _, err := p.Ensure([]string{"host-a"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p.CAKey(), p.ServingKey(), p.AdminKey()} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 600", filepath.Base(f), fi.Mode().Perm())
		}
	}
	read := func(f string) []byte {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ca, serving, admin := read(p.CACert()), read(p.ServingCert()), read(p.AdminCert())

	// Same names: everything is kept.
	if _, err := p.Ensure([]string{"host-a"}, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, read(p.CACert())) || !bytes.Equal(serving, read(p.ServingCert())) || !bytes.Equal(admin, read(p.AdminCert())) {
		t.Fatal("a second Ensure with the same names changed certificates")
	}

	// A new address: only the serving certificate is reissued, by the same CA.
	if _, err := p.Ensure([]string{"host-a"}, []net.IP{net.ParseIP("192.0.2.7")}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca, read(p.CACert())) || !bytes.Equal(admin, read(p.AdminCert())) {
		t.Fatal("the CA or admin certificate changed")
	}
	certs, err := certutil.CertsFromFile(p.ServingCert())
	if err != nil {
		t.Fatal(err)
	}
	c := certs[0]
	for _, name := range []string{"localhost", "127.0.0.1", "host-a", "192.0.2.7"} {
		if err := c.VerifyHostname(name); err != nil {
			t.Errorf("serving certificate does not cover %s: %v", name, err)
		}
	}
	adminCerts, _ := certutil.CertsFromFile(p.AdminCert())
	if adminCerts[0].Subject.CommonName != "admin" || len(adminCerts[0].Subject.Organization) != 1 || adminCerts[0].Subject.Organization[0] != "system:masters" {
		t.Errorf("admin subject %v", adminCerts[0].Subject)
	}
}
