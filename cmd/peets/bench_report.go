package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/peets/peets/internal/report"
)

// newBenchReportCmd runs the benchmarks and regenerates docs/benchmarks.md
// and its plots from their output (internal/report).
func newBenchReportCmd() *cobra.Command {
	var data, out, plots, logLevel string
	var only, appendix []string
	var renderOnly bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Run every benchmark and rewrite docs/benchmarks.md with the current figure of each goal and plots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, o := range only {
				if !slices.Contains(report.Names(), o) {
					return fmt.Errorf("--only %s: want some of %s", o, strings.Join(report.Names(), ", "))
				}
			}
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			log := newLogger(logLevel, "text")
			d, err := report.Load(data)
			if err != nil {
				return err
			}
			if !renderOnly {
				bin, err := os.Executable()
				if err != nil {
					return err
				}
				d.Machine = report.ThisMachine()
				// -dirty: built from uncommitted changes (git describe).
				if c, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
					d.Commit = strings.TrimSpace(string(c))
				}
				for _, b := range report.Benches {
					if len(only) > 0 && !slices.Contains(only, b.Name) {
						continue
					}
					if b.Root && os.Geteuid() != 0 {
						log.Warn("skipped: needs root (network namespaces)", "bench", b.Name)
						continue
					}
					fmt.Fprintf(cmd.ErrOrStderr(), "running %s: peets %s\n", b.Name, strings.Join(b.Args, " "))
					if err := d.Execute(ctx, bin, b, log); err != nil && ctx.Err() != nil {
						return ctx.Err()
					}
					if err := d.Save(data); err != nil {
						return err
					}
				}
			}
			var kept strings.Builder
			for _, f := range appendix {
				b, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					return err
				}
				kept.WriteString(strings.TrimSpace(string(b)) + "\n\n")
			}
			rel, err := filepath.Rel(filepath.Dir(out), plots)
			if err != nil {
				return err
			}
			md, err := report.Render(d, plots, filepath.ToSlash(rel), kept.String())
			if err != nil {
				return err
			}
			if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and the plots in %s\n", out, plots)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&data, "data", "docs/bench/data.json", "the benchmarks' kept output (read, and rewritten by the runs)")
	fl.StringVar(&out, "out", "docs/benchmarks.md", "the report to write")
	fl.StringVar(&plots, "plots", "docs/bench", "directory of the report's PNG plots")
	fl.StringSliceVar(&appendix, "append", []string{"docs/bench/tests.md", "docs/bench/tried.md"},
		`sections kept by hand, appended in order: the figures the end-to-end tests print, "what we tried"`)
	fl.StringSliceVar(&only, "only", nil, "run only these benchmarks (the others keep their kept output): "+strings.Join(report.Names(), ","))
	fl.BoolVar(&renderOnly, "render", false, "run nothing: redraw the report from the kept output")
	fl.StringVar(&logLevel, "log-level", "warn", "log level")
	return cmd
}
