package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/proc"
	"github.com/peets/peets/proto"
)

// FetchFigures are a receiving proxy's fetcher counters for one sender's
// streams over the window (docs: media.FetcherStats).
type FetchFigures struct {
	Received      uint64  `json:"received"`
	Delivered     uint64  `json:"delivered"`
	Duplicates    uint64  `json:"duplicates"`
	Retransmitted uint64  `json:"retransmitted"`
	Lost          uint64  `json:"lost"`
	Late          uint64  `json:"late"`
	Timeouts      uint64  `json:"timeouts"`
	Nacks         uint64  `json:"nacks"`
	Gone          uint64  `json:"gone"`
	Resyncs       uint64  `json:"resyncs"`
	Restarts      uint64  `json:"restarts"`
	PLISent       uint64  `json:"pli_sent"`
	Refreshed     uint64  `json:"refreshed"`
	SRTTMs        float64 `json:"srtt_ms"` // at the end, the largest of the streams
	Window        int     `json:"window"`  // at the end, summed over the streams
}

// fetchFields are the FetcherStats counters FetchFigures sums.
var fetchFields = []string{"Received", "Delivered", "Duplicates", "Retransmitted", "Lost", "Late", "Timeouts", "Nacks", "Gone",
	"Resyncs", "Restarts", "PLISent", "Refreshed"}

// ProxyResult is one `peets up` over the window.
type ProxyResult struct {
	Host          string  `json:"host"`
	User          string  `json:"user"`
	CPUPercent    float64 `json:"cpu_percent"`
	RosterExpired uint64  `json:"roster_expired"` // members it expired (missed heartbeats)
	RosterJoins   uint64  `json:"roster_joins"`
}

// netProxy is a running `peets up` of the Peets phase.
type netProxy struct {
	host  *netHost
	p     *proc.Proc
	url   string
	token string
	http  *http.Client
}

// apiStats is the part of /api/stats the benchmark reads.
type apiStats struct {
	Backend struct {
		Daemon struct {
			Fetchers map[string]map[string]any `json:"fetchers"`
			Roster   struct {
				Expired uint64 `json:"expired"`
				Joins   uint64 `json:"joins"`
			} `json:"roster"`
		} `json:"daemon"`
	} `json:"backend"`
}

func (x *netProxy) stats(ctx context.Context) (apiStats, error) {
	var s apiStats
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	u, err := url.Parse(x.url)
	if err != nil {
		return s, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.Host+"/api/stats", nil)
	if err != nil {
		return s, err
	}
	req.Header.Set("Authorization", "Bearer "+x.token)
	resp, err := x.http.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/api/stats: %s", resp.Status)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&s)
	return s, err
}

// counterSum adds up counters that may restart from 0 (a fetcher made
// anew): each reading adds its increase, or all of it after a drop.
type counterSum struct {
	last, sum map[string]float64
}

func (c *counterSum) add(key string, v float64) {
	if c.last == nil {
		c.last, c.sum = map[string]float64{}, map[string]float64{}
	}
	prev, ok := c.last[key]
	switch {
	case !ok || v < prev:
		c.sum[key] += v
	default:
		c.sum[key] += v - prev
	}
	c.last[key] = v
}

