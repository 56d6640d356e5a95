package media

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/internal/ratelog"
	"github.com/peets/peets/proto"
)

// simNet drives one fetcher on a fake engine in simulated time, with a
// simulated network: a publisher that produces rate packets/s from seq 1
// and holds Interests for packets not produced yet, an optional impostor
// that answers every Interest sent while it is there (before the
// publisher could), and between them a forwarder's content store, which
// caches every Data by name (the newest wins) and gives it to an Interest
// without MustBeFresh, and to a MustBeFresh one while it is fresh.
type simNet struct {
	t      *testing.T
	plis   []time.Time // when the fetcher expressed a keyframe request
	f      *Fetcher
	S      enc.Name
	boot   uint64
	origin time.Time // when seq 0 was "produced": latest = rate * (now - origin)
	rate   float64
	key    testKey
	forged ndn.Signer

	impostor      bool
	impostorFresh time.Duration // FreshnessPeriod of the impostor's Data (0: none)
	since         time.Time     // the impostor answers Interests sent from then on

	now     time.Time
	pending []simInterest
	cs      map[string]simCached

	goodTop   uint64          // newest position a good Data sent vouched for
	expressed int             // Interests expressed
	badSeq    map[uint64]bool // seqs whose newest answer was bad
	notFresh  int             // Interests for such a seq without MustBeFresh
	delivered []uint64
	wrong     int // delivered packets that are not the publisher's

	// hold, if set, holds the Data of a seq back for that long after its
	// Interest or its production, whichever is later (a path that
	// reorders).
	hold func(seq uint64) time.Duration

	// Hooks, if set: before each verification, and each delivery.
	verifyHook func(ndn.Data)
	packetHook func(seq uint64)
}

// simVerifier is the simulation's verifier: keys pinned, and a hook.
type simVerifier struct {
	s *simNet
	v Verifier
}

func (v simVerifier) Verify(owner enc.Name, d ndn.Data, covered enc.Wire, cb func(error)) {
	if v.s.verifyHook != nil {
		v.s.verifyHook(d)
	}
	v.v.Verify(owner, d, covered, cb)
}

type simInterest struct {
	name enc.Name
	cfg  *ndn.InterestConfig
	sent time.Time
	cb   ndn.ExpressCallbackFunc
}

type simCached struct {
	name  enc.Name
	wire  enc.Wire
	stale time.Time
	good  bool // the publisher's
}

