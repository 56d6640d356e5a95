//go:build e2e

package ndn

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

// The tree testbed: five hosts (network namespaces) in a tree, a mix of
// forwarders, static routes made with nfdc, one publisher and twelve
// subscribers spread over the hosts, bytes counted on every link.
//
//	h0 NFD ─┬─ h1 ndnd fw ── h3 peets forwarder (publisher, 2 subscribers)
//	        └─ h2 peets forwarder ── h4 NFD
//
// Each site has a routable prefix /tb/h<i>, under which its participants'
// user prefixes are (--prefix /tb/h<i>/<user>); every forwarder routes
// each other site's prefix to the next hop towards it, and the room's group
// /peets/room to all its neighbours with the multicast strategy, as an
// operator would with nfdc (peets' forwarders link with --link). From the
// publisher to the subscribers on h4 the media crosses 4 links and 5
// forwarders of the three kinds.

// treeHost is one host of the testbed and its forwarder.
type treeHost struct {
	host
	kind  string // nfd, ndnd, peets
	sock  string // the forwarder's unix socket
	faces map[int]uint64
}

// tree is the testbed.
type tree struct {
	hosts   []*treeHost
	parents []int
}

// nextHop is the neighbour of h on the way to x (h != x).
func (tr *tree) nextHop(h, x int) int {
	for a := x; a >= 0; a = tr.parents[a] {
		if tr.parents[a] == h {
			return a // x is below h, under child a
		}
	}
	return tr.parents[h]
}

// neighbours of h.
func (tr *tree) neighbours(h int) []int {
	var out []int
	if tr.parents[h] >= 0 {
		out = append(out, tr.parents[h])
	}
	for c, p := range tr.parents {
		if p == h {
			out = append(out, c)
		}
	}
	return out
}

var faceListRe = regexp.MustCompile(`faceid=(\d+) remote=udp4://([0-9.]+):6363`)

// newTree builds the hosts, starts their forwarders and makes the faces
// and routes.
func newTree(t *testing.T, p *procs, parents []int, kinds []string) *tree {
	t.Helper()
	tr := &tree{parents: parents}
	for i, h := range newHosts(t, parents) {
		tr.hosts = append(tr.hosts, &treeHost{host: h, kind: kinds[i], faces: map[int]uint64{}})
	}
	for i, h := range tr.hosts {
		switch h.kind {
		case "nfd":
			n := e2etest.NewNFD(t)
			n.Netns, n.UDPPort = h.ns, 6363
			n.Start()
			h.sock = n.Sock
		case "ndnd":
			f := e2etest.NewFwUDP(t, 6363)
			f.Netns = h.ns
			f.Start()
			h.sock = f.Sock
		case "peets":
			args := []string{"forwarder", "--state-dir", filepath.Join(p.dir, fmt.Sprintf("fw%d", i)),
				"--log-level", "info", "--udp-port", "6363"}
			for _, n := range tr.neighbours(i) {
				args = append(args, "--link", "udp://"+tr.hosts[n].addr[i]+":6363")
			}
			h.sock = strings.TrimPrefix(waitForwarder(t, p.startIn(h.ns, fmt.Sprintf("fw%d", i), args...)), "unix://")
		}
	}
	for i, h := range tr.hosts {
		if h.kind != "peets" { // peets' forwarders made theirs (--link)
			for _, n := range tr.neighbours(i) {
				e2etest.Nfdc(t, h.sock, "face", "create", "udp4://"+tr.hosts[n].addr[i]+":6363")
			}
		}
		byIP := map[string]uint64{}
		for _, m := range faceListRe.FindAllStringSubmatch(e2etest.Nfdc(t, h.sock, "face", "list"), -1) {
			id, _ := strconv.ParseUint(m[1], 10, 64)
			byIP[m[2]] = id
		}
		for _, n := range tr.neighbours(i) {
			id, ok := byIP[tr.hosts[n].addr[i]]
			if !ok {
				t.Fatalf("h%d (%s) has no face to h%d: %v", i, h.kind, n, byIP)
			}
			h.faces[n] = id
			e2etest.Nfdc(t, h.sock, "route", "add", "/peets/room", fmt.Sprint(id))
		}
		e2etest.Nfdc(t, h.sock, "strategy", "set", "/peets/room", "/localhost/nfd/strategy/multicast")
		for x := range tr.hosts {
			if x != i {
				e2etest.Nfdc(t, h.sock, "route", "add", fmt.Sprintf("/tb/h%d", x), fmt.Sprint(h.faces[tr.nextHop(i, x)]))
			}
		}
	}
	return tr
}

