package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	ndnlog "github.com/named-data/ndnd/std/log"
	"github.com/spf13/cobra"

	"github.com/peets/peets/daemon/forwarder"
)

// ndnFlags are the flags of every subcommand that speaks NDN.
type ndnFlags struct {
	forwarder string
	stateDir  string
	logLevel  string
}

func (f *ndnFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.forwarder, "forwarder", "", `forwarder URI: unix:///path, tcp://127.0.0.1:6363 or "embedded"; default: NDN_CLIENT_TRANSPORT / client.conf if a forwarder answers there, else another peets' socket in --state-dir, else an embedded forwarder`)
	fl.StringVar(&f.stateDir, "state-dir", "", "per-user state directory: keys and the embedded forwarder's socket (default "+forwarder.DefaultStateDir()+")")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
}

func (f *ndnFlags) logger() *slog.Logger {
	return newLogger(f.logLevel)
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
		return nil, err // (the forwarder package's errors say "forwarder: ...")
	}
	log.Info("forwarder", "kind", c.Kind(), "uri", c.URI())
	return c, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	// ndnd's library logger is global (the library forces it): keep its
	// per-packet warnings ("No handler for interest" after a close, ...)
	// out of the way unless debugging.
	if l > slog.LevelDebug {
		ndnlog.Default().SetLevel(ndnlog.LevelError)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// signalContext is cancelled on SIGINT or SIGTERM.
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}
