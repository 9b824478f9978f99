// Command skiff is a Kubernetes-compatible orchestrator in one binary:
// `skiff server` runs a whole cluster; `skiff apiserver` and `skiff etcd`
// stand in for kube-apiserver and etcd (envtest); `skiff kubectl` is a
// bundled kubectl.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
)

func main() {
	// Invoked through a link named after the program it stands in for
	// (a KUBEBUILDER_ASSETS directory for envtest), skiff behaves as it.
	switch filepath.Base(os.Args[0]) {
	case "kube-apiserver":
		cmd := newAPIServerCommand()
		cmd.Use = "kube-apiserver"
		os.Exit(cli.Run(cmd))
	case "etcd":
		cmd := newEtcdCommand()
		cmd.Use = "etcd"
		os.Exit(cli.Run(cmd))
	case "kubectl":
		os.Exit(runKubectl(os.Args[1:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "kubectl" {
		os.Exit(runKubectl(os.Args[2:]))
	}
	os.Exit(cli.Run(newRootCommand()))
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "skiff",
		Short:         "A Kubernetes-compatible orchestrator in one binary",
		SilenceUsage:  true,
		SilenceErrors: false,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.AddCommand(newServerCommand(), newAgentCommand(), newAPIServerCommand(), newEtcdCommand(), newVersionCommand(), newImagesCommand(), &cobra.Command{
		Use:                "kubectl",
		Short:              "Run the bundled kubectl (uses ./.skiff/kubeconfig when KUBECONFIG is unset)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := runKubectl(args); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	})
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print skiff's version and the Kubernetes API version it serves",
		Run: func(cmd *cobra.Command, args []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "skiff %s (Kubernetes API v%s)\n", skiffVersion(), kubeVersion())
		},
	}
}