func newSimNet(t *testing.T, log *slog.Logger) *simNet {
	P := participant(t)
	s := &simNet{
		t: t, S: proto.StreamPrefix(P, "cam"), boot: 7000, rate: 50,
		key: newTestKey(t, P), forged: newTestKey(t, P).signer,
		cs: map[string]simCached{}, badSeq: map[uint64]bool{},
	}
	e := newFakeEngine()
	e.onExpress = s.onExpress
	v := newKeyVerifier()
	v.pin(P, s.key.pub)
	f, err := NewFetcher(FetcherConfig{
		Engine: e, Owner: P, Stream: "cam", Verifier: simVerifier{s, v}, RateHint: s.rate, MaxWindow: 64, Logger: log,
		OnPacket: func(pkt []byte, seq uint64) {
			s.delivered = append(s.delivered, seq)
			if s.packetHook != nil {
				s.packetHook(seq)
			}
			if !bytes.Equal(pkt, s.packet(seq)) {
				s.wrong++
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.f = f
	s.now = time.Now()
	s.origin = s.now.Add(-2 * time.Second) // seq 100 at the start
	f.mu.Lock()
	f.init(s.now)
	f.mu.Unlock()
	return s
}

// packet is the stream's packet seq: frames of four packets, a keyframe
// every 50 (per-frame signatures: three unsigned packets, then the signed
// one with their manifest).
func (s *simNet) packet(seq uint64) []byte {
	p := rtpPacket(seq, seq%50 == 1, 200)
	if seq%4 != 0 {
		midFrame(p)
	}
	return p
}

func (s *simNet) latest() uint64 { return uint64(s.now.Sub(s.origin).Seconds() * s.rate) }

func (s *simNet) meta() proto.StreamMeta {
	l := s.latest()
	key := uint64(0) // the newest keyframe: every 50th packet from seq 1
	if l > 0 {
		key = (l-1)/50*50 + 1
	}
	return proto.StreamMeta{Boot: s.boot, Latest: l, Oldest: 1, KeySeq: key, MimeType: "video/vp8", ClockRate: 90000, Rate: uint64(s.rate)}
}

// onExpress is the fake engine's Express: the Interest joins the pending
// ones (the fetcher's lock is held: answers come in the next round).
func (s *simNet) onExpress(i *ndn.EncodedInterest, cb ndn.ExpressCallbackFunc) {
	s.expressed++
	if _, err := proto.ParsePLIName(s.f.cfg.Owner, i.FinalName); err == nil {
		s.plis = append(s.plis, s.now)
	}
	if sn, err := proto.ParseStreamName(s.S, i.FinalName); err == nil && sn.Kind == proto.KindMedia &&
		s.badSeq[sn.Seq] && !i.Config.MustBeFresh {
		s.notFresh++
	}
	s.pending = append(s.pending, simInterest{name: i.FinalName, cfg: i.Config, sent: s.now, cb: cb})
}

// run advances simulated time to until in steps of 5 ms, calling check
// after each.
func (s *simNet) run(until time.Time, check func()) {
	for s.now.Before(until) {
		s.now = s.now.Add(5 * time.Millisecond)
		s.tick()
		if check != nil {
			check()
		}
	}
}

// tick answers what can be answered now and steps the fetcher, a few
// rounds (Interests sent in a round may be answered at once).
func (s *simNet) tick() {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	for range 3 {
		pend := s.pending
		s.pending = nil
		for _, in := range pend {
			if !s.answer(in) {
				s.pending = append(s.pending, in)
			}
		}
		for len(s.f.events) > 0 {
			s.f.handleEvent(<-s.f.events, s.now)
		}
		s.f.step(s.now)
		s.f.publishStats()
		if len(s.pending) == 0 {
			return
		}
	}
}

// answer answers in if it can be now (Data or timeout).
func (s *simNet) answer(in simInterest) bool {
	if c, ok := s.lookup(in); ok {
		s.reply(in, c.wire, c.good)
		return true
	}
	sn, err := proto.ParseStreamName(s.S, in.name)
	switch {
	case err != nil: // a keyframe request: nobody answers
	case s.impostor && !in.sent.Before(s.since):
		s.reply(in, s.forge(in.name, sn), false)
		return true
	case sn.Kind == proto.KindMeta:
		m := s.meta()
		s.goodTop = max(s.goodTop, m.Latest)
		s.reply(in, s.data(proto.MetaDataName(s.S, m.Boot, m.Latest), ndn.ContentTypeBlob, m.Encode(), s.key.signer, 0), true)
		return true
	case sn.Boot == s.boot && sn.Seq >= 1 && sn.Seq <= s.latest() && s.released(in, sn.Seq):
		s.goodTop = max(s.goodTop, sn.Seq)
		s.reply(in, s.data(in.name, ndn.ContentTypeBlob, s.packet(sn.Seq), s.key.signer, 0), true)
		return true
	}
	if life := in.cfg.Lifetime.GetOr(4 * time.Second); s.now.Sub(in.sent) >= life {
		in.cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultTimeout})
		return true
	}
	return false // held by the publisher
}

// released says whether the Data of seq is past its hold.
func (s *simNet) released(in simInterest, seq uint64) bool {
	if s.hold == nil {
		return true
	}
	ready := s.origin.Add(time.Duration(float64(seq) / s.rate * float64(time.Second)))
	if in.sent.After(ready) {
		ready = in.sent
	}
	return s.now.Sub(ready) >= s.hold(seq)
}

// lookup finds a cached Data for in: of its exact name, or with
// CanBePrefix of a longer one (the smallest, for determinism); with
// MustBeFresh, only a fresh one.
func (s *simNet) lookup(in simInterest) (simCached, bool) {
	ok := func(c simCached) bool { return !in.cfg.MustBeFresh || s.now.Before(c.stale) }
	if c, found := s.cs[in.name.TlvStr()]; found && ok(c) {
		return c, true
	}
	if !in.cfg.CanBePrefix {
		return simCached{}, false
	}
	var best string
	for k, c := range s.cs {
		if ok(c) && in.name.IsPrefix(c.name) && (best == "" || k < best) {
			best = k
		}
	}
	c, found := s.cs[best]
	return c, found
}

// forge is the impostor's answer (forgery), signed by another key.
func (s *simNet) forge(name enc.Name, sn proto.StreamName) enc.Wire {
	name, ct, content := forgery(s.S, name, sn)
	return s.data(name, ct, content, s.forged, s.impostorFresh)
}

// data makes a Data and caches it.
func (s *simNet) data(name enc.Name, ct ndn.ContentType, content []byte, signer ndn.Signer, fresh time.Duration) enc.Wire {
	cfg := &ndn.DataConfig{ContentType: optional.Some(ct)}
	if fresh > 0 {
		cfg.Freshness = optional.Some(fresh)
	}
	d, err := spec.Spec{}.MakeData(name, cfg, enc.Wire{content}, signer)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cs[name.TlvStr()] = simCached{name: name, wire: d.Wire, stale: s.now.Add(fresh), good: signer == s.key.signer}
	return d.Wire
}

// reply answers in with the Data wire (good: the publisher's).
func (s *simNet) reply(in simInterest, wire enc.Wire, good bool) {
	d, covered, err := spec.Spec{}.ReadData(enc.NewWireView(wire))
	if err != nil {
		s.t.Fatal(err)
	}
	if sn, err := proto.ParseStreamName(s.S, d.Name()); err == nil && sn.Kind == proto.KindMedia {
		if good {
			delete(s.badSeq, sn.Seq)
		} else {
			s.badSeq[sn.Seq] = true
		}
	}
	in.cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultData, Data: d, RawData: wire, SigCovered: covered})
}

