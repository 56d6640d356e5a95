package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/linktap"
	"github.com/peets/peets/internal/ndndfw"
	"github.com/peets/peets/internal/netns"
	"github.com/peets/peets/internal/proc"
)

// The testbed of `peets bench tree`: hosts (network namespaces) in a tree,
// one veth pair per edge, a forwarder of a chosen kind on each (NFD,
// `ndnd fw`, `peets forwarder`), routes made through each forwarder's
// management protocol as an operator would with nfdc, or by ndnd's
// distance-vector routing daemon, and a tap on every link direction.

// treeNsPrefix names the tree's namespaces (swept like the net bench's).
const treeNsPrefix = "peetstb"

// Forwarder kinds.
const (
	FwPeets = "peets"
	FwNFD   = "nfd"
	FwNdnd  = "ndnd"
)

// treeHost is one host of the testbed.
type treeHost struct {
	i    int
	ns   *netns.NS
	kind string
	addr map[int]string // its address on the link to each neighbour
	dev  map[int]string // its end of the link to each neighbour
	sock string         // the forwarder's unix socket
	mgmt *forwarder.Conn
}

// treeLink is one direction of an edge, tapped where it arrives.
type treeLink struct {
	from, to int
	tap      *linktap.Tap
}

// treeNet is the testbed.
type treeNet struct {
	hosts   []*treeHost
	parents []int
	links   []*treeLink
	g       proc.Group
	procs   []*proc.Proc // forwarders and routers, for their logs
}

// nextHop is the neighbour of h on the way to x (h != x).
func (t *treeNet) nextHop(h, x int) int {
	for a := x; a >= 0; a = t.parents[a] {
		if t.parents[a] == h {
			return a // x is below h, under child a
		}
	}
	return t.parents[h]
}

// neighbours of h.
func (t *treeNet) neighbours(h int) []int {
	var out []int
	if t.parents[h] >= 0 {
		out = append(out, t.parents[h])
	}
	for c, p := range t.parents {
		if p == h {
			out = append(out, c)
		}
	}
	return out
}

// hops is the number of links between a and b.
func (t *treeNet) hops(a, b int) int {
	n := 0
	for a != b {
		a = t.nextHop(a, b)
		n++
	}
	return n
}

// sitePrefix is host h's routable prefix; participants there are under it.
func sitePrefix(h int) string { return fmt.Sprintf("/tb/h%d", h) }

// validParents checks a tree: one root (-1), every parent an earlier host.
func validParents(parents []int) error {
	if len(parents) < 2 || len(parents) > 16 {
		return fmt.Errorf("tree: %d hosts (2..16)", len(parents))
	}
	for i, p := range parents {
		if (i == 0) != (p == -1) || p >= i {
			return fmt.Errorf("tree: host %d's parent %d: host 0 is the root (-1), every other's parent is an earlier host", i, p)
		}
	}
	return nil
}

// treeTools are the programs a testbed may need beside peets.
type treeTools struct {
	peets, ndnd, nfd string // nfd: the directory with run-nfd.sh
}

// newTreeNet makes the namespaces and links and starts a forwarder of
// kinds[i] on host i (UDP port ndnPort); with dv, ndnd's routing daemon
// beside each (then every kind must be ndnd). On error what was made is
// taken down.
func newTreeNet(ctx context.Context, parents []int, kinds []string, dv bool, tools treeTools, dir string, opt proc.Options) (t *treeNet, err error) {
	t = &treeNet{parents: parents}
	netns.Sweep(treeNsPrefix) // a killed run's
	defer func() {
		if err != nil {
			t.close()
			t = nil
		}
	}()
	for i, k := range kinds {
		ns, err := netns.Add(netns.Name(treeNsPrefix, fmt.Sprintf("h%d", i)))
		if err != nil {
			return t, err
		}
		t.hosts = append(t.hosts, &treeHost{i: i, ns: ns, kind: k, addr: map[int]string{}, dev: map[int]string{}})
	}
	pid := os.Getpid() % 100000
	for c, p := range parents {
		if p < 0 {
			continue
		}
		// Edge p-c: 10.88.<c>.0/24, the parent .1, the child .2.
		a, b := t.hosts[p], t.hosts[c]
		a.addr[c], b.addr[p] = fmt.Sprintf("10.88.%d.1", c), fmt.Sprintf("10.88.%d.2", c)
		a.dev[c], b.dev[p] = fmt.Sprintf("tb%d-%d-%d", pid, p, c), fmt.Sprintf("tb%d-%d-%d", pid, c, p)
		if err := netns.Veth(a.ns, a.dev[c], a.addr[c]+"/24", b.ns, b.dev[p], b.addr[p]+"/24"); err != nil {
			return t, err
		}
		for _, d := range [][2]*treeHost{{a, b}, {b, a}} {
			tap, err := linktap.Open(d[1].ns, d[1].dev[d[0].i], ndnPort)
			if err != nil {
				return t, err
			}
			t.links = append(t.links, &treeLink{from: d[0].i, to: d[1].i, tap: tap})
		}
	}
	for _, h := range t.hosts {
		if err := t.startForwarder(ctx, h, dv, tools, dir, opt); err != nil {
			return t, fmt.Errorf("h%d (%s): %w", h.i, h.kind, err)
		}
		mctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		h.mgmt, err = forwarder.Open(mctx, forwarder.Options{URI: "unix://" + h.sock, Logger: slog.New(slog.DiscardHandler)})
		cancel()
		if err != nil {
			return t, fmt.Errorf("h%d (%s): management: %w", h.i, h.kind, err)
		}
	}
	if dv {
		for _, h := range t.hosts {
			if err := t.startRouter(h, tools, dir, opt); err != nil {
				return t, fmt.Errorf("h%d: ndnd dv: %w", h.i, err)
			}
		}
	}
	return t, nil
}

