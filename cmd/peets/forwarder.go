package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/metric"
)

// newForwarderCmd runs only an embedded NDN forwarder (ndnd's YaNFD) on the
// state directory's unix socket: a forwarder for other peets processes, for
// tests and for benchmarks, with nothing else attached.
func newForwarderCmd() *cobra.Command {
	var f ndnFlags
	var udpPort int
	var links []string
	var statsEvery time.Duration
	var noSweep bool
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
			if statsEvery < 0 {
				return fmt.Errorf("--stats-every %v: negative", statsEvery)
			}
			c, err := forwarder.Open(ctx, forwarder.Options{URI: forwarder.URIEmbedded, StateDir: f.dir(), Logger: log,
				UDPPort: udpPort, NoSweep: noSweep})
			if err != nil {
				return err
			}
			defer c.Close()
			for _, l := range links {
				if err := linkDefault(ctx, c, l); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "forwarder: unix://%s\n", c.SocketPath())
			mc := metric.NewCollector("peets")
			mc.Add("forwarder", func() any { return c.Stats() })
			if err := f.serveMetrics(ctx, cmd, mc, log); err != nil {
				return err
			}
			var tick <-chan time.Time
			if statsEvery > 0 {
				t := time.NewTicker(statsEvery)
				defer t.Stop()
				tick = t.C
			}
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-tick:
					b, _ := json.Marshal(c.Stats())
					fmt.Fprintf(out, "stats: %s\n", b)
				}
			}
		},
	}
	f.add(cmd)
	f.addMetrics(cmd)
	_ = cmd.Flags().MarkHidden("forwarder")
	cmd.Flags().IntVar(&udpPort, "udp-port", 0, "accept UDP faces from other hosts on this port (0: none)")
	cmd.Flags().StringArrayVar(&links, "link", nil, "udp://HOST:PORT or tcp://HOST:PORT of another forwarder to route /peets over (repeatable)")
	cmd.Flags().DurationVar(&statsEvery, "stats-every", 0, "print the forwarder's counters as one JSON line (\"stats: {...}\") at this interval (0: never)")
	cmd.Flags().BoolVar(&noSweep, "no-sweep", false, "run without the CS sweeper, so that the forwarder's memory grows with every name it caches (benchmarks)")
	_ = cmd.Flags().MarkHidden("no-sweep")
	return cmd
}
