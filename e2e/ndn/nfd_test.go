//go:build e2e

package ndn

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

// The NFD tests run peets on NFD 24.07, the forwarder of the NDN testbed
// (e2etest.NFDTools says where it comes from; they skip without it).

// TestNFDCall: on one NFD, two bots and a subscriber proxy started at the
// same moment (the case where NFD refused concurrent processes'
// registrations, 403) all join, in several rounds; `peets roster --json`
// lists the three, and the subscriber gets both bots' video and audio in
// order with nothing lost.
func TestNFDCall(t *testing.T) {
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round=%d", round), func(t *testing.T) {
			nfd := e2etest.NewNFD(t)
			nfd.Start()
			p := newProcs(t)
			room := fmt.Sprintf("nfd%d-%d", os.Getpid()%100000, round)
			out := filepath.Join(p.dir, "carol.json")
			var all []*proc.Proc
			for _, u := range []string{"alice", "bob"} {
				all = append(all, p.start(u, "bot", "--user", u, "--room", room, "--forwarder", nfd.URI(),
					"--state-dir", filepath.Join(p.dir, u), "--log-level", "info"))
			}
			sub := p.start("carol", "bench", "worker", "--mode", "sub", "--user", "carol", "--room", room,
				"--forwarder", nfd.URI(), "--state-dir", filepath.Join(p.dir, "carol"), "--out", out, "--log-level", "info")
			all = append(all, sub)
			for i, pr := range all {
				re := botRe
				if i == 2 {
					re = readyRe
				}
				if _, err := pr.WaitLine(re, 20*time.Second); err != nil {
					t.Fatalf("%s did not join: %v", pr.Name, err)
				}
			}
			waitJoined(t, sub, "alice", "bob")
			const run = 4 * time.Second
			time.Sleep(run)
			for _, pr := range all {
				if pr.Exited() {
					t.Fatalf("%s exited", pr.Name)
				}
			}
			if got, want := p.rosterUsers(room, nfd.URI()), []string{"alice", "bob", "carol"}; !slices.Equal(got, want) {
				t.Errorf("peets roster lists %v, want %v", got, want)
			}
			checkNothingLost(t, sub, out, []string{"alice", "bob"}, 100)
			for _, pr := range all {
				if s := pr.Output(); strings.Contains(s, "authorization rejected") {
					t.Errorf("%s: NFD refused a command:\n%s", pr.Name, s)
				}
			}
		})
	}
}

// waitJoined waits until pr logged that each of users joined.
func waitJoined(t *testing.T, pr *proc.Proc, users ...string) {
	t.Helper()
	for _, u := range users {
		re := regexp.MustCompile(`msg="member joined" .*\bmember=` + u + ` `)
		if _, err := pr.WaitLine(re, 10*time.Second); err != nil {
			t.Fatalf("%s never saw %s join: %v", pr.Name, u, err)
		}
	}
}

// checkNothingLost stops the subscriber worker sub and checks its report:
// for each publisher, its video and audio fetchers delivered at least min
// packets each, in order, and lost none.
func checkNothingLost(t *testing.T, sub *proc.Proc, out string, publishers []string, min uint64) {
	t.Helper()
	stopSubscriber(t, sub, out) // fails on packets out of order
	rep := readReport(t, out)
	for _, pub := range publishers {
		for _, stream := range []string{"video", "audio"} {
			var found bool
			for name, fs := range rep.Stats.Fetchers {
				if !strings.Contains(name, "/"+pub+"/") || !strings.HasSuffix(name, "/media/"+stream) {
					continue
				}
				found = true
				t.Logf("%s: delivered %d, lost %d", name, fs.Delivered, fs.Lost)
				if fs.Delivered < min || fs.Lost != 0 {
					t.Errorf("%s: delivered %d (want >= %d), lost %d (want 0)", name, fs.Delivered, min, fs.Lost)
				}
			}
			if !found {
				t.Errorf("no fetcher of %s's %s in %v", pub, stream, keys(rep.Stats.Fetchers))
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestTwoHostsNFD: host A runs NFD, host B a `peets forwarder`, in two
// network namespaces joined by a veth pair. NFD's side of the UDP link is
// made with nfdc, as an operator would (a face to host B, a route of
// /peets over it, the multicast strategy on /peets/room for every room);
// host B's forwarder links back (--link). A bot on NFD publishes; a
// subscriber proxy on host B joins the room across the link (each sees
// the other), both rosters list both, and the subscriber gets the bot's
// video and audio in order with nothing lost.
func TestTwoHostsNFD(t *testing.T) {
	hosts := newNetns(t)
	nfd := e2etest.NewNFD(t)
	nfd.Netns, nfd.UDPPort = hosts.a, 6363
	nfd.Start()
	p := newProcs(t)
	room := fmt.Sprintf("nfdx%d", os.Getpid()%100000)

	fwB := p.startIn(hosts.b, "fwB", "forwarder", "--state-dir", filepath.Join(p.dir, "fwB"), "--log-level", "info",
		"--udp-port", "6363", "--link", "udp://"+hosts.ipA+":6363")
	uriB := waitForwarder(t, fwB)
	faceB := "udp4://" + hosts.ipB + ":6363"
	t.Logf("nfdc: %s", nfd.Nfdc("face", "create", faceB))
	t.Logf("nfdc: %s", nfd.Nfdc("route", "add", "/peets", faceB))
	t.Logf("nfdc: %s", nfd.Nfdc("strategy", "set", "/peets/room", "/localhost/nfd/strategy/multicast"))

	alice := p.botIn(hosts.a, "alice", room, nfd.URI())
	sub, out := p.subIn(hosts.b, "bob", room, uriB)
	waitJoined(t, alice, "bob")
	waitJoined(t, sub, "alice")
	time.Sleep(4 * time.Second)
	for _, fw := range []string{nfd.URI(), uriB} {
		if got, want := p.rosterUsers(room, fw), []string{"alice", "bob"}; !slices.Equal(got, want) {
			t.Errorf("peets roster on %s lists %v, want %v", fw, got, want)
		}
	}
	checkNothingLost(t, sub, out, []string{"alice"}, 100)
	t.Logf("NFD's faces after the call:\n%s", nfd.Nfdc("face", "list"))
	if st := fwB.Output(); strings.Contains(st, "dropped a datagram from the network") {
		t.Errorf("host B's guard dropped some of NFD's datagrams:\n%s", st)
	}
}