// startForwarder runs host h's forwarder and waits for its socket.
func (t *treeNet) startForwarder(ctx context.Context, h *treeHost, dv bool, tools treeTools, dir string, opt proc.Options) error {
	hdir := filepath.Join(dir, fmt.Sprintf("h%d", h.i))
	if err := os.MkdirAll(hdir, 0o755); err != nil {
		return err
	}
	name := fmt.Sprintf("fw%d", h.i)
	var args []string
	switch h.kind {
	case FwPeets:
		args = []string{tools.peets, "forwarder", "--state-dir", hdir, "--log-level", "warn", "--udp-port", fmt.Sprint(ndnPort)}
		h.sock = filepath.Join(hdir, "peets.sock") // from its first line below
	case FwNdnd:
		h.sock = filepath.Join(hdir, "nfd.sock")
		cfg := filepath.Join(hdir, "fw.yml")
		// ndnd's defaults otherwise, as a host of a testbed would run it
		// (UDP faces of MTU 1420, larger packets in NDNLPv2 fragments;
		// eight forwarding threads, which reorder a stream's Data).
		conf := ndndfw.Config{Socket: h.sock, UDP: true, UDPPort: ndnPort, Readvertise: dv}
		if err := os.WriteFile(cfg, []byte(conf.YAML()), 0o644); err != nil {
			return err
		}
		args = []string{tools.ndnd, "fw", "run", cfg}
	case FwNFD:
		h.sock = filepath.Join(hdir, "nfd.sock")
		args = []string{"bash", filepath.Join(tools.nfd, "run-nfd.sh"), hdir, "--udp", fmt.Sprint(ndnPort)}
	default:
		return fmt.Errorf("forwarder kind %q (want peets, nfd or ndnd)", h.kind)
	}
	bin, wrapped := h.ns.Command(args[0], args[1:]...)
	p, err := proc.Start(name, bin, wrapped, opt)
	if err != nil {
		return err
	}
	t.g.Add(p)
	t.procs = append(t.procs, p)
	if h.kind == FwPeets {
		m, err := p.WaitLine(fwRe, 15*time.Second)
		if err != nil {
			return err
		}
		h.sock = strings.TrimPrefix(m[1], "unix://")
		return nil
	}
	return waitSocket(ctx, p, h.sock, 15*time.Second)
}

// startRouter runs ndnd dv beside host h's forwarder: router /tb/h<i> in
// network /tb, its neighbours' forwarders by address.
func (t *treeNet) startRouter(h *treeHost, tools treeTools, dir string, opt proc.Options) error {
	var nb []string
	for _, n := range t.neighbours(h.i) {
		nb = append(nb, fmt.Sprintf("    - uri: udp4://%s:%d", t.hosts[n].addr[h.i], ndnPort))
	}
	cfg := filepath.Join(dir, fmt.Sprintf("h%d", h.i), "dv.yml")
	yml := fmt.Sprintf("dv:\n  network: /tb\n  router: %s\n  keychain: insecure\n  trust_anchors: []\n"+
		"  neighbors:\n%s\n  advertise_interval: 1000\n  router_dead_interval: 3000\n", sitePrefix(h.i), strings.Join(nb, "\n"))
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		return err
	}
	bin, wrapped := h.ns.Command("env", "NDN_CLIENT_TRANSPORT=unix://"+h.sock, tools.ndnd, "dv", "run", cfg)
	p, err := proc.Start(fmt.Sprintf("dv%d", h.i), bin, wrapped, opt)
	if err != nil {
		return err
	}
	t.g.Add(p)
	t.procs = append(t.procs, p)
	return nil
}

