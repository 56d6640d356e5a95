package roomsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	gosync "sync"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	spec_svs "github.com/named-data/ndnd/std/ndn/svs/v3"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
	"github.com/peets/peets/sync/synctest"
)

// member is a test member: a group and what it received.
type member struct {
	g    *Group
	self enc.Name
	id   *sec.Identity

	mu   gosync.Mutex
	pubs []Pub
}

func (m *member) onPub(p Pub) {
	m.mu.Lock()
	m.pubs = append(m.pubs, p)
	m.mu.Unlock()
}

// received returns the publications from publisher.
func (m *member) received(publisher enc.Name, ordered bool) []Pub {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Pub
	for _, p := range m.pubs {
		if p.Publisher.Equal(publisher) && p.Ordered == ordered {
			out = append(out, p)
		}
	}
	return out
}

func (m *member) latest(publisher enc.Name) (Pub, bool) {
	l := m.received(publisher, false)
	if len(l) == 0 {
		return Pub{}, false
	}
	return l[len(l)-1], true
}

var testGroupN int

// newGroupName returns a fresh group prefix per test (the forwarder is shared).
func newGroupName(t *testing.T) enc.Name {
	testGroupN++
	return synctest.Name(t, fmt.Sprintf("/test/room/%s-%d", t.Name(), testGroupN))
}

