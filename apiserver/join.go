package apiserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/skiffhq/skiff/apiserver/certs"
)

// Paths of node joining (`skiff agent --server --token`), as k3s's
// /cacerts and node password exchange: an agent first fetches the cluster
// CA from JoinCAPath (anonymous) and checks it with the MAC keyed by its
// join token, so that it never shows the token to a server it cannot
// verify; it then posts certificate signing requests for its client and
// serving certificates to JoinPath with the token, and gets them signed
// by the cluster CA: the client one as system:node:NAME in system:nodes.
const (
	JoinCAPath = "/skiff/ca"
	JoinPath   = "/skiff/join"
	// JoinGroup is the group the join token authenticates in.
	JoinGroup = "system:bootstrappers"
)

// JoinCA is the answer at JoinCAPath.
type JoinCA struct {
	// CA is the cluster CA certificate, PEM.
	CA string `json:"ca"`
	// MAC is hex(HMAC-SHA256(join token, CA)).
	MAC string `json:"mac"`
}

// JoinRequest is what an agent posts to JoinPath.
type JoinRequest struct {
	NodeName string `json:"nodeName"`
	// ClientCSR and ServingCSR are PEM certificate requests; the serving
	// one names the agent's host names and addresses.
	ClientCSR  string `json:"clientCSR"`
	ServingCSR string `json:"servingCSR"`
}

// JoinResponse carries the signed certificates.
type JoinResponse struct {
	ClientCert  string `json:"clientCert"`
	ServingCert string `json:"servingCert"`
	CA          string `json:"ca"`
}

// JoinMAC is the MAC of the CA with the join token.
func JoinMAC(token string, caPEM []byte) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write(caPEM)
	return hex.EncodeToString(m.Sum(nil))
}

// joinHandlers serves JoinCAPath and JoinPath when the server has a join
// token and the CA's key.
type joinHandlers struct {
	token string
	ca    *certs.CA
}

func (j *joinHandlers) serveCA(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet {
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	caPEM := j.ca.CertPEM()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(JoinCA{CA: string(caPEM), MAC: JoinMAC(j.token, caPEM)})
}

func (j *joinHandlers) serveJoin(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "only POST", http.StatusMethodNotAllowed)
		return
	}
	u, ok := genericapirequest.UserFrom(req.Context())
	if !ok || !slices.Contains(u.GetGroups(), JoinGroup) && !slices.Contains(u.GetGroups(), user.SystemPrivilegedGroup) {
		http.Error(w, "joining needs the join token", http.StatusForbidden)
		return
	}
	var jr JoinRequest
	if err := json.NewDecoder(io.LimitReader(req.Body, 64*1024)).Decode(&jr); err != nil {
		http.Error(w, "malformed join request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if errs := validation.IsDNS1123Subdomain(jr.NodeName); len(errs) > 0 {
		http.Error(w, fmt.Sprintf("invalid node name %q: %v", jr.NodeName, errs), http.StatusUnprocessableEntity)
		return
	}
	clientCSR, err := parseCSR(jr.ClientCSR)
	if err != nil {
		http.Error(w, "client CSR: "+err.Error(), http.StatusBadRequest)
		return
	}
	servingCSR, err := parseCSR(jr.ServingCSR)
	if err != nil {
		http.Error(w, "serving CSR: "+err.Error(), http.StatusBadRequest)
		return
	}
	subject := pkix.Name{CommonName: "system:node:" + jr.NodeName, Organization: []string{"system:nodes"}}
	clientPEM, err := j.ca.SignPublicKey(clientCSR.PublicKey, subject, nil, nil, x509.ExtKeyUsageClientAuth)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	hosts := append([]string{jr.NodeName}, servingCSR.DNSNames...)
	servingPEM, err := j.ca.SignPublicKey(servingCSR.PublicKey, subject, hosts, servingCSR.IPAddresses, x509.ExtKeyUsageServerAuth)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(JoinResponse{ClientCert: string(clientPEM), ServingCert: string(servingPEM), CA: string(j.ca.CertPEM())})
}

func parseCSR(p string) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("not a PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("bad signature: %w", err)
	}
	return csr, nil
}

// joinAuthorizer lets the join token's group post to JoinPath.
type joinAuthorizer struct{}

func (joinAuthorizer) Authorize(_ context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
	if !a.IsResourceRequest() && a.GetPath() == JoinPath && a.GetVerb() == "post" && a.GetUser() != nil && slices.Contains(a.GetUser().GetGroups(), JoinGroup) {
		return authorizer.DecisionAllow, "node join", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}
