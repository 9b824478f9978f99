package apiserver

import (
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
)

type (
	genericRESTOptionsGetter = generic.RESTOptionsGetter
	restStorage              = rest.Storage
)
