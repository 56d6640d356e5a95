//go:build e2e

package ndn

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

// TestTwoHosts runs a call across two hosts: two network namespaces made by
// the test, joined by a veth pair, each with its own `peets forwarder`
// linked to the other over UDP as README describes (peets forwarder
// --udp-port 6363 --link udp://OTHER:6363). A bot publishes on host A; a
// subscriber proxy on host B gets its video and audio in order, and the
// room's roster, read on host B, lists both.
//
// Needs root and iproute2 (skipped otherwise). Addresses are private to the
// namespaces the test creates.
func TestTwoHosts(t *testing.T) {
	hosts := newNetns(t)
	p := newProcs(t)
	room := fmt.Sprintf("lab%d", os.Getpid()%100000)

	fwA := p.startIn(hosts.a, "fwA", "forwarder", "--state-dir", filepath.Join(p.dir, "fwA"), "--log-level", "info",
		"--udp-port", "6363", "--link", "udp://"+hosts.ipB+":6363")
	fwB := p.startIn(hosts.b, "fwB", "forwarder", "--state-dir", filepath.Join(p.dir, "fwB"), "--log-level", "info",
		"--udp-port", "6363", "--link", "udp://"+hosts.ipA+":6363")
	uriA, uriB := waitForwarder(t, fwA), waitForwarder(t, fwB)

	p.botIn(hosts.a, "alice", room, uriA)
	sub, out := p.subIn(hosts.b, "bob", room, uriB)
	const run = 4 * time.Second
	time.Sleep(run)

	rosterOnB := func(what string) {
		t.Helper()
		roster := exec.Command("ip", "netns", "exec", hosts.b, p.bin, "roster", "--room", room, "--json",
			"--forwarder", uriB, "--state-dir", filepath.Join(p.dir, "observer"), "--log-level", "warn")
		ro, err := roster.Output()
		if err != nil {
			t.Fatalf("roster on host B %s: %v\n%s", what, err, ro)
		}
		for _, u := range []string{`"alice"`, `"bob"`} {
			if !strings.Contains(string(ro), u) {
				t.Errorf("roster on host B %s lacks %s: %s", what, u, ro)
			}
		}
	}
	rosterOnB("")

	// Anyone on host B's network sends host A's UDP port what crashed
	// YaNFD's own UDP listener (a name component length with the top bit
	// set), the same in an LpPacket, a management command, and garbage:
	// host A's forwarder drops them and goes on forwarding.
	comp := append([]byte{0x08, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, "abc"...)
	crash := tlvE(0x05, append(tlvE(0x07, comp), tlvE(0x0a, []byte{1, 2, 3, 4})...))
	mgmt := tlvE(0x05, append(tlvE(0x07, append(tlvE(8, []byte("localhost")), tlvE(8, []byte("nfd"))...)), tlvE(0x0a, []byte{1, 2, 3, 4})...))
	for _, d := range [][]byte{crash, tlvE(0x64, tlvE(0x50, crash)), mgmt, []byte("\x64\xfd\xff\xffgarbage")} {
		sendUDP(t, hosts.b, hosts.ipA, 6363, d)
	}
	if _, err := fwA.WaitLine(droppedRe, 5*time.Second); err != nil {
		t.Fatalf("host A's forwarder did not report the bad datagrams: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if fwA.Exited() {
		t.Fatalf("host A's forwarder exited:\n%s", fwA.Output())
	}
	rosterOnB("after the bad datagrams")

	per := stopSubscriber(t, sub, out)
	t.Logf("host B received %v packets from host A in ~%v", per, run)
	// ~55 video and 25 audio packets per second: at least half of that
	// over the run after the first packet.
	if per["video"] < 100 || per["audio"] < 50 {
		t.Fatalf("host B got %v packets from host A", per)
	}
}

// stopSubscriber stops a subscriber worker and returns the packets it got
// per stream, failing the test if any came out of order.
func stopSubscriber(t *testing.T, sub *proc.Proc, out string) map[string]int {
	t.Helper()
	if err := sub.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	rep := readReport(t, out)
	per := map[string]int{}
	for _, r := range rep.Records {
		per[r.Stream]++
	}
	if rep.OutOfOrder != 0 {
		t.Errorf("%d packets out of order", rep.OutOfOrder)
	}
	return per
}

var (
	fwLineRe  = regexp.MustCompile(`^forwarder: (unix://\S+)$`)
	droppedRe = regexp.MustCompile(`dropped a datagram from the network`)
)

// tlvE encodes one TLV element with a one-byte type and length.
func tlvE(typ byte, v []byte) []byte {
	return append([]byte{typ, byte(len(v))}, v...)
}

func waitForwarder(t *testing.T, fw *proc.Proc) string {
	t.Helper()
	m, err := fw.WaitLine(fwLineRe, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m[1]
}

// startIn is start in network namespace ns.
func (p *procs) startIn(ns, name string, args ...string) *proc.Proc {
	p.t.Helper()
	return p.run(name, "ip", append([]string{"netns", "exec", ns, p.bin}, args...))
}

// botIn starts `peets bot` as user in network namespace ns, on the
// forwarder fw, and waits until it is in the room.
func (p *procs) botIn(ns, user, room, fw string, extra ...string) *proc.Proc {
	p.t.Helper()
	b := p.startIn(ns, user, append([]string{"bot", "--user", user, "--room", room, "--forwarder", fw,
		"--state-dir", filepath.Join(p.dir, user), "--log-level", "info"}, extra...)...)
	if _, err := b.WaitLine(botRe, 20*time.Second); err != nil {
		p.t.Fatal(err)
	}
	return b
}

// subIn starts a subscriber worker (bench worker --mode sub) as user in
// network namespace ns, on the forwarder fw, and waits until it is ready;
// it returns the process and its report file.
func (p *procs) subIn(ns, user, room, fw string, extra ...string) (*proc.Proc, string) {
	p.t.Helper()
	out := filepath.Join(p.dir, user+".json")
	sub := p.startIn(ns, user, append([]string{"bench", "worker", "--mode", "sub", "--user", user, "--room", room,
		"--forwarder", fw, "--state-dir", filepath.Join(p.dir, user), "--out", out, "--log-level", "info"}, extra...)...)
	if _, err := sub.WaitLine(readyRe, 20*time.Second); err != nil {
		p.t.Fatal(err)
	}
	return sub, out
}

// netns is two network namespaces joined by a veth pair.
type netns struct {
	a, b     string
	ipA, ipB string
}

func newNetns(t *testing.T) netns {
	t.Helper()
	h := newHosts(t, []int{-1, 0})
	return netns{a: h[0].ns, b: h[1].ns, ipA: h[0].addr[1], ipB: h[1].addr[0]}
}

// host is one network namespace of a test's network.
type host struct {
	ns   string
	addr map[int]string // this host's address on its link to host i
	dev  map[int]string // this host's interface on its link to host i
}

// newHosts makes len(parents) network namespaces, host i linked to host
// parents[i] (i > 0, parents[i] < i) by a veth pair on 10.232.<i>.0/24
// (.1 the parent's end, .2 the child's), loopback up, and deletes them
// when the test ends.
//
// Needs root and iproute2 (skipped otherwise). Addresses are private to the
// namespaces the test creates.
func newHosts(t *testing.T, parents []int) []host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root for network namespaces")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
	id := os.Getpid() % 100000
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	hosts := make([]host, len(parents))
	for i := range hosts {
		hosts[i] = host{ns: fmt.Sprintf("peets%d-h%d", id, i), addr: map[int]string{}, dev: map[int]string{}}
		ns := hosts[i].ns
		t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() }) // veths go with it
		run("netns", "add", ns)
		run("-n", ns, "link", "set", "lo", "up")
	}
	for i, p := range parents {
		if i == 0 {
			continue
		}
		if p < 0 || p >= i {
			t.Fatalf("host %d: parent %d", i, p)
		}
		vp, vc := fmt.Sprintf("pv%dp%d", id, i), fmt.Sprintf("pv%dc%d", id, i)
		run("link", "add", vp, "type", "veth", "peer", "name", vc)
		for _, end := range []struct {
			h, other int
			dev, ip  string
		}{{p, i, vp, fmt.Sprintf("10.232.%d.1", i)}, {i, p, vc, fmt.Sprintf("10.232.%d.2", i)}} {
			ns := hosts[end.h].ns
			run("link", "set", end.dev, "netns", ns)
			run("-n", ns, "addr", "add", end.ip+"/24", "dev", end.dev)
			run("-n", ns, "link", "set", end.dev, "up")
			hosts[end.h].addr[end.other], hosts[end.h].dev[end.other] = end.ip, end.dev
		}
	}
	return hosts
}

