package builtin

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/skiffhq/skiff/apiserver/registry"
	"github.com/skiffhq/skiff/apiserver/serviceaccount"
)

// Tokens is what issuing and reviewing tokens needs.
type Tokens struct {
	// Issuer signs service account tokens; nil disables TokenRequest.
	Issuer *serviceaccount.Issuer
	// Lookup finds bound objects.
	Lookup serviceaccount.Lookup
	// APIAudiences are the default audiences of issued tokens.
	APIAudiences []string
	// MaxExpiration caps requested token lifetimes (0: no cap).
	MaxExpiration time.Duration
	// Authenticator answers TokenReviews.
	Authenticator authenticator.Token
}

const minTokenExpiration = 10 * time.Minute

// tokenREST serves serviceaccounts/token (TokenRequest).
type tokenREST struct {
	store  *registry.Store
	tokens Tokens
}

var (
	_ rest.NamedCreater             = &tokenREST{}
	_ rest.GroupVersionKindProvider = &tokenREST{}
)

func (r *tokenREST) New() runtime.Object { return &authenticationv1.TokenRequest{} }
func (r *tokenREST) Destroy()            {}

// GroupVersionKind implements rest.GroupVersionKindProvider.
func (r *tokenREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
}

func (r *tokenREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*authenticationv1.TokenRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a TokenRequest: %T", obj))
	}
	if r.tokens.Issuer == nil {
		return nil, apierrors.NewMethodNotSupported(corev1.Resource("serviceaccounts/token"), "create")
	}
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	namespace := genericapirequest.NamespaceValue(ctx)
	saObj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	sa := saObj.(*corev1.ServiceAccount)
	out := req.DeepCopy()
	gk := authenticationv1.SchemeGroupVersion.WithKind("TokenRequest").GroupKind()
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if out.Spec.ExpirationSeconds == nil {
		secs := int64(3600)
		out.Spec.ExpirationSeconds = &secs
	}
	ttl := time.Duration(*out.Spec.ExpirationSeconds) * time.Second
	switch {
	case ttl < minTokenExpiration:
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), *out.Spec.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
	case *out.Spec.ExpirationSeconds > math.MaxUint32:
		errs = append(errs, field.TooLong(spec.Child("expirationSeconds"), *out.Spec.ExpirationSeconds, math.MaxUint32))
	}
	if r.tokens.MaxExpiration > 0 && ttl > r.tokens.MaxExpiration {
		ttl = r.tokens.MaxExpiration
	}
	if len(out.Spec.Audiences) == 0 {
		out.Spec.Audiences = r.tokens.APIAudiences
	}
	binding := serviceaccount.Binding{Namespace: namespace, ServiceAccount: serviceaccount.Ref{Name: sa.Name, UID: string(sa.UID)}}
	if ref := out.Spec.BoundObjectRef; ref != nil {
		refPath := spec.Child("boundObjectRef")
		var uid string
		var lookupErr error
		switch ref.Kind {
		case "Pod":
			uid, lookupErr = r.tokens.Lookup.PodUID(ctx, namespace, ref.Name)
			binding.Pod = &serviceaccount.Ref{Name: ref.Name, UID: uid}
		case "Secret":
			uid, lookupErr = r.tokens.Lookup.SecretUID(ctx, namespace, ref.Name)
			binding.Secret = &serviceaccount.Ref{Name: ref.Name, UID: uid}
		case "Node":
			uid, lookupErr = r.tokens.Lookup.NodeUID(ctx, ref.Name)
			binding.Node = &serviceaccount.Ref{Name: ref.Name, UID: uid}
		default:
			errs = append(errs, field.NotSupported(refPath.Child("kind"), ref.Kind, []string{"Pod", "Secret", "Node"}))
		}
		switch {
		case lookupErr != nil:
			return nil, apierrors.NewInternalError(lookupErr)
		case len(errs) == 0 && uid == "":
			return nil, apierrors.NewNotFound(corev1.Resource(map[string]string{"Pod": "pods", "Secret": "secrets", "Node": "nodes"}[ref.Kind]), ref.Name)
		case ref.UID != "" && string(ref.UID) != uid:
			return nil, apierrors.NewConflict(corev1.Resource(map[string]string{"Pod": "pods", "Secret": "secrets", "Node": "nodes"}[ref.Kind]), ref.Name,
				fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
		}
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(gk, name, errs)
	}
	// Pods' kube-api-access tokens ask for 3607 s; as upstream (its
	// --service-account-extend-token-expiration, on by default), they stay
	// valid for a year so that clients which never reread the file keep
	// working, while the status says when the kubelet should refresh them.
	issueTTL := ttl
	if *out.Spec.ExpirationSeconds == legacyCompatibleTokenSeconds && binding.Pod != nil && slices.Equal(out.Spec.Audiences, r.tokens.APIAudiences) {
		issueTTL = extendedTokenExpiration
	}
	token, exp, err := r.tokens.Issuer.Issue(binding, out.Spec.Audiences, issueTTL)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	exp = exp.Add(ttl - issueTTL)
	out.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp)}
	out.Name, out.Namespace = name, namespace
	return out, nil
}

// Token lifetimes of upstream's expiration extension.
const (
	legacyCompatibleTokenSeconds = 3607
	extendedTokenExpiration      = 365 * 24 * time.Hour
)

// reviewToken answers a TokenReview with the server's token authenticators.
func (t Tokens) reviewToken(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
	tr := obj.(*authenticationv1.TokenReview)
	if tr.Spec.Token == "" {
		return nil, apierrors.NewInvalid(authenticationv1.SchemeGroupVersion.WithKind("TokenReview").GroupKind(), "",
			field.ErrorList{field.Required(field.NewPath("spec", "token"), "")})
	}
	out := tr.DeepCopy()
	audiences := authenticator.Audiences(tr.Spec.Audiences)
	if len(audiences) == 0 {
		audiences = t.APIAudiences
	}
	resp, ok, err := t.Authenticator.AuthenticateToken(authenticator.WithAudiences(ctx, audiences), tr.Spec.Token)
	out.Status = authenticationv1.TokenReviewStatus{Authenticated: ok && err == nil}
	if err != nil {
		out.Status.Error = err.Error()
	}
	if out.Status.Authenticated {
		out.Status.User = userInfo(resp.User)
		out.Status.Audiences = resp.Audiences
	}
	return out, nil
}
