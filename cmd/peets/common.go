package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	ndnlog "github.com/named-data/ndnd/std/log"
	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/metric"
)

// ndnFlags are the flags of every subcommand that speaks NDN.
type ndnFlags struct {
	forwarder string
	stateDir  string
	trustDir  string
	logLevel  string
	logFormat string
	metrics   string
}

func (f *ndnFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.forwarder, "forwarder", "", `forwarder URI: unix:///path, tcp://127.0.0.1:6363 or "embedded"; default: NDN_CLIENT_TRANSPORT / client.conf if a forwarder answers there, else another peets' socket in --state-dir, else an embedded forwarder`)
	fl.StringVar(&f.stateDir, "state-dir", "", "per-user state directory: keys and the embedded forwarder's socket (default "+forwarder.DefaultStateDir()+")")
	fl.StringVar(&f.trustDir, "trust-dir", "", "where rooms' trust anchors and imported invitations are kept (default $PEETS_TRUST_DIR, else "+defaultTrustDir()+")")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text, or json (one JSON object per line, for collectors)")
}

// addMetrics adds --metrics (the commands that run a daemon or a
// forwarder).
func (f *ndnFlags) addMetrics(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics, no token needed (:PORT listens on loopback; docs/metrics.md)")
}

// serveMetrics serves c at the --metrics address, if set, until ctx is
// done, and says where.
func (f *ndnFlags) serveMetrics(ctx context.Context, cmd *cobra.Command, c *metric.Collector, log *slog.Logger) error {
	if f.metrics == "" {
		return nil
	}
	a, err := metric.Serve(ctx, f.metrics, metric.Handler(c), log)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "metrics: http://%s/metrics\n", a)
	return nil
}

// trust is the trust directory the flags say.
func (f *ndnFlags) trust() string { return trustDirOr(f.trustDir) }

// trustDirOr is the --trust-dir flag's value, or the default.
func trustDirOr(flag string) string {
	if flag != "" {
		return flag
	}
	return defaultTrustDir()
}

// defaultTrustDir is $PEETS_TRUST_DIR, else peets/ in the user's config
// directory (~/.config/peets): rooms' anchors outlive the state directory,
// which may be a runtime directory emptied at each boot.
func defaultTrustDir() string {
	if d := os.Getenv("PEETS_TRUST_DIR"); d != "" {
		return d
	}
	if c, err := os.UserConfigDir(); err == nil {
		return filepath.Join(c, "peets")
	}
	return filepath.Join(forwarder.DefaultStateDir(), "trust")
}

func (f *ndnFlags) logger() *slog.Logger {
	return newLogger(f.logLevel, f.logFormat)
}

func (f *ndnFlags) dir() string {
	if f.stateDir != "" {
		return f.stateDir
	}
	return forwarder.DefaultStateDir()
}

// open connects to the forwarder as the flags say.
func (f *ndnFlags) open(ctx context.Context, log *slog.Logger) (*forwarder.Conn, error) {
	c, err := forwarder.Open(ctx, forwarder.Options{URI: f.forwarder, StateDir: f.dir(), Logger: log})
	if err != nil {
		return nil, err // the forwarder package's errors say "forwarder: ..."
	}
	log.Info("forwarder", "kind", c.Kind(), "uri", c.URI())
	return c, nil
}

// parseLevel parses a --log-level value.
func parseLevel(level string) (slog.Level, error) {
	switch strings.ToLower(level) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
}

// checkLogLevel refuses a bad --log-level or --log-format of cmd before
// it runs (every command that logs has the flags).
func checkLogLevel(cmd *cobra.Command) error {
	if fl := cmd.Flags().Lookup("log-level"); fl != nil {
		if _, err := parseLevel(fl.Value.String()); err != nil {
			return err
		}
	}
	if fl := cmd.Flags().Lookup("log-format"); fl != nil {
		if v := fl.Value.String(); v != "text" && v != "json" {
			return fmt.Errorf("--log-format %q: want text or json", v)
		}
	}
	return nil
}

// newLogger logs to stderr from level up (checked by checkLogLevel; info if
// it is not a level).
func newLogger(level, format string) *slog.Logger {
	l, err := parseLevel(level)
	if err != nil {
		l = slog.LevelInfo
	}
	// ndnd's library logger is global (the library forces it): keep its
	// per-packet warnings ("No handler for interest" after a close, ...)
	// out of the way unless debugging.
	if l > slog.LevelDebug {
		ndnlog.Default().SetLevel(ndnlog.LevelError)
	}
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}
