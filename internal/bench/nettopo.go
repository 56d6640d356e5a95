package bench

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/peets/peets/internal/linkshape"
	"github.com/peets/peets/internal/linktap"
	"github.com/peets/peets/internal/netns"
)

// nsPrefix names the benchmark's namespaces (netns.Name: prefix, pid,
// host), so that a later run can sweep those of a run that was killed.
const nsPrefix = "peetsnb"

// ndnPort is the UDP port of every host's forwarder.
const ndnPort = 6363

// netHost is one machine of the benchmark: a network namespace with its
// address (on its one link: to the other host, or to the hub).
type netHost struct {
	name string // A, B, C; R for the hub
	user string // the participant on it ("" for the hub)
	ns   *netns.NS
	ip   string
	peer string // the address its forwarder links to
}

// netLink is one direction of a veth pair: from's egress (shaped there)
// into to (tapped there).
type netLink struct {
	name     string // "A->B"
	from, to *netHost
	dev      string // in from's namespace
	peerDev  string // in to's namespace
	sched    linkshape.Schedule
	shaper   *linkshape.Shaper // nil when the link is never limited
	tap      *linktap.Tap
}

// topology is the benchmark's hosts and links.
type topology struct {
	hosts []*netHost // publisher first; the hub last, if any
	hub   *netHost
	links []*netLink
}

func (t *topology) host(name string) *netHost {
	for _, h := range t.hosts {
		if h.name == name {
			return h
		}
	}
	return nil
}

// pageHosts are the hosts with a participant (all but the hub).
func (t *topology) pageHosts() []*netHost {
	var out []*netHost
	for _, h := range t.hosts {
		if h.user != "" {
			out = append(out, h)
		}
	}
	return out
}

// flows are the streams the benchmark measures: the publisher's to every
// other page, and with two hosts the other's back (a call).
func (t *topology) flows() []flow {
	a := t.hosts[0]
	var out []flow
	for _, h := range t.pageHosts()[1:] {
		out = append(out, flow{to: h, from: a})
		if t.hub == nil {
			out = append(out, flow{to: a, from: h})
		}
	}
	return out
}

// route lists the links a packet from host a to host b crosses.
func (t *topology) route(a, b *netHost) []*netLink {
	var out []*netLink
	hop := func(x, y *netHost) {
		for _, l := range t.links {
			if l.from == x && l.to == y {
				out = append(out, l)
			}
		}
	}
	if t.hub == nil {
		hop(a, b)
	} else {
		hop(a, t.hub)
		hop(t.hub, b)
	}
	return out
}

// users of the hosts, by host name.
var netUsers = map[string]string{"A": "alice", "B": "bob", "C": "carol"}

// newTopology makes the namespaces and links of c: two hosts joined by a
// veth (one receiver), or a publisher and two receivers, each joined to a
// hub host that routes IP and runs a forwarder too (two receivers). The
// schedules shape the publisher's uplink and, with a hub, the receivers'
// downlinks. On error, what was made is taken down.
func newTopology(c NetConfig) (t *topology, err error) {
	t = &topology{}
	defer func() {
		if err != nil {
			t.close()
			t = nil
		}
	}()
	add := func(name string) (*netHost, error) {
		ns, err := netns.Add(netns.Name(nsPrefix, strings.ToLower(name)))
		if err != nil {
			return nil, err
		}
		h := &netHost{name: name, user: netUsers[name], ns: ns}
		t.hosts = append(t.hosts, h)
		return h, nil
	}
	pid := os.Getpid() % 100000
	veth := func(a, b *netHost, ipA, ipB string) error {
		devA, devB := fmt.Sprintf("nb%d%s%s", pid, strings.ToLower(a.name), strings.ToLower(b.name)), fmt.Sprintf("nb%d%s%s", pid, strings.ToLower(b.name), strings.ToLower(a.name))
		if err := netns.Veth(a.ns, devA, ipA+"/24", b.ns, devB, ipB+"/24"); err != nil {
			return err
		}
		t.links = append(t.links,
			&netLink{name: a.name + "->" + b.name, from: a, to: b, dev: devA, peerDev: devB},
			&netLink{name: b.name + "->" + a.name, from: b, to: a, dev: devB, peerDev: devA})
		return nil
	}
	a, err := add("A")
	if err != nil {
		return t, err
	}
	if c.Receivers <= 1 {
		b, err := add("B")
		if err != nil {
			return t, err
		}
		a.ip, b.ip = "10.77.0.1", "10.77.0.2"
		a.peer, b.peer = b.ip, a.ip
		if err := veth(a, b, a.ip, b.ip); err != nil {
			return t, err
		}
	} else {
		hosts := []*netHost{a}
		for _, n := range []string{"B", "C"}[:c.Receivers] {
			h, err := add(n)
			if err != nil {
				return t, err
			}
			hosts = append(hosts, h)
		}
		r, err := add("R")
		if err != nil {
			return t, err
		}
		t.hub = r
		for k, h := range hosts {
			h.ip = fmt.Sprintf("10.77.%d.1", k+1)
			hubIP := fmt.Sprintf("10.77.%d.254", k+1)
			h.peer = hubIP
			if err := veth(h, r, h.ip, hubIP); err != nil {
				return t, err
			}
			if err := h.ns.IP("route", "add", "default", "via", hubIP); err != nil {
				return t, err
			}
		}
		if err := r.ns.Do(func() error {
			return os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1\n"), 0o644)
		}); err != nil {
			return t, fmt.Errorf("hub: ip_forward: %w", err)
		}
	}
	// Schedules: the publisher's uplink, and the receivers' downlinks
	// behind a hub.
	for _, l := range t.links {
		switch {
		case l.from == a:
			l.sched = c.Uplink
		case t.hub != nil && l.from == t.hub:
			for i, h := range t.hosts[1 : len(t.hosts)-1] {
				if l.to == h && i < len(c.Downlinks) {
					l.sched = c.Downlinks[i]
				}
			}
		}
		if l.sched.Limited() {
			l.shaper = &linkshape.Shaper{NS: l.from.ns, Dev: l.dev, Burst: c.Burst, Latency: c.Latency}
		}
		if l.tap, err = linktap.Open(l.to.ns, l.peerDev, ndnPort); err != nil {
			return t, err
		}
	}
	return t, nil
}

// shapeAt puts each shaped link's rate at time d of its schedule in force.
func (t *topology) shapeAt(d time.Duration) error {
	var errs []error
	for _, l := range t.links {
		if l.shaper != nil {
			errs = append(errs, l.shaper.Set(l.sched.At(d)))
		}
	}
	return errors.Join(errs...)
}

// close stops the taps and deletes the namespaces (their links, qdiscs
// and anything left running in them go too).
func (t *topology) close() {
	for _, l := range t.links {
		if l.tap != nil {
			l.tap.Close()
		}
	}
	for i := len(t.hosts) - 1; i >= 0; i-- {
		_ = t.hosts[i].ns.Delete()
	}
	t.hosts, t.links = nil, nil
}
