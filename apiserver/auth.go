package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	tokencache "k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/pkg/authentication/token/tokenfile"
	tokenunion "k8s.io/apiserver/pkg/authentication/token/union"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authzunion "k8s.io/apiserver/pkg/authorization/union"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/utils/clock"
)

// tokenCacheTTL is how long a token's authentication is remembered.
const tokenCacheTTL = 10 * time.Second

// publicPaths may be read by anyone, authenticated or not, as upstream's
// system:public-info-viewer role allows.
var publicPaths = []string{"/healthz", "/livez", "/readyz", "/version", JoinCAPath}

// applyAuthentication sets up client certificate and token authentication
// (static tokens and service account tokens), and anonymous access limited
// to the public paths. It returns the token authenticator, for TokenReview.
func (c CompletedConfig) applyAuthentication(cfg *genericapiserver.Config, saTokens authenticator.Token) (authenticator.Token, error) {
	var authenticators []authenticator.Request
	if c.ClientCAFile != "" {
		ca, err := dynamiccertificates.NewDynamicCAContentFromFile("client-ca", c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("loading --client-ca-file: %w", err)
		}
		if err := cfg.Authentication.ApplyClientCert(ca, cfg.SecureServing); err != nil {
			return nil, fmt.Errorf("configuring client certificates: %w", err)
		}
		authenticators = append(authenticators, newCachedX509(
			x509request.NewDynamic(ca.VerifyOptions, x509request.CommonNameUserConversion), ca.VerifyOptions, clock.RealClock{}))
	}
	var tokenAuthenticators []authenticator.Token
	if c.TokenAuthFile != "" {
		tokens, err := tokenfile.NewCSV(c.TokenAuthFile)
		if err != nil {
			return nil, fmt.Errorf("loading --token-auth-file: %w", err)
		}
		tokenAuthenticators = append(tokenAuthenticators, tokens)
	}
	if saTokens != nil {
		tokenAuthenticators = append(tokenAuthenticators, saTokens)
	}
	// Token results are remembered for 10 s, failures not at all, as
	// kube-apiserver's defaults (--authentication-token-cache-ttl).
	tokens := tokencache.New(tokenunion.New(tokenAuthenticators...), true, tokenCacheTTL, 0)
	authenticators = append(authenticators, bearertoken.New(tokens))
	// Every authenticated user is in system:authenticated, as upstream;
	// anonymous users are not.
	cfg.Authentication.Authenticator = union.New(
		group.NewAuthenticatedGroupAdder(union.New(authenticators...)),
		authenticator.RequestFunc(anonymousPublic),
	)
	cfg.Authentication.APIAudiences = c.APIAudiences
	return tokens, nil
}

// anonymousPublic authenticates requests without credentials as
// system:anonymous, but only for the public paths: anything else is 401.
func anonymousPublic(req *http.Request) (*authenticator.Response, bool, error) {
	if !isPublicPath(req.URL.Path) {
		return nil, false, nil
	}
	auds, _ := authenticator.AudiencesFrom(req.Context())
	return &authenticator.Response{
		User:      &user.DefaultInfo{Name: user.Anonymous, Groups: []string{user.AllUnauthenticated}},
		Audiences: auds,
	}, true, nil
}

func isPublicPath(path string) bool {
	for _, p := range publicPaths {
		if path == p || (p != "/version" && strings.HasPrefix(path, p+"/")) {
			return true
		}
	}
	return false
}

// newAuthorizer allows system:masters everything and everyone the public
// paths (also before RBAC's caches are filled); RBAC decides the rest.
func newAuthorizer(rbacAuthz, nodeAuthz authorizer.Authorizer, alwaysAllow bool) (authorizer.Authorizer, error) {
	chain := []authzunion.NamedAuthorizer{
		{AuthorizerName: "system:masters", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		{AuthorizerName: "public-info", Authorizer: authorizer.AuthorizerFunc(publicInfoAuthorizer{}.Authorize)},
		{AuthorizerName: "node-join", Authorizer: authorizer.AuthorizerFunc(joinAuthorizer{}.Authorize)},
		{AuthorizerName: "Node", Authorizer: nodeAuthz},
	}
	if alwaysAllow {
		chain = append(chain, authzunion.NamedAuthorizer{AuthorizerName: "AlwaysAllow", Authorizer: authorizerfactory.NewAlwaysAllowAuthorizer()})
	}
	chain = append(chain, authzunion.NamedAuthorizer{AuthorizerName: "RBAC", Authorizer: rbacAuthz})
	return authzunion.New(chain...)
}

// publicInfoAuthorizer allows GET of the health and version endpoints.
type publicInfoAuthorizer struct{}

func (publicInfoAuthorizer) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if a.IsResourceRequest() || a.GetVerb() != "get" {
		return authorizer.DecisionNoOpinion, "", nil
	}
	if isPublicPath(a.GetPath()) {
		return authorizer.DecisionAllow, "public info", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}
