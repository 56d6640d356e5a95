package main

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// versionDeps are the dependencies whose versions --version names: those
// that decide what goes on the wire.
var versionDeps = []struct{ path, short string }{
	{"github.com/named-data/ndnd", "ndnd"},
	{"github.com/pion/webrtc/v4", "pion/webrtc"},
}

// versionText describes a build from its build info: the module version
// (a tag, or a pseudo-version from the VCS), the commit and whether the
// tree was modified, the Go version and the versions of ndnd and pion.
func versionText(bi *debug.BuildInfo) string {
	if bi == nil {
		return "unknown (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var vcs []string
	set := map[string]string{}
	for _, s := range bi.Settings {
		set[s.Key] = s.Value
	}
	if r := set["vcs.revision"]; r != "" {
		vcs = append(vcs, "commit "+r[:min(12, len(r))])
	}
	if t := set["vcs.time"]; t != "" {
		vcs = append(vcs, t)
	}
	if set["vcs.modified"] == "true" {
		vcs = append(vcs, "modified")
	}
	parts := []string{}
	if len(vcs) > 0 {
		parts = append(parts, strings.Join(vcs, ", "))
	}
	if bi.GoVersion != "" {
		parts = append(parts, bi.GoVersion)
	}
	var deps []string
	for _, want := range versionDeps {
		for _, d := range bi.Deps {
			if d.Path == want.path {
				if d.Replace != nil {
					d = d.Replace
				}
				deps = append(deps, want.short+" "+d.Version)
			}
		}
	}
	if len(deps) > 0 {
		parts = append(parts, strings.Join(deps, ", "))
	}
	if len(parts) == 0 {
		return v
	}
	return fmt.Sprintf("%s (%s)", v, strings.Join(parts, "; "))
}

// addVersion gives root and every subcommand a --version flag, and adds
// a version subcommand.
func addVersion(root *cobra.Command) {
	bi, _ := debug.ReadBuildInfo()
	v := versionText(bi)
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version of peets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "peets", v)
			return err
		},
	})
	root.SetVersionTemplate("peets {{.Version}}\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Version = v
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
