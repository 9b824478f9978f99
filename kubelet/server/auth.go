package server

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/kubernetes"
)

// DelegatingAuth builds the authenticator and authorizer upstream's
// kubelet uses in webhook mode: client certificates of clientCA, bearer
// tokens reviewed by the API server (TokenReview), and decisions asked of
// it (SubjectAccessReview), both cached.
func DelegatingAuth(cfg *Config, client kubernetes.Interface, clientCA []byte) error {
	ca, err := dynamiccertificates.NewStaticCAContent("client-ca", clientCA)
	if err != nil {
		return fmt.Errorf("kubelet server: client CA: %w", err)
	}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		TokenAccessReviewClient:            client.AuthenticationV1(),
		TokenAccessReviewTimeout:           10 * time.Second,
		CacheTTL:                           2 * time.Minute,
		ClientCertificateCAContentProvider: ca,
		WebhookRetryBackoff:                retryBackoff(),
	}.New()
	if err != nil {
		return fmt.Errorf("kubelet server: authenticator: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: client.AuthorizationV1(),
		AllowCacheTTL:             5 * time.Minute,
		DenyCacheTTL:              30 * time.Second,
		WebhookRetryBackoff:       retryBackoff(),
	}.New()
	if err != nil {
		return fmt.Errorf("kubelet server: authorizer: %w", err)
	}
	cfg.Authenticator, cfg.Authorizer = authn, authz
	return nil
}

// retryBackoff retries failed reviews as the API server's default does.
func retryBackoff() *wait.Backoff {
	return &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
}
