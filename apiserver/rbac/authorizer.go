package rbac

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
)

// Listers are where the authorizer reads RBAC objects.
type Listers struct {
	Roles               rbaclisters.RoleLister
	RoleBindings        rbaclisters.RoleBindingLister
	ClusterRoles        rbaclisters.ClusterRoleLister
	ClusterRoleBindings rbaclisters.ClusterRoleBindingLister
}

// Authorizer decides requests by RBAC.
type Authorizer struct {
	l Listers
}

var (
	_ authorizer.Authorizer   = &Authorizer{}
	_ authorizer.RuleResolver = &Authorizer{}
)

// New returns an RBAC authorizer over the listers.
func New(l Listers) *Authorizer { return &Authorizer{l: l} }

// Authorize allows a request when a rule of a role bound to the user
// grants it; otherwise it has no opinion, so that later authorizers and
// the final deny apply, as upstream.
func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	u := attrs.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "no user", nil
	}
	var lastErr error
	allowed := ""
	a.visitRules(u, attrs.GetNamespace(), func(source string, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			lastErr = err
			return true
		}
		if RuleAllows(attrs, rule) {
			allowed = source
			return false
		}
		return true
	})
	if allowed != "" {
		return authorizer.DecisionAllow, "RBAC: allowed by " + allowed, nil
	}
	reason := ""
	if lastErr != nil {
		reason = lastErr.Error()
	}
	return authorizer.DecisionNoOpinion, reason, nil
}

// ConditionsAwareAuthorize implements authorizer.Authorizer.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions implements authorizer.Authorizer; RBAC has no conditions.
func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

// RulesFor lists the rules that apply to the user in namespace (for
// SelfSubjectRulesReview, kubectl auth can-i --list).
func (a *Authorizer) RulesFor(ctx context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	var (
		resourceRules    []authorizer.ResourceRuleInfo
		nonResourceRules []authorizer.NonResourceRuleInfo
		lastErr          error
	)
	a.visitRules(u, namespace, func(_ string, rule *rbacv1.PolicyRule, err error) bool {
		if err != nil {
			lastErr = err
			return true
		}
		if len(rule.NonResourceURLs) > 0 {
			nonResourceRules = append(nonResourceRules, &authorizer.DefaultNonResourceRuleInfo{Verbs: rule.Verbs, NonResourceURLs: rule.NonResourceURLs})
		} else {
			resourceRules = append(resourceRules, &authorizer.DefaultResourceRuleInfo{Verbs: rule.Verbs, APIGroups: rule.APIGroups, Resources: rule.Resources, ResourceNames: rule.ResourceNames})
		}
		return true
	})
	return resourceRules, nonResourceRules, lastErr != nil, lastErr
}

// visitRules calls visit for every rule granted to u by cluster role
// bindings and by role bindings in namespace, until visit returns false.
func (a *Authorizer) visitRules(u user.Info, namespace string, visit func(source string, rule *rbacv1.PolicyRule, err error) bool) {
	crbs, err := a.l.ClusterRoleBindings.List(labels.Everything())
	if err != nil && !visit("", nil, err) {
		return
	}
	for _, b := range crbs {
		if !appliesTo(u, b.Subjects, "") {
			continue
		}
		rules, err := a.roleRules(b.RoleRef, "")
		if err != nil {
			if !visit("", nil, err) {
				return
			}
			continue
		}
		source := fmt.Sprintf("ClusterRoleBinding %q of ClusterRole %q to %s", b.Name, b.RoleRef.Name, describe(u))
		for i := range rules {
			if !visit(source, &rules[i], nil) {
				return
			}
		}
	}
	if namespace == "" {
		return
	}
	rbs, err := a.l.RoleBindings.RoleBindings(namespace).List(labels.Everything())
	if err != nil && !visit("", nil, err) {
		return
	}
	for _, b := range rbs {
		if !appliesTo(u, b.Subjects, namespace) {
			continue
		}
		rules, err := a.roleRules(b.RoleRef, namespace)
		if err != nil {
			if !visit("", nil, err) {
				return
			}
			continue
		}
		source := fmt.Sprintf("RoleBinding %q of %s %q to %s", b.Namespace+"/"+b.Name, b.RoleRef.Kind, b.RoleRef.Name, describe(u))
		for i := range rules {
			if !visit(source, &rules[i], nil) {
				return
			}
		}
	}
}

func describe(u user.Info) string {
	return fmt.Sprintf("User %q", u.GetName())
}

// roleRules returns the rules of the role a binding refers to, including
// those aggregated into a cluster role by its aggregation rule.
func (a *Authorizer) roleRules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "Role":
		r, err := a.l.Roles.Roles(namespace).Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	case "ClusterRole":
		r, err := a.l.ClusterRoles.Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return a.aggregate(r, map[string]bool{})
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

func (a *Authorizer) aggregate(r *rbacv1.ClusterRole, seen map[string]bool) ([]rbacv1.PolicyRule, error) {
	if r.AggregationRule == nil || seen[r.Name] {
		return r.Rules, nil
	}
	seen[r.Name] = true
	rules := append([]rbacv1.PolicyRule(nil), r.Rules...)
	for _, sel := range r.AggregationRule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil {
			return nil, err
		}
		members, err := a.l.ClusterRoles.List(s)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			if m.Name == r.Name {
				continue
			}
			more, err := a.aggregate(m, seen)
			if err != nil {
				return nil, err
			}
			rules = append(rules, more...)
		}
	}
	return rules, nil
}
