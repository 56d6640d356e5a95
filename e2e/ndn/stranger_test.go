//go:build e2e

package ndn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
	"github.com/peets/peets/proto"
)

// TestStrangerSyncAttacks: a room on host A (a `peets forwarder
// --udp-port`, two bots, a `peets roster --watch`) and a stranger on host B
// who knows only the room's name and the forwarder's UDP port. It sends,
// one datagram each:
//   - the sync Interest that used to crash every member and observer (its
//     Data has a name component of length 2^63+1);
//   - alice's own sync entry at seq 2^64-1 (alice's next seq used to wrap
//     to 0: she could never heartbeat again and expired everywhere);
//   - 300 fake members (they used to be carried in every member's next
//     sync Interest, beyond what the forwarder accepts from a member, and
//     to hide the room from newcomers);
//   - three newer boots of bob (they used to evict his real boot).
//
// Nothing crashes, nobody leaves anyone's roster, a newcomer's roster lists
// both bots, and both keep heartbeating.
//
// Needs root and iproute2 (skipped otherwise).
func TestStrangerSyncAttacks(t *testing.T) {
	hosts := newNetns(t)
	p := newProcs(t)
	room := fmt.Sprintf("attack%d", os.Getpid()%100000)
	group := proto.DefaultGroupPrefix(room)

	fw := p.startIn(hosts.a, "fw", "forwarder", "--state-dir", filepath.Join(p.dir, "fw"), "--log-level", "info",
		"--udp-port", "6363")
	uri := waitForwarder(t, fw)
	users := []string{"alice", "bob"}
	var bs []*bot
	for _, u := range users {
		b := &bot{user: u, launched: time.Now()}
		b.Proc = p.startIn(hosts.a, u, "bot", "--user", u, "--room", room, "--forwarder", uri,
			"--state-dir", filepath.Join(p.dir, u), "--log-level", "info", "--heartbeat", "1s")
		bs = append(bs, b)
	}
	for _, b := range bs {
		if _, err := b.WaitLine(botRe, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	waitAllSee(t, bs, users)
	watch := p.startIn(hosts.a, "watch", "roster", "--room", room, "--watch", "--forwarder", uri,
		"--state-dir", filepath.Join(p.dir, "watch"), "--log-level", "info")
	if !e2etest.Eventually(5*time.Second, func() bool {
		return strings.Contains(watch.Output(), "alice") && strings.Contains(watch.Output(), "bob")
	}) {
		t.Fatalf("roster --watch did not see both bots:\n%s", watch.Output())
	}
	boots := map[string]uint64{}
	for _, b := range bs {
		for _, l := range b.Lines() {
			if m := joinedRe.FindStringSubmatch(l); m != nil {
				boot, _ := strconv.ParseUint(m[3], 10, 64)
				boots[m[2]] = boot
			}
		}
	}
	if boots["alice"] == 0 || boots["bob"] == 0 {
		t.Fatalf("boots not logged: %v", boots)
	}
	P := func(u string) enc.Name { return proto.ParticipantPrefix(proto.DefaultUserPrefix(u), room) }

	var fake proto.StateVector
	for i := range 300 {
		fake = append(fake, proto.SVEntry{Name: P(fmt.Sprintf("fake%03d", i)),
			Boots: []proto.SVBoot{{Boot: uint64(time.Now().Unix()), Seq: 7}}})
	}
	attacks := map[string][]byte{
		"crash packet": syncInterest(group, append([]byte{0x06, 0x10, 0x07, 0x0e, 0x08, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1},
			'x', 'y', 'z', 0, 0, 0)),
		"alice at 2^64-1": syncInterest(group, proto.EncodeSyncData(group, proto.StateVector{
			{Name: P("alice"), Boots: []proto.SVBoot{{Boot: boots["alice"], Seq: math.MaxUint64}}},
		}, [8]byte{1})),
		"bob's newer boots": syncInterest(group, proto.EncodeSyncData(group, proto.StateVector{
			{Name: P("bob"), Boots: []proto.SVBoot{{Boot: boots["bob"], Seq: 1}, {Boot: boots["bob"] + 1, Seq: 5},
				{Boot: boots["bob"] + 2, Seq: 5}, {Boot: boots["bob"] + 3, Seq: 5}}},
		}, [8]byte{2})),
	}
	for i := 0; i < len(fake); i += 100 {
		attacks[fmt.Sprintf("fakes %d-%d", i, i+99)] = syncInterest(group,
			proto.EncodeSyncData(group, fake[i:i+100], [8]byte{3, byte(i)}))
	}
	if n := len(attacks["crash packet"]); n > 130 {
		t.Fatalf("the crash packet is %d bytes", n)
	}
	at := time.Now()
	for name, d := range attacks {
		sendUDP(t, hosts.b, hosts.ipA, 6363, d)
		t.Logf("sent %s (%d bytes)", name, len(d))
	}
	time.Sleep(5 * time.Second) // several heartbeat intervals, more than the expiry (3 s)

	for _, pr := range []*proc.Proc{fw, bs[0].Proc, bs[1].Proc, watch} {
		if pr.Exited() {
			t.Fatalf("a process exited after the attacks:\n%s", pr.Output())
		}
	}
	for _, b := range bs {
		for _, u := range users {
			if when, why, ok := b.left(t, u); ok && when.After(at) {
				t.Errorf("%s dropped %s (%s) after the attacks", b.user, u, why)
			}
		}
	}
	if strings.Contains(watch.Output(), "left") {
		t.Errorf("roster --watch saw someone leave:\n%s", watch.Output())
	}
	ro, err := exec.Command("ip", "netns", "exec", hosts.a, p.bin, "roster", "--room", room, "--json",
		"--forwarder", uri, "--state-dir", filepath.Join(p.dir, "newcomer"), "--log-level", "warn").Output()
	if err != nil {
		t.Fatalf("a newcomer's roster: %v\n%s", err, ro)
	}
	for _, u := range users {
		if !strings.Contains(string(ro), `"`+u+`"`) {
			t.Errorf("a newcomer's roster lacks %s: %s", u, ro)
		}
	}
	for _, b := range bs {
		rej := b.syncRejected(t)
		t.Logf("%s: sync rejections %v", b.user, rej)
		if rej["bad_vector"] == 0 {
			t.Errorf("%s did not count the crash packet", b.user)
		}
		if b.user == "alice" && rej["own_entry"] == 0 {
			t.Errorf("alice did not count the claim on her own entry")
		}
	}
}

// syncInterest is a sync Interest G/v=3/<digest> carrying params, as a
// stranger writes it.
func syncInterest(group enc.Name, params []byte) []byte {
	ap := tlvLong(0x24, params)
	digest := sha256.Sum256(ap)
	name := proto.SyncInterestPrefix(group).Append(enc.NewBytesComponent(enc.TypeParametersSha256DigestComponent, digest[:]))
	body := append(name.Bytes(), 0x0a, 4, 1, 2, 3, 4, 0x0c, 2, 0x03, 0xe8)
	return tlvLong(0x05, append(body, ap...))
}

// tlvLong encodes a TLV element with a one-byte type and any length.
func tlvLong(typ byte, v []byte) []byte {
	switch n := len(v); {
	case n < 253:
		return append([]byte{typ, byte(n)}, v...)
	default:
		return append([]byte{typ, 0xfd, byte(n >> 8), byte(n)}, v...)
	}
}

// sendUDP sends one datagram from network namespace ns: this test binary,
// run there as a helper (TestHelperSendUDP). A shell cannot do it: bash
// writes printf's output to /dev/udp in pieces, a datagram per line.
func sendUDP(t *testing.T, ns, ip string, port int, d []byte) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperSendUDP$")
	cmd.Env = append(os.Environ(), "PEETS_SEND_UDP="+net.JoinHostPort(ip, strconv.Itoa(port)),
		"PEETS_SEND_HEX="+hex.EncodeToString(d))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("send a datagram: %v\n%s", err, out)
	}
}

// TestHelperSendUDP is sendUDP's helper process, not a test.
func TestHelperSendUDP(t *testing.T) {
	addr := os.Getenv("PEETS_SEND_UDP")
	if addr == "" {
		t.Skip("a helper of sendUDP")
	}
	d, err := hex.DecodeString(os.Getenv("PEETS_SEND_HEX"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, err := c.Write(d); err != nil || n != len(d) {
		t.Fatalf("wrote %d of %d bytes: %v", n, len(d), err)
	}
}
