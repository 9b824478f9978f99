package bootstrappolicy

import (
	"testing"

	rbacv1api "github.com/skiffhq/skiff/apis/rbac/v1"
)

func TestPolicyIsValidAndConsistent(t *testing.T) {
	roles := map[string]bool{}
	for i := range ClusterRoles() {
		r := ClusterRoles()[i]
		if roles[r.Name] {
			t.Errorf("cluster role %s listed twice", r.Name)
		}
		roles[r.Name] = true
		if errs := rbacv1api.ValidateClusterRole(&r); len(errs) > 0 {
			t.Errorf("cluster role %s: %v", r.Name, errs)
		}
		if r.Annotations["rbac.authorization.kubernetes.io/autoupdate"] != "true" {
			t.Errorf("cluster role %s lacks the autoupdate annotation", r.Name)
		}
	}
	for _, want := range []string{"cluster-admin", "admin", "edit", "view", "system:discovery", "system:basic-user", "system:public-info-viewer", "system:node"} {
		if !roles[want] {
			t.Errorf("missing bootstrap cluster role %s", want)
		}
	}
	for _, b := range ClusterRoleBindings() {
		if !roles[b.RoleRef.Name] {
			t.Errorf("binding %s refers to unknown role %s", b.Name, b.RoleRef.Name)
		}
		if errs := rbacv1api.ValidateRoleBinding(b.RoleRef, b.Subjects, false); len(errs) > 0 {
			t.Errorf("binding %s: %v", b.Name, errs)
		}
	}
}
