package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon"
	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/media/source"
)

// newDemoCmd runs a whole call in one command: an embedded forwarder, your
// proxy (with the web page) and bot participants publishing the test
// stream. One browser tab on the printed URL shows a real call.
func newDemoCmd() *cobra.Command {
	var f upFlags
	var bots int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "An embedded forwarder, your proxy and a bot: open the printed URL for a call",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			if bots < 0 || bots > 8 {
				return fmt.Errorf("--bots %d out of [0, 8]", bots)
			}
			if f.forwarder == "" {
				f.forwarder = forwarder.URIEmbedded
			}
			if f.stateDir == "" {
				// A state directory of its own, so the demo never
				// collides with a running `peets up`.
				f.stateDir = filepath.Join(forwarder.DefaultStateDir(), "demo")
				if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
					return err
				}
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			ctx, stop := context.WithCancel(ctx)
			defer stop()
			errs := make(chan error, bots)
			started := func(string) {
				for i := 1; i <= bots; i++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := runDemoBot(ctx, &f, fmt.Sprintf("bot%d", i)); err != nil && !errors.Is(err, context.Canceled) {
							errs <- err
							stop()
						}
					}()
				}
			}
			err := runUp(ctx, cmd, &f, started)
			select {
			case e := <-errs:
				return e
			default:
			}
			return err
		},
	}
	f.add(cmd, "me")
	cmd.Flags().IntVar(&bots, "bots", 1, "bot participants in the room")
	cmd.Flags().Lookup("room").DefValue = "demo"
	_ = cmd.Flags().Set("room", "demo")
	return cmd
}

// runDemoBot runs one bot participant on the demo's forwarder.
func runDemoBot(ctx context.Context, f *upFlags, user string) error {
	log := f.logger().With("bot", user)
	src, err := source.OpenDefault(source.Options{Loop: true, Speed: 1, Logger: log})
	if err != nil {
		return err
	}
	cfg := daemon.Config{
		User: user, Name: "Bot " + user[3:], Room: f.room, Group: f.group,
		StateDir: f.dir(), Forwarder: "", // the demo's embedded forwarder, found in the state dir
		Heartbeat: f.heartbeat, Jitter: f.jitter, ExpireAfter: f.expire,
	}
	d, err := daemon.New(ctx, daemon.Options{Config: cfg, Logger: log, Source: src, Ephemeral: true, Fetch: noFetch})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}
