package roster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	spec_svs "github.com/named-data/ndnd/std/ndn/svs/v3"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
	roomsync "github.com/peets/peets/sync"
	"github.com/peets/peets/sync/synctest"
)

var roomN atomic.Int64

// newRoom returns a fresh room id (the forwarder is shared by all tests).
func newRoom() string { return fmt.Sprintf("room%d", roomN.Add(1)) }

// tp is a test participant and the events it saw.
type tp struct {
	*Participant
	conn *forwarder.Conn
	id   *sec.Identity

	mu     sync.Mutex
	events []Event
}

func (p *tp) collect(ctx context.Context) {
	ch := p.Table().Subscribe(ctx)
	go func() {
		for ev := range ch {
			p.mu.Lock()
			p.events = append(p.events, ev)
			p.mu.Unlock()
		}
	}()
}

// waitEvents waits (up to 1 s) until p has seen n events of typ; the
// subscriber goroutine may lag behind the table.
func (p *tp) waitEvents(typ EventType, n int) []Event {
	synctest.Eventually(time.Second, func() bool { return len(p.eventsOf(typ)) >= n })
	return p.eventsOf(typ)
}

func (p *tp) eventsOf(typ EventType) []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Event
	for _, ev := range p.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// has reports whether p's table holds every participant of others (and
// only if exact, nothing else).
func (p *tp) has(others []*tp, exact bool) bool {
	n := 0
	for _, o := range others {
		if o == p {
			continue
		}
		if _, ok := p.Table().Get(o.Prefix()); !ok {
			return false
		}
		n++
	}
	return !exact || p.Table().Len() == n
}

func joinTP(t *testing.T, conn *forwarder.Conn, room, user string, mod func(*Config)) *tp {
	t.Helper()
	if conn == nil {
		conn = synctest.Embedded(t)
	}
	up := proto.DefaultUserPrefix(user)
	id, v := synctest.Identity(t, conn, proto.ParticipantPrefix(up, room))
	cfg := Config{
		Conn:     conn,
		Room:     room,
		User:     user,
		Signer:   id.Signer(),
		Verifier: v,
		Logger:   synctest.Logger,
		Rand:     rand.New(rand.NewPCG(uint64(len(user)), 7)),
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Join(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("join %s: %v", user, err)
	}
	t.Cleanup(func() {
		p.Close()
		cancel()
	})
	x := &tp{Participant: p, conn: conn, id: id}
	x.collect(ctx)
	return x
}

func joinN(t *testing.T, room string, n int, mod func(*Config)) []*tp {
	var ps []*tp
	for i := range n {
		ps = append(ps, joinTP(t, nil, room, fmt.Sprintf("user%d", i), mod))
	}
	return ps
}

func allSee(ps []*tp, exact bool) bool {
	for _, p := range ps {
		if !p.has(ps, exact) {
			return false
		}
	}
	return true
}

func TestFiveMembersSeeEachOther(t *testing.T) {
	room := newRoom()
	start := time.Now()
	ps := joinN(t, room, 5, nil)
	took := synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) })
	if took < 0 {
		for _, p := range ps {
			t.Logf("%s: %d members, stats %+v", p.Prefix(), p.Table().Len(), p.Stats())
		}
		t.Fatal("5 members did not see each other")
	}
	total := time.Since(start)
	t.Logf("5 members see each other %v after the last join, %v after the first", took, total)
	if total > 500*time.Millisecond {
		t.Errorf("convergence took %v (> 500 ms)", total)
	}
	// Every member got 4 joins and no leave.
	for _, p := range ps {
		if n := len(p.waitEvents(EventJoin, 4)); n != 4 {
			t.Errorf("%s: %d join events", p.Prefix(), n)
		}
		if n := len(p.eventsOf(EventLeave)); n != 0 {
			t.Errorf("%s: %d leave events", p.Prefix(), n)
		}
	}
	// The JSON roster of a member lists the 4 others.
	var r RosterJSON
	b, err := ps[0].Table().JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.Room != room || len(r.Members) != 4 || r.Members[0].User != "user1" || r.Members[0].State != StateActive ||
		r.Members[0].Prefix != "/peets/user/user1" || r.Members[0].Role != proto.RoleParticipant {
		t.Fatalf("roster JSON: %s", b)
	}
}

