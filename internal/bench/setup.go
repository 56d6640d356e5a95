package bench

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
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

// fwProc is a `peets forwarder` process of a benchmark and its URI.
type fwProc struct {
	*proc.Proc
	uri string
}

// startForwarder runs a `peets forwarder` process named name for a
// benchmark (added to g) with its state under dir and the extra args.
func startForwarder(g *proc.Group, bin, dir, name string, extra []string, opt proc.Options) (fwProc, error) {
	args := append([]string{"forwarder", "--state-dir", filepath.Join(dir, name), "--log-level", "warn"}, extra...)
	p, err := proc.Start(name, bin, args, opt)
	if err != nil {
		return fwProc{}, err
	}
	g.Add(p)
	m, err := p.WaitLine(fwRe, 10*time.Second)
	if err != nil {
		return fwProc{}, err
	}
	return fwProc{p, m[1]}, nil
}

// startForwarders starts the forwarders of a fan-out run and returns the
// publisher's and the subscribers' URIs: c.Forwarder for both, and no
// process, when it is set; one forwarder for one hop; for two hops, one
// each, linked both ways over UDP on 127.0.0.1, through an impaired link
// (returned, to be closed by the caller) when c.Link is active.
func startForwarders(g *proc.Group, c FanoutConfig, dir string, opt proc.Options) (pubFw, subFw string, fws []fwProc, link *impairedLink, err error) {
	if c.Forwarder != "" {
		return c.Forwarder, c.Forwarder, nil, nil, nil
	}
	var noSweep []string
	if c.NoSweep {
		noSweep = []string{"--no-sweep"}
	}
	if c.Hops < 2 {
		f, err := startForwarder(g, c.Bin, dir, "fw", noSweep, opt)
		if err != nil {
			return "", "", nil, nil, err
		}
		return f.uri, f.uri, []fwProc{f}, nil, nil
	}
	ports, err := freeUDPPorts(2)
	if err != nil {
		return "", "", nil, nil, err
	}
	// Each forwarder links to the other's port, or to its side of the
	// impaired link.
	peerA, peerB := ports[1], ports[0]
	if c.Link.Active() {
		if link, err = newImpairedLink(c.Link); err != nil {
			return "", "", nil, nil, err
		}
		peerA, peerB = link.Ports()
		link.start(ports[0], ports[1])
	}
	fail := func(err error) (string, string, []fwProc, *impairedLink, error) {
		if link != nil {
			link.Close()
		}
		return "", "", nil, nil, err
	}
	args := func(own, peer int) []string {
		return append([]string{"--udp-port", strconv.Itoa(own), "--link", "udp://127.0.0.1:" + strconv.Itoa(peer)}, noSweep...)
	}
	a, err := startForwarder(g, c.Bin, dir, "fw-pub", args(ports[0], peerA), opt)
	if err != nil {
		return fail(err)
	}
	b, err := startForwarder(g, c.Bin, dir, "fw-sub", args(ports[1], peerB), opt)
	if err != nil {
		return fail(err)
	}
	return a.uri, b.uri, []fwProc{a, b}, link, nil
}

// freeUDPPorts returns n UDP ports that were free on 127.0.0.1 a moment ago.
func freeUDPPorts(n int) ([]int, error) {
	var conns []*net.UDPConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, err
		}
		conns = append(conns, c)
		ports = append(ports, c.LocalAddr().(*net.UDPAddr).Port)
	}
	return ports, nil
}

// forwardersCPU sums the CPU time of the benchmark's forwarders; ok is
// false without any, or when one could not be read.
func forwardersCPU(fs []fwProc) (time.Duration, bool) {
	var sum time.Duration
	for _, f := range fs {
		t, ok := procCPU(f.Pid())
		if !ok {
			return 0, false
		}
		sum += t
	}
	return sum, len(fs) > 0
}

// sharedTrust is the environment that gives every proxy of a benchmark run
// one trust directory under dir: the first makes the room's anchor and
// owns the room, the others find it there, as proxies of one person's
// machine do (docs/protocol.md 3). Real hosts would exchange invitations.
func sharedTrust(dir string) []string {
	return []string{"PEETS_TRUST_DIR=" + filepath.Join(dir, "trust")}
}

// runDir is what a benchmark of real processes starts with: a directory
// (with one trust directory for all, sharedTrust), a process group, and a
// forwarder process.
type runDir struct {
	dir string
	g   proc.Group
	opt proc.Options
	fw  string // the forwarder's URI
}

// newRunDir makes a runDir under a fresh temporary directory named after
// prefix, after filling in the binary and the logger (defaults); close
// stops the processes and removes the directory.
func newRunDir(bin *string, log **slog.Logger, prefix string, echo io.Writer) (*runDir, error) {
	var err error
	if *bin, *log, err = defaults(*bin, *log); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, err
	}
	r := &runDir{dir: dir, opt: proc.Options{Echo: echo, Env: sharedTrust(dir)}}
	f, err := startForwarder(&r.g, *bin, dir, "fw", nil, r.opt)
	if err != nil {
		r.close()
		return nil, err
	}
	r.fw = f.uri
	return r, nil
}

func (r *runDir) close() {
	r.g.StopAll(3 * time.Second)
	os.RemoveAll(r.dir)
}

// proxy starts `peets up` for user in room and returns it and its page URL.
// (logLevel "": warn).
func (r *runDir) proxy(bin, user, room, logLevel string) (*proc.Proc, string, error) {
	if logLevel == "" {
		logLevel = "warn"
	}
	p, err := proc.Start(user, bin, []string{"up", "--user", user, "--room", room, "--forwarder", r.fw,
		"--state-dir", filepath.Join(r.dir, user), "--log-level", logLevel}, r.opt)
	if err != nil {
		return nil, "", err
	}
	r.g.Add(p)
	m, err := p.WaitLine(urlLineRe, 20*time.Second)
	if err != nil {
		return nil, "", err
	}
	return p, m[1], nil
}

// window waits d (or until ctx is done) and returns how long it waited.
func window(ctx context.Context, d time.Duration) (time.Duration, error) {
	t0 := time.Now()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return time.Since(t0), ctx.Err()
	}
	return time.Since(t0), nil
}
