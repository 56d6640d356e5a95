package media

import (
	"testing"
	"time"
)

// TestRTTEstimator: the repair timers follow RFC 6298 (SRTT, RTTVAR,
// RTO = SRTT + 4 RTTVAR with a 5 ms floor on the variance term, clamped to
// [20 ms, 500 ms]); the reorder wait fits the first retransmission and one
// more, each given an RTO.
func TestRTTEstimator(t *testing.T) {
	ms := time.Millisecond
	f := &Fetcher{cfg: FetcherConfig{ReorderWait: 80 * ms, MaxReorderWait: 250 * ms}}
	now := time.Now()
	f.sampleRTT(40*ms, now)
	if f.srtt != 40*ms || f.rttvar != 20*ms || f.rto() != 120*ms {
		t.Fatalf("first sample: srtt %v rttvar %v rto %v", f.srtt, f.rttvar, f.rto())
	}
	f.sampleRTT(40*ms, now)
	if f.srtt != 40*ms || f.rttvar != 15*ms || f.rto() != 100*ms {
		t.Fatalf("second sample: srtt %v rttvar %v rto %v", f.srtt, f.rttvar, f.rto())
	}
	// A sample far off widens the variance more than it moves the mean.
	f.sampleRTT(8*ms, now)
	if f.srtt != 36*ms || f.rttvar != 19250*time.Microsecond {
		t.Fatalf("third sample: srtt %v rttvar %v", f.srtt, f.rttvar)
	}
	// A steady path: the RTO settles just above the RTT, and the reorder
	// wait covers two repairs.
	for range 60 {
		f.sampleRTT(33*ms, now)
	}
	if rto := f.rto(); rto < 38*ms || rto > 40*ms {
		t.Fatalf("steady 33 ms path: rto %v (srtt %v, rttvar %v)", rto, f.srtt, f.rttvar)
	}
	if w, want := f.reorderWait(), f.retxDelay()+2*f.rto(); w != want || w < 90*ms {
		t.Fatalf("reorder wait %v, want %v", w, want)
	}
	// Loopback: the floors hold.
	for range 60 {
		f.sampleRTT(300*time.Microsecond, now)
	}
	if f.rto() != 20*ms || f.retxDelay() != 5*ms || f.reorderWait() != 80*ms {
		t.Fatalf("loopback: rto %v retxDelay %v wait %v", f.rto(), f.retxDelay(), f.reorderWait())
	}
	// A long path: the wait is capped.
	for range 60 {
		f.sampleRTT(400*ms, now)
	}
	if rto := f.rto(); rto < 400*ms || rto > 406*ms || f.reorderWait() != 250*ms {
		t.Fatalf("long path: rto %v wait %v", f.rto(), f.reorderWait())
	}
}

// TestRTTProbe: while a stream flows (its Interests wait at the publisher
// and give no RTT), the fetcher asks the publisher for the stream metadata
// once per RTTProbeInterval, and each answer is an RTT sample.
func TestRTTProbe(t *testing.T) {
	checkGoroutines(t)
	pub, key := testPublisher(t, PublisherConfig{})
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	col := newCollector()
	f := testFetcher(t, 1, pub, v, col, func(c *FetcherConfig) { c.RTTProbeInterval = 100 * time.Millisecond })
	runFetcher(t, f)
	waitFor(t, 3*time.Second, "discovery", func() bool { return f.Stats().Boot != 0 })
	f.mu.Lock()
	first := f.lastSample
	f.mu.Unlock()
	want := publishN(t, pub, 1, 121, 40, 5*time.Millisecond) // ~0.7 s of stream
	waitFor(t, 5*time.Second, "packets", func() bool { return col.count() >= len(want) })
	checkAll(t, "probe", col, want)
	st := f.Stats()
	t.Logf("fetcher: %+v", st)
	if st.RTTProbes < 3 || st.MetaQueries < st.RTTProbes+1 {
		t.Fatalf("%d RTT probes, %d metadata queries over ~0.7 s at one per 100 ms", st.RTTProbes, st.MetaQueries)
	}
	f.mu.Lock()
	last := f.lastSample
	f.mu.Unlock()
	if !last.After(first) || st.SRTT <= 0 || st.RTO.D() < 20*time.Millisecond {
		t.Fatalf("no RTT sample from the probes: last %v (first %v), srtt %v, rto %v", last, first, st.SRTT, st.RTO)
	}
	// The probes' answers are not media: the media bytes leave them out.
	ps := pub.Stats()
	if ps.MetaServed+1 < st.MetaQueries || ps.MediaBytesOut == 0 || ps.MediaBytesOut >= ps.BytesOut {
		t.Fatalf("publisher: %d metadata answers for %d queries, %d media bytes of %d", ps.MetaServed, st.MetaQueries, ps.MediaBytesOut, ps.BytesOut)
	}
}
