package media

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/proto"
)

// TestRefresh: after the Interests outstanding were lost (as when the
// forwarder restarts: its PIT is gone), Refresh gets the stream going again
// at once instead of after the Interests' lifetime.
func TestRefresh(t *testing.T) {
	t.Run("window", func(t *testing.T) {
		t.Run("with", func(t *testing.T) { testRefreshWindow(t, true, 0) })
		t.Run("without", func(t *testing.T) { testRefreshWindow(t, false, 0) })
		// The first Interests of Refresh are lost too (the connection
		// was back before the publisher's route): its follow-ups are not.
		t.Run("lost-again", func(t *testing.T) { testRefreshWindow(t, true, 120*time.Millisecond) })
	})
	t.Run("discovery", func(t *testing.T) { testRefreshDiscovery(t, 0) })
	// The connection is back before the publisher's route: the follow-ups
	// of Refresh find it.
	t.Run("route-later", func(t *testing.T) { testRefreshDiscovery(t, 150*time.Millisecond) })
}

func testRefreshWindow(t *testing.T, refresh bool, lostAfter time.Duration) {
	checkGoroutines(t)
	pub, key := testPublisher(t, PublisherConfig{})
	var lose atomic.Bool
	pub.testDrop = func(uint64) bool { return lose.Load() }
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	col := newCollector()
	f := testFetcher(t, 1, pub, v, col, func(c *FetcherConfig) { c.Lifetime = time.Second })
	runFetcher(t, f)
	waitFor(t, 3*time.Second, "discovery", func() bool { return f.Stats().Boot != 0 })
	want := publishN(t, pub, 1, 21, 0, 0)
	waitFor(t, 3*time.Second, "first packets", func() bool { return col.count() == 20 })

	// The Interests vanish: from now on the publisher ignores the
	// Interests it receives (as a restarted forwarder knows none of those
	// expressed before). Those it holds already are answered, so the
	// fetcher gets a window's worth more, then stalls.
	lose.Store(true)
	want = append(want, publishN(t, pub, 21, 201, 0, 0)...)
	time.Sleep(150 * time.Millisecond)
	stalled := col.count()
	if stalled >= 200 {
		t.Fatalf("%d packets while the Interests were lost", stalled)
	}
	start := time.Now()
	if lostAfter == 0 {
		lose.Store(false)
	}
	if refresh {
		f.Refresh()
	}
	if lostAfter > 0 {
		time.Sleep(lostAfter)
		lose.Store(false)
	}
	waitFor(t, 5*time.Second, "the packets after the loss", func() bool { return col.count() == 200 })
	took := time.Since(start)
	checkAll(t, "refresh", col, want)
	st := f.Stats()
	t.Logf("stalled at %d, resumed after %v: %+v", stalled, took, st)
	if refresh {
		// Without Refresh it takes the Interests' lifetime (1 s here).
		if took > lostAfter+400*time.Millisecond {
			t.Errorf("resumed %v after Refresh", took)
		}
		if st.Refreshes != 1 || st.Refreshed < 8 {
			t.Errorf("Refreshes %d, Refreshed %d", st.Refreshes, st.Refreshed)
		}
	} else if took < 600*time.Millisecond {
		t.Errorf("resumed %v without Refresh: the test does not lose the Interests", took)
	}
	if st.Lost != 0 {
		t.Errorf("lost %d", st.Lost)
	}
}

