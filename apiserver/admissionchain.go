package apiserver

import (
	"io"

	"k8s.io/apiserver/pkg/admission"
	admissionmetrics "k8s.io/apiserver/pkg/admission/metrics"

	skiffadmission "github.com/skiffhq/skiff/apiserver/admission"
)

// chainPlugins builds the admission chain from plugins already made and
// initialized, through k8s.io/apiserver's plugin registry, as
// kube-apiserver's admission options do: the chain reruns the mutating
// plugins when one asks for reinvocation (a webhook with
// reinvocationPolicy IfNeeded whose object a later plugin changed), and
// each plugin and step is counted in the apiserver_admission_* metrics.
func chainPlugins(plugins []skiffadmission.Named) (admission.Interface, error) {
	registry := admission.NewPlugins()
	names := make([]string, 0, len(plugins))
	for _, p := range plugins {
		registry.Register(p.Name, func(io.Reader) (admission.Interface, error) { return p.Plugin, nil })
		names = append(names, p.Name)
	}
	chain, err := registry.NewFromPlugins(names, noPluginConfig{}, admission.PluginInitializers{},
		admission.Decorators{admission.DecoratorFunc(admissionmetrics.WithControllerMetrics)})
	if err != nil {
		return nil, err
	}
	return admissionmetrics.WithStepMetrics(chain), nil
}

// noPluginConfig gives the registry's factories nothing to read: the
// plugins were made before, with their part of
// --admission-control-config-file.
type noPluginConfig struct{}

func (noPluginConfig) ConfigFor(string) (io.Reader, error) { return nil, nil }
