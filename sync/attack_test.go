package roomsync

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	gosync "sync"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sync/synctest"
)

// The attacks on the sync group found by trying it as a stranger would:
// whatever a stranger puts in a sync Interest, no member crashes, no member
// disappears, and what members announce stays theirs.

// stranger returns a function that sends a sync Interest to the group with
// the given ApplicationParameters, from a connection that is no member.
func stranger(t *testing.T, group enc.Name) func(params []byte) {
	c := synctest.Embedded(t)
	return func(params []byte) {
		t.Helper()
		i, err := c.Engine().Spec().MakeInterest(proto.SyncInterestPrefix(group), &ndn.InterestConfig{
			Lifetime: optional.Some(time.Second), Nonce: utils.ConvertNonce(c.Engine().Timer().Nonce()),
		}, enc.Wire{params}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Engine().Express(i, nil); err != nil {
			t.Fatal(err)
		}
	}
}

// sniffer records the sync Interests the group's members send.
type sniffer struct {
	mu      gosync.Mutex
	sizes   []int
	vectors []proto.StateVector
}

func sniff(t *testing.T, group enc.Name) *sniffer {
	s := &sniffer{}
	c := synctest.Embedded(t)
	err := c.Engine().AttachHandler(proto.SyncInterestPrefix(group), func(a ndn.InterestHandlerArgs) {
		p := a.Interest.AppParam().Join()
		sd, err := proto.DecodeSyncData(p, group)
		if err != nil {
			return // the strangers' own
		}
		s.mu.Lock()
		s.sizes = append(s.sizes, len(p))
		s.vectors = append(s.vectors, sd.Vector)
		s.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Register(ctx, group); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *sniffer) since(n int) (sizes []int, vectors []proto.StateVector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes[n:]...), append([]proto.StateVector(nil), s.vectors[n:]...)
}

// countAbove counts the vectors heard with more than n entries.
func (s *sniffer) countAbove(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := 0
	for _, v := range s.vectors {
		if len(v) > n {
			c++
		}
	}
	return c
}

func (s *sniffer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sizes)
}

// uniq is a member name of this test only: the forwarder (and its cache of
// certificates) is shared by the whole test binary.
func uniq(t *testing.T, user string) string {
	return fmt.Sprintf("/test/user/%s-%s/r", t.Name(), user)
}

// publishes makes m publish a heartbeat and waits until every other member
// received it.
func publishes(t *testing.T, m *member, others ...*member) {
	t.Helper()
	seq, err := m.g.Publish("hb", false, body(t, map[string]int{"n": 1}))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range others {
		if synctest.Eventually(3*time.Second, func() bool {
			p, ok := o.latest(m.self)
			return ok && p.Seq == seq
		}) < 0 {
			t.Fatalf("%s did not get %s's seq %d: %+v", o.self, m.self, seq, o.g.Stats())
		}
	}
}

// One packet used to crash every member: a sync Interest whose Data has a
// name component of length 2^63+1 (ndnd's parser panics on it). Malformed
// sync Data of every kind are now dropped, counted, and change nothing.
func TestAttackMalformedSyncData(t *testing.T) {
	group := newGroupName(t)
	a := join(t, synctest.Embedded(t), group, uniq(t, "a"), nil)
	b := join(t, synctest.Embedded(t), group, uniq(t, "b"), nil)
	publishes(t, a, b)
	send := stranger(t, group)

	bomb := []byte{0x06, 0x10, 0x07, 0x0e, 0x08, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 'x', 'y', 'z', 0, 0, 0}
	gv3 := proto.SyncInterestPrefix(group).Bytes()
	signed := append(append([]byte{}, gv3...), 0x15, 0x02, 0xc9, 0x00, 0x16, 0x03, 0x1b, 0x01, 0x00)
	sum := sha256.Sum256(signed)
	badDigest := append(append([]byte{}, signed...), 0x17, 0x20)
	badDigest = append(badDigest, make([]byte, 32)...)
	goodDigest := append(append([]byte{}, signed...), 0x17, 0x20)
	goodDigest = append(goodDigest, sum[:]...)
	frames := [][]byte{
		bomb,
		{0x06, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, // a length of 2^63+1
		append([]byte{0x06, byte(len(badDigest))}, badDigest...), // digest does not match
		{0xc9, 0x00}, // a bare SVS v2 vector
		nil,
	}
	for _, f := range frames {
		send(f)
	}
	want := uint64(len(frames) - 1) // an empty ApplicationParameters is not sent as one
	for _, m := range []*member{a, b} {
		if synctest.Eventually(3*time.Second, func() bool { return m.g.Stats().Rejected[ReasonBadVector] >= want }) < 0 {
			t.Fatalf("%s: malformed sync Interests not counted: %+v", m.self, m.g.Stats())
		}
	}
	// A well-formed one still goes through.
	send(append([]byte{0x06, byte(len(goodDigest))}, goodDigest...))
	publishes(t, b, a)
	publishes(t, a, b)
	for _, m := range []*member{a, b} {
		if st := m.g.Stats(); st.Panics != 0 {
			t.Fatalf("%s: %d panics", m.self, st.Panics)
		}
	}
}

// A member's own entry announced by a stranger at 2^64-1 (or with a newer
// boot) used to move it: the next seq wrapped to 0 and the member could
// never heartbeat again. It is now ignored and counted.
func TestAttackOwnEntryAtMaxSeq(t *testing.T) {
	group := newGroupName(t)
	a := join(t, synctest.Embedded(t), group, uniq(t, "a"), nil)
	b := join(t, synctest.Embedded(t), group, uniq(t, "b"), nil)
	publishes(t, a, b)
	send := stranger(t, group)
	send(proto.EncodeSyncData(group, proto.StateVector{
		{Name: a.self, Boots: []proto.SVBoot{{Boot: a.g.Boot(), Seq: math.MaxUint64}, {Boot: a.g.Boot() + 1, Seq: 1}}},
	}, [8]byte{1}))
	if synctest.Eventually(3*time.Second, func() bool { return a.g.Stats().Rejected[ReasonOwnEntry] > 0 }) < 0 {
		t.Fatalf("forged own entry not counted: %+v", a.g.Stats())
	}
	for range 3 {
		publishes(t, a, b)
	}
	if p, _ := b.latest(a.self); p.Seq != 4 || a.g.Stats().Published != 4 {
		t.Fatalf("a's seq after the attack: %d", p.Seq)
	}
}

// 300 fake entries used to be carried in every member's next sync Interest
// (beyond 8800 bytes: the forwarder cut the member off), to fill MaxPeers
// forever and to hide the room from newcomers. Members now carry only what
// they verified; the fakes are fetched once, fail, and are forgotten.
func TestAttackFakeEntries(t *testing.T) {
	group := newGroupName(t)
	short := func(c *GroupConfig) { c.FetchLifetime = 200 * time.Millisecond }
	a := join(t, synctest.Embedded(t), group, uniq(t, "a"), short)
	b := join(t, synctest.Embedded(t), group, uniq(t, "b"), short)
	publishes(t, a, b)
	publishes(t, b, a)
	snf := sniff(t, group)
	send := stranger(t, group)
	var fake proto.StateVector
	for i := range 300 {
		n := synctest.Name(t, fmt.Sprintf("/test/user/fake%03d/r", i))
		fake = append(fake, proto.SVEntry{Name: n, Boots: []proto.SVBoot{{Boot: uint64(time.Now().Unix()), Seq: 5}}})
	}
	// 300 entries of ~30 bytes do not fit one packet: three Interests.
	for i := 0; i < len(fake); i += 100 {
		send(proto.EncodeSyncData(group, fake[i:i+100], [8]byte{byte(i)}))
	}
	if synctest.Eventually(3*time.Second, func() bool { return a.g.Stats().Updates >= 100 }) < 0 {
		t.Fatalf("fakes not heard: %+v", a.g.Stats())
	}
	if st := a.g.Stats(); st.Candidates > maxCandidatePeers || st.Peers != 1 {
		t.Fatalf("a tracks %d candidates, %d peers", st.Candidates, st.Peers)
	}
	// The sniffer hears the stranger's three Interests too, sometimes after
	// a has: what it hears from here on must be the members' own.
	if synctest.Eventually(3*time.Second, func() bool { return snf.countAbove(2) >= 3 }) < 0 {
		t.Fatalf("the sniffer heard %d of the stranger's 3 Interests", snf.countAbove(2))
	}
	n := snf.count()
	publishes(t, a, b)
	publishes(t, b, a)
	sizes, vectors := snf.since(n)
	if len(vectors) == 0 {
		t.Fatal("no sync Interest sniffed")
	}
	for i, sv := range vectors {
		if len(sv) > 2 || sizes[i] > 300 {
			t.Fatalf("a member announced %d entries (%d bytes): %v", len(sv), sizes[i], sv)
		}
	}
	// The fakes fail and are forgotten; a newcomer sees the room at once.
	if synctest.Eventually(5*time.Second, func() bool { return a.g.Stats().Candidates == 0 && b.g.Stats().Candidates == 0 }) < 0 {
		t.Fatalf("fakes still tracked: %+v", a.g.Stats())
	}
	obs := join(t, synctest.Embedded(t), group, "", nil)
	if synctest.Eventually(2*time.Second, func() bool {
		_, okA := obs.latest(a.self)
		_, okB := obs.latest(b.self)
		return okA && okB
	}) < 0 {
		t.Fatalf("a newcomer did not see the room: %+v", obs.g.Stats())
	}
	t.Logf("a: %+v", a.g.Stats())
}

// Newer boots of a live member, announced without any Data or key, used to
// evict its real boot while its fetch was in flight: a newcomer never saw
// the member. The real boot now stays, the forged ones fail.
func TestAttackForgedBoots(t *testing.T) {
	group := newGroupName(t)
	a := join(t, synctest.Embedded(t), group, uniq(t, "a"), nil)
	publishes(t, a)
	send := stranger(t, group)
	obs := join(t, synctest.Embedded(t), group, "", nil)
	boot := a.g.Boot()
	// One vector: the real entry first (its fetch goes out), then three
	// newer boots.
	for range 3 {
		send(proto.EncodeSyncData(group, proto.StateVector{{Name: a.self, Boots: []proto.SVBoot{
			{Boot: boot, Seq: 1}, {Boot: boot + 1, Seq: 9}, {Boot: boot + 2, Seq: 9}, {Boot: boot + 3, Seq: 9},
		}}}, [8]byte{byte(time.Now().UnixNano())}))
	}
	if synctest.Eventually(3*time.Second, func() bool { _, ok := obs.latest(a.self); return ok }) < 0 {
		t.Fatalf("the observer never saw a: %+v", obs.g.Stats())
	}
	publishes(t, a, obs)
}

// The eviction rule itself: a boot whose fetch is in flight, or the
// verified one, is never evicted for a newer unverified one.
func TestEvictCandidate(t *testing.T) {
	bs := func(boot uint64, inflight bool) *bootState {
		b := &bootState{boot: boot, inflight: map[uint64]purpose{}}
		if inflight {
			b.inflight[1] = forLatest
		}
		return b
	}
	p := &peer{boots: map[uint64]*bootState{10: bs(10, true), 11: bs(11, true), 12: bs(12, true)}}
	if p.evictCandidate(0, false) || len(p.boots) != 3 {
		t.Fatal("evicted a boot in flight")
	}
	p = &peer{boots: map[uint64]*bootState{10: bs(10, false), 11: bs(11, true), 12: bs(12, false)}}
	if !p.evictCandidate(10, true) || p.boots[10] == nil || p.boots[12] != nil {
		t.Fatalf("wrong boot evicted: %v", p.boots)
	}
}
