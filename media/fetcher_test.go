package media

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
)

// publishN publishes packets idx from..to-1 paced by gap (0: as fast as
// possible); every keyEvery-th packet (and the first) is a keyframe.
func publishN(t testing.TB, p *Publisher, from, to uint64, keyEvery uint64, gap time.Duration) [][]byte {
	t.Helper()
	var out [][]byte
	for i := from; i < to; i++ {
		key := i == from || (keyEvery > 0 && i%keyEvery == 0)
		pkt := rtpPacket(i, key, 200+int(i*37%1000))
		if _, err := p.Publish(pkt, key); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		out = append(out, pkt)
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	return out
}

// checkAll asserts col got exactly want, in order, byte-identical.
func checkAll(t *testing.T, name string, col *collector, want [][]byte) {
	t.Helper()
	got, seqs := col.snapshot()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d packets, want %d", name, len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: packet %d (seq %d) differs", name, i, seqs[i])
		}
		if i > 0 && seqs[i] != seqs[i-1]+1 {
			t.Fatalf("%s: seq %d after %d", name, seqs[i], seqs[i-1])
		}
	}
}

// countingSigner counts signatures.
type countingSigner struct {
	ndn.Signer
	n atomic.Uint64
}

func (s *countingSigner) Sign(w enc.Wire) ([]byte, error) {
	s.n.Add(1)
	return s.Signer.Sign(w)
}

func testFanOut(t *testing.T, subs int) {
	checkGoroutines(t)
	P := participant(t)
	cs := &countingSigner{Signer: newTestKey(t, P).signer}
	pub, key := testPublisher(t, PublisherConfig{Participant: P, Signer: cs})
	der, _ := cs.Public()
	pk, _ := x509.ParsePKIXPublicKey(der)
	key.pub = pk.(ed25519.PublicKey)
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)

	cols := make([]*collector, subs)
	fs := make([]*Fetcher, subs)
	for i := range subs {
		cols[i] = newCollector()
		fs[i] = testFetcher(t, 1+i, pub, v, cols[i], nil)
		runFetcher(t, fs[i])
	}
	// Let them discover the (empty) stream: they then wait at seq 1.
	waitFor(t, 3*time.Second, "discovery", func() bool {
		for _, f := range fs {
			if f.Stats().Boot == 0 {
				return false
			}
		}
		return true
	})
	const n = 400
	want := publishN(t, pub, 1, n+1, 100, 500*time.Microsecond)
	deadline := time.Now().Add(20 * time.Second)
	for i, c := range cols {
		for c.count() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if c.count() < n {
			t.Fatalf("subscriber %d got %d of %d: %+v", i, c.count(), n, fs[i].Stats())
		}
	}
	time.Sleep(50 * time.Millisecond)
	for i, c := range cols {
		checkAll(t, fmt.Sprintf("subscriber %d", i), c, want)
		st := fs[i].Stats()
		if st.Lost != 0 || st.VerifyFailures != 0 || st.Malformed != 0 {
			t.Errorf("subscriber %d: %+v", i, st)
		}
	}
	ps := pub.Stats()
	if ps.Published != n {
		t.Errorf("published %d", ps.Published)
	}
	// One signature per packet, whatever the number of subscribers (plus
	// the few control answers: metadata, keyframe requests).
	if signs := cs.n.Load(); signs < n || signs > n+ps.MetaServed+ps.PLIReceived+ps.GoneSent {
		t.Errorf("%d signatures for %d packets", signs, n)
	}
	t.Logf("publisher: %+v", ps)
	t.Logf("fetcher 0: %+v", fs[0].Stats())
	// The forwarder merged the subscribers' Interests: the publisher sent
	// about one Data per packet, not one per subscriber.
	if sent := ps.HeldAnswered + ps.ServedRing; sent > uint64(n)*3/2 {
		t.Errorf("publisher answered %d Interests for %d packets and %d subscribers", sent, n, subs)
	}
}

func TestFetchOneSubscriber(t *testing.T) { testFanOut(t, 1) }

func TestFetchEightSubscribers(t *testing.T) { testFanOut(t, 8) }

func TestFetchAsyncVerifier(t *testing.T) {
	checkGoroutines(t)
	pub, key := testPublisher(t, PublisherConfig{})
	v := newKeyVerifier()
	v.async = true
	v.pin(pub.producer.Participant(), key.pub)
	col := newCollector()
	f := testFetcher(t, 1, pub, v, col, nil)
	runFetcher(t, f)
	waitFor(t, 3*time.Second, "discovery", func() bool { return f.Stats().Boot != 0 })
	want := publishN(t, pub, 1, 201, 50, 200*time.Microsecond)
	waitFor(t, 5*time.Second, "packets", func() bool { return col.count() >= len(want) })
	checkAll(t, "async", col, want)
}

