//go:build e2e

package ndn

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/e2etest"
)

// TestRoomAnchor: a room's trust, as three machines would hold it, on one
// forwarder. An impostor (its own trust directory, so its own anchor for
// the room) starts first and claims the user id alice from another prefix,
// the way one used to take over a user id (first heartbeat seen won). Then
// the room's owner, alice's bot (trust directory A: it makes the anchor),
// invites bob with `peets invite`; bob joins from trust directory B with
// the invitation and fetches alice's media. An observer with B's anchor
// lists the real alice and bob and never the impostor, and counts its
// refusals of the impostor; the proxies warn
// about the certificate they refused; alice never lists the impostor; a
// user of B with no invitation is refused at start with what to do.
func TestRoomAnchor(t *testing.T) {
	p := newProcs(t)
	room := fmt.Sprintf("trust%d", os.Getpid()%100000)
	fw := p.forwarder()
	trust := func(who string) string { return filepath.Join(p.dir, "trust-"+who) }
	imp := p.start("impostor", "bot", "--user", "alice", "--prefix", "/evil/alice", "--room", room, "--forwarder", fw,
		"--state-dir", filepath.Join(p.dir, "impostor"), "--trust-dir", trust("C"), "--log-level", "info")
	if _, err := imp.WaitLine(botRe, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	alice := p.start("alice", "bot", "--user", "alice", "--room", room, "--forwarder", fw,
		"--state-dir", filepath.Join(p.dir, "alice"), "--trust-dir", trust("A"), "--log-level", "info")
	if _, err := alice.WaitLine(botRe, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	inv := filepath.Join(p.dir, "bob.invitation")
	if out, err := exec.Command(p.bin, "invite", "--room", room, "--user", "bob", "--trust-dir", trust("A"), "--out", inv).CombinedOutput(); err != nil {
		t.Fatalf("peets invite: %v\n%s", err, out)
	}
	bob, _ := p.worker("bob", "sub", room, fw, "--trust-dir", trust("B"), "--invitation", inv, "--progress", "50ms")
	if !e2etest.Eventually(10*time.Second, func() bool { return progress(bob) > 100 }) {
		t.Fatalf("bob got no media from alice (count %d)", progress(bob))
	}
	time.Sleep(2 * time.Second) // a few heartbeats of everyone

	rj := p.rosterJSON(room, fw, "--trust-dir", trust("B"), "--wait", "3s")
	got := map[string]string{}
	for _, m := range rj.Members {
		got[m.User] = m.Prefix
	}
	if rj.Refused["sync/untrusted"] == 0 {
		t.Errorf("the observer counted no refusal of the impostor: %v", rj.Refused)
	}
	if got["alice"] != "/peets/user/alice" || len(got) != 2 || got["bob"] != "/peets/user/bob" {
		t.Fatalf("the observer with the room's anchor lists %v, want alice at /peets/user/alice and bob", got)
	}
	for _, w := range []struct {
		name  string
		lines []string
	}{{"alice", alice.Lines()}, {"bob", bob.Lines()}} {
		refused := false
		for _, l := range w.lines {
			if strings.Contains(l, "member joined") && strings.Contains(l, "/evil/") {
				t.Errorf("%s listed the impostor: %s", w.name, l)
			}
			refused = refused || (strings.Contains(l, "level=WARN") && strings.Contains(l, "refused a certificate") && strings.Contains(l, "/evil/alice"))
		}
		if !refused {
			t.Errorf("%s did not warn about the impostor's certificate", w.name)
		}
	}
	if imp.Exited() || alice.Exited() || bob.Exited() {
		t.Fatalf("a proxy exited: impostor %v, alice %v, bob %v", imp.Exited(), alice.Exited(), bob.Exited())
	}

	// Another user of B's machine, without an invitation: refused.
	out, err := exec.Command(p.bin, "bot", "--user", "dave", "--room", room, "--forwarder", fw,
		"--state-dir", filepath.Join(p.dir, "dave"), "--trust-dir", trust("B")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "ask its owner for an invitation") {
		t.Fatalf("dave without an invitation: %v\n%s", err, out)
	}
}

// TestRoomRemove: the owner removes a member with `peets room remove`
// while the call runs. Alice's bot (the owner) publishes; bob and carol,
// invited, fetch it from their own trust directories. After the removal,
// alice's proxy seals with the new epoch's key, bob fetches that key from
// the room and keeps receiving; carol, left out of the rekey, delivers
// nothing more; an observer with bob's trust directory lists alice and bob
// only, and counts its refusals of carol's key.
func TestRoomRemove(t *testing.T) {
	p := newProcs(t)
	room := fmt.Sprintf("remove%d", os.Getpid()%100000)
	fw := p.forwarder()
	trust := func(who string) string { return filepath.Join(p.dir, "trust-"+who) }
	alice := p.start("alice", "bot", "--user", "alice", "--room", room, "--forwarder", fw,
		"--state-dir", filepath.Join(p.dir, "alice"), "--trust-dir", trust("A"), "--log-level", "info")
	if _, err := alice.WaitLine(botRe, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	sub := map[string]func() int{}
	for _, who := range []string{"bob", "carol"} {
		inv := filepath.Join(p.dir, who+".invitation")
		if out, err := exec.Command(p.bin, "invite", "--room", room, "--user", who, "--trust-dir", trust("A"), "--out", inv).CombinedOutput(); err != nil {
			t.Fatalf("peets invite: %v\n%s", err, out)
		}
		w, _ := p.worker(who, "sub", room, fw, "--trust-dir", trust(who), "--invitation", inv, "--progress", "50ms")
		sub[who] = func() int { return progress(w) }
	}
	for who, n := range sub {
		if !e2etest.Eventually(10*time.Second, func() bool { return n() > 100 }) {
			t.Fatalf("%s got no media from alice (count %d)", who, n())
		}
	}
	out, err := exec.Command(p.bin, "room", "remove", "--room", room, "--user", "carol", "--trust-dir", trust("A")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "epoch 2") {
		t.Fatalf("peets room remove: %v\n%s", err, out)
	}
	// The owner's proxy reads the trust directory every 2 s; a heartbeat
	// then tells the room.
	time.Sleep(5 * time.Second)
	bob0, carol0 := sub["bob"](), sub["carol"]()
	time.Sleep(3 * time.Second)
	bob1, carol1 := sub["bob"](), sub["carol"]()
	t.Logf("after the removal: bob %d -> %d, carol %d -> %d packets", bob0, bob1, carol0, carol1)
	if bob1-bob0 < 50 {
		t.Errorf("bob received %d packets in 3 s after the rotation", bob1-bob0)
	}
	if carol1 != carol0 {
		t.Errorf("carol, removed, still received %d packets", carol1-carol0)
	}
	rj := p.rosterJSON(room, fw, "--trust-dir", trust("bob"), "--wait", "3s")
	got := map[string]bool{}
	for _, m := range rj.Members {
		got[m.User] = true
	}
	if len(got) != 2 || !got["alice"] || !got["bob"] {
		t.Errorf("the observer lists %v, want alice and bob", got)
	}
	if rj.Refused["sync/removed"] == 0 {
		t.Errorf("the observer counted no refusal of carol's key: %v", rj.Refused)
	}
	if !strings.Contains(strings.Join(alice.Lines(), "\n"), "media key rotated") {
		t.Error("alice's proxy did not rotate")
	}
}

// TestTestbedKey: a member joins with an NDN key made elsewhere, as a
// testbed user has one: ndnsec (ndn-cxx 0.9) makes an ECDSA key for
// /ndn/edu/ucla/carol and exports it as a SafeBag; the owner invites the
// key from its certificate alone (`peets invite --key-cert`, no secret
// travels); carol's bot joins with the invitation and her SafeBag. Bob
// receives her ECDSA-signed, encrypted media, and an observer lists her
// under her testbed prefix.
func TestTestbedKey(t *testing.T) {
	ndnsec := filepath.Join(e2etest.NFDTools(t), "bin", "ndnsec")
	p := newProcs(t)
	room := fmt.Sprintf("testbed%d", os.Getpid()%100000)
	fw := p.forwarder()
	trust := func(who string) string { return filepath.Join(p.dir, "trust-"+who) }
	home := filepath.Join(p.dir, "ndnsec-home")
	sec := func(args ...string) []byte {
		cmd := exec.Command(ndnsec, args...)
		cmd.Env = append(os.Environ(), "HOME="+home)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ndnsec %v: %v", args, err)
		}
		return out
	}
	sec("key-gen", "-t", "e", "/ndn/edu/ucla/carol")
	bag, certFile, pass := filepath.Join(p.dir, "carol.safebag"), filepath.Join(p.dir, "carol.cert"), filepath.Join(p.dir, "carol.pass")
	sec("export", "-P", "testbed-secret", "-o", bag, "-i", "/ndn/edu/ucla/carol")
	for f, b := range map[string][]byte{certFile: sec("cert-dump", "-i", "/ndn/edu/ucla/carol"), pass: []byte("testbed-secret\n")} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	alice := p.start("alice", "bot", "--user", "alice", "--room", room, "--forwarder", fw,
		"--state-dir", filepath.Join(p.dir, "alice"), "--trust-dir", trust("A"), "--log-level", "info")
	if _, err := alice.WaitLine(botRe, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	invite := func(args ...string) string {
		inv := filepath.Join(p.dir, args[0]+".invitation")
		all := append([]string{"invite", "--room", room, "--user", args[0], "--trust-dir", trust("A"), "--out", inv}, args[1:]...)
		if out, err := exec.Command(p.bin, all...).CombinedOutput(); err != nil {
			t.Fatalf("peets %v: %v\n%s", all, err, out)
		}
		return inv
	}
	carolInv := invite("carol", "--prefix", "/ndn/edu/ucla/carol", "--key-cert", certFile)
	if b, _ := os.ReadFile(carolInv); strings.Contains(string(b), "PRIVATE") {
		t.Fatal("the invitation holds a key")
	}
	carol := p.start("carol", "bot", "--user", "carol", "--prefix", "/ndn/edu/ucla/carol", "--room", room, "--forwarder", fw,
		"--state-dir", filepath.Join(p.dir, "carol"), "--trust-dir", trust("C"), "--invitation", carolInv,
		"--safebag", bag, "--safebag-password-file", pass, "--log-level", "info")
	if _, err := carol.WaitLine(botRe, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	bob, report := p.worker("bob", "sub", room, fw, "--trust-dir", trust("B"), "--invitation", invite("bob"), "--progress", "50ms")
	if !e2etest.Eventually(10*time.Second, func() bool { return progress(bob) > 300 }) {
		t.Fatalf("bob got little media (count %d)", progress(bob))
	}
	rj := p.rosterJSON(room, fw, "--trust-dir", trust("B"), "--wait", "3s")
	got := map[string]string{}
	for _, m := range rj.Members {
		got[m.User] = m.Prefix
	}
	if got["carol"] != "/ndn/edu/ucla/carol" || got["alice"] == "" {
		t.Fatalf("the observer lists %v, want carol at /ndn/edu/ucla/carol and alice", got)
	}
	bob.Stop(5 * time.Second)
	r := readReport(t, report)
	var fromCarol uint64
	for k, f := range r.Stats.Fetchers {
		if strings.Contains(k, "/ndn/edu/ucla/carol/") {
			fromCarol += f.Delivered
		}
	}
	t.Logf("bob delivered %d packets of carol's ECDSA-signed streams", fromCarol)
	if fromCarol < 100 {
		t.Errorf("bob delivered %d packets from carol", fromCarol)
	}
}
