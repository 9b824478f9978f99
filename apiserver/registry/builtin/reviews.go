package builtin

import (
	"context"
	"fmt"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/skiffhq/skiff/apiserver/registry"
)

// reviewREST is a create-only resource that computes its answer
// (access reviews, rules reviews, self subject reviews); nothing is stored.
type reviewREST struct {
	singular   string
	namespaced bool
	newObj     func() runtime.Object
	review     func(ctx context.Context, obj runtime.Object) (runtime.Object, error)
}

var (
	_ rest.Creater              = &reviewREST{}
	_ rest.Scoper               = &reviewREST{}
	_ rest.SingularNameProvider = &reviewREST{}
)

func (r *reviewREST) New() runtime.Object     { return r.newObj() }
func (r *reviewREST) Destroy()                {}
func (r *reviewREST) NamespaceScoped() bool   { return r.namespaced }
func (r *reviewREST) GetSingularName() string { return r.singular }
func (r *reviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if createValidation != nil {
		if err := createValidation(ctx, obj.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	return r.review(ctx, obj)
}

func virtual(gv metav1.GroupVersion, name, kind string, namespaced bool, newObj func() runtime.Object, review func(ctx context.Context, obj runtime.Object) (runtime.Object, error)) *registry.Resource {
	return &registry.Resource{
		GroupVersion: gvOf(gv), Name: name, Kind: kind, Namespaced: namespaced, Virtual: true,
		New: newObj,
		Extra: func(*registry.Store) (map[string]rest.Storage, error) {
			return map[string]rest.Storage{"": &reviewREST{singular: strings.ToLower(kind), namespaced: namespaced, newObj: newObj, review: review}}, nil
		},
	}
}

func authenticationGroup(deps Deps) Group {
	gv := authenticationv1.SchemeGroupVersion
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{
		virtual(metav1.GroupVersion(gv), "tokenreviews", "TokenReview", false,
			func() runtime.Object { return &authenticationv1.TokenReview{} }, deps.Tokens.reviewToken),
		virtual(metav1.GroupVersion(gv), "selfsubjectreviews", "SelfSubjectReview", false,
			func() runtime.Object { return &authenticationv1.SelfSubjectReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				u, ok := genericapirequest.UserFrom(ctx)
				if !ok {
					return nil, apierrors.NewBadRequest("no user present on request")
				}
				out := obj.(*authenticationv1.SelfSubjectReview).DeepCopy()
				out.Status.UserInfo = userInfo(u)
				out.CreationTimestamp = metav1.Now()
				return out, nil
			}),
	}}}}
}

func userInfo(u user.Info) authenticationv1.UserInfo {
	info := authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
	if extra := u.GetExtra(); len(extra) > 0 {
		info.Extra = map[string]authenticationv1.ExtraValue{}
		for k, v := range extra {
			info.Extra[k] = v
		}
	}
	return info
}