// syncBuffer is a log sink safe for the logger's concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestFetcherImpostorSim: in simulated time, an impostor answers every
// Interest of a flowing stream for a while, then goes away, leaving its
// Data in the forwarder's cache. After 2 s the fetcher is less than its
// resync lag behind: it fetches every packet it missed; after 10 s it is
// further behind and jumps to the newest keyframe once the metadata tell
// it where the stream is. Throughout, the fetcher asks for nothing
// beyond the newest verified seq + its window, delivers nothing of the
// impostor's, skips nothing, keeps its boot and RTT; it asks again for
// what got bad answers, at a bounded rate and with MustBeFresh (so the
// cache does not answer with the same bad Data); and it delivers again
// within maxBadBackoff of the impostor leaving. With FreshnessPeriod on its
// Data, the impostor's cached Data answer even MustBeFresh Interests until
// they go stale: the stream resumes after that.
func TestFetcherImpostorSim(t *testing.T) {
	for _, dur := range []time.Duration{2 * time.Second, 10 * time.Second} {
		for _, fresh := range []time.Duration{0, time.Second} {
			t.Run(fmt.Sprintf("for=%v/freshness=%v", dur, fresh), func(t *testing.T) { testImpostorSim(t, dur, fresh) })
		}
	}
}

func testImpostorSim(t *testing.T, dur, fresh time.Duration) {
	var logBuf syncBuffer
	realStart := time.Now()
	s := newSimNet(t, slog.New(slog.NewTextHandler(&logBuf, nil)))
	f := s.f
	start := s.now

	// A flowing stream.
	s.run(start.Add(2*time.Second), nil)
	if len(s.delivered) < 50 || s.wrong != 0 {
		t.Fatalf("before the impostor: %d delivered, %d wrong: %+v", len(s.delivered), s.wrong, f.st)
	}
	before := f.st
	srtt, boot := f.srtt, f.boot

	// The impostor, for dur.
	s.impostor, s.impostorFresh, s.since = true, fresh, s.now
	came := s.now
	limit := func() uint64 { return s.goodTop + 1 + uint64(f.cfg.MaxWindow+f.cfg.InterestBatch) }
	var broke bool
	check := func() {
		if broke {
			return
		}
		if f.nextExpress > limit() || f.deliverSeq > s.goodTop+1 {
			broke = true
			t.Errorf("at +%v: asks up to seq %d, delivers at %d; verified %d", s.now.Sub(came), f.nextExpress-1, f.deliverSeq, s.goodTop)
		}
	}
	s.run(came.Add(f.cfg.Lifetime), check) // Interests held by the publisher come back meanwhile
	delivered, expressed := len(s.delivered), s.expressed
	s.run(came.Add(dur), check)
	during := f.st
	t.Logf("while the impostor answered: %+v", during)
	if settled := dur - f.cfg.Lifetime; settled > 0 {
		// The window's Interests for packets not known to exist are not
		// renewed any more: one batch, asked again every maxBadBackoff.
		perSec := float64(s.expressed-expressed) / settled.Seconds()
		t.Logf("%.1f Interests/s once settled", perSec)
		if bound := float64(f.cfg.MaxWindow); perSec > bound {
			t.Errorf("%.1f Interests/s while the impostor answers (bound %v)", perSec, bound)
		}
	}
	if len(s.delivered) != delivered || s.wrong != 0 {
		t.Errorf("delivered %d packets from the impostor's answers (%d not the publisher's)", len(s.delivered)-delivered, s.wrong)
	}
	if during.Lost != before.Lost || during.Resyncs != 0 || during.Restarts != 0 || f.boot != boot || f.srtt != srtt {
		t.Errorf("the impostor moved the fetcher: lost %d->%d, resyncs %d, restarts %d, boot %d->%d, srtt %v->%v",
			before.Lost, during.Lost, during.Resyncs, during.Restarts, boot, f.boot, srtt, f.srtt)
	}
	if during.VerifyFailures < 10 || during.Reasked < 10 {
		t.Errorf("bad answers not counted or not asked again: %+v", during)
	}
	if s.notFresh != 0 {
		t.Errorf("%d Interests asked again after a bad answer without MustBeFresh", s.notFresh)
	}

	// The impostor goes; its Data stay in the cache.
	s.impostor = false
	left, live := s.now, s.latest()
	var resumed, caught time.Duration
	s.run(left.Add(5*time.Second), func() {
		check()
		if resumed == 0 && len(s.delivered) > delivered {
			resumed = s.now.Sub(left)
		}
		if caught == 0 && f.deliverSeq > live {
			caught = s.now.Sub(left)
		}
	})
	t.Logf("resumed %v, caught up with seq %d %v after the impostor left; %+v", resumed, live, caught, f.st)
	want := maxBadBackoff + 20*time.Millisecond + fresh
	if resumed == 0 || resumed > want || caught == 0 || caught > want+time.Second {
		t.Errorf("resumed after %v, caught up after %v (want <= %v, %v)", resumed, caught, want, want+time.Second)
	}
	if s.wrong != 0 {
		t.Errorf("%d packets delivered that the publisher did not publish", s.wrong)
	}
	// In order. A jump lands on a keyframe (a resync: far behind, the
	// fetcher skips to the newest keyframe), unless the forwarder's cache
	// still gave fresh bad Data for seqs after later ones came through
	// (holes, skipped after their retransmissions).
	for i := 1; i < len(s.delivered); i++ {
		if d, prev := s.delivered[i], s.delivered[i-1]; d <= prev || fresh == 0 && d != prev+1 && d%50 != 1 {
			t.Errorf("delivered seq %d after %d", d, prev)
			break
		}
	}
	// Each bad answer was counted; the warnings are rate-limited.
	lines := strings.Count(logBuf.String(), "dropped a bad answer")
	if most := 1 + int(time.Since(realStart)/ratelog.DefaultEvery); lines == 0 || lines > most {
		t.Errorf("%d warnings for %d bad answers (want 1..%d)", lines, f.st.VerifyFailures+f.st.Malformed, most)
	}
}