func (c *counterSum) snapshot() map[string]float64 {
	out := make(map[string]float64, len(c.sum))
	for k, v := range c.sum {
		out[k] = v
	}
	return out
}

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
	opt := proc.Options{Echo: c.Echo}
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
			"--state-dir", filepath.Join(dir, h.user), "--log-level", "warn"}
		if topo.hub != nil && i > 0 {
			args = append(args, "--role", "viewer")
		}
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
	ms := &measurement{env: e, pages: map[string]*cdp.Page{}, senderID: func(h *netHost) string { return h.user }}
	for _, h := range topo.pageHosts() {
		if h != a {
			ms.flows = append(ms.flows, flow{to: h, from: a})
			if topo.hub == nil {
				ms.flows = append(ms.flows, flow{to: a, from: h})
			}
		}
	}
	defer func() {
		// The pages leave (the proxies say bye), then the processes stop.
		for _, p := range ms.pages {
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = p.Navigate(cctx, "about:blank")
			_ = p.Close(cctx)
			cancel()
		}
	}()
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
	var mu sync.Mutex
	var fetch, roster counterSum
	gauges := map[string]float64{} // SRTT, Window: the last reading
	cpu := map[string]time.Duration{}
	poll := func() {
		for _, x := range proxies {
			s, err := x.stats(ctx)
			if err != nil {
				continue
			}
			mu.Lock()
			for key, st := range s.Backend.Daemon.Fetchers {
				for _, f := range fetchFields {
					if v, ok := st[f].(float64); ok {
						fetch.add(x.host.name+"|"+key+"|"+f, v)
					}
				}
				for _, f := range []string{"SRTT", "Window"} {
					if v, ok := st[f].(float64); ok {
						gauges[x.host.name+"|"+key+"|"+f] = v
					}
				}
			}
			roster.add(x.host.name+"|expired", float64(s.Backend.Daemon.Roster.Expired))
			roster.add(x.host.name+"|joins", float64(s.Backend.Daemon.Roster.Joins))
			mu.Unlock()
		}
	}
	stopPoll := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			poll()
			select {
			case <-stopPoll:
				return
			case <-t.C:
			}
		}
	})
	var linksBefore, linksAfter map[string]linkCounters
	var fetchBefore, fetchAfter, rosterBefore, rosterAfter map[string]float64
	snap := func(links *map[string]linkCounters, f, r *map[string]float64) {
		*links = readLinks(topo)
		poll()
		mu.Lock()
		*f, *r = fetch.snapshot(), roster.snapshot()
		mu.Unlock()
		for _, x := range proxies {
			t, _ := procCPU(x.p.Pid())
			cpu[x.host.name] = t - cpu[x.host.name]
		}
	}
	for _, x := range proxies {
		cpu[x.host.name] = 0
	}
	err := ms.run(ctx, c.Warmup, c.Duration,
		func() { snap(&linksBefore, &fetchBefore, &rosterBefore) },
		func() { snap(&linksAfter, &fetchAfter, &rosterAfter) })
	close(stopPoll)
	wg.Wait()
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
		from := topo.host(rr.From).user
		ff := &FetchFigures{}
		vals := map[string]*uint64{"Received": &ff.Received, "Delivered": &ff.Delivered, "Duplicates": &ff.Duplicates,
			"Retransmitted": &ff.Retransmitted, "Lost": &ff.Lost, "Late": &ff.Late, "Timeouts": &ff.Timeouts, "Nacks": &ff.Nacks,
			"Gone": &ff.Gone, "Resyncs": &ff.Resyncs, "Restarts": &ff.Restarts, "PLISent": &ff.PLISent, "Refreshed": &ff.Refreshed}
		for k, v := range fetchAfter {
			host, rest, _ := strings.Cut(k, "|")
			key, field, _ := strings.Cut(rest, "|")
			if host != rr.Page || !strings.Contains(key, "/user/"+from+"/") || vals[field] == nil {
				continue
			}
			*vals[field] += uint64(v - fetchBefore[k])
		}
		mu.Lock()
		for k, v := range gauges {
			host, rest, _ := strings.Cut(k, "|")
			key, field, _ := strings.Cut(rest, "|")
			if host != rr.Page || !strings.Contains(key, "/user/"+from+"/") {
				continue
			}
			switch field {
			case "SRTT":
				ff.SRTTMs = max(ff.SRTTMs, round3(v/1e6))
			case "Window":
				ff.Window += int(v)
			}
		}
		mu.Unlock()
		rr.Fetch = ff
	}
	for _, x := range proxies {
		h := x.host.name
		res.Proxies = append(res.Proxies, ProxyResult{Host: h, User: x.host.user,
			CPUPercent:    round3(float64(cpu[h]) / float64(c.Duration) * 100),
			RosterExpired: uint64(rosterAfter[h+"|expired"] - rosterBefore[h+"|expired"]),
			RosterJoins:   uint64(rosterAfter[h+"|joins"] - rosterBefore[h+"|joins"])})
	}
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
