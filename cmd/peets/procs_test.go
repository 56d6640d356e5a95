package main

import (
	"testing"

	"github.com/spf13/cobra"
)

func TestProcsFor(t *testing.T) {
	root := &cobra.Command{Use: "peets"}
	up := withProcs(&cobra.Command{Use: "up"}, 1)
	bench := &cobra.Command{Use: "bench"}
	worker := withProcs(&cobra.Command{Use: "worker"}, 1)
	fw := &cobra.Command{Use: "forwarder"}
	root.AddCommand(up, bench, fw)
	bench.AddCommand(worker)
	for _, c := range []struct {
		cmd  *cobra.Command
		flag int
		env  string
		want int
	}{
		{up, 0, "", 1},
		{worker, 0, "", 1},
		{fw, 0, "", 0},    // all CPUs: the runtime's default stays
		{bench, 0, "", 0}, // the harness itself
		{up, 3, "", 3},    // the flag wins
		{up, 0, "2", 0},   // $GOMAXPROCS wins over the default (applied by the runtime)
		{up, 4, "2", 4},   // the flag wins over $GOMAXPROCS
	} {
		got, err := procsFor(c.cmd, c.flag, c.env)
		if err != nil || got != c.want {
			t.Errorf("procsFor(%s, %d, %q) = %d, %v; want %d", c.cmd.Name(), c.flag, c.env, got, err, c.want)
		}
	}
	if _, err := procsFor(up, -1, ""); err == nil {
		t.Error("--procs -1 accepted")
	}
}
