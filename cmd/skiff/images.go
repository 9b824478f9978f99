package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/skiffhq/skiff/kubelet/containerd"
	"github.com/skiffhq/skiff/server"
)

func newImagesCommand() *cobra.Command {
	var dataDir, endpoint string
	address := func() string {
		if endpoint != "" {
			return strings.TrimPrefix(endpoint, "unix://")
		}
		dir, err := filepath.Abs(dataDir)
		if err != nil {
			dir = dataDir
		}
		return (&containerd.Supervisor{Dir: server.ContainerdDir(dir)}).Address()
	}
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Manage the images of the node's containerd (namespace " + containerd.Namespace + ")",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", server.NewOptions().DataDir, "the data directory of the skiff server or agent whose containerd to use")
	cmd.PersistentFlags().StringVar(&endpoint, "container-runtime-endpoint", "", "the socket of a containerd to use instead (unix:///run/containerd/containerd.sock)")

	importCmd := &cobra.Command{
		Use:   "import FILE.tar",
		Short: "Load an OCI image layout or docker-archive tarball (- for standard input)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := os.Stdin
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			c, ctx, err := containerd.Connect(ctx, address())
			if err != nil {
				return err
			}
			defer c.Close()
			names, err := containerd.Import(ctx, c, in)
			for _, n := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "imported %s\n", n)
			}
			return err
		},
	}
	lsCmd := &cobra.Command{
		Use:   "ls",
		Short: "List the images",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			c, ctx, err := containerd.Connect(ctx, address())
			if err != nil {
				return err
			}
			defer c.Close()
			imgs, err := containerd.ListImages(ctx, c)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "IMAGE\tDIGEST\tSIZE")
			for _, img := range imgs {
				size := "?"
				if img.Size >= 0 {
					size = fmt.Sprintf("%.1f MiB", float64(img.Size)/(1<<20))
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", img.Name, img.Digest, size)
			}
			return w.Flush()
		},
	}
	cmd.AddCommand(importCmd, lsCmd)
	return cmd
}
