package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon/forwarder"
)

// newForwarderCmd runs only an embedded NDN forwarder (ndnd's YaNFD) on the
// state directory's unix socket: a forwarder for other peets processes, for
// tests and for benchmarks, with nothing else attached.
func newForwarderCmd() *cobra.Command {
	var f ndnFlags
	var udpPort int
	var links []string
	cmd := &cobra.Command{
		Use:   "forwarder",
		Short: "Run a standalone embedded NDN forwarder on the state directory's socket",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.forwarder != "" && f.forwarder != forwarder.URIEmbedded {
				return fmt.Errorf("--forwarder %s: peets forwarder is the forwarder (it always runs an embedded one); use --link to connect it to another", f.forwarder)
			}
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			log := f.logger()
			c, err := forwarder.Open(ctx, forwarder.Options{URI: forwarder.URIEmbedded, StateDir: f.dir(), Logger: log, UDPPort: udpPort})
			if err != nil {
				return err
			}
			defer c.Close()
			for _, l := range links {
				if err := linkDefault(ctx, c, l); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "forwarder: unix://%s\n", c.SocketPath())
			<-ctx.Done()
			return nil
		},
	}
	f.add(cmd)
	_ = cmd.Flags().MarkHidden("forwarder")
	cmd.Flags().IntVar(&udpPort, "udp-port", 0, "accept UDP faces from other hosts on this port (0: none)")
	cmd.Flags().StringArrayVar(&links, "link", nil, "udp://HOST:PORT or tcp://HOST:PORT of another forwarder to route /peets over (repeatable)")
	return cmd
}
