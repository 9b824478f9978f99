package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/skiffhq/skiff/test/testserver"
)

// TestServiceAccountTokens checks TokenRequest, authentication with the
// token, RBAC for service accounts, TokenReview and revocation by deletion.
func TestServiceAccountTokens(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)
	sa, err := c.CoreV1().ServiceAccounts(n).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "bot"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().ServiceAccounts(n).CreateToken(ctx, "bot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](60)}}, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "may not specify a duration less than 10 minutes") {
		t.Errorf("a one-minute token: %v", err)
	}
	tr, err := c.CoreV1().ServiceAccounts(n).CreateToken(ctx, "bot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Status.Token == "" || tr.Status.ExpirationTimestamp.IsZero() {
		t.Fatalf("token request status %+v", tr.Status)
	}

	cfg := rest.AnonymousClientConfig(srv.RESTConfig(t))
	cfg.BearerToken = tr.Status.Token
	bot := kubernetes.NewForConfigOrDie(cfg)
	review, err := bot.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	u := review.Status.UserInfo
	if u.Username != "system:serviceaccount:"+n+":bot" || u.UID != string(sa.UID) || !strings.Contains(strings.Join(u.Groups, ","), "system:serviceaccounts:"+n) {
		t.Errorf("whoami as the service account: %+v", u)
	}
	if _, err := bot.CoreV1().ConfigMaps(n).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing without a role: %v, want 403", err)
	}
	_, err = c.RbacV1().RoleBindings(n).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "bot-view"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "bot", Namespace: n}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the role binding to take effect", func() (bool, error) {
		_, err := bot.CoreV1().ConfigMaps(n).List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})

	got, err := c.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: tr.Status.Token}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Status.Authenticated || got.Status.User.Username != "system:serviceaccount:"+n+":bot" {
		t.Errorf("token review: %+v", got.Status)
	}
	got, _ = c.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: "not-a-token"}}, metav1.CreateOptions{})
	if got.Status.Authenticated {
		t.Error("a made-up token was authenticated")
	}

	// Deleting the service account revokes its tokens. As in kube-apiserver,
	// a token that authenticated stays accepted for up to 10 s (the token
	// cache's success TTL), so the wait allows for that plus the informer.
	if err := c.CoreV1().ServiceAccounts(n).Delete(ctx, "bot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 25*time.Second, "the token to be refused", func() (bool, error) {
		_, err := bot.CoreV1().ConfigMaps(n).List(ctx, metav1.ListOptions{})
		return apierrors.IsUnauthorized(err), nil
	})
}
