// Package v1 holds skiff's behaviour for rbac.authorization.k8s.io/v1:
// scheme installation, defaults, validation and kubectl table columns of
// roles, cluster roles and their bindings.
package v1

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiffhq/skiff/apis/internalversion"
	"github.com/skiffhq/skiff/apis/table"
)

// Install registers rbac.authorization.k8s.io/v1 and its defaults in a scheme.
func Install(scheme *runtime.Scheme) error {
	if err := internalversion.Installer(rbacv1.AddToScheme, rbacv1.SchemeGroupVersion)(scheme); err != nil {
		return err
	}
	defaultSubjects := func(subjects []rbacv1.Subject) {
		for i := range subjects {
			s := &subjects[i]
			if s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
				s.APIGroup = rbacv1.GroupName
			}
		}
	}
	scheme.AddTypeDefaultingFunc(&rbacv1.RoleBinding{}, func(o any) {
		b := o.(*rbacv1.RoleBinding)
		defaultSubjects(b.Subjects)
		if b.RoleRef.APIGroup == "" {
			b.RoleRef.APIGroup = rbacv1.GroupName
		}
	})
	scheme.AddTypeDefaultingFunc(&rbacv1.ClusterRoleBinding{}, func(o any) {
		b := o.(*rbacv1.ClusterRoleBinding)
		defaultSubjects(b.Subjects)
		if b.RoleRef.APIGroup == "" {
			b.RoleRef.APIGroup = rbacv1.GroupName
		}
	})
	return nil
}

// ValidatePolicyRules checks the rules of a role.
func ValidatePolicyRules(rules []rbacv1.PolicyRule, namespaced bool, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range rules {
		p := fldPath.Index(i)
		if len(r.Verbs) == 0 {
			errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
		}
		if len(r.NonResourceURLs) > 0 {
			if namespaced {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
			}
			if len(r.APIGroups) > 0 || len(r.Resources) > 0 || len(r.ResourceNames) > 0 {
				errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), r.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
			}
			continue
		}
		if len(r.APIGroups) == 0 {
			errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
		}
		if len(r.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
		}
	}
	return errs
}

// ValidateRole checks a role.
func ValidateRole(r *rbacv1.Role) field.ErrorList {
	return ValidatePolicyRules(r.Rules, true, field.NewPath("rules"))
}

// ValidateClusterRole checks a cluster role.
func ValidateClusterRole(r *rbacv1.ClusterRole) field.ErrorList {
	errs := ValidatePolicyRules(r.Rules, false, field.NewPath("rules"))
	if r.AggregationRule != nil {
		if len(r.AggregationRule.ClusterRoleSelectors) == 0 {
			errs = append(errs, field.Required(field.NewPath("aggregationRule", "clusterRoleSelectors"), "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i, s := range r.AggregationRule.ClusterRoleSelectors {
			errs = append(errs, metav1validation.ValidateLabelSelector(&s, metav1validation.LabelSelectorValidationOptions{}, field.NewPath("aggregationRule", "clusterRoleSelectors").Index(i))...)
		}
	}
	return errs
}

// ValidateRoleBinding checks a role binding; namespaced tells whether it
// is a RoleBinding (which may reference a Role or a ClusterRole).
func ValidateRoleBinding(ref rbacv1.RoleRef, subjects []rbacv1.Subject, namespaced bool) field.ErrorList {
	var errs field.ErrorList
	rp := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(rp.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	switch {
	case ref.Kind == "ClusterRole":
	case ref.Kind == "Role" && namespaced:
	case namespaced:
		errs = append(errs, field.NotSupported(rp.Child("kind"), ref.Kind, []string{"Role", "ClusterRole"}))
	default:
		errs = append(errs, field.NotSupported(rp.Child("kind"), ref.Kind, []string{"ClusterRole"}))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(rp.Child("name"), ""))
	} else {
		for _, msg := range apivalidation.NameIsDNSSubdomain(ref.Name, false) {
			if strings.Contains(ref.Name, ":") {
				break // role names with colons are allowed (system:*)
			}
			errs = append(errs, field.Invalid(rp.Child("name"), ref.Name, msg))
		}
	}
	for i, s := range subjects {
		p := field.NewPath("subjects").Index(i)
		if s.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		switch s.Kind {
		case rbacv1.ServiceAccountKind:
			if s.APIGroup != "" {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
			}
			if !namespaced && s.Namespace == "" {
				errs = append(errs, field.Required(p.Child("namespace"), ""))
			}
		case rbacv1.UserKind, rbacv1.GroupKind:
			if s.APIGroup != rbacv1.GroupName {
				errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
			}
		default:
			errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
		}
	}
	return errs
}

// ValidateRoleRefUpdate keeps roleRef immutable.
func ValidateRoleRefUpdate(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}

// RoleColumns are the columns of kubectl get roles and clusterroles.
var RoleColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Created At", "date", metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]),
}

// RoleRow renders a role or cluster role.
func RoleRow(obj runtime.Object) ([]any, error) {
	m, _ := obj.(metav1.Object)
	return []any{m.GetName(), m.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z")}, nil
}

// BindingColumns are the columns of kubectl get rolebindings and clusterrolebindings.
var BindingColumns = []metav1.TableColumnDefinition{
	table.NameColumn,
	table.Column("Role", "string", "Role of the binding"),
	table.AgeColumn,
	table.Wide("Users", "string", "Users in the binding"),
	table.Wide("Groups", "string", "Groups in the binding"),
	table.Wide("ServiceAccounts", "string", "ServiceAccounts in the binding"),
}

// BindingRow renders a role binding or cluster role binding.
func BindingRow(obj runtime.Object) ([]any, error) {
	var (
		name     string
		created  metav1.Time
		ref      rbacv1.RoleRef
		subjects []rbacv1.Subject
	)
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		name, created, ref, subjects = b.Name, b.CreationTimestamp, b.RoleRef, b.Subjects
	case *rbacv1.ClusterRoleBinding:
		name, created, ref, subjects = b.Name, b.CreationTimestamp, b.RoleRef, b.Subjects
	}
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []any{name, ref.Kind + "/" + ref.Name, table.Age(created), strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}, nil
}
