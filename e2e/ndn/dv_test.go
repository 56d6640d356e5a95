//go:build e2e

package ndn

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

// TestRoutingDV: three hosts in a line, each an ndnd fw with ndnd's
// distance-vector routing daemon (ndnd dv) and no static route at all.
// Proxies started with --announce register their prefixes with origin
// client; each forwarder readvertises them to its dv, which announces them:
// a bot on h0 and a proxy on h2, two links apart, find each other in the
// roster and the media flows, over routes only the routing daemon made.
func TestRoutingDV(t *testing.T) {
	p := newProcs(t)
	hosts := newHosts(t, []int{-1, 0, 1}) // h0 - h1 - h2
	room := fmt.Sprintf("dv%d", os.Getpid()%100000)
	socks := make([]string, len(hosts))
	for i, h := range hosts {
		f := e2etest.NewFwUDP(t, 6363)
		f.Netns = h.ns
		f.Readvertise()
		f.Start()
		socks[i] = f.Sock
		var neighbours []string
		for j := range hosts {
			if _, ok := h.addr[j]; ok && j != i { // j is a neighbour: its address on our link
				neighbours = append(neighbours, fmt.Sprintf("    - uri: udp4://%s:6363", hosts[j].addr[i]))
			}
		}
		cfg := filepath.Join(p.dir, fmt.Sprintf("dv%d.yml", i))
		yml := fmt.Sprintf("dv:\n  network: /tb\n  router: /tb/h%d\n  keychain: insecure\n  trust_anchors: []\n"+
			"  neighbors:\n%s\n  advertise_interval: 1000\n  router_dead_interval: 3000\n", i, strings.Join(neighbours, "\n"))
		if err := os.WriteFile(cfg, []byte(yml), 0o600); err != nil {
			t.Fatal(err)
		}
		p.run(fmt.Sprintf("dv%d", i), "ip", []string{"netns", "exec", h.ns, "env", "NDN_CLIENT_TRANSPORT=unix://" + f.Sock,
			e2etest.Ndnd(t), "dv", "run", cfg})
	}
	// Each dv takes /localhost/nlsr on its forwarder, where the forwarder
	// readvertises (once) what apps register: wait for it first.
	for i, sock := range socks {
		if !e2etest.Eventually(15*time.Second, func() bool {
			return strings.Contains(e2etest.Nfdc(t, sock, "route", "list"), "/localhost/nlsr")
		}) {
			t.Fatalf("h%d: ndnd dv did not register /localhost/nlsr", i)
		}
	}
	// The routers find each other (each end has a route to the other's
	// prefix table): ~2 s here, more on a loaded machine.
	began := time.Now()
	for _, e := range [][2]int{{0, 2}, {2, 0}} {
		want := fmt.Sprintf("/tb/32=DV/32=PFS/tb/h%d ", e[1])
		if !e2etest.Eventually(30*time.Second, func() bool {
			return strings.Contains(e2etest.Nfdc(t, socks[e[0]], "route", "list"), want)
		}) {
			t.Fatalf("h%d has no dv route to h%d's prefix table after 30 s:\n%s", e[0], e[1], e2etest.Nfdc(t, socks[e[0]], "route", "list"))
		}
	}
	t.Logf("dv converged %v after its start", time.Since(began).Round(time.Millisecond))
	uri := func(h int) string { return "unix://" + socks[h] }
	up := func(h int, user string) *proc.Proc {
		pr := p.startIn(hosts[h].ns, user, "up", "--no-web", "--announce", "--user", user, "--room", room,
			"--forwarder", uri(h), "--prefix", fmt.Sprintf("/tb/h%d/%s", h, user),
			"--state-dir", filepath.Join(p.dir, user), "--log-level", "info", "--metrics", "127.0.0.1:0")
		if _, err := pr.WaitLine(upRe, churnUpLine); err != nil {
			t.Fatal(err)
		}
		return pr
	}
	p.botIn(hosts[0].ns, "bob", room, uri(0), "--prefix", "/tb/h0/bob", "--announce")
	w1 := up(1, "wes") // on the transit host: its proxy sets the group's multicast strategy there
	sue := up(2, "sue")
	m, err := sue.WaitLine(metricsRe, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The prefixes' announcements follow in a few seconds (dv advertises
	// every second; generous on a loaded machine).
	joined := time.Now()
	for _, w := range []struct {
		p     *proc.Proc
		users []string
	}{{sue, []string{"bob", "wes"}}, {w1, []string{"bob", "sue"}}} {
		for _, u := range w.users {
			re := regexp.MustCompile(`msg="member joined" .*\bmember=` + u + ` `)
			if _, err := w.p.WaitLine(re, 30*time.Second); err != nil {
				t.Fatalf("%s never saw %s join: %v", w.p.Name, u, err)
			}
		}
	}
	t.Logf("members on the three hosts in each other's rosters %v after the last one started", time.Since(joined).Round(time.Millisecond))

	// Media from h0 reaches h2 over the dv-made routes.
	video := `peets_fetcher_packets_delivered_total`
	var delivered float64
	if e2etest.Eventually(20*time.Second, func() bool {
		fams, err := scrapeIn(hosts[2].ns, m[1])
		if err != nil {
			return false
		}
		delivered = 0
		if f := fams[video]; f != nil {
			for _, x := range f.Metric {
				for _, l := range x.Label {
					if l.GetName() == "stream" && strings.Contains(l.GetValue(), "/tb/h0/bob/") {
						delivered += x.GetCounter().GetValue()
					}
				}
			}
		}
		return delivered > 200
	}) {
		t.Logf("sue received %v of bob's packets", delivered)
	} else {
		t.Fatalf("sue received %v of bob's packets", delivered)
	}

	// The routes to the other hosts' users are dv's (origin nlsr), none
	// static: the test made none.
	routes := e2etest.Nfdc(t, socks[1], "route", "list")
	for _, l := range strings.Split(routes, "\n") {
		if strings.Contains(l, "/tb/h") && !strings.Contains(l, "/sync/") {
			t.Logf("h1: %s", strings.TrimSpace(l))
		}
	}
	for _, want := range []string{"/tb/h0/bob", "/tb/h2/sue"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want) + `\S* .*origin=(nlsr|128)`).MatchString(routes) {
			t.Errorf("h1 has no dv route to %s:\n%s", want, routes)
		}
	}
	if strings.Contains(routes, "origin=static") {
		t.Errorf("h1 has a static route:\n%s", routes)
	}
}