// linkBytes is a snapshot of the bytes each host sent on each of its
// links (the veth's tx_bytes), keyed [from][to].
type linkBytes map[[2]int]uint64

func (tr *tree) linkBytes(t *testing.T) linkBytes {
	t.Helper()
	out := linkBytes{}
	for i, h := range tr.hosts {
		for n, dev := range h.dev {
			b, err := exec.Command("ip", "netns", "exec", h.ns, "cat", "/sys/class/net/"+dev+"/statistics/tx_bytes").Output()
			if err != nil {
				t.Fatalf("tx_bytes of %s in %s: %v", dev, h.ns, err)
			}
			v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			out[[2]int{i, n}] = v
		}
	}
	return out
}

// ethIPUDP is what a veth counts around each datagram's payload: Ethernet
// (14), IPv4 (20) and UDP (8) headers.
const ethIPUDP = 14 + 20 + 8

// TestTree: one publisher and twelve subscribers on the tree testbed.
// Every roster (read through each host's forwarder) lists the 13; every
// subscriber gets both streams; the publisher sends each packet about
// once (upload factor <= 1.05), and each link carries about one copy of
// the media away from the publisher: its bytes in a 10 s window, less
// those of the roster traffic alone, are 0.9 to 1.35 times the Data bytes
// the publisher produced in that window (Ethernet, IP and UDP headers add
// ~42 bytes a packet).
func TestTree(t *testing.T) {
	p := newProcs(t)
	parents := []int{-1, 0, 0, 1, 2}
	tr := newTree(t, p, parents, []string{"nfd", "ndnd", "peets", "peets", "nfd"})
	room := fmt.Sprintf("tree%d", os.Getpid()%100000)
	const pubHost = 3
	place := []int{0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 4} // subscriber i's host
	uri := func(h int) string { return "unix://" + tr.hosts[h].sock }
	prefix := func(h int, user string) string { return fmt.Sprintf("/tb/h%d/%s", h, user) }

	type sub struct {
		user string
		p    *proc.Proc
		out  string
	}
	var subs []sub
	var users []string
	for i, h := range place {
		u := fmt.Sprintf("s%02d", i+1)
		pr, out := p.subIn(tr.hosts[h].ns, u, room, uri(h), "--prefix", prefix(h, u))
		subs = append(subs, sub{u, pr, out})
		users = append(users, u)
	}
	for _, s := range subs {
		waitJoined(t, s.p, others(users, s.user)...)
	}
	const baseline, window = 5 * time.Second, 10 * time.Second
	b0 := tr.linkBytes(t)
	time.Sleep(baseline)
	b1 := tr.linkBytes(t)

	pubOut := filepath.Join(p.dir, "pub.json")
	pub := p.startIn(tr.hosts[pubHost].ns, "pub", "bench", "worker", "--mode", "pub", "--user", "pub", "--room", room,
		"--prefix", prefix(pubHost, "pub"), "--forwarder", uri(pubHost), "--state-dir", filepath.Join(p.dir, "pub"),
		"--out", pubOut, "--log-level", "info")
	if _, err := pub.WaitLine(readyRe, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		waitJoined(t, s.p, "pub")
	}
	time.Sleep(2 * time.Second) // every subscriber fetching
	a0, wStart := tr.linkBytes(t), time.Now()
	time.Sleep(window)
	a1, wEnd := tr.linkBytes(t), time.Now()

	all := append([]string{"pub"}, users...)
	slices.Sort(all)
	// Every member's roster: all the others, nobody gone.
	for _, s := range subs {
		if got, want := memberRoster(s.p), others(all, s.user); !slices.Equal(got, want) {
			t.Errorf("%s's roster: %v, want %v", s.user, got, want)
		}
	}
	// An observer's, through each host's forwarder. `peets roster` prints
	// when no fetch is outstanding; a member whose only announced seq it
	// heard was an old one (a lagging vector: the member answers "missing"
	// for a heartbeat it no longer holds) is not listed until a fresher
	// vector comes, so a snapshot can miss one. Up to 3 snapshots; every
	// miss is logged.
	for h := range tr.hosts {
		var got []string
		for try := 1; try <= 3; try++ {
			if got = p.rosterUsers(room, uri(h)); slices.Equal(got, all) {
				break
			}
			t.Logf("observer %d on h%d missed %v", try, h, missing(all, got))
		}
		if !slices.Equal(got, all) {
			t.Errorf("peets roster on h%d (%s) lists %v, want %v", h, tr.hosts[h].kind, got, all)
		}
	}

	// The subscribers first: their fetchers of the publisher's streams
	// end when it leaves.
	var delivered, lost uint64
	for _, s := range subs {
		s.p.Stop(10 * time.Second)
		r := readReport(t, s.out)
		if r.OutOfOrder != 0 {
			t.Errorf("%s: %d packets out of order", s.user, r.OutOfOrder)
		}
		var got int
		for name, fs := range r.Stats.Fetchers {
			if !strings.Contains(name, "/pub/") {
				continue
			}
			got++
			delivered, lost = delivered+fs.Delivered, lost+fs.Lost
			if fs.Delivered < 300 || fs.Lost*100 > fs.Delivered {
				t.Errorf("%s: %s delivered %d, lost %d", s.user, name, fs.Delivered, fs.Lost)
			}
		}
		if got != 2 {
			t.Errorf("%s fetched %d of the publisher's streams, want 2", s.user, got)
		}
	}
	t.Logf("12 subscribers: %d packets delivered, %d lost", delivered, lost)
	pub.Stop(10 * time.Second)
	rep := readReport(t, pubOut)
	var published, sent, rtpBytes, dataBytes uint64
	for _, ps := range rep.Stats.Publishers {
		published += ps.Published
		sent += ps.ServedRing + ps.HeldAnswered
		rtpBytes += ps.BytesIn
		dataBytes += ps.MediaBytesOut
	}
	if published == 0 || sent == 0 {
		t.Fatalf("the publisher published %d, sent %d", published, sent)
	}
	upload := float64(sent) / float64(published)
	// Data bytes produced in the window: the RTP packets published in it
	// plus each Data's own bytes (name, signature: the run's mean).
	perData := float64(dataBytes)/float64(sent) - float64(rtpBytes)/float64(published)
	var inWindow, packets float64
	for _, r := range rep.Records {
		if r.TimeNs >= wStart.UnixNano() && r.TimeNs < wEnd.UnixNano() {
			inWindow += float64(r.Size) + perData
			packets++
		}
	}
	t.Logf("publisher: %d packets, %d Data sent: upload factor %.3f; %.0f Data bytes in the %v window (%.1f kB/s)",
		published, sent, upload, inWindow, window, inWindow/window.Seconds()/1000)
	if upload > 1.05 {
		t.Errorf("upload factor %.3f > 1.05", upload)
	}

	// Each link, away from the publisher: one copy.
	scale := wEnd.Sub(wStart).Seconds() / baseline.Seconds()
	for c := 1; c < len(parents); c++ {
		par := parents[c]
		down := [2]int{par, c} // parent to child, unless the publisher is below c
		if tr.nextHop(c, pubHost) != par || c == pubHost {
			down = [2]int{c, par}
		}
		up := [2]int{down[1], down[0]}
		media := float64(a1[down]-a0[down]) - scale*float64(b1[down]-b0[down])
		ratio := media / inWindow
		t.Logf("link h%d-h%d (%s-%s): away from the publisher %.1f kB/s (roster alone %.1f kB/s), towards it %.1f kB/s; "+
			"media %.3f copies (%.3f without the %d bytes of Ethernet, IP and UDP headers a packet)",
			down[0], down[1], tr.hosts[down[0]].kind, tr.hosts[down[1]].kind,
			float64(a1[down]-a0[down])/window.Seconds()/1000, float64(b1[down]-b0[down])/baseline.Seconds()/1000,
			float64(a1[up]-a0[up])/window.Seconds()/1000, ratio, (media-ethIPUDP*packets)/inWindow, ethIPUDP)
		if ratio < 0.9 || ratio > 1.35 {
			t.Errorf("link h%d-h%d carried %.3f copies of the media", down[0], down[1], ratio)
		}
	}
}

// memberRoster is the roster a worker's log says it has: the members it
// logged joining, less those it logged leaving since, sorted.
func memberRoster(pr *proc.Proc) []string {
	in := map[string]bool{}
	for _, l := range pr.Lines() {
		if m := joinedRe.FindStringSubmatch(l); m != nil {
			in[m[2]] = true
		} else if m := leftRe.FindStringSubmatch(l); m != nil {
			delete(in, m[2])
		}
	}
	return keys(in)
}

// missing is what want has and got lacks.
func missing(want, got []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			out = append(out, w)
		}
	}
	return out
}

// others is users without u.
func others(users []string, u string) []string {
	var out []string
	for _, x := range users {
		if x != u {
			out = append(out, x)
		}
	}
	return out
}
