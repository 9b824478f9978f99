package apiserver

import (
	"crypto"
	"fmt"

	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"

	"github.com/skiffhq/skiff/apiserver/registry/builtin"
	"github.com/skiffhq/skiff/apiserver/serviceaccount"
)

// serviceAccountTokens sets up issuing (TokenRequest) and verifying
// service account tokens from the configured keys.
func (c CompletedConfig) serviceAccountTokens(client kubernetes.Interface, factory informers.SharedInformerFactory) (builtin.Tokens, authenticator.Token, error) {
	tokens := builtin.Tokens{APIAudiences: c.APIAudiences, MaxExpiration: c.ServiceAccountMaxTokenExpiration}
	var keys []crypto.PublicKey
	for _, f := range c.ServiceAccountKeyFiles {
		k, err := serviceaccount.LoadPublicKeys(f)
		if err != nil {
			return tokens, nil, err
		}
		keys = append(keys, k...)
	}
	if c.ServiceAccountSigningKeyFile != "" {
		signer, err := serviceaccount.LoadSigningKey(c.ServiceAccountSigningKeyFile)
		if err != nil {
			return tokens, nil, err
		}
		if tokens.Issuer, err = serviceaccount.NewIssuer(c.ServiceAccountIssuers[0], signer, clock.RealClock{}); err != nil {
			return tokens, nil, fmt.Errorf("--service-account-signing-key-file: %w", err)
		}
		if len(keys) == 0 {
			keys = []crypto.PublicKey{signer.Public()}
		}
	}
	lookup := &serviceaccount.ClientLookup{Client: client, ServiceAccounts: factory.Core().V1().ServiceAccounts().Lister(), Clock: clock.RealClock{}}
	tokens.Lookup = lookup
	if len(keys) == 0 {
		return tokens, nil, nil
	}
	return tokens, serviceaccount.NewAuthenticator(keys, c.ServiceAccountIssuers, c.APIAudiences, lookup, clock.RealClock{}), nil
}
