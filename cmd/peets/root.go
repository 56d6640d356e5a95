package main

import (
	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "peets",
		Short:         "Multi-party audio/video conferencing over Named Data Networking",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newForwarderCmd(),
		withProcs(newUpCmd(), proxyProcs),
		withProcs(newDemoCmd(), proxyProcs),
		withProcs(newBotCmd(), proxyProcs),
		newRosterCmd(),
		newStatsCmd(),
		newInviteCmd(),
		newRoomCmd(),
		newBenchCmd(),
	)
	addProcsFlag(root)
	addVersion(root)
	return root
}
