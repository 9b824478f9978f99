package integration

import (
	"context"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiffhq/skiff/test/testserver"
)

// TestRBAC checks RBAC decisions through SubjectAccessReviews: role
// bindings, resource names, groups and cluster roles aggregated into view.
func TestRBAC(t *testing.T) {
	srv := testserver.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	n := ns(t, c)

	allowed := func(user string, groups []string, verb, group, resource, name string) bool {
		t.Helper()
		sar, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: groups,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: n, Verb: verb, Group: group, Resource: resource, Name: name},
		}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sar.Status.Allowed
	}

	_, err := c.RbacV1().Roles(n).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "one-cm"},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"allowed"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.RbacV1().RoleBindings(n).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "one-cm"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "one-cm"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "readers"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the role binding to apply", func() (bool, error) {
		return allowed("amy", []string{"readers"}, "get", "", "configmaps", "allowed"), nil
	})
	if allowed("amy", []string{"readers"}, "get", "", "configmaps", "other") {
		t.Error("a resource name outside the rule was allowed")
	}
	if allowed("bob", nil, "get", "", "configmaps", "allowed") {
		t.Error("a user outside the group was allowed")
	}

	// A cluster role labelled for aggregation extends view.
	_, err = c.RbacV1().RoleBindings(n).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "viewers"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "vic"}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "view to apply", func() (bool, error) {
		return allowed("vic", nil, "list", "apps", "deployments", ""), nil
	})
	if allowed("vic", nil, "list", "example.com", "widgets", "") || allowed("vic", nil, "delete", "apps", "deployments", "") {
		t.Fatal("view allows more than it should")
	}
	_, err = c.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "widget-viewer",
		Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
		Rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{"example.com"}, Resources: []string{"widgets"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the aggregated rule to apply", func() (bool, error) {
		return allowed("vic", nil, "list", "example.com", "widgets", ""), nil
	})
}
