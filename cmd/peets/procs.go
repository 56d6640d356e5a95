package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"github.com/spf13/cobra"
)

// procsAnnotation names a command's default --procs.
const procsAnnotation = "peets/procs"

// proxyProcs is the default GOMAXPROCS of a proxy (up, demo, bot): one.
// A proxy's work is a chain of short steps handed between goroutines
// (socket reader -> NDN engine -> fetcher -> page), each a few tens of
// microseconds. With more than one P, every hand-off wakes an idle thread
// that mostly finds nothing to steal and sleeps again (a futex wake and
// two context switches, ~30-100 us on a VM). bench fanout measured +30-45 %
// packets per CPU-second and lower latency with one P; a 16-party call
// needs well under one core per proxy.
const proxyProcs = 1

// withProcs sets cmd's default --procs.
func withProcs(cmd *cobra.Command, n int) *cobra.Command {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[procsAnnotation] = strconv.Itoa(n)
	return cmd
}

// addProcsFlag adds --procs to root; it applies before any subcommand runs.
func addProcsFlag(root *cobra.Command) {
	var procs int
	root.PersistentFlags().IntVar(&procs, "procs", 0,
		"OS threads running Go code at once (GOMAXPROCS); 0: the command's default (1 for proxies: up, demo, bot; all CPUs otherwise), or $GOMAXPROCS when set")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkLogLevel(cmd); err != nil {
			return err
		}
		n, err := procsFor(cmd, procs, os.Getenv("GOMAXPROCS"))
		if err != nil {
			return err
		}
		if n > 0 {
			runtime.GOMAXPROCS(n)
		}
		return nil
	}
}

// procsFor decides GOMAXPROCS: the flag, else $GOMAXPROCS (which the
// runtime applied already: 0 leaves it), else the command's default.
func procsFor(cmd *cobra.Command, flag int, env string) (int, error) {
	switch {
	case flag < 0:
		return 0, fmt.Errorf("--procs %d: must be >= 0", flag)
	case flag > 0:
		return flag, nil
	case env != "":
		return 0, nil
	}
	for c := cmd; c != nil; c = c.Parent() {
		if v, ok := c.Annotations[procsAnnotation]; ok {
			return strconv.Atoi(v)
		}
	}
	return 0, nil
}
