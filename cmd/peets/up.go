package main

import (
	"context"
	"fmt"
	neturl "net/url"

	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon"
	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/daemon/web"
	"github.com/peets/peets/media/bridge"
	"github.com/peets/peets/media/source"
	"github.com/peets/peets/proto"
)

// upFlags are the flags of up (and demo).
type upFlags struct {
	daemonFlags
	listen string
	noWeb  bool
	source string
}

func (f *upFlags) add(cmd *cobra.Command, defUser string) {
	f.daemonFlags.add(cmd, defUser)
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address of the web page and signaling, loopback only (default 127.0.0.1:0, a free port)")
	fl.BoolVar(&f.noWeb, "no-web", false, "serve no web page (a headless proxy)")
	fl.StringVar(&f.source, "source", "", `publish a file source instead of the browser's camera and mic: "bot" (the embedded VP8 + Opus test stream)`)
}

func newUpCmd() *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run your proxy: join a room and serve the call's web page on loopback",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			return runUp(ctx, cmd, &f, nil, nil)
		},
	}
	f.add(cmd, "")
	return cmd
}

// withQuery sets a query parameter of a URL.
func withQuery(raw, key, value string) string {
	u, err := neturl.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// runUp runs a proxy until ctx is done, on conn if set (else on the
// forwarder the flags say). started, if set, is called with the page URL
// once the proxy is up.
func runUp(ctx context.Context, cmd *cobra.Command, f *upFlags, conn *forwarder.Conn, started func(url string)) error {
	log := f.logger()
	cfg, err := f.build(cmd)
	if err != nil {
		return err
	}
	if f.listen != "" {
		cfg.Listen = f.listen
	}
	if !f.noWeb {
		if err := web.CheckListen(cfg.Listen); err != nil {
			return err // before joining the room
		}
	}
	opts := daemon.Options{Config: cfg, Conn: conn, Logger: log}
	switch f.source {
	case "":
	case "bot":
		src, err := source.OpenDefault(source.Options{Loop: true, Speed: 1, Logger: log})
		if err != nil {
			return err
		}
		opts.Source = src
	default:
		return fmt.Errorf("--source %q: want bot", f.source)
	}
	opts.PresenceFollowsPages = !f.noWeb && opts.Source == nil // in the call while a page is open
	d, err := daemon.New(ctx, opts)
	if err != nil {
		return err
	}
	url := ""
	metrics := d.Collector()
	if !f.noWeb && opts.Source == nil {
		api, err := bridge.NewAPI(bridge.APIConfig{})
		if err != nil {
			return err
		}
		b := daemon.NewBackend(d, api)
		metrics = b.Collector()
		srv, err := web.NewServer(web.Config{Listen: cfg.Listen, Backend: b, Logger: log, Metrics: metrics})
		if err != nil {
			return err
		}
		if url, err = srv.Start(ctx); err != nil {
			return err
		}
		if cfg.Role == proto.RoleViewer {
			url = withQuery(url, "role", "viewer") // the page does not open the camera
		}
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "peets: %s in room %s as %s (forwarder %s)\n", cfg.User, cfg.Room, d.Participant(), d.Conn().URI())
	if r := d.Room(); r.Owner() {
		fmt.Fprintf(out, "The room's trust anchor is this machine's (fingerprint %s): `peets invite --room %s --user NAME` lets someone on another machine in.\n", r.Fingerprint(), cfg.Room)
	} else {
		fmt.Fprintf(out, "The room's trust anchor has fingerprint %s (joined by invitation); its members' media is encrypted end to end.\n", r.Fingerprint())
	}
	if url != "" {
		// For peets stats: readable by this user only, removed at exit.
		if rm, err := writePageURL(f.dir(), cfg.User, cfg.Room, url); err != nil {
			log.Warn("cannot keep the page URL for peets stats", "err", err)
		} else {
			defer rm()
		}
		// The one place the URL, and so the run's secret, is printed.
		fmt.Fprintln(out, "You are in the room while this page is open in your browser (until then nobody sees you).")
		fmt.Fprintln(out, "Open it to join the call; it carries this run's secret, so keep it to yourself:")
		fmt.Fprintln(out, url)
	}
	if err := f.serveMetrics(ctx, cmd, metrics, log); err != nil {
		return err
	}
	if started != nil {
		started(url)
	}
	return d.Run(ctx)
}
