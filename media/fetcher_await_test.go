package media

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A fetcher with AwaitKeyframe that joins a stream with no recent keyframe
// asks for one and pulls nothing before it: its first packet is the
// keyframe the publisher made on request, and the rest follows without a
// gap. Without it, the fetcher starts at once with packets that cannot be
// decoded.
func TestAwaitKeyframe(t *testing.T) {
	checkGoroutines(t)
	var keyReq atomic.Bool
	var reqs atomic.Uint64
	pub, key := testPublisher(t, PublisherConfig{MimeType: "video/VP8", KeyframeInterval: 10 * time.Millisecond,
		OnKeyframeRequest: func() { reqs.Add(1); keyReq.Store(true) }})
	// an encoder takes a while to make a keyframe: 20 packets (100 ms)
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)

	// 200 packets/s; a keyframe at the start and then only on request.
	keyAt := uint64(0)
	var published atomic.Uint64
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
			if keyReq.Swap(false) && keyAt < i {
				keyAt = i + 20
			}
			key := i == 1 || i == keyAt
			if _, err := pub.Publish(rtpPacket(i, key, 900), key); err != nil {
				t.Error(err)
				return
			}
			published.Store(i)
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	waitFor(t, 5*time.Second, "100 packets", func() bool { return published.Load() >= 100 })

	for _, await := range []bool{false, true} {
		col := newCollector()
		f := testFetcher(t, 1, pub, v, col, func(c *FetcherConfig) { c.MaxStartLag = 10; c.AwaitKeyframe = await })
		before := published.Load()
		stopF := runFetcher(t, f)
		waitFor(t, 5*time.Second, "packets", func() bool { return col.count() > 40 })
		stopF()
		pkts, seqs := col.snapshot()
		first := pkts[0]
		t.Logf("await %v: first packet idx %d (key %v), published before the start %d, keyframes awaited %d",
			await, rtpIndex(first), rtpIsKey(first), before, f.Stats().KeyframesAwaited)
		for i := 1; i < len(pkts); i++ {
			if seqs[i] != seqs[i-1]+1 {
				t.Fatalf("await %v: gap after seq %d", await, seqs[i-1])
			}
		}
		if !await {
			if rtpIsKey(first) {
				t.Errorf("without AwaitKeyframe the first packet is a keyframe: the test shows nothing")
			}
			continue
		}
		if !rtpIsKey(first) || rtpIndex(first) <= before || f.Stats().KeyframesAwaited != 1 {
			t.Errorf("with AwaitKeyframe: first packet %d key %v (started after %d), awaited %d",
				rtpIndex(first), rtpIsKey(first), before, f.Stats().KeyframesAwaited)
		}
	}
	if reqs.Load() == 0 {
		t.Error("no keyframe request reached the publisher")
	}
}