func TestByeGoneQuickly(t *testing.T) {
	ps := joinN(t, newRoom(), 4, nil)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	leaver := ps[3]
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- leaver.Leave(ctx) }()
	rest := ps[:3]
	took := synctest.Eventually(time.Second, func() bool {
		for _, p := range rest {
			if _, ok := p.Table().Get(leaver.Prefix()); ok {
				return false
			}
		}
		return true
	})
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("leaver still listed after %v", time.Since(start))
	}
	t.Logf("bye seen by all in %v", took)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, p := range rest {
		ev := p.waitEvents(EventLeave, 1)
		if len(ev) != 1 || ev[0].Reason != LeaveBye || !ev[0].Member.Participant.Equal(leaver.Prefix()) {
			t.Fatalf("%s leave events: %+v", p.Prefix(), ev)
		}
	}
	if err := leaver.SendChat("after"); err == nil {
		t.Fatal("chat after leave")
	}
}

func TestSilentMemberExpires(t *testing.T) {
	const interval = 100 * time.Millisecond
	fast := func(c *Config) { c.Interval = interval }
	ps := joinN(t, newRoom(), 3, fast)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	// Let a few heartbeats go by: nobody expires while heartbeating.
	time.Sleep(6 * interval)
	for _, p := range ps {
		if len(p.eventsOf(EventLeave)) != 0 {
			t.Fatalf("%s: spurious leave", p.Prefix())
		}
	}
	crashed := ps[2]
	crashed.Close()
	start := time.Now()
	took := synctest.Eventually(2*time.Second, func() bool {
		for _, p := range ps[:2] {
			if _, ok := p.Table().Get(crashed.Prefix()); ok {
				return false
			}
		}
		return true
	})
	t.Logf("crash detected after %v (interval %v, K=3)", took, interval)
	// Expiry is K intervals after the last heartbeat, which came at most
	// interval*1.25 before the crash.
	if took < 3*interval-interval*5/4-10*time.Millisecond || took > 3*interval+50*time.Millisecond {
		t.Fatalf("expired after %v, want about %v", time.Since(start), 3*interval)
	}
	for _, p := range ps[:2] {
		ev := p.waitEvents(EventLeave, 1)
		if len(ev) != 1 || ev[0].Reason != LeaveExpired {
			t.Fatalf("leave events %+v", ev)
		}
	}
}

