package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
)

// PKI names the files of the server's certificates in a directory.
type PKI struct {
	Dir string
}

// CACert, CAKey, ServingCert, ServingKey, AdminCert and AdminKey are the file paths.
func (p PKI) CACert() string      { return filepath.Join(p.Dir, "ca.crt") }
func (p PKI) CAKey() string       { return filepath.Join(p.Dir, "ca.key") }
func (p PKI) ServingCert() string { return filepath.Join(p.Dir, "apiserver.crt") }
func (p PKI) ServingKey() string  { return filepath.Join(p.Dir, "apiserver.key") }
func (p PKI) AdminCert() string   { return filepath.Join(p.Dir, "admin.crt") }
func (p PKI) AdminKey() string    { return filepath.Join(p.Dir, "admin.key") }

// KubeletClientCert and KubeletClientKey are the API server's identity
// towards node agents (logs, exec, port-forward), as kube-apiserver's
// --kubelet-client-certificate.
func (p PKI) KubeletClientCert() string { return filepath.Join(p.Dir, "apiserver-kubelet-client.crt") }
func (p PKI) KubeletClientKey() string  { return filepath.Join(p.Dir, "apiserver-kubelet-client.key") }

// ServiceAccountKey signs service account tokens.
func (p PKI) ServiceAccountKey() string { return filepath.Join(p.Dir, "sa.key") }

// CA is a loaded certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Ensure creates whatever is missing of the CA, the serving certificate
// (for hosts and ips, plus localhost and 127.0.0.1) and the admin client
// certificate (CN=admin, O=system:masters) and the API server's client
// certificate towards node agents. Existing files are kept.
func (p PKI) Ensure(hosts []string, ips []net.IP) (*CA, error) {
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", p.Dir, err)
	}
	ca, err := p.ensureCA()
	if err != nil {
		return nil, err
	}
	hosts = append([]string{"localhost"}, hosts...)
	ips = append([]net.IP{net.ParseIP("127.0.0.1")}, ips...)
	if !exists(p.ServingCert()) || !exists(p.ServingKey()) || !covers(p.ServingCert(), ca, hosts, ips) {
		if err := ca.Issue(p.ServingCert(), p.ServingKey(), pkix.Name{CommonName: "skiff-apiserver"}, hosts, ips, x509.ExtKeyUsageServerAuth); err != nil {
			return nil, fmt.Errorf("issuing the serving certificate: %w", err)
		}
	}
	if !exists(p.ServiceAccountKey()) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
		if err != nil {
			return nil, err
		}
		if err := writeFile(p.ServiceAccountKey(), keyPEM, 0o600); err != nil {
			return nil, err
		}
	}
	if !exists(p.AdminCert()) || !exists(p.AdminKey()) {
		subject := pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}}
		if err := ca.Issue(p.AdminCert(), p.AdminKey(), subject, nil, nil, x509.ExtKeyUsageClientAuth); err != nil {
			return nil, fmt.Errorf("issuing the admin certificate: %w", err)
		}
	}
	if !exists(p.KubeletClientCert()) || !exists(p.KubeletClientKey()) {
		subject := pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}}
		if err := ca.Issue(p.KubeletClientCert(), p.KubeletClientKey(), subject, nil, nil, x509.ExtKeyUsageClientAuth); err != nil {
			return nil, fmt.Errorf("issuing the kubelet client certificate: %w", err)
		}
	}
	return ca, nil
}

func (p PKI) ensureCA() (*CA, error) {
	if exists(p.CACert()) && exists(p.CAKey()) {
		return LoadCA(p.CACert(), p.CAKey())
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("skiff-ca@%d", now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := writeKeyPair(p.CACert(), p.CAKey(), der, key); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// covers reports whether the certificate in certFile was signed by ca,
// is valid for another month and names every host and IP: a server
// restarted with another bind address or host name gets a new one.
func covers(certFile string, ca *CA, hosts []string, ips []net.IP) bool {
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil || len(certs) == 0 {
		return false
	}
	c := certs[0]
	if c.CheckSignatureFrom(ca.Cert) != nil || time.Until(c.NotAfter) < 30*24*time.Hour {
		return false
	}
	for _, h := range hosts {
		if h != "" && c.VerifyHostname(h) != nil {
			return false
		}
	}
	for _, ip := range ips {
		if c.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

// LoadCA reads a CA certificate and its private key.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certs, err := certutil.CertsFromFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", certFile, err)
	}
	k, err := keyutil.PrivateKeyFromFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", keyFile, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s does not hold a signing key", keyFile)
	}
	return &CA{Cert: certs[0], Key: signer}, nil
}

// Issue signs a new key pair for subject and writes it to certFile and keyFile.
func (ca *CA) Issue(certFile, keyFile string, subject pkix.Name, hosts []string, ips []net.IP, usage x509.ExtKeyUsage) error {
	certPEM, keyPEM, err := ca.IssuePEM(subject, hosts, ips, usage)
	if err != nil {
		return err
	}
	if err := writeFile(certFile, certPEM, 0o644); err != nil {
		return err
	}
	return writeFile(keyFile, keyPEM, 0o600)
}

// IssuePEM signs a new key pair for subject and returns it PEM-encoded.
func (ca *CA) IssuePEM(subject pkix.Name, hosts []string, ips []net.IP, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating a key: %w", err)
	}
	if certPEM, err = ca.SignPublicKey(key.Public(), subject, hosts, ips, usage); err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// SignPublicKey certifies pub for subject (a key the requester keeps,
// from its certificate signing request) and returns the PEM certificate.
func (ca *CA) SignPublicKey(pub crypto.PublicKey, subject pkix.Name, hosts []string, ips []net.IP, usage x509.ExtKeyUsage) ([]byte, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dedupe(hosts),
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("signing a certificate for %q: %w", subject.CommonName, err)
	}
	return pemCert(der), nil
}

// CertPEM returns the CA certificate PEM-encoded.
func (ca *CA) CertPEM() []byte { return pemCert(ca.Cert.Raw) }

func writeKeyPair(certFile, keyFile string, der []byte, key crypto.Signer) error {
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return err
	}
	if err := writeFile(keyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pemCert(der), 0o644)
}

func pemCert(der []byte) []byte {
	out, _ := certutil.EncodeCertificates(&x509.Certificate{Raw: der})
	return out
}

// writeFile writes data atomically with mode perm.
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, perm); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// SelfSignedPEM returns a self-signed ECDSA serving certificate for host,
// valid for validity. The API server uses one for its loopback clients;
// ECDSA keeps that off the start-up path (an RSA key took ~0.3 s).
func SelfSignedPEM(host string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: host},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{host},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return pemCert(der), keyPEM, nil
}