func TestJoinMidStreamStartsAtKeyframe(t *testing.T) {
	checkGoroutines(t)
	pub, key := testPublisher(t, PublisherConfig{})
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)

	// A 200 packets/s stream with a keyframe every 60 packets.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			key := i%60 == 1
			if _, err := pub.Publish(rtpPacket(i, key, 900), key); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(700 * time.Millisecond)

	for round := range 3 {
		col := newCollector()
		f := testFetcher(t, 2+round, pub, v, col, nil)
		start := time.Now()
		stopF := runFetcher(t, f)
		waitFor(t, 2*time.Second, "first packet", func() bool { return col.count() > 0 })
		pkts, _ := col.snapshot()
		col.mu.Lock()
		delay := col.first.Sub(start)
		col.mu.Unlock()
		t.Logf("round %d: first packet after %v (idx %d), stats first=%v", round, delay, rtpIndex(pkts[0]), f.Stats().FirstPacket)
		if !rtpIsKey(pkts[0]) {
			t.Errorf("first packet %d is not a keyframe", rtpIndex(pkts[0]))
		}
		if delay > 200*time.Millisecond {
			t.Errorf("first packet after %v, want <= 200ms", delay)
		}
		// It then follows the stream without loss.
		n := col.count()
		waitFor(t, 2*time.Second, "more packets", func() bool { return col.count() > n+50 })
		pkts, seqs := col.snapshot()
		for i := 1; i < len(pkts); i++ {
			if seqs[i] != seqs[i-1]+1 || rtpIndex(pkts[i]) != rtpIndex(pkts[i-1])+1 {
				t.Fatalf("gap after seq %d", seqs[i-1])
			}
		}
		stopF()
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLossRecovery(t *testing.T) {
	checkGoroutines(t)
	pub, key := testPublisher(t, PublisherConfig{})
	var mu sync.Mutex
	seen := map[uint64]bool{}
	pub.testDrop = func(seq uint64) bool {
		// Ignore the first Interest for one seq in five.
		if seq%5 != 3 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if seen[seq] {
			return false
		}
		seen[seq] = true
		return true
	}
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	col := newCollector()
	f := testFetcher(t, 1, pub, v, col, nil)
	runFetcher(t, f)
	waitFor(t, 3*time.Second, "discovery", func() bool { return f.Stats().Boot != 0 })
	want := publishN(t, pub, 1, 301, 100, time.Millisecond)
	waitFor(t, 10*time.Second, "packets", func() bool { return col.count() >= len(want) })
	checkAll(t, "loss", col, want)
	st := f.Stats()
	t.Logf("fetcher: %+v", st)
	t.Logf("publisher: %+v", pub.Stats())
	if st.Lost != 0 || st.Retransmitted == 0 {
		t.Errorf("lost %d, retransmitted %d", st.Lost, st.Retransmitted)
	}
	// Both Interests of a repaired seq get its Data: the second counts as a
	// duplicate, not as late (nothing was skipped).
	if st.Late != 0 || st.Duplicates == 0 {
		t.Errorf("late %d, duplicates %d", st.Late, st.Duplicates)
	}
	if d := pub.Stats().Dropped; d < 50 {
		t.Errorf("only %d Interests dropped by the hook", d)
	}
}

// TestFetcherCorksItsSends: the fetcher sends its Interests with its face
// corked (one write per burst on a stream face), and uncorks it each time.
func TestFetcherCorksItsSends(t *testing.T) {
	e := newFakeEngine()
	f, err := NewFetcher(FetcherConfig{Engine: e, Owner: fuzzParticipant, Stream: "cam",
		Verifier: acceptAll{}, OnPacket: func([]byte, uint64) {}, Logger: testLog})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	waitFor(t, 2*time.Second, "the metadata Interest", func() bool { return e.express.Load() >= 1 })
	f.Refresh() // re-expresses from Run's goroutine
	f.Rediscover()
	waitFor(t, 2*time.Second, "more Interests", func() bool { return e.express.Load() >= 2 })
	cancel()
	<-done
	if n := e.expressOpen.Load(); n != 0 {
		t.Fatalf("%d of %d Interests sent with the face not corked", n, e.express.Load())
	}
	if e.corks.Load() != 0 || e.uncorksToFlush.Load() == 0 {
		t.Fatalf("cork depth %d after Run, %d flushes", e.corks.Load(), e.uncorksToFlush.Load())
	}
}
