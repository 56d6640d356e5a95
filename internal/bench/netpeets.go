package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/proc"
	"github.com/peets/peets/proto"
)

// runPeets is the call through Peets: a forwarder on every host (linked
// over UDP as README says; behind a hub, the hub's forwarder routes each
// user's prefix to its host and the room's group to all), a `peets up`
// and a page per participant.
func (e *netEnv) runPeets(ctx context.Context) (*PhaseResult, error) {
	c, topo := e.c, e.topo
	if err := topo.shapeAt(0); err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "peets")
	var g proc.Group
	var procs []*proc.Proc
	defer func() {
		g.StopAll(3 * time.Second)
		if c.Keep { // their output beside their state
			for _, p := range procs {
				_ = os.WriteFile(filepath.Join(dir, p.Name+".log"), []byte(p.Output()), 0o644)
			}
		}
	}()
	opt := proc.Options{Echo: c.Echo, Env: sharedTrust(dir)}
	start := func(h *netHost, name string, args ...string) (*proc.Proc, error) {
		bin, wrapped := h.ns.Command(c.Bin, args...)
		p, err := proc.Start(name, bin, wrapped, opt)
		if err != nil {
			return nil, err
		}
		g.Add(p)
		procs = append(procs, p)
		return p, nil
	}
	room := fmt.Sprintf("netbench%d", os.Getpid()%100000)
	// Where each forwarder links to, and where the others reach it.
	a := topo.hosts[0]
	linkTo, reach := map[string]string{}, map[string]string{}
	for _, h := range topo.hosts {
		linkTo[h.name] = fmt.Sprintf("udp://%s:%d", h.peer, ndnPort)
		reach[h.name] = fmt.Sprintf("udp://%s:%d", h.ip, ndnPort)
	}
	var relay *impairedLink
	if c.Impair.Active() {
		// The publisher's forwarder links to the relay on its loopback; the
		// relay sends on to its peer from the publisher's address, so that
		// what it lets through is shaped by the uplink's token bucket.
		var err error
		relay, err = newImpairedLinkOn(c.Impair,
			func() (*net.UDPConn, error) { return a.ns.ListenUDP(&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) },
			func() (*net.UDPConn, error) { return a.ns.ListenUDP(&net.UDPAddr{IP: net.ParseIP(a.ip)}) })
		if err != nil {
			return nil, fmt.Errorf("impaired link: %w", err)
		}
		defer relay.Close()
		pa, pb := relay.Ports()
		linkTo[a.name] = fmt.Sprintf("udp://127.0.0.1:%d", pa)
		reach[a.name] = fmt.Sprintf("udp://%s:%d", a.ip, pb)
		if topo.hub == nil {
			linkTo[topo.hosts[1].name] = reach[a.name]
		}
		relay.startTo(netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), ndnPort),
			netip.AddrPortFrom(netip.MustParseAddr(a.peer), ndnPort))
	}
	fw := map[string]string{}
	for _, h := range topo.hosts {
		args := []string{"forwarder", "--state-dir", filepath.Join(dir, "fw-"+h.name), "--log-level", "warn", "--udp-port", fmt.Sprint(ndnPort)}
		if h != topo.hub {
			args = append(args, "--link", linkTo[h.name])
		}
		p, err := start(h, "fw-"+h.name, args...)
		if err != nil {
			return nil, err
		}
		m, err := p.WaitLine(fwRe, 15*time.Second)
		if err != nil {
			return nil, err
		}
		fw[h.name] = m[1]
	}
	if topo.hub != nil {
		hub, err := e.routeHub(ctx, fw[topo.hub.name], room, reach)
		if err != nil {
			return nil, fmt.Errorf("hub routes: %w", err)
		}
		defer hub.Close()
	}
	var proxies []*netProxy
	for i, h := range topo.pageHosts() {
		args := []string{"up", "--user", h.user, "--room", room, "--forwarder", fw[h.name],
			"--state-dir", filepath.Join(dir, h.user), "--log-level", proxyLogLevel(e.c.Keep, e.c.ProxyLogLevel)}
		if topo.hub != nil && i > 0 {
			args = append(args, "--role", "viewer")
		}
		args = append(args, e.c.ProxyArgs...)
		p, err := start(h, h.user, args...)
		if err != nil {
			return nil, err
		}
		m, err := p.WaitLine(urlLineRe, 20*time.Second)
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(m[1])
		if err != nil {
			return nil, err
		}
		proxies = append(proxies, &netProxy{host: h, p: p, url: m[1], token: u.Query().Get("token"),
			http: &http.Client{Transport: &http.Transport{DialContext: h.ns.DialContext}}})
	}
	ms := &measurement{env: e, pages: map[string]*cdp.Page{}, flows: topo.flows(), senderID: func(h *netHost) string { return h.user }}
	defer ms.closePages("") // the pages leave (the proxies say bye), then the processes stop
	started := time.Now()
	for _, x := range proxies {
		p, err := e.browsers[x.host.name].NewPage(ctx, "")
		if err != nil {
			return nil, err
		}
		ms.pages[x.host.name] = p
		if err := p.Navigate(ctx, x.url); err != nil {
			return nil, err
		}
	}
	ms.waitFirstFrames(ctx, started, c.FirstFrameWait)

	// The proxies' counters, read every 2 s through the window.
	w := &proxyWatch{proxies: proxies}
	stop := w.watch(ctx, 2*time.Second)
	var linksBefore, linksAfter map[string]linkCounters
	var before, after proxySnapshot
	err := ms.run(ctx, c.Warmup, c.Duration,
		func() { linksBefore, before = readLinks(topo), w.snapshot(ctx) },
		func() { linksAfter, after = readLinks(topo), w.snapshot(ctx) })
	stop()
	if err != nil {
		return nil, err
	}
	res := ms.result(c.Duration, linksBefore, linksAfter)
	if relay != nil {
		lr := relay.Result()
		res.Relay = &lr
	}
	for i := range res.Receivers {
		rr := &res.Receivers[i]
		rr.Fetch = w.fetchFigures(before, after, rr.Page, topo.host(rr.From).user)
	}
	res.Proxies = w.results(before, after, c.Duration)
	return res, nil
}

// routeHub gives the hub's forwarder its routes (it has no --link): each
// user's prefix to that user's host, the room's group to every host with
// the multicast strategy; reach is the URI of each host's forwarder. The
// connection holds the links: close it at the end of the phase.
func (e *netEnv) routeHub(ctx context.Context, uri, room string, reach map[string]string) (*forwarder.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, err := forwarder.Open(ctx, forwarder.Options{URI: uri, Logger: e.c.Logger})
	if err != nil {
		return nil, err
	}
	group := proto.DefaultGroupPrefix(room)
	if err := conn.SetStrategy(ctx, group, forwarder.MulticastStrategy); err != nil {
		conn.Close()
		return nil, err
	}
	for _, h := range e.topo.pageHosts() {
		routes := []enc.Name{proto.DefaultUserPrefix(h.user), group}
		if err := conn.Link(ctx, reach[h.name], routes); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return conn, nil
}

// proxyLogLevel: a kept run keeps the proxies' decisions (layer switches,
// roster changes) in their logs; others only their warnings; unless a
// level is given.
func proxyLogLevel(keep bool, level string) string {
	if level != "" {
		return level
	}
	if keep {
		return "info"
	}
	return "warn"
}
