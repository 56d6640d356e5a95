package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/peets/peets/internal/bench"
	"github.com/peets/peets/internal/nfdtools"
)

// newBenchTreeCmd is the testbed benchmark (issue #19).
func newBenchTreeCmd() *cobra.Command {
	var c bench.TreeConfig
	var parents, forwarders string
	var publisher int
	var cmd *cobra.Command
	cmd = benchCmd("tree", "A testbed in network namespaces: hosts in a tree with NFD, ndnd fw and peets forwarders, static or ndnd dv routes, a simulcast publisher, bots and Chromium pages receiving: bytes of each layer on every link, upload, losses, what the pages decode (root)",
		"the processes' output", func(ctx context.Context, log *slog.Logger, echo io.Writer) (any, error) {
			c.Logger, c.Echo = log, echo
			var err error
			if c.Parents, err = parseParents(parents); err != nil {
				return nil, err
			}
			if cmd.Flags().Changed("publisher") {
				c.Publisher = &publisher
			}
			if forwarders != "" {
				c.Forwarders = strings.Split(forwarders, ",")
			}
			if c.Ndnd == "" {
				c.Ndnd = findNdnd()
			}
			if wd, err := os.Getwd(); c.NFD == "" && err == nil {
				c.NFD = nfdtools.Find(wd)
			}
			return bench.Tree(ctx, c)
		})
	fl := cmd.Flags()
	fl.StringVar(&parents, "parents", "-1,0,0,1,2", "the tree: each host's parent, the root's -1 (host 0)")
	fl.StringVar(&forwarders, "forwarders", "", "each host's forwarder, peets, nfd or ndnd (default nfd,ndnd,peets,peets,nfd; ndnd everywhere with --routing dv)")
	fl.StringVar(&c.Routing, "routing", "static", "static (faces and routes through each forwarder's management, as with nfdc) or dv (ndnd dv on every host, prefixes announced)")
	fl.IntVar(&publisher, "publisher", 3, "the publisher's host (3, or the last host of a smaller tree)")
	fl.IntVar(&c.Bots, "bots", 10, "receiving bots, spread over the hosts")
	fl.IntVar(&c.Pages, "pages", 2, "receiving Chromium pages, each with its proxy, on the hosts farthest from the publisher")
	fl.DurationVar(&c.Duration, "duration", 30*time.Second, "measured window")
	fl.DurationVar(&c.Warmup, "warmup", 10*time.Second, "every receiver fetching before the window")
	fl.StringVar(&c.Ndnd, "ndnd", "", "ndnd's binary (default $PEETS_NDND, else ndnd in PATH or bin/ndnd)")
	fl.StringVar(&c.NFD, "nfd", "", "NFD's directory, with bin/nfd and run-nfd.sh (default $PEETS_NFD, else shared/tools/nfd beside this directory or a parent)")
	fl.BoolVar(&c.Keep, "keep", false, "keep the run's state and logs")
	return cmd
}

// parseParents reads --parents.
func parseParents(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("--parents %q: %w", s, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// findNdnd is $PEETS_NDND, ndnd in PATH, or bin/ndnd ("" if none).
func findNdnd() string {
	if p := os.Getenv("PEETS_NDND"); p != "" {
		return p
	}
	if p, err := exec.LookPath("ndnd"); err == nil {
		return p
	}
	if p, err := filepath.Abs(filepath.Join("bin", "ndnd")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