func join(t *testing.T, c *forwarder.Conn, group enc.Name, self string, mod func(*GroupConfig)) *member {
	t.Helper()
	m := &member{}
	cfg := GroupConfig{
		Conn:    c,
		Group:   group,
		OnPub:   m.onPub,
		Logger:  synctest.Logger,
		History: 5,
	}
	if self != "" {
		m.self = synctest.Name(t, self)
		id, v := synctest.Identity(t, c, m.self)
		m.id = id
		cfg.Self, cfg.Signer, cfg.Verifier = m.self, id.Signer(), v
	} else {
		_, v := synctest.Identity(t, c, synctest.Name(t, "/test/observer"))
		cfg.Verifier = v
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, err := Join(ctx, cfg)
	if err != nil {
		t.Fatalf("join %s: %v", self, err)
	}
	t.Cleanup(g.Close)
	m.g = g
	return m
}

func body(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGroupLatestAndOrdered(t *testing.T) {
	group := newGroupName(t)
	var ms []*member
	for i := range 3 {
		ms = append(ms, join(t, synctest.Embedded(t), group, fmt.Sprintf("/test/user/u%d/r", i), nil))
	}
	for i, m := range ms {
		if _, err := m.g.Publish("hb", false, body(t, map[string]int{"n": i})); err != nil {
			t.Fatal(err)
		}
	}
	took := synctest.Eventually(2*time.Second, func() bool {
		for _, a := range ms {
			for _, b := range ms {
				if a != b {
					if _, ok := a.latest(b.self); !ok {
						return false
					}
				}
			}
		}
		return true
	})
	if took < 0 {
		for _, m := range ms {
			t.Logf("%s: %+v", m.self, m.g.Stats())
		}
		t.Fatal("members did not see each other's heartbeat")
	}
	t.Logf("3 members saw each other in %v", took)

	// Ordered: 50 messages from member 0 interleaved with heartbeats.
	const n = 50
	for i := 1; i <= n; i++ {
		if _, err := ms[0].g.Publish("chat", true, body(t, map[string]int{"i": i})); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if _, err := ms[0].g.Publish("hb", false, body(t, map[string]int{"n": 0})); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, m := range ms[1:] {
		if synctest.Eventually(3*time.Second, func() bool { return len(m.received(ms[0].self, true)) >= n }) < 0 {
			t.Fatalf("got %d of %d ordered", len(m.received(ms[0].self, true)), n)
		}
		got := m.received(ms[0].self, true)
		if len(got) != n {
			t.Fatalf("got %d ordered, want %d", len(got), n)
		}
		for i, p := range got {
			var v struct{ I int }
			_ = json.Unmarshal(p.Body, &v)
			if v.I != i+1 {
				t.Fatalf("message %d is %d", i+1, v.I)
			}
		}
	}
	st := ms[1].g.Stats()
	t.Logf("stats: %+v", st)
}

// rogue serves, under its own participant prefix and signed with its own
// (valid) key, whatever content(seq) returns, and announces seq in a crafted
// sync Interest.
func rogue(t *testing.T, group enc.Name, self string, content func(seq uint64) []byte) (announce func(seq uint64)) {
	c := synctest.Embedded(t)
	p := synctest.Name(t, self)
	id, _ := synctest.Identity(t, c, p)
	boot := uint64(time.Now().Unix())
	err := c.Engine().AttachHandler(proto.SyncPubPrefix(p), func(a ndn.InterestHandlerArgs) {
		_, seq, err := proto.ParseSyncPubName(p, a.Interest.Name())
		if err != nil {
			return
		}
		d, err := spec.Spec{}.MakeData(a.Interest.Name(), &ndn.DataConfig{Freshness: optional.Some(time.Second)},
			enc.Wire{content(seq)}, id.Signer())
		if err == nil {
			_ = a.Reply(d.Wire)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Register(context.Background(), proto.SyncPubPrefix(p)); err != nil {
		t.Fatal(err)
	}
	return func(seq uint64) {
		sv := &spec_svs.StateVector{Entries: []*spec_svs.StateVectorEntry{{
			Name: p, SeqNoEntries: []*spec_svs.SeqNoEntry{{BootstrapTime: boot, SeqNo: seq}},
		}}}
		d, _ := spec.Spec{}.MakeData(group.WithVersion(enc.VersionUnixMicro), &ndn.DataConfig{},
			(&spec_svs.SvsData{StateVector: sv}).Encode(), signer.NewSha256Signer())
		i, _ := c.Engine().Spec().MakeInterest(group.Append(enc.NewVersionComponent(3)), &ndn.InterestConfig{
			Lifetime: optional.Some(time.Second), Nonce: utils.ConvertNonce(c.Engine().Timer().Nonce()),
		}, d.Wire, nil)
		if err := c.Engine().Express(i, nil); err != nil {
			t.Error(err)
		}
	}
}

func TestGroupRejectsGarbage(t *testing.T) {
	group := newGroupName(t)
	m := join(t, synctest.Embedded(t), group, "/test/user/victim/r", nil)
	good := func(seq uint64) []byte {
		b, _ := (&proto.Publication{V: 1, Kind: "hb", Boot: 0, Seq: seq, Body: []byte(`{}`)}).Encode()
		return b
	}
	cases := []struct {
		reason  string
		content func(seq uint64) []byte
	}{
		{ReasonMalformed, func(uint64) []byte { return []byte(`{"v":1,`) }},
		{ReasonMalformed, func(uint64) []byte { return []byte{0xff, 0xfe, 0x00} }},
		{ReasonBadField, func(seq uint64) []byte {
			return fmt.Appendf(nil, `{"v":1,"kind":"hb","boot":1,"seq":%d,"time":"now","body":{}}`, seq)
		}},
		{ReasonVersion, func(seq uint64) []byte {
			return fmt.Appendf(nil, `{"v":9,"kind":"hb","boot":1,"seq":%d,"time":1,"body":{}}`, seq)
		}},
		{ReasonTooLarge, func(uint64) []byte { return []byte(strings.Repeat(" ", proto.MaxPubSize+100)) }},
		{ReasonMismatch, good}, // boot 0 in the envelope, not the name's
	}
	for i, c := range cases {
		announce := rogue(t, group, fmt.Sprintf("/test/user/rogue%d/r", i), c.content)
		announce(1)
		if synctest.Eventually(2*time.Second, func() bool { return m.g.Stats().Rejected[c.reason] > 0 }) < 0 {
			t.Fatalf("case %d: %s not counted: %+v", i, c.reason, m.g.Stats())
		}
	}
	if n := len(m.pubs); n != 0 {
		t.Fatalf("%d publications delivered", n)
	}
	t.Logf("rejected: %v", m.g.Stats().Rejected)
}

func TestGroupObserverAndLateJoin(t *testing.T) {
	group := newGroupName(t)
	a := join(t, synctest.Embedded(t), group, "/test/user/a/r", nil)
	b := join(t, synctest.Embedded(t), group, "/test/user/b/r", nil)
	// A long history: only the newest unordered publication matters.
	for i := range 30 {
		if _, err := a.g.Publish("hb", false, body(t, map[string]int{"n": i})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.g.Publish("hb", false, body(t, map[string]int{"n": 0})); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the burst's sync Interests are over
	start := time.Now()
	obs := join(t, synctest.Embedded(t), group, "", nil)
	took := synctest.Eventually(time.Second, func() bool {
		_, okA := obs.latest(a.self)
		_, okB := obs.latest(b.self)
		return okA && okB
	})
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("observer learned the group after %v", time.Since(start))
	}
	pa, _ := obs.latest(a.self)
	var v struct{ N int }
	_ = json.Unmarshal(pa.Body, &v)
	if v.N != 29 || len(obs.received(a.self, false)) != 1 {
		t.Fatalf("observer got %d of a's, newest %d", len(obs.received(a.self, false)), v.N)
	}
	if st := obs.g.Stats(); st.Fetches != 2 || st.Published != 0 {
		t.Fatalf("observer stats %+v", st)
	}
	if _, err := obs.g.Publish("hb", false, []byte(`{}`)); !errors.Is(err, ErrObserver) {
		t.Fatalf("observer published: %v", err)
	}
	// The observer is nobody's peer.
	time.Sleep(50 * time.Millisecond)
	if a.g.Stats().Peers != 1 || b.g.Stats().Peers != 1 {
		t.Fatalf("peers: %d %d", a.g.Stats().Peers, b.g.Stats().Peers)
	}
	t.Logf("observer learned 2 members in %v", took)
}

func TestGroupNoGoroutineLeak(t *testing.T) {
	group := newGroupName(t)
	c1, c2 := synctest.Embedded(t), synctest.Embedded(t)
	a := join(t, c1, group, "/test/user/leak-a/r", nil)
	if _, err := a.g.Publish("hb", false, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	for i := range 5 {
		m := join(t, c2, group, fmt.Sprintf("/test/user/leak%d/r", i), nil)
		if _, err := m.g.Publish("chat", true, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		synctest.Eventually(time.Second, func() bool { _, ok := m.latest(a.self); return ok })
		m.g.Close()
	}
	// Expressed Interests' timers and SVS's short-lived senders drain within
	// an Interest lifetime.
	var n int
	if synctest.Eventually(3*time.Second, func() bool { n = runtime.NumGoroutine(); return n <= base+2 }) < 0 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// The daemon's forwarder connection is a Conn.
var _ Conn = (*forwarder.Conn)(nil)

func TestGroupOneMemberPerEngine(t *testing.T) {
	group := newGroupName(t)
	c := synctest.Embedded(t)
	join(t, c, group, "/test/user/one/r", nil)
	id, v := synctest.Identity(t, c, synctest.Name(t, "/test/user/two/r"))
	_, err := Join(context.Background(), GroupConfig{Conn: c, Group: group, Self: synctest.Name(t, "/test/user/two/r"),
		Signer: id.Signer(), Verifier: v, Logger: synctest.Logger})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("second member on one engine: %v", err)
	}
	// Bad configurations.
	for _, cfg := range []GroupConfig{
		{Group: group, Verifier: v},
		{Conn: c, Verifier: v},
		{Conn: c, Group: group},
		{Conn: c, Group: group, Verifier: v, Self: synctest.Name(t, "/x")},
		{Conn: c, Group: group, Verifier: v, Self: group.Append(enc.NewGenericComponent("x")), Signer: id.Signer()},
	} {
		if _, err := Join(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
}

// A heartbeat replaced before a receiver asked for it: the publisher's Nack
// names its newest seq, which the receiver fetches; no rejection counted.
func TestGroupSupersededHeartbeat(t *testing.T) {
	group := newGroupName(t)
	// a answers a newcomer's empty vector an hour late, almost surely: the
	// observer below learns of a only from the stale claim.
	a := join(t, synctest.Embedded(t), group, "/test/user/superseded-a/r", func(c *GroupConfig) {
		c.SuppressionPeriod, c.PeriodicTimeout = time.Hour, time.Hour
	})
	for i := range 4 {
		if _, err := a.g.Publish("hb", false, body(t, map[string]int{"n": i})); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	obs := join(t, synctest.Embedded(t), group, "", func(c *GroupConfig) { c.PeriodicTimeout = time.Hour })
	// The observer hears only a stale claim: a at seq 1.
	stranger(t, group)(proto.EncodeSyncData(group, proto.StateVector{
		{Name: a.self, Boots: []proto.SVBoot{{Boot: a.g.Boot(), Seq: 1}}},
	}, [8]byte{7}))
	if synctest.Eventually(3*time.Second, func() bool { p, ok := obs.latest(a.self); return ok && p.Seq == 4 }) < 0 {
		t.Fatalf("the observer did not get a's newest: %+v", obs.g.Stats())
	}
	if st := obs.g.Stats(); len(st.Rejected) != 0 || st.Superseded != 1 {
		t.Fatalf("rejections %v, superseded %d", st.Rejected, st.Superseded)
	}
}