// testRefreshDiscovery: the metadata Interest of a fetcher still
// discovering the stream is lost (here: no route yet, so it waits in the
// forwarder for its lifetime); Refresh asks again at once, and again a
// little later while nothing comes back. routeAfter is when the route
// appears, after Refresh.
func testRefreshDiscovery(t *testing.T, routeAfter time.Duration) {
	checkGoroutines(t)
	P := participant(t)
	key := newTestKey(t, P)
	pub, err := NewPublisher(PublisherConfig{Engine: conns[0].Engine(), Participant: P, Stream: "cam",
		Signer: key.signer, MimeType: "video/VP8", ClockRate: 90000, Logger: testLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	publishN(t, pub, 1, 11, 5, 0)
	v := newKeyVerifier()
	v.pin(P, key.pub)
	col := newCollector()
	f := testFetcher(t, 1, pub, v, col, nil)
	runFetcher(t, f)
	waitFor(t, 3*time.Second, "metadata Interest", func() bool { return f.Stats().MetaQueries == 1 })
	time.Sleep(20 * time.Millisecond) // in the forwarder, with no route
	start := time.Now()
	if routeAfter == 0 {
		register(t, 0, P)
		start = time.Now()
		f.Refresh()
	} else {
		f.Refresh()
		time.Sleep(routeAfter)
		register(t, 0, P)
	}
	waitFor(t, 3*time.Second, "discovery", func() bool { return col.count() > 0 })
	took := time.Since(start)
	st := f.Stats()
	t.Logf("discovered %v after Refresh: %+v", took, st)
	// Without Refresh the lost Interest takes its lifetime (1 s), then a
	// back-off, to be asked again.
	if took > routeAfter+500*time.Millisecond || routeAfter == 0 && st.MetaQueries != 2 {
		t.Errorf("discovered after %v with %d metadata queries", took, st.MetaQueries)
	}
	if first, _ := col.snapshot(); !rtpIsKey(first[0]) {
		t.Errorf("did not start at a keyframe")
	}
}

// TestIdleStream: a stream that publishes nothing keeps one batch of
// Interests alive, not the whole window (whose Interests would otherwise
// expire and be re-expressed, unanswered, over and over), and resumes
// without loss.
func TestIdleStream(t *testing.T) {
	checkGoroutines(t)
	pub, key := testPublisher(t, PublisherConfig{})
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	col := newCollector()
	const life = 200 * time.Millisecond
	f := testFetcher(t, 1, pub, v, col, func(c *FetcherConfig) { c.Lifetime = life })
	runFetcher(t, f)
	waitFor(t, 3*time.Second, "discovery", func() bool { return f.Stats().Boot != 0 })
	want := publishN(t, pub, 1, 11, 0, 0)
	waitFor(t, 3*time.Second, "first packets", func() bool { return col.count() == 10 })
	time.Sleep(2 * life) // the stream is idle, the window's Interests expired once
	s0 := f.Stats()
	const idle = time.Second
	time.Sleep(idle)
	s1 := f.Stats()
	refreshed := s1.Refreshed - s0.Refreshed
	t.Logf("idle %v: %d Interests re-expressed, window %d", idle, refreshed, s1.Window)
	if maxN := uint64(DefaultInterestBatch) * uint64(idle/life+1); refreshed > maxN || refreshed == 0 {
		t.Errorf("idle %v: %d Interests re-expressed, want 1..%d", idle, refreshed, maxN)
	}
	// Speech again: a burst longer than the batch.
	start := time.Now()
	want = append(want, publishN(t, pub, 11, 111, 0, 0)...)
	waitFor(t, 3*time.Second, "packets after the silence", func() bool { return col.count() == 110 })
	t.Logf("100 packets after the silence in %v: %+v", time.Since(start), f.Stats())
	checkAll(t, "idle", col, want)
	if st := f.Stats(); st.Lost != 0 {
		t.Errorf("lost %d", st.Lost)
	}
}

// TestRenewCap: when the window's Interests expire unanswered, those for
// packets not known to exist are renewed only up to a lifetime's worth of
// packets at the measured rate (one batch when idle), not the whole window.
func TestRenewCap(t *testing.T) {
	for _, c := range []struct {
		name     string
		rate     float64
		idle     bool
		want     int // renewed Interests
		wantFull bool
	}{
		{name: "unmeasured", wantFull: true},
		{name: "50/s", rate: 50, wantFull: true},
		{name: "5/s", rate: 5, want: 10},
		{name: "1/s", rate: 1, want: DefaultInterestBatch},
		{name: "idle", rate: 50, idle: true, want: DefaultInterestBatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFakeEngine()
			f, err := NewFetcher(FetcherConfig{Engine: e, Owner: fuzzParticipant, Stream: "cam",
				Verifier: acceptAll{}, OnPacket: func([]byte, uint64) {}, Logger: testLog})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			f.onMeta(proto.StreamMeta{Boot: 5, Latest: 0}, now)
			f.step(now)
			window := int(f.nextExpress - f.deliverSeq)
			// Every Interest expired, unanswered.
			later := now.Add(DefaultLifetime + 10*time.Millisecond)
			for seq := f.deliverSeq; seq < f.nextExpress; seq++ {
				f.handle(event{tag: tag{kind: tagMedia, boot: 5, seq: seq, sent: now}, result: ndn.InterestResultTimeout}, later)
			}
			f.rate = c.rate
			if !c.idle {
				f.lastData = later.Add(-100 * time.Millisecond)
			}
			before := f.st.Refreshed
			f.step(later)
			got := int(f.st.Refreshed - before)
			want := c.want
			if c.wantFull {
				want = window
			}
			if got != want {
				t.Errorf("rate %v idle %v: %d of %d Interests renewed, want %d", c.rate, c.idle, got, window, want)
			}
		})
	}
}
