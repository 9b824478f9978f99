package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestCachedX509(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(now)
	calls := 0
	var fail error
	inner := authenticator.RequestFunc(func(req *http.Request) (*authenticator.Response, bool, error) {
		calls++
		if req.TLS == nil {
			return nil, false, nil
		}
		if fail != nil {
			return nil, false, fail
		}
		return &authenticator.Response{User: &user.DefaultInfo{Name: string(req.TLS.PeerCertificates[0].Raw)}}, true, nil
	})
	pool := x509.NewCertPool()
	roots := func() (x509.VerifyOptions, bool) { return x509.VerifyOptions{Roots: pool}, true }
	c := newCachedX509(inner, roots, clk)
	request := func(raw string, notAfter time.Time) *http.Request {
		return &http.Request{TLS: &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Raw: []byte(raw), NotAfter: notAfter}}}}
	}
	auth := func(req *http.Request) string {
		t.Helper()
		resp, ok, err := c.AuthenticateRequest(req)
		if !ok || err != nil {
			t.Fatalf("not authenticated: %v", err)
		}
		return resp.User.GetName()
	}
	later := now.Add(time.Hour)
	if auth(request("alice", later)) != "alice" || auth(request("alice", later)) != "alice" || calls != 1 {
		t.Fatalf("a chain verified twice within the TTL (%d verifications)", calls)
	}
	if auth(request("bob", later)) != "bob" || calls != 2 {
		t.Fatalf("another certificate got the cached answer (%d verifications)", calls)
	}
	clk.Step(x509CacheTTL + time.Second)
	auth(request("alice", later))
	if calls != 3 {
		t.Fatalf("an entry outlived the TTL (%d verifications)", calls)
	}
	// A certificate that expires sooner is trusted no longer than that.
	soon := clk.Now().Add(2 * time.Second)
	auth(request("carol", soon))
	clk.Step(3 * time.Second)
	fail = errors.New("expired")
	if _, ok, err := c.AuthenticateRequest(request("carol", soon)); ok || err == nil {
		t.Fatal("an expired certificate was answered from the cache")
	}
	// Failures are not remembered; a new CA bundle verifies anew.
	fail = nil
	if auth(request("carol", later)) != "carol" {
		t.Fatal("carol")
	}
	n := calls
	pool = x509.NewCertPool()
	auth(request("carol", later))
	if calls != n+1 {
		t.Fatal("a chain verified under the old CA bundle was trusted under the new one")
	}
	// Requests without client certificates go to the wrapped authenticator.
	if _, ok, _ := c.AuthenticateRequest(&http.Request{}); ok || calls != n+2 {
		t.Fatalf("a request without certificates: authenticated %v, %d verifications", ok, calls-n)
	}
}
