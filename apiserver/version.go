package apiserver

import (
	"strings"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/component-base/compatibility"
)

// Version is skiff's own version, set by the build (-ldflags -X).
var Version = "dev"

// effectiveVersion reports the Kubernetes version skiff serves on
// /version, also when the binary was built without version ldflags (go
// test): kubectl refuses versions it cannot parse.
type effectiveVersion struct {
	compatibility.MutableEffectiveVersion
}

func newEffectiveVersion() compatibility.EffectiveVersion {
	return effectiveVersion{compatibility.NewEffectiveVersionFromString(KubeVersion, "", "")}
}

func (v effectiveVersion) Info() *apimachineryversion.Info {
	info := v.MutableEffectiveVersion.Info()
	if info == nil {
		return nil
	}
	if info.GitVersion == "" || strings.HasPrefix(info.GitVersion, "v0.0.0") {
		info.GitVersion = "v" + KubeVersion + "+skiff-" + Version
		info.GitCommit = ""
		info.GitTreeState = ""
	}
	return info
}