func TestLateJoinerLearnsAll(t *testing.T) {
	room := newRoom()
	// A 10 s interval: no heartbeat comes while the late joiner joins, so it
	// must learn the room from the state vector members send in answer to
	// its first sync Interest.
	slow := func(c *Config) { c.Interval = 10 * time.Second }
	ps := joinN(t, room, 4, slow)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	// Let the room live a while: every member has several heartbeats and a
	// few chat messages, so history would be costly to fetch.
	for i := range 5 {
		if err := ps[i%4].SendChat(fmt.Sprintf("m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	late := joinTP(t, nil, room, "late", slow)
	all := append(slices.Clone(ps), late)
	took := synctest.Eventually(2*time.Second, func() bool { return late.has(all, true) })
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("late joiner knew %d of 4 after %v: %+v", late.Table().Len(), time.Since(start), late.Stats())
	}
	seen := synctest.Eventually(2*time.Second, func() bool { return allSee(all, true) })
	t.Logf("late joiner learned 4 members in %v; all saw it after %v", took, seen)
	st := late.Stats().Sync
	t.Logf("late joiner sync stats: %+v", st)
	// Latest-only: about one heartbeat fetch per member, plus the chat
	// history (5 messages and a few seqs around them).
	if st.Fetches-st.Prefetches > 4*3+5 {
		t.Errorf("late joiner made %d required fetches", st.Fetches-st.Prefetches)
	}
}

func TestChatOrderedNoDuplicates(t *testing.T) {
	room := newRoom()
	ps := joinN(t, room, 4, nil)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	const n = 100
	senders := ps[:3]
	var wg sync.WaitGroup
	for i, s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 1; k <= n; k++ {
				if err := s.SendChat(fmt.Sprintf("%d:%d", i, k)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := 3 * n
	for _, p := range ps {
		got := synctest.Eventually(5*time.Second, func() bool { return len(p.eventsOf(EventChat)) >= want })
		chats := p.eventsOf(EventChat)
		if got < 0 {
			t.Fatalf("%s: %d of %d chat messages; stats %+v", p.Prefix(), len(chats), want, p.Stats())
		}
		time.Sleep(20 * time.Millisecond) // a duplicate would show up now
		chats = p.eventsOf(EventChat)
		if len(chats) != want {
			t.Fatalf("%s: %d chat messages, want %d", p.Prefix(), len(chats), want)
		}
		next := map[string]int{}
		ids := map[string]bool{}
		for _, ev := range chats {
			c := ev.Chat
			id := fmt.Sprintf("%s/%d/%d", c.From.Participant, c.Boot, c.Seq)
			if ids[id] {
				t.Fatalf("duplicate %s", id)
			}
			ids[id] = true
			var i, k int
			if _, err := fmt.Sscanf(c.Text, "%d:%d", &i, &k); err != nil {
				t.Fatal(err)
			}
			from := c.From.Participant.String()
			if k != next[from]+1 {
				t.Fatalf("%s: from %s message %d after %d", p.Prefix(), from, k, next[from])
			}
			next[from] = k
			if c.Self != c.From.Participant.Equal(p.Prefix()) {
				t.Fatalf("self flag wrong: %+v", c)
			}
			if !c.Self && c.From.User != fmt.Sprintf("user%d", i) {
				t.Fatalf("sender %q for %q", c.From.User, c.Text)
			}
		}
	}
	t.Logf("sync stats of the receiver: %+v", ps[3].Stats().Sync)
}

func TestSetNameReachesEveryone(t *testing.T) {
	ps := joinN(t, newRoom(), 3, nil)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	if err := ps[0].SetName("Zoë the Great"); err != nil {
		t.Fatal(err)
	}
	took := synctest.Eventually(time.Second, func() bool {
		for _, p := range ps[1:] {
			m, _ := p.Table().Get(ps[0].Prefix())
			if m.Name != "Zoë the Great" {
				return false
			}
		}
		return true
	})
	if took < 0 || took > 300*time.Millisecond {
		t.Fatalf("new name not seen after %v", took)
	}
	for _, p := range ps[1:] {
		synctest.Eventually(time.Second, func() bool { return len(p.eventsOf(EventUpdate)) >= 1 })
		if ev := p.eventsOf(EventUpdate); len(ev) != 1 || ev[0].Member.Name != "Zoë the Great" {
			t.Fatalf("update events: %+v", ev)
		}
	}
	if err := ps[0].SetName(""); err == nil {
		t.Fatal("empty name accepted")
	}
}

// TestMuteReachesEveryone: a participant's microphone and camera state is
// in its roster entry; the others get an update event with it.
func TestMuteReachesEveryone(t *testing.T) {
	ps := joinN(t, newRoom(), 2, nil)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	if err := ps[0].Update(func(e *proto.RosterEntry) { e.AudioMuted = true }); err != nil {
		t.Fatal(err)
	}
	seen := func(audio, video bool) bool {
		m, _ := ps[1].Table().Get(ps[0].Prefix())
		return m.AudioMuted == audio && m.VideoMuted == video
	}
	if synctest.Eventually(time.Second, func() bool { return seen(true, false) }) < 0 {
		t.Fatal("mute not seen")
	}
	if synctest.Eventually(time.Second, func() bool { return len(ps[1].eventsOf(EventUpdate)) >= 1 }) < 0 {
		t.Fatal("no update event for the mute")
	}
	if err := ps[0].Update(func(e *proto.RosterEntry) { e.AudioMuted, e.VideoMuted = false, true }); err != nil {
		t.Fatal(err)
	}
	if synctest.Eventually(time.Second, func() bool { return seen(false, true) }) < 0 {
		t.Fatal("unmute / camera off not seen")
	}
}

func TestObserver(t *testing.T) {
	room := newRoom()
	ps := joinN(t, room, 3, nil)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	conn := synctest.Embedded(t)
	_, v := synctest.Identity(t, conn, synctest.Name(t, "/peets/observer"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	tab, err := Observe(ctx, conn, room, ObserveOptions{Verifier: v, Logger: synctest.Logger})
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	defer wcancel()
	if err := tab.WaitSynced(wctx); err != nil {
		t.Fatal(err)
	}
	synced := time.Since(start)
	if tab.Len() != 3 {
		t.Fatalf("observer sees %d members after %v", tab.Len(), synced)
	}
	t.Logf("observer synced in %v", synced)
	if synced > 500*time.Millisecond {
		t.Errorf("observer took %v", synced)
	}
	// Members never see the observer, and it published nothing.
	time.Sleep(300 * time.Millisecond)
	for _, p := range ps {
		if p.Table().Len() != 2 {
			t.Fatalf("%s sees %d members", p.Prefix(), p.Table().Len())
		}
	}
	if st := tab.Stats().Sync; st.Published != 0 || st.Served != 0 {
		t.Fatalf("observer published: %+v", st)
	}
	b, _ := tab.JSON()
	t.Logf("%s", b)
	cancel()
	select {
	case <-tab.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("observer table not closed")
	}
}

// forgedSyncInterest makes a sync Interest whose state vector says that
// name reached seq in boot.
func forgedSyncInterest(t *testing.T, e ndn.Engine, group, name enc.Name, boot, seq uint64) *ndn.EncodedInterest {
	t.Helper()
	sv := &spec_svs.StateVector{Entries: []*spec_svs.StateVectorEntry{{
		Name:         name,
		SeqNoEntries: []*spec_svs.SeqNoEntry{{BootstrapTime: boot, SeqNo: seq}},
	}}}
	svWire := (&spec_svs.SvsData{StateVector: sv}).Encode()
	d, err := e.Spec().MakeData(group.WithVersion(enc.VersionUnixMicro), &ndn.DataConfig{
		ContentType: optional.Some(ndn.ContentTypeBlob),
	}, svWire, signer.NewSha256Signer())
	if err != nil {
		t.Fatal(err)
	}
	i, err := e.Spec().MakeInterest(group.Append(enc.NewVersionComponent(3)), &ndn.InterestConfig{
		Lifetime: optional.Some(time.Second),
		Nonce:    utils.ConvertNonce(e.Timer().Nonce()),
	}, d.Wire, nil)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestForgedVectorEntry(t *testing.T) {
	room := newRoom()
	ps := joinN(t, room, 3, nil)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	x := ps[0]
	mx, _ := ps[1].Table().Get(x.Prefix())
	attacker := synctest.Embedded(t)
	i := forgedSyncInterest(t, attacker.Engine(), proto.DefaultGroupPrefix(room), x.Prefix(), x.Boot(), mx.Seq+1000)
	if err := attacker.Engine().Express(i, nil); err != nil {
		t.Fatal(err)
	}
	// The others fetch X's seq+1000, which X never published: counted.
	if synctest.Eventually(2*time.Second, func() bool {
		for _, p := range ps[1:] {
			if p.Stats().Sync.Rejected[roomsync.ReasonMissing] == 0 {
				return false
			}
		}
		return true
	}) < 0 {
		t.Fatalf("forged entry not counted: %+v", ps[1].Stats())
	}
	// X is unaffected: still listed, and its next heartbeat gets through.
	if err := x.SetName("still-x"); err != nil {
		t.Fatal(err)
	}
	if synctest.Eventually(2*time.Second, func() bool {
		for _, p := range ps[1:] {
			m, ok := p.Table().Get(x.Prefix())
			if !ok || m.Name != "still-x" {
				return false
			}
		}
		return true
	}) < 0 {
		t.Fatal("X's heartbeat lost after the forged entry")
	}
	for _, p := range ps[1:] {
		if n := len(p.eventsOf(EventLeave)); n != 0 {
			t.Fatalf("leave events after forgery")
		}
	}
	t.Logf("receiver stats: %+v", ps[1].Stats().Sync.Rejected)
}

func TestForgedHeartbeat(t *testing.T) {
	room := newRoom()
	ps := joinN(t, room, 3, nil)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	x, y := ps[0], ps[1]
	victims := ps[2:]

	// 1. Y serves a heartbeat under X's name, signed with Y's own key: Y
	// takes the route for X's next seqs and bumps X's entry in the vector.
	mx, _ := victims[0].Table().Get(x.Prefix())
	forgedSeq := mx.Seq + 50
	name := proto.SyncPubName(x.Prefix(), x.Boot(), forgedSeq)
	entry := x.Entry()
	entry.Name = "Mallory"
	bodyB, _ := entry.Encode()
	content, err := (&proto.Publication{V: 1, Kind: proto.PubKindHeartbeat, Boot: x.Boot(), Seq: forgedSeq,
		Time: time.Now().UnixMilli(), Body: bodyB}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	d, err := y.conn.Engine().Spec().MakeData(name, &ndn.DataConfig{Freshness: optional.Some(time.Second)},
		enc.Wire{content}, y.id.Signer())
	if err != nil {
		t.Fatal(err)
	}
	evil := synctest.Embedded(t)
	if err := evil.Engine().AttachHandler(name, func(a ndn.InterestHandlerArgs) { _ = a.Reply(d.Wire) }); err != nil {
		t.Fatal(err)
	}
	// CAPTURE (flag 2): X's route on P_X/sync is not inherited by this
	// longer prefix, so the forged name goes to the evil face only.
	if _, err := evil.Engine().ExecMgmtCmd("rib", "register", &mgmt.ControlArgs{
		Name: name, Flags: optional.Some(uint64(2)),
	}); err != nil {
		t.Fatal(err)
	}
	// Wait until the forwarder routes the name to the evil face.
	probe := synctest.Embedded(t)
	if synctest.Eventually(2*time.Second, func() bool {
		i, _ := probe.Engine().Spec().MakeInterest(name, &ndn.InterestConfig{
			MustBeFresh: true, Lifetime: optional.Some(100 * time.Millisecond),
			Nonce: utils.ConvertNonce(probe.Engine().Timer().Nonce()),
		}, nil, nil)
		ch := make(chan bool, 1)
		_ = probe.Engine().Express(i, func(a ndn.ExpressCallbackArgs) {
			ch <- a.Result == ndn.InterestResultData && a.Data.Signature().KeyName().Equal(y.id.Signer().KeyLocator())
		})
		return <-ch
	}) < 0 {
		t.Fatal("route to the evil face not in place")
	}
	i := forgedSyncInterest(t, evil.Engine(), proto.DefaultGroupPrefix(room), x.Prefix(), x.Boot(), forgedSeq)
	if err := evil.Engine().Express(i, nil); err != nil {
		t.Fatal(err)
	}
	if synctest.Eventually(2*time.Second, func() bool {
		return victims[0].Stats().Sync.Rejected[roomsync.ReasonWrongSigner] > 0
	}) < 0 {
		t.Fatalf("forged heartbeat not rejected: %+v", victims[0].Stats())
	}

	// 2. Y publishes, in its own name and with its own key, a heartbeat
	// that claims to be X.
	claim := x.Entry()
	claim.Name = "Mallory"
	b, _ := claim.Encode()
	if _, err := y.Group().Publish(proto.PubKindHeartbeat, false, b); err != nil {
		t.Fatal(err)
	}
	if synctest.Eventually(2*time.Second, func() bool {
		return victims[0].Stats().Rejected[ReasonEntryMismatch] > 0
	}) < 0 {
		t.Fatalf("heartbeat about X from Y not rejected: %+v", victims[0].Stats())
	}

	// X is unaffected everywhere, and keeps being updated.
	time.Sleep(100 * time.Millisecond)
	for _, p := range []*tp{y, victims[0]} {
		m, ok := p.Table().Get(x.Prefix())
		if !ok || m.Name != "user0" {
			t.Fatalf("%s sees X as %+v", p.Prefix(), m)
		}
	}
	if err := x.SetName("x-again"); err != nil {
		t.Fatal(err)
	}
	if synctest.Eventually(2*time.Second, func() bool {
		m, _ := victims[0].Table().Get(x.Prefix())
		return m.Name == "x-again"
	}) < 0 {
		t.Fatal("X's own heartbeat not accepted after the forgery")
	}
	t.Logf("victim stats: sync %+v roster %+v", victims[0].Stats().Sync.Rejected, victims[0].Stats().Rejected)
}

func TestExternalForwarder(t *testing.T) {
	sock := synctest.External(t)
	room := newRoom()
	var ps []*tp
	for i := range 3 {
		c := synctest.Open(t, forwarder.Options{URI: "unix://" + sock})
		ps = append(ps, joinTP(t, c, room, fmt.Sprintf("ext%d", i), nil))
	}
	took := synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) })
	if took < 0 {
		t.Fatal("no convergence on the external forwarder")
	}
	if err := ps[0].SendChat("hello over ndnd fw"); err != nil {
		t.Fatal(err)
	}
	if synctest.Eventually(time.Second, func() bool { return len(ps[2].eventsOf(EventChat)) == 1 }) < 0 {
		t.Fatal("chat lost")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := ps[1].Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if synctest.Eventually(time.Second, func() bool { return ps[0].Table().Len() == 1 }) < 0 {
		t.Fatal("bye lost")
	}
	t.Logf("external forwarder: converged in %v", took)
}

func TestNoGoroutineLeak(t *testing.T) {
	room := newRoom()
	stay := joinTP(t, nil, room, "stay", nil)
	conn := synctest.Embedded(t)
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	for i := range 4 {
		up := proto.DefaultUserPrefix(fmt.Sprintf("leak%d", i))
		id, v := synctest.Identity(t, conn, proto.ParticipantPrefix(up, room))
		ctx, cancel := context.WithCancel(context.Background())
		p, err := Join(ctx, Config{Conn: conn, Room: room, User: fmt.Sprintf("leak%d", i), Signer: id.Signer(),
			Verifier: v, Logger: synctest.Logger, Interval: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		sub := p.Table().Subscribe(ctx)
		synctest.Eventually(time.Second, func() bool { return p.Table().Len() == 1 })
		_ = p.SendChat("bye soon")
		if i%2 == 0 {
			_ = p.Leave(ctx)
		} else {
			cancel() // leaves cleanly in the background
			<-p.Table().Done()
		}
		for range sub {
		}
		cancel()
		_ = id.StopServing(conn.Engine())
	}
	var n int
	if synctest.Eventually(3*time.Second, func() bool { n = runtime.NumGoroutine(); return n <= base+2 }) < 0 {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
	if stay.Table().Len() != 0 {
		synctest.Eventually(time.Second, func() bool { return stay.Table().Len() == 0 })
	}
}

// gone reports whether none of ps lists x.
func gone(ps []*tp, x *tp) bool {
	for _, p := range ps {
		if _, ok := p.Table().Get(x.Prefix()); ok {
			return false
		}
	}
	return true
}

// TestAwayAndBack: a participant that goes away (SetPresent false) is
// dropped by the others at once, as with a bye, stays dropped while it
// keeps following the room, and is taken back at once when present again,
// in the same boot.
func TestAwayAndBack(t *testing.T) {
	const interval = 100 * time.Millisecond
	fast := func(c *Config) { c.Interval = interval }
	ps := joinN(t, newRoom(), 3, fast)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	x, rest := ps[0], ps[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	start := time.Now()
	if err := x.SetPresent(ctx, false); err != nil {
		t.Fatal(err)
	}
	took := synctest.Eventually(time.Second, func() bool { return gone(rest, x) })
	t.Logf("away: dropped by the others after %v (SetPresent returned after %v)", took, time.Since(start))
	// At once: a bye, not an expiry (the leave events' reason, below).
	// The bound leaves room for a loaded machine: one CI run took 202 ms.
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("away participant still listed after %v", time.Since(start))
	}
	for _, p := range rest {
		if ev := p.waitEvents(EventLeave, 1); len(ev) != 1 || ev[0].Reason != LeaveBye {
			t.Fatalf("%s: leave events %+v", p.Prefix(), ev)
		}
	}
	if x.Present() || len(x.Snapshot()) != 2 {
		t.Fatalf("present %v, snapshot %+v", x.Present(), x.Snapshot())
	}
	if err := x.SetPresent(ctx, false); err != nil { // no change: nothing sent
		t.Fatal(err)
	}
	// While away: no heartbeat (nobody takes it back, nothing expires), the
	// own table keeps following the others, an update waits.
	if err := x.SetName("back again"); err != nil {
		t.Fatal(err)
	}
	pub := x.Group().Stats().Published
	time.Sleep(5 * interval)
	if !gone(rest, x) || !x.has(ps, true) {
		t.Fatalf("while away: others list x %v, x lists %d", !gone(rest, x), x.Table().Len())
	}
	if n := x.Group().Stats().Published; n != pub {
		t.Fatalf("%d publications while away", n-pub)
	}
	if n := len(x.eventsOf(EventLeave)); n != 0 {
		t.Fatalf("x saw %d leaves while away", n)
	}

	start = time.Now()
	if err := x.SetPresent(ctx, true); err != nil {
		t.Fatal(err)
	}
	took = synctest.Eventually(time.Second, func() bool {
		for _, p := range rest {
			if m, ok := p.Table().Get(x.Prefix()); !ok || m.Name != "back again" {
				return false
			}
		}
		return true
	})
	t.Logf("back: listed again by the others after %v", took)
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("back participant not listed after %v", time.Since(start))
	}
	for _, p := range rest {
		ev := p.waitEvents(EventJoin, 3) // x, the other, x again
		if len(ev) != 3 || !ev[2].Member.Participant.Equal(x.Prefix()) || ev[2].Member.Boot != x.Boot() {
			t.Fatalf("%s: join events %+v", p.Prefix(), ev)
		}
	}
	if !x.Present() || len(x.Snapshot()) != 3 {
		t.Fatalf("present %v, snapshot %d", x.Present(), len(x.Snapshot()))
	}
	// Heartbeats resume: nobody expires x.
	time.Sleep(5 * interval)
	for _, p := range rest {
		if _, ok := p.Table().Get(x.Prefix()); !ok || len(p.eventsOf(EventLeave)) != 1 {
			t.Fatalf("%s: x expired after coming back", p.Prefix())
		}
		if n := p.Stats().Rejected[ReasonStale]; n != 0 {
			t.Fatalf("%s: %d stale heartbeats", p.Prefix(), n)
		}
	}

	// Away then Leave: no second bye, and a quick Leave.
	if err := x.SetPresent(ctx, false); err != nil {
		t.Fatal(err)
	}
	synctest.Eventually(time.Second, func() bool { return gone(rest, x) })
	pub = x.Group().Stats().Published
	start = time.Now()
	if err := x.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("leave while away took %v", d)
	}
	if n := x.Group().Stats().Published; n != pub {
		t.Fatalf("leave while away published %d", n-pub)
	}
	if err := x.SetPresent(ctx, true); !errors.Is(err, ErrLeft) {
		t.Fatalf("SetPresent after Leave: %v", err)
	}
}

// TestStartAbsent: a participant that starts absent learns the room but is
// not listed by anyone until it is present.
func TestStartAbsent(t *testing.T) {
	room := newRoom()
	ps := joinN(t, room, 2, nil)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	x := joinTP(t, nil, room, "shy", func(c *Config) { c.StartAbsent = true })
	if x.Present() {
		t.Fatal("present at start")
	}
	all := append(slices.Clone(ps), x)
	took := synctest.Eventually(2*time.Second, func() bool { return x.has(all, true) })
	if took < 0 {
		t.Fatalf("absent participant knows %d members", x.Table().Len())
	}
	t.Logf("absent participant learned the room in %v", took)
	time.Sleep(300 * time.Millisecond)
	if !gone(ps, x) || x.Group().Stats().Published != 0 {
		t.Fatalf("absent participant listed or published (%d)", x.Group().Stats().Published)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	if err := x.SetPresent(ctx, true); err != nil {
		t.Fatal(err)
	}
	took = synctest.Eventually(time.Second, func() bool { return allSee(all, true) })
	t.Logf("present: listed by all after %v", took)
	if took < 0 || took > 500*time.Millisecond {
		t.Fatalf("not listed %v after becoming present", time.Since(start))
	}
}

// TestSameUserTwice: a second process joins as an existing member (same
// participant prefix, its own key and boot), as a second proxy of the same
// user or an impostor would. The members pinned the first one's key: the
// second one's heartbeats are rejected, and the first one's keep arriving
// (its publications are routed by P/sync/t=<boot>, which the second one
// does not register, whatever order the forwarder keeps P's nexthops in).
func TestSameUserTwice(t *testing.T) {
	const interval = 50 * time.Millisecond
	fast := func(c *Config) { c.Interval = interval }
	room := newRoom()
	ps := joinN(t, room, 3, fast)
	if synctest.Eventually(2*time.Second, func() bool { return allSee(ps, true) }) < 0 {
		t.Fatal("no convergence")
	}
	x, rest := ps[0], ps[1:]
	twin := joinTP(t, nil, room, "user0", func(c *Config) {
		fast(c)
		c.Boot = x.Boot() + 1
		c.Name = "Twin"
	})
	if !twin.Prefix().Equal(x.Prefix()) {
		t.Fatal("not the same participant prefix")
	}
	if synctest.Eventually(2*time.Second, func() bool {
		for _, p := range rest {
			st := p.Stats().Sync.Rejected
			if st[roomsync.ReasonKeyConflict]+st[roomsync.ReasonWrongSigner] == 0 {
				return false
			}
		}
		return true
	}) < 0 {
		t.Fatalf("the twin's heartbeats not rejected: %+v", rest[0].Stats().Sync)
	}
	time.Sleep(10 * interval) // > K intervals
	for _, p := range rest {
		m, ok := p.Table().Get(x.Prefix())
		if !ok || m.Boot != x.Boot() || m.Name != "user0" || time.Since(m.LastHeartbeat) > 2*interval {
			t.Fatalf("%s sees %+v (ok %v)", p.Prefix(), m, ok)
		}
		if n := len(p.eventsOf(EventLeave)); n != 0 {
			t.Fatalf("%s: %d leave events", p.Prefix(), n)
		}
		t.Logf("%s: sync rejections %v", p.Prefix(), p.Stats().Sync.Rejected)
	}
}
