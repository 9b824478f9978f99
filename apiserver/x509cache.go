package apiserver

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	utilcache "k8s.io/apimachinery/pkg/util/cache"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/utils/clock"
)

// x509CacheTTL is how long a verified client certificate chain is
// trusted without verifying it again.
const x509CacheTTL = 10 * time.Second

// cachedX509 remembers, for a while, the users of client certificate
// chains the wrapped authenticator verified. Verifying a chain (an
// ECDSA signature check per request) took 12% of the server's CPU under
// 100 clients; a client sends many requests with one certificate. An
// entry lasts x509CacheTTL, never past the certificate's expiry, and
// belongs to the CA bundle that verified it: a new bundle verifies anew.
// Failures are not remembered.
type cachedX509 struct {
	inner   authenticator.Request
	roots   func() (x509.VerifyOptions, bool)
	clock   clock.Clock
	entries *utilcache.Expiring
}

func newCachedX509(inner authenticator.Request, roots func() (x509.VerifyOptions, bool), clk clock.Clock) *cachedX509 {
	return &cachedX509{inner: inner, roots: roots, clock: clk, entries: utilcache.NewExpiringWithClock(clk)}
}

func (c *cachedX509) AuthenticateRequest(req *http.Request) (*authenticator.Response, bool, error) {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return c.inner.AuthenticateRequest(req)
	}
	opts, ok := c.roots()
	if !ok {
		return c.inner.AuthenticateRequest(req)
	}
	h := sha256.New()
	for _, cert := range req.TLS.PeerCertificates {
		h.Write(cert.Raw)
	}
	// The pool's identity names the CA bundle in use.
	key := fmt.Sprintf("%p/%x", opts.Roots, h.Sum(nil))
	if resp, ok := c.entries.Get(key); ok {
		return resp.(*authenticator.Response), true, nil
	}
	resp, ok, err := c.inner.AuthenticateRequest(req)
	if !ok || err != nil {
		return resp, ok, err
	}
	ttl := min(x509CacheTTL, req.TLS.PeerCertificates[0].NotAfter.Sub(c.clock.Now()))
	if ttl > 0 {
		c.entries.Set(key, resp, ttl)
	}
	return resp, ok, err
}
