// Command peets is the Peets daemon and its tools: one binary, cobra
// subcommands (one file each).
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "peets:", err)
		os.Exit(1)
	}
}