// TestFetcherReorderSim: a path that reorders (every fifth packet held
// back 24 ms, so that the next one, 20 ms later, overtakes it) costs
// nothing once the fetcher has seen it: it learns the reordering window,
// counts the holes as reordered, not missed, asks nothing twice, and
// loses nothing.
func TestFetcherReorderSim(t *testing.T) {
	s := newSimNet(t, slog.New(slog.DiscardHandler))
	s.hold = func(seq uint64) time.Duration {
		if seq%5 == 0 {
			return 24 * time.Millisecond
		}
		return 0
	}
	s.run(s.now.Add(2*time.Second), nil) // learning
	a := s.f.st
	s.run(s.now.Add(3*time.Second), nil)
	st := s.f.st
	t.Logf("%d delivered; holes %d (%d after learning), reordered %d (%d), retransmitted %d (%d), lost %d; window %v",
		len(s.delivered), st.Holes, st.Holes-a.Holes, st.Reordered, st.Reordered-a.Reordered,
		st.Retransmitted, st.Retransmitted-a.Retransmitted, st.Lost, st.ReorderWindow)
	if len(s.delivered) < 200 || s.wrong != 0 || st.Lost != 0 {
		t.Fatalf("%d delivered, %d wrong, %d lost", len(s.delivered), s.wrong, st.Lost)
	}
	for i := 1; i < len(s.delivered); i++ {
		if s.delivered[i] != s.delivered[i-1]+1 {
			t.Fatalf("delivered out of order: %d after %d", s.delivered[i], s.delivered[i-1])
		}
	}
	if holes := st.Holes - a.Holes; holes < 25 || st.Reordered-a.Reordered != holes {
		t.Errorf("after learning: holes %d, reordered %d: every hole was a reordering", holes, st.Reordered-a.Reordered)
	}
	if n := st.Retransmitted - a.Retransmitted; n != 0 {
		t.Errorf("after learning: %d retransmissions for packets that were only overtaken", n)
	}
	if w := time.Duration(st.ReorderWindow); w < 4*time.Millisecond || s.f.retxDelay() < w {
		t.Errorf("reordering window %v, retransmission grace %v", w, s.f.retxDelay())
	}
}

