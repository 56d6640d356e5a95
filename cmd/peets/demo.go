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

// newDemoCmd runs a whole call in one command: your proxy (with the web
// page) and bot participants publishing the test stream, on the machine's
// forwarder (the one every command finds: started here, embedded, when
// there is none). One browser tab on the printed URL shows a real call, and
// other commands of this user (`peets roster --room demo`, `peets up --room
// demo`) see it.
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
			// The forwarder is found as every command finds it, in the
			// state directory; the demo's keys are in a directory of
			// their own (its user "me" is not yours).
			fwDir := f.dir()
			if f.stateDir == "" {
				f.stateDir = filepath.Join(forwarder.DefaultStateDir(), "demo")
				if err := os.MkdirAll(f.stateDir, 0o700); err != nil {
					return err
				}
			}
			open := func(ctx context.Context) (*forwarder.Conn, error) {
				return forwarder.Open(ctx, forwarder.Options{URI: f.forwarder, StateDir: fwDir, Logger: f.logger()})
			}
			conn, err := open(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
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
						if err := runDemoBot(ctx, &f, open, fmt.Sprintf("bot%d", i)); err != nil && !errors.Is(err, context.Canceled) {
							errs <- err
							stop()
						}
					}()
				}
			}
			err = runUp(ctx, cmd, &f, conn, started)
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

// runDemoBot runs one bot participant on a connection of its own to the
// demo's forwarder (open finds the same one as the demo's proxy).
func runDemoBot(ctx context.Context, f *upFlags, open func(context.Context) (*forwarder.Conn, error), user string) error {
	log := f.logger().With("bot", user)
	src, err := source.OpenDefault(source.Options{Loop: true, Speed: 1, Logger: log})
	if err != nil {
		return err
	}
	conn, err := open(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	cfg := daemon.Config{
		User: user, Name: "Bot " + user[3:], Room: f.room, Group: f.group,
		StateDir: f.dir(), TrustDir: f.trust(), Heartbeat: f.heartbeat, Jitter: f.jitter, ExpireAfter: f.expire,
	}
	d, err := daemon.New(ctx, daemon.Options{Config: cfg, Conn: conn, Logger: log, Source: src, Ephemeral: true, Fetch: noFetch})
	if err != nil {
		return err
	}
	return d.Run(ctx)
}
