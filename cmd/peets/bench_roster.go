package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/roster"
	roomsync "github.com/peets/peets/sync"
)

// newBenchRosterCmd measures a room of N members on one forwarder.
func newBenchRosterCmd() *cobra.Command {
	var members []int
	var fw, logLevel string
	var asJSON bool
	var steady time.Duration
	cmd := &cobra.Command{
		Use:   "roster",
		Short: "N members on one forwarder: join seen by all, leave and crash detection, sync traffic",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			log := newLogger(logLevel, "text")
			uri := fw
			if uri == "" {
				// An embedded forwarder of this process, reached by each
				// member through its own unix-socket face (as separate
				// processes would).
				dir, err := os.MkdirTemp("", "peets-bench-roster-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				c, err := forwarder.Open(ctx, forwarder.Options{URI: forwarder.URIEmbedded, StateDir: filepath.Join(dir, "fw"), Logger: log})
				if err != nil {
					return err
				}
				defer c.Close()
				uri = "unix://" + c.SocketPath()
			}
			for _, n := range members {
				res, err := roster.Bench(ctx, roster.BenchConfig{
					Members: n, Steady: steady, Logger: log,
					Connect: func(ctx context.Context) (roomsync.Conn, func(), error) {
						c, err := forwarder.Open(ctx, forwarder.Options{URI: uri, Logger: log})
						if err != nil {
							return nil, nil, err
						}
						return c, func() { c.Close() }, nil
					},
				})
				if err != nil {
					return fmt.Errorf("roster bench N=%d: %w", n, err)
				}
				printResult(cmd.OutOrStdout(), res, asJSON)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntSliceVar(&members, "members", []int{5}, "room sizes; a list runs one benchmark per value (e.g. 5,50)")
	fl.StringVar(&fw, "forwarder", "", "forwarder URI (default: an embedded forwarder in this process)")
	fl.BoolVar(&asJSON, "json", false, "one compact JSON object per line")
	fl.DurationVar(&steady, "steady", 3*time.Second, "how long idle traffic is measured")
	fl.StringVar(&logLevel, "log-level", "warn", "log level")
	return cmd
}