// waitSocket waits until sock accepts a connection, or p exits.
func waitSocket(ctx context.Context, p *proc.Proc, sock string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if c, err := dialUnix(ctx, sock); err == nil {
			c.Close()
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("exited: %s", lastLines(p, 5))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no socket at %s after %v: %s", sock, d, lastLines(p, 5))
}

// lastLines is the end of a process's output, for an error.
func lastLines(p *proc.Proc, n int) string {
	l := p.Lines()
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

// routeStatic gives every forwarder its faces and routes: each other
// site's prefix to the neighbour towards it, the room's group to every
// neighbour, and the multicast strategy on the group.
func (t *treeNet) routeStatic(ctx context.Context, group enc.Name) error {
	for _, h := range t.hosts {
		if err := t.groupStrategy(ctx, h, group); err != nil {
			return err
		}
		for _, n := range t.neighbours(h.i) {
			routes := []enc.Name{group}
			for x := range t.hosts {
				if x != h.i && t.nextHop(h.i, x) == n {
					p, _ := enc.NameFromStr(sitePrefix(x))
					routes = append(routes, p)
				}
			}
			uri := fmt.Sprintf("udp://%s:%d", t.hosts[n].addr[h.i], ndnPort)
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := h.mgmt.Link(cctx, uri, routes)
			cancel()
			if err != nil {
				return fmt.Errorf("h%d (%s): link to h%d: %w", h.i, h.kind, n, err)
			}
		}
	}
	return nil
}

// groupStrategy sets the multicast strategy on the group at h (a transit
// host with no participant needs it too).
func (t *treeNet) groupStrategy(ctx context.Context, h *treeHost, group enc.Name) error {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := h.mgmt.SetStrategy(cctx, group, forwarder.MulticastStrategy); err != nil {
		return fmt.Errorf("h%d (%s): strategy: %w", h.i, h.kind, err)
	}
	return nil
}

// waitRouters waits until every router has a route to every other
// (`ndnd dv status`: the RIB holds the other routers): prefixes announced
// before that may not be fetched for a while (ndnd dv v1.5.3).
func (t *treeNet) waitRouters(ctx context.Context, tools treeTools, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ok := 0
		for _, h := range t.hosts {
			if n, err := ribEntries(ctx, h, tools); err == nil && n >= len(t.hosts)-1 {
				ok++
			}
		}
		if ok == len(t.hosts) {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("ndnd dv: the routers did not all reach each other within %v", d)
}

// ribEntries reads the size of h's dv RIB (one entry per router it has a
// route to) from `ndnd dv status`.
func ribEntries(ctx context.Context, h *treeHost, tools treeTools) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	bin, args := h.ns.Command("env", "NDN_CLIENT_TRANSPORT=unix://"+h.sock, tools.ndnd, "dv", "status")
	out, err := exec.CommandContext(cctx, bin, args...).CombinedOutput()
	if err != nil {
		return 0, err
	}
	return statusField(string(out), "nRibEntries")
}

// statusField reads "key=N" from ndnd's status output.
func statusField(out, key string) (int, error) {
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if ok && k == key {
			var n int
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n, nil
			}
		}
	}
	return 0, fmt.Errorf("ndnd dv status: no %s in %q", key, out)
}

// close stops the processes, closes the management connections and taps,
// and deletes the namespaces.
func (t *treeNet) close() {
	for _, h := range t.hosts {
		if h.mgmt != nil {
			h.mgmt.Close()
		}
	}
	t.g.StopAll(3 * time.Second)
	for _, l := range t.links {
		l.tap.Close()
	}
	for i := len(t.hosts) - 1; i >= 0; i-- {
		_ = t.hosts[i].ns.Delete()
	}
	t.hosts, t.links = nil, nil
}

// Testbed is the benchmark's tree for a test that runs participants of
// its own on it (e2e TestChurn): the hosts, their forwarders, and static
// routes for one room's group.
type Testbed struct {
	n *treeNet
}

// TestbedConfig configures NewTestbed.
type TestbedConfig struct {
	Parents    []int    // as TreeConfig
	Forwarders []string // as TreeConfig (no default)
	Group      enc.Name // the room's group, routed to every neighbour with the multicast strategy
	Bin        string   // peets (for peets forwarders)
	Ndnd, NFD  string   // as TreeConfig
	Dir        string   // the forwarders' state and sockets
	Echo       io.Writer
}

// NewTestbed builds the tree and its static routes (root needed).
func NewTestbed(ctx context.Context, c TestbedConfig) (*Testbed, error) {
	if err := validParents(c.Parents); err != nil {
		return nil, err
	}
	if len(c.Forwarders) != len(c.Parents) {
		return nil, fmt.Errorf("testbed: %d forwarders for %d hosts", len(c.Forwarders), len(c.Parents))
	}
	n, err := newTreeNet(ctx, c.Parents, c.Forwarders, false, treeTools{peets: c.Bin, ndnd: c.Ndnd, nfd: c.NFD}, c.Dir, proc.Options{Echo: c.Echo})
	if err != nil {
		return nil, err
	}
	if err := n.routeStatic(ctx, c.Group); err != nil {
		n.close()
		return nil, err
	}
	return &Testbed{n: n}, nil
}

// Len is the number of hosts.
func (t *Testbed) Len() int { return len(t.n.hosts) }

// Netns is host i's network namespace name.
func (t *Testbed) Netns(i int) string { return t.n.hosts[i].ns.Name }

// Socket is host i's forwarder's unix socket.
func (t *Testbed) Socket(i int) string { return t.n.hosts[i].sock }

// Kind is host i's forwarder: peets, nfd or ndnd.
func (t *Testbed) Kind(i int) string { return t.n.hosts[i].kind }

// Close stops the forwarders and deletes the namespaces.
func (t *Testbed) Close() { t.n.close() }