func authorizationGroup(deps Deps) Group {
	gv := authorizationv1.SchemeGroupVersion
	mgv := metav1.GroupVersion(gv)
	return Group{Name: gv.Group, Versions: []Version{{GroupVersion: gv, Resources: []*registry.Resource{
		virtual(mgv, "selfsubjectaccessreviews", "SelfSubjectAccessReview", false,
			func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				r := obj.(*authorizationv1.SelfSubjectAccessReview)
				if errs := validateAccessSpec(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes, field.NewPath("spec")); len(errs) > 0 {
					return nil, apierrors.NewInvalid(gv.WithKind("SelfSubjectAccessReview").GroupKind(), "", errs)
				}
				u, ok := genericapirequest.UserFrom(ctx)
				if !ok {
					return nil, apierrors.NewBadRequest("no user present on request")
				}
				out := r.DeepCopy()
				out.Status = decide(ctx, deps.Authorizer, u, r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
				return out, nil
			}),
		virtual(mgv, "subjectaccessreviews", "SubjectAccessReview", false,
			func() runtime.Object { return &authorizationv1.SubjectAccessReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				r := obj.(*authorizationv1.SubjectAccessReview)
				errs := validateAccessSpec(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes, field.NewPath("spec"))
				if r.Spec.User == "" && len(r.Spec.Groups) == 0 {
					errs = append(errs, field.Invalid(field.NewPath("spec", "user"), r.Spec.User, "at least one of user or group must be specified"))
				}
				if len(errs) > 0 {
					return nil, apierrors.NewInvalid(gv.WithKind("SubjectAccessReview").GroupKind(), "", errs)
				}
				out := r.DeepCopy()
				out.Status = decide(ctx, deps.Authorizer, subjectUser(r.Spec.User, r.Spec.UID, r.Spec.Groups, r.Spec.Extra), r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
				return out, nil
			}),
		virtual(mgv, "localsubjectaccessreviews", "LocalSubjectAccessReview", true,
			func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				r := obj.(*authorizationv1.LocalSubjectAccessReview)
				namespace := genericapirequest.NamespaceValue(ctx)
				errs := validateAccessSpec(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes, field.NewPath("spec"))
				if r.Spec.NonResourceAttributes != nil {
					errs = append(errs, field.Invalid(field.NewPath("spec", "nonResourceAttributes"), r.Spec.NonResourceAttributes, "disallowed on this kind of request"))
				}
				if r.Spec.ResourceAttributes != nil && r.Spec.ResourceAttributes.Namespace != namespace {
					errs = append(errs, field.Invalid(field.NewPath("spec", "resourceAttributes", "namespace"), r.Spec.ResourceAttributes.Namespace, "must match the namespace of the request"))
				}
				if len(errs) > 0 {
					return nil, apierrors.NewInvalid(gv.WithKind("LocalSubjectAccessReview").GroupKind(), "", errs)
				}
				out := r.DeepCopy()
				out.Status = decide(ctx, deps.Authorizer, subjectUser(r.Spec.User, r.Spec.UID, r.Spec.Groups, r.Spec.Extra), r.Spec.ResourceAttributes, nil)
				return out, nil
			}),
		virtual(mgv, "selfsubjectrulesreviews", "SelfSubjectRulesReview", false,
			func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} },
			func(ctx context.Context, obj runtime.Object) (runtime.Object, error) {
				r := obj.(*authorizationv1.SelfSubjectRulesReview)
				if r.Spec.Namespace == "" {
					return nil, apierrors.NewInvalid(gv.WithKind("SelfSubjectRulesReview").GroupKind(), "",
						field.ErrorList{field.Required(field.NewPath("spec", "namespace"), "")})
				}
				u, ok := genericapirequest.UserFrom(ctx)
				if !ok {
					return nil, apierrors.NewBadRequest("no user present on request")
				}
				out := r.DeepCopy()
				resourceRules, nonResourceRules, incomplete, err := deps.RuleResolver.RulesFor(ctx, u, r.Spec.Namespace)
				for _, rr := range resourceRules {
					out.Status.ResourceRules = append(out.Status.ResourceRules, authorizationv1.ResourceRule{
						Verbs: rr.GetVerbs(), APIGroups: rr.GetAPIGroups(), Resources: rr.GetResources(), ResourceNames: rr.GetResourceNames()})
				}
				for _, nr := range nonResourceRules {
					out.Status.NonResourceRules = append(out.Status.NonResourceRules, authorizationv1.NonResourceRule{
						Verbs: nr.GetVerbs(), NonResourceURLs: nr.GetNonResourceURLs()})
				}
				out.Status.Incomplete = incomplete
				if err != nil {
					out.Status.EvaluationError = err.Error()
				}
				return out, nil
			}),
	}}}}
}

func subjectUser(name, uid string, groups []string, extra map[string]authorizationv1.ExtraValue) user.Info {
	u := &user.DefaultInfo{Name: name, UID: uid, Groups: groups}
	if len(extra) > 0 {
		u.Extra = map[string][]string{}
		for k, v := range extra {
			u.Extra[k] = v
		}
	}
	return u
}

func validateAccessSpec(res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes, spec *field.Path) field.ErrorList {
	if (res == nil) == (nonRes == nil) {
		return field.ErrorList{field.Invalid(spec.Child("resourceAttributes"), res, "exactly one of nonResourceAttributes or resourceAttributes must be specified")}
	}
	return nil
}

func decide(ctx context.Context, authz authorizer.Authorizer, u user.Info, res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewStatus {
	attrs := authorizer.AttributesRecord{User: u}
	if res != nil {
		attrs.Verb, attrs.Namespace, attrs.APIGroup, attrs.APIVersion = res.Verb, res.Namespace, res.Group, res.Version
		attrs.Resource, attrs.Subresource, attrs.Name, attrs.ResourceRequest = res.Resource, res.Subresource, res.Name, true
	} else {
		attrs.Verb, attrs.Path = nonRes.Verb, nonRes.Path
	}
	decision, reason, err := authz.Authorize(ctx, attrs)
	st := authorizationv1.SubjectAccessReviewStatus{
		Allowed: decision == authorizer.DecisionAllow,
		Denied:  decision == authorizer.DecisionDeny,
		Reason:  reason,
	}
	if err != nil {
		st.EvaluationError = fmt.Sprint(err)
	}
	return st
}
