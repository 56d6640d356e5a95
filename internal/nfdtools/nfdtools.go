// Package nfdtools finds the NFD build that tests and the testbed
// benchmark run (NFD 24.07 and nfdc, shared/tools/nfd: see its README).
package nfdtools

import (
	"os"
	"path/filepath"
)

// Find is the directory of the NFD build (bin/nfd, bin/nfdc, run-nfd.sh):
// $PEETS_NFD, else shared/tools/nfd in from or one of its parents ("" if
// none).
func Find(from string) string {
	if p := os.Getenv("PEETS_NFD"); p != "" {
		return p
	}
	for d := from; ; d = filepath.Dir(d) {
		c := filepath.Join(d, "shared", "tools", "nfd")
		if _, err := os.Stat(filepath.Join(c, "bin", "nfd")); err == nil {
			return c
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
}
