package rbac

import (
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

func TestRuleAllows(t *testing.T) {
	res := func(verb, group, resource, sub, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: verb, APIGroup: group, Resource: resource, Subresource: sub, Name: name, ResourceRequest: true}
	}
	nonRes := func(verb, path string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{Verb: verb, Path: path}
	}
	cases := []struct {
		name  string
		rule  rbacv1.PolicyRule
		attrs authorizer.AttributesRecord
		want  bool
	}{
		{"exact", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("get", "", "pods", "", "p"), true},
		{"other verb", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("delete", "", "pods", "", "p"), false},
		{"other group", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"deployments"}}, res("get", "apps", "deployments", "", ""), false},
		{"wildcards", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, res("patch", "apps", "deployments", "scale", "d"), true},
		{"subresource needs its own grant", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("get", "", "pods", "log", "p"), false},
		{"subresource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods/log"}}, res("get", "", "pods", "log", "p"), true},
		{"*/status", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"apps"}, Resources: []string{"*/status"}}, res("update", "apps", "deployments", "status", "d"), true},
		{"*/status is not scale", rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"apps"}, Resources: []string{"*/status"}}, res("update", "apps", "deployments", "scale", "d"), false},
		{"resource name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}}, res("get", "", "configmaps", "", "a"), true},
		{"other resource name", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}}, res("get", "", "configmaps", "", "b"), false},
		{"resource names do not grant list", rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"a"}}, res("list", "", "configmaps", "", ""), false},
		{"non-resource exact", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, nonRes("get", "/healthz"), true},
		{"non-resource prefix", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/apis/*"}}, nonRes("get", "/apis/apps/v1"), true},
		{"non-resource other", rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz"}}, nonRes("get", "/metrics"), false},
		{"resource rule does not grant URLs", rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, nonRes("get", "/metrics"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := RuleAllows(tc.attrs, &tc.rule); got != tc.want {
				t.Errorf("RuleAllows = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestAppliesTo(t *testing.T) {
	jane := &user.DefaultInfo{Name: "jane", Groups: []string{"devs", user.AllAuthenticated}}
	sa := &user.DefaultInfo{Name: "system:serviceaccount:ns1:builder"}
	cases := []struct {
		name      string
		u         user.Info
		subjects  []rbacv1.Subject
		namespace string
		want      bool
	}{
		{"user", jane, []rbacv1.Subject{{Kind: "User", Name: "jane"}}, "", true},
		{"other user", jane, []rbacv1.Subject{{Kind: "User", Name: "joe"}}, "", false},
		{"group", jane, []rbacv1.Subject{{Kind: "Group", Name: "devs"}}, "", true},
		{"service account", sa, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder", Namespace: "ns1"}}, "", true},
		{"service account in binding namespace", sa, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder"}}, "ns1", true},
		{"service account elsewhere", sa, []rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder", Namespace: "ns2"}}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := appliesTo(tc.u, tc.subjects, tc.namespace); got != tc.want {
				t.Errorf("appliesTo = %v, want %v", got, tc.want)
			}
		})
	}
}
