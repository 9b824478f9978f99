package serviceaccount

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/utils/clock"
)

// Ref names an object a token refers to.
type Ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

type kubernetesClaims struct {
	Namespace      string `json:"namespace"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
}

// Claims are a token's claims.
type Claims struct {
	jwt.RegisteredClaims
	Kubernetes kubernetesClaims `json:"kubernetes.io"`
}

// Binding names what a token is issued for.
type Binding struct {
	Namespace      string
	ServiceAccount Ref
	// At most one of these: the object whose deletion invalidates the token.
	Pod, Secret, Node *Ref
}

// Issuer signs tokens.
type Issuer struct {
	issuer string
	key    crypto.Signer
	method jwt.SigningMethod
	kid    string
	clock  clock.Clock
}

// NewIssuer signs tokens for issuer with key.
func NewIssuer(issuer string, key crypto.Signer, c clock.Clock) (*Issuer, error) {
	method, err := signingMethod(key.Public())
	if err != nil {
		return nil, err
	}
	kid, err := keyID(key.Public())
	if err != nil {
		return nil, err
	}
	return &Issuer{issuer: issuer, key: key, method: method, kid: kid, clock: c}, nil
}

// Issue returns a signed token valid for ttl and its expiry.
func (i *Issuer) Issue(b Binding, audiences []string, ttl time.Duration) (string, time.Time, error) {
	now := i.clock.Now()
	exp := now.Add(ttl)
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   serviceaccount.MakeUsername(b.Namespace, b.ServiceAccount.Name),
			Audience:  audiences,
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ID:        string(types.UID(newUID())),
		},
		Kubernetes: kubernetesClaims{Namespace: b.Namespace, ServiceAccount: b.ServiceAccount, Pod: b.Pod, Secret: b.Secret, Node: b.Node},
	}
	t := jwt.NewWithClaims(i.method, claims)
	t.Header["kid"] = i.kid
	signed, err := t.SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing a service account token: %w", err)
	}
	return signed, exp, nil
}

// Lookup reports the current uid of an object a token refers to, or ""
// when it does not exist.
type Lookup interface {
	ServiceAccountUID(ctx context.Context, namespace, name string) (string, error)
	PodUID(ctx context.Context, namespace, name string) (string, error)
	SecretUID(ctx context.Context, namespace, name string) (string, error)
	NodeUID(ctx context.Context, name string) (string, error)
}

// Authenticator verifies service account tokens.
type Authenticator struct {
	keys      []crypto.PublicKey
	issuers   map[string]bool
	audiences authenticator.Audiences
	lookup    Lookup
	clock     clock.Clock
}

var _ authenticator.Token = &Authenticator{}

// NewAuthenticator accepts tokens signed by one of keys, issued by one of
// issuers, for one of audiences.
func NewAuthenticator(keys []crypto.PublicKey, issuers []string, audiences []string, lookup Lookup, c clock.Clock) *Authenticator {
	is := map[string]bool{}
	for _, i := range issuers {
		is[i] = true
	}
	return &Authenticator{keys: keys, issuers: is, audiences: audiences, lookup: lookup, clock: c}
}

// AuthenticateToken implements authenticator.Token. Tokens that are not
// service account JWTs are left to other authenticators (ok=false, no error).
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	if strings.Count(token, ".") != 2 {
		return nil, false, nil
	}
	var claims Claims
	parser := jwt.NewParser(jwt.WithTimeFunc(a.clock.Now), jwt.WithLeeway(0), jwt.WithExpirationRequired())
	unverified, _, err := parser.ParseUnverified(token, &claims)
	if err != nil || !a.issuers[claims.Issuer] {
		// Not one of ours: another authenticator may know it.
		return nil, false, nil
	}
	var verified bool
	for _, key := range a.keys {
		method, err := signingMethod(key)
		if err != nil || method.Alg() != unverified.Method.Alg() {
			continue
		}
		if _, err := parser.ParseWithClaims(token, &Claims{}, func(*jwt.Token) (any, error) { return key, nil }); err == nil {
			verified = true
			break
		} else if errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet) {
			return nil, false, errors.New("service account token has expired")
		}
	}
	if !verified {
		return nil, false, errors.New("invalid bearer token, token could not be validated")
	}
	audiences := a.audiences
	if reqAuds, ok := authenticator.AudiencesFrom(ctx); ok {
		audiences = reqAuds
	}
	matched := authenticator.Audiences(claims.Audience).Intersect(audiences)
	if len(matched) == 0 {
		return nil, false, errors.New("token audiences are invalid")
	}
	k := claims.Kubernetes
	if k.Namespace == "" || k.ServiceAccount.Name == "" || claims.Subject != serviceaccount.MakeUsername(k.Namespace, k.ServiceAccount.Name) {
		return nil, false, errors.New("invalid bearer token, service account claims are inconsistent")
	}
	if err := a.checkBound(ctx, k); err != nil {
		return nil, false, err
	}
	u := &user.DefaultInfo{
		Name:   claims.Subject,
		UID:    k.ServiceAccount.UID,
		Groups: serviceaccount.MakeGroupNames(k.Namespace),
		Extra:  map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=" + claims.ID}},
	}
	if k.Pod != nil {
		u.Extra[serviceaccount.PodNameKey] = []string{k.Pod.Name}
		u.Extra[serviceaccount.PodUIDKey] = []string{k.Pod.UID}
	}
	if k.Node != nil {
		u.Extra[serviceaccount.NodeNameKey] = []string{k.Node.Name}
		u.Extra[serviceaccount.NodeUIDKey] = []string{k.Node.UID}
	}
	return &authenticator.Response{User: u, Audiences: matched}, true, nil
}

// checkBound requires the service account and the bound object to exist
// with the uids in the token.
func (a *Authenticator) checkBound(ctx context.Context, k kubernetesClaims) error {
	check := func(kind, name, want string, get func() (string, error)) error {
		uid, err := get()
		if err != nil {
			return fmt.Errorf("looking up %s %s: %w", kind, name, err)
		}
		if uid == "" {
			return fmt.Errorf("%s %s/%s has been deleted", kind, k.Namespace, name)
		}
		if want != "" && uid != want {
			return fmt.Errorf("%s UID (%s) does not match claim (%s)", kind, uid, want)
		}
		return nil
	}
	if err := check("service account", k.ServiceAccount.Name, k.ServiceAccount.UID, func() (string, error) {
		return a.lookup.ServiceAccountUID(ctx, k.Namespace, k.ServiceAccount.Name)
	}); err != nil {
		return err
	}
	switch {
	case k.Pod != nil:
		return check("pod", k.Pod.Name, k.Pod.UID, func() (string, error) { return a.lookup.PodUID(ctx, k.Namespace, k.Pod.Name) })
	case k.Secret != nil:
		return check("secret", k.Secret.Name, k.Secret.UID, func() (string, error) { return a.lookup.SecretUID(ctx, k.Namespace, k.Secret.Name) })
	case k.Node != nil:
		return check("node", k.Node.Name, k.Node.UID, func() (string, error) { return a.lookup.NodeUID(ctx, k.Node.Name) })
	}
	return nil
}