// A video packet the path never brings is given up, and the fetcher asks
// for a keyframe at once (the page could not decode past the gap until
// one came); a stream that loses nothing asks for none.
func TestFetcherKeyframeOnLoss(t *testing.T) {
	s := newSimNet(t, slog.New(slog.DiscardHandler))
	const never = 260
	s.hold = func(seq uint64) time.Duration {
		if seq == never {
			return time.Hour
		}
		return 0
	}
	s.run(s.now.Add(2*time.Second), nil) // up to seq ~200: nothing lost
	if len(s.plis) != 0 || s.f.st.Lost != 0 {
		t.Fatalf("%d keyframe requests, %d lost before any loss", len(s.plis), s.f.st.Lost)
	}
	var lostAt time.Time
	s.run(s.now.Add(3*time.Second), func() {
		if lostAt.IsZero() && s.f.st.Lost > 0 {
			lostAt = s.now
		}
	})
	if s.f.st.Lost != 1 || lostAt.IsZero() {
		t.Fatalf("lost %d", s.f.st.Lost)
	}
	if len(s.plis) == 0 || s.plis[0].Before(lostAt) || s.plis[0].Sub(lostAt) > 10*time.Millisecond {
		t.Fatalf("keyframe requests %v, seq %d given up at %v", s.plis, never, lostAt)
	}
	if len(s.plis) != 1 {
		t.Errorf("%d keyframe requests for one loss", len(s.plis))
	}
}
