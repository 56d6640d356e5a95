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
	for _, add := range subcommands {
		root.AddCommand(add())
	}
	return root
}

// subcommands is filled by the init functions of the subcommand files, one
// file per subcommand.
var subcommands []func() *cobra.Command
