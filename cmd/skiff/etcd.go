package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/skiffhq/skiff/apiserver/etcd"
)

func newEtcdCommand() *cobra.Command {
	var (
		dataDir, name                          string
		listenClient, advertiseClient, lisPeer []string
		noFsync                                bool
	)
	cmd := &cobra.Command{
		Use:   "etcd",
		Short: "Run an etcd server with etcd's flags (for envtest)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := etcd.Config{DataDir: dataDir, UnsafeNoFsync: noFsync}
			var err error
			if cfg.ClientURLs, err = parseURLs("--listen-client-urls", listenClient); err != nil {
				return err
			}
			if cfg.AdvertiseClientURLs, err = parseURLs("--advertise-client-urls", advertiseClient); err != nil {
				return err
			}
			if cfg.PeerURLs, err = parseURLs("--listen-peer-urls", lisPeer); err != nil {
				return err
			}
			ctx := genericapiserver.SetupSignalContext()
			s, err := etcd.Start(ctx, cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			select {
			case <-ctx.Done():
				return nil
			case err := <-s.Err():
				return err
			}
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dataDir, "data-dir", "default.etcd", "path to the data directory")
	fs.StringVar(&name, "name", "default", "human-readable name for this member")
	fs.StringSliceVar(&listenClient, "listen-client-urls", []string{"http://localhost:2379"}, "URLs to listen on for client traffic")
	fs.StringSliceVar(&advertiseClient, "advertise-client-urls", nil, "client URLs to advertise (default: the listen URLs)")
	fs.StringSliceVar(&lisPeer, "listen-peer-urls", nil, "URLs to listen on for peer traffic (default: a free loopback port)")
	fs.BoolVar(&noFsync, "unsafe-no-fsync", false, "disables fsync, unsafe, will cause data loss")
	return cmd
}

func parseURLs(flag string, in []string) ([]url.URL, error) {
	out := make([]url.URL, 0, len(in))
	for _, s := range in {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", flag, s, err)
		}
		out = append(out, *u)
	}
	return out, nil
}