// TestTwoHostsNdnd: host A runs peets' forwarder (its UDP guard), host B an
// `ndnd fw` with its own UDP faces, linked over UDP both ways: the guard
// speaks ndnd's NDNLPv2. A bot publishes on host A; on host B a subscriber
// proxy joins the room over the link (each side sees the other) and gets
// host A's media in order.
func TestTwoHostsNdnd(t *testing.T) {
	hosts := newNetns(t)
	p := newProcs(t)
	room := fmt.Sprintf("mix%d", os.Getpid()%100000)

	fwA := p.startIn(hosts.a, "fwA", "forwarder", "--state-dir", filepath.Join(p.dir, "fwA"), "--log-level", "info",
		"--udp-port", "6363")
	uriA := waitForwarder(t, fwA)
	ndnd := e2etest.NewFwUDP(t, 6363)
	ndnd.Netns = hosts.b
	ndnd.Start()

	alice := p.botIn(hosts.a, "alice", room, uriA, "--link", "udp://"+hosts.ipB+":6363")
	sub, out := p.subIn(hosts.b, "carol", room, ndnd.URI(), "--link", "udp://"+hosts.ipA+":6363")
	for _, w := range []struct {
		p    *proc.Proc
		whom string
	}{{alice, "carol"}, {sub, "alice"}} {
		re := regexp.MustCompile(`msg="member joined" .*\bmember=` + w.whom + ` `)
		if _, err := w.p.WaitLine(re, 10*time.Second); err != nil {
			t.Fatalf("%s never saw %s join across the link: %v", w.p.Name, w.whom, err)
		}
	}
	time.Sleep(4 * time.Second)
	per := stopSubscriber(t, sub, out)
	t.Logf("host B (ndnd fw) received %v packets from host A in ~4s", per)
	if per["video"] < 100 || per["audio"] < 50 { // ~55 and 25 a second
		t.Fatalf("host B got %v packets from host A", per)
	}
	if st := fwA.Output(); strings.Contains(st, "dropped a datagram from the network") {
		t.Errorf("the guard dropped some of ndnd's datagrams:\n%s", st)
	}
}
