package main

import (
	"os"
	"path/filepath"

	"k8s.io/component-base/cli"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"

	"github.com/skiffhq/skiff/server"
)

// runKubectl runs the bundled kubectl with args. Without KUBECONFIG and
// --kubeconfig it uses the server's admin kubeconfig in ./.skiff.
func runKubectl(args []string) int {
	if os.Getenv("KUBECONFIG") == "" {
		path := server.KubeconfigPath(server.NewOptions().DataDir)
		if abs, err := filepath.Abs(path); err == nil {
			if _, err := os.Stat(abs); err == nil {
				_ = os.Setenv("KUBECONFIG", abs)
			}
		}
	}
	os.Args = append([]string{"kubectl"}, args...)
	return cli.Run(kubectlcmd.NewDefaultKubectlCommand())
}
