package serviceaccount

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	testingclock "k8s.io/utils/clock/testing"
)

type fakeLookup map[string]string

func (f fakeLookup) ServiceAccountUID(_ context.Context, ns, name string) (string, error) {
	return f["sa/"+ns+"/"+name], nil
}
func (f fakeLookup) PodUID(_ context.Context, ns, name string) (string, error) {
	return f["pod/"+ns+"/"+name], nil
}
func (f fakeLookup) SecretUID(_ context.Context, ns, name string) (string, error) {
	return f["secret/"+ns+"/"+name], nil
}
func (f fakeLookup) NodeUID(_ context.Context, name string) (string, error) {
	return f["node/"+name], nil
}

func TestIssueAndAuthenticate(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, signer := range map[string]crypto.Signer{"ecdsa": ec, "rsa": rs} {
		t.Run(name, func(t *testing.T) {
			clock := testingclock.NewFakeClock(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC))
			iss, err := NewIssuer("https://issuer", signer, clock)
			if err != nil {
				t.Fatal(err)
			}
			lookup := fakeLookup{"sa/ns/builder": "sa-uid", "pod/ns/p": "pod-uid"}
			auth := NewAuthenticator([]crypto.PublicKey{signer.Public()}, []string{"https://issuer"}, []string{"https://issuer"}, lookup, clock)
			ctx := authenticator.WithAudiences(context.Background(), authenticator.Audiences{"https://issuer"})

			tok, exp, err := iss.Issue(Binding{Namespace: "ns", ServiceAccount: Ref{Name: "builder", UID: "sa-uid"}, Pod: &Ref{Name: "p", UID: "pod-uid"}},
				[]string{"https://issuer"}, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if !exp.Equal(clock.Now().Add(time.Hour)) {
				t.Errorf("expiry %v", exp)
			}
			resp, ok, err := auth.AuthenticateToken(ctx, tok)
			if err != nil || !ok {
				t.Fatalf("valid token refused: %v", err)
			}
			if resp.User.GetName() != "system:serviceaccount:ns:builder" || resp.User.GetUID() != "sa-uid" ||
				!contains(resp.User.GetGroups(), "system:serviceaccounts:ns") || resp.User.GetExtra()["authentication.kubernetes.io/pod-name"][0] != "p" {
				t.Errorf("user %+v", resp.User)
			}

			// Another audience is refused.
			other := authenticator.WithAudiences(context.Background(), authenticator.Audiences{"https://elsewhere"})
			if _, ok, err := auth.AuthenticateToken(other, tok); ok || err == nil {
				t.Error("token accepted for another audience")
			}
			// A deleted or recreated bound pod invalidates it.
			lookup["pod/ns/p"] = "another-uid"
			if _, ok, err := auth.AuthenticateToken(ctx, tok); ok || err == nil || !strings.Contains(err.Error(), "does not match") {
				t.Errorf("token of a recreated pod: ok=%v err=%v", ok, err)
			}
			lookup["pod/ns/p"] = "pod-uid"
			// Expiry.
			clock.Step(2 * time.Hour)
			if _, ok, err := auth.AuthenticateToken(ctx, tok); ok || err == nil {
				t.Error("expired token accepted")
			}
			// Tampering breaks the signature; other tokens are not ours.
			if _, ok, _ := auth.AuthenticateToken(ctx, tok[:len(tok)-4]+"AAAA"); ok {
				t.Error("tampered token accepted")
			}
			if _, ok, err := auth.AuthenticateToken(ctx, "abcdef0123456789"); ok || err != nil {
				t.Errorf("a non-JWT token: ok=%v err=%v, want no opinion", ok, err)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
