package bench

import (
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/peets/peets/internal/proc"
)

// defaults fills the binary (this one) and the logger when unset.
func defaults(bin string, log *slog.Logger) (string, *slog.Logger, error) {
	if log == nil {
		log = slog.Default()
	}
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", nil, err
		}
		bin = exe
	}
	return bin, log, nil
}

// startForwarder runs a `peets forwarder` process for a benchmark (added to
// g) with its state under dir, and returns its URI.
func startForwarder(g *proc.Group, bin, dir string, opt proc.Options) (*proc.Proc, string, error) {
	p, err := proc.Start("fw", bin, []string{"forwarder", "--state-dir", filepath.Join(dir, "fw"), "--log-level", "warn"}, opt)
	if err != nil {
		return nil, "", err
	}
	g.Add(p)
	m, err := p.WaitLine(fwRe, 10*time.Second)
	if err != nil {
		return nil, "", err
	}
	return p, m[1], nil
}
