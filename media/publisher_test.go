package media

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

// rawResult is what a raw Interest got.
type rawResult struct {
	result ndn.InterestResult
	data   ndn.Data
}

// expressRaw expresses one Interest on conns[conn] and waits for its result.
func expressRaw(t testing.TB, conn int, name enc.Name, cbp, mbf bool, life time.Duration) rawResult {
	t.Helper()
	e := conns[conn].Engine()
	intr, err := e.Spec().MakeInterest(name, &ndn.InterestConfig{
		CanBePrefix: cbp, MustBeFresh: mbf,
		Lifetime: optional.Some(life), Nonce: optional.Some(uint32(time.Now().UnixNano())),
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan rawResult, 1)
	if err := e.Express(intr, func(a ndn.ExpressCallbackArgs) { ch <- rawResult{a.Result, a.Data} }); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ch:
		return r
	case <-time.After(life + time.Second):
		t.Fatalf("no result for %s", name)
		return rawResult{}
	}
}

func TestPublishErrors(t *testing.T) {
	pub, _ := testPublisher(t, PublisherConfig{})
	if _, err := pub.Publish(nil, false); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty: %v", err)
	}
	if _, err := pub.Publish(make([]byte, MaxRTPSize+1), false); !errors.Is(err, ErrOversized) {
		t.Errorf("oversized: %v", err)
	}
	pub.Close()
	if _, err := pub.Publish(rtpPacket(1, true, 100), true); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
	if _, err := NewPublisher(PublisherConfig{Engine: conns[0].Engine(), Participant: participant(t), Stream: "bad/id", Signer: newTestKey(t, participant(t)).signer}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad stream id: %v", err)
	}
}

func TestPublisherBadInterests(t *testing.T) {
	checkGoroutines(t)
	pub, _ := testPublisher(t, PublisherConfig{RingSize: 16})
	publishN(t, pub, 1, 41, 10, 0)
	S, P, boot := pub.Prefix(), pub.producer.Participant(), pub.Boot()
	life := 150 * time.Millisecond

	nothing := []enc.Name{
		S.Append(enc.NewGenericComponent("foo")),
		S.Append(enc.NewTimestampComponent(boot), enc.NewGenericComponent("1")),
		S.Append(enc.NewTimestampComponent(boot)),
		S.Append(enc.NewKeywordComponent("xyz")),
		proto.MetaDataName(S, boot, 40),
		S.Append(enc.NewTimestampComponent(boot), enc.NewBytesComponent(enc.TypeSequenceNumNameComponent, []byte{0, 0, 1})),
		proto.MediaName(S, boot, 40+DefaultHorizon+1), // beyond the horizon
		proto.MediaName(S, boot+5, 1),                 // a future boot
		P.Append(enc.NewGenericComponent("ctrl"), enc.NewGenericComponent("pli"), enc.NewGenericComponent("cam")),
		proto.PLIName(P, "nostream", boot, 1),
		proto.PLIName(P, "bad/id", boot, 1),
	}
	for _, n := range nothing {
		if r := expressRaw(t, 5, n, false, false, life); r.result != ndn.InterestResultTimeout {
			t.Errorf("%s: got %v, want timeout", n, r.result)
		}
	}
	// Gone answers: seq 0, an evicted seq, an older boot.
	for _, n := range []enc.Name{proto.MediaName(S, boot, 0), proto.MediaName(S, boot, 5), proto.MediaName(S, boot-1, 7)} {
		r := expressRaw(t, 5, n, false, false, life)
		if r.result != ndn.InterestResultData || r.data.ContentType().GetOr(0) != ndn.ContentTypeNack {
			t.Fatalf("%s: got %v, want a Nack Data", n, r.result)
		}
		m, err := proto.DecodeStreamMeta(r.data.Content().Join())
		if err != nil || m.Boot != boot || m.Latest != 40 || m.Oldest != 25 || m.KeySeq != 40 {
			t.Errorf("%s: gone meta %+v %v", n, m, err)
		}
	}
	// A served one, and the metadata.
	if r := expressRaw(t, 5, proto.MediaName(S, boot, 30), false, false, life); r.result != ndn.InterestResultData {
		t.Errorf("seq 30: %v", r.result)
	}
	r := expressRaw(t, 5, proto.MetaInterestName(S), true, true, life)
	if r.result != ndn.InterestResultData || !r.data.Name().Equal(proto.MetaDataName(S, boot, 40)) {
		t.Fatalf("meta: %v", r.result)
	}
	m, err := proto.DecodeStreamMeta(r.data.Content().Join())
	if err != nil || m.MimeType != "video/VP8" || m.ClockRate != 90000 || m.Latest != 40 {
		t.Errorf("meta %+v %v", m, err)
	}

	st := pub.Stats()
	t.Logf("%+v %+v", st, pub.producer.Stats())
	if st.Malformed != 6 || st.BeyondHorizon != 1 || st.StaleBoot != 2 || st.TooOld != 2 || st.GoneSent != 3 {
		t.Errorf("publisher counters: %+v", st)
	}
	if ps := pub.producer.Stats(); ps.PLIMalformed != 2 || ps.PLIUnknown != 1 {
		t.Errorf("producer counters: %+v", ps)
	}
}

func TestHeldInterestsExpire(t *testing.T) {
	pub, _ := testPublisher(t, PublisherConfig{MaxHeld: 4})
	S, boot := pub.Prefix(), pub.Boot()
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			expressRaw(t, 5, proto.MediaName(S, boot, uint64(1+i)), false, false, 100*time.Millisecond)
		}()
	}
	wg.Wait()
	time.Sleep(20 * time.Millisecond)
	st := pub.Stats()
	if st.Held != 4 || st.HeldDropped != 2 || st.Expired != 4 || st.HeldNow != 0 {
		t.Errorf("%+v", st)
	}
}

func TestKeyframeRequest(t *testing.T) {
	checkGoroutines(t)
	var calls atomic.Int32
	pub, key := testPublisher(t, PublisherConfig{
		OnKeyframeRequest: func() { calls.Add(1) },
		KeyframeInterval:  250 * time.Millisecond, // fetchers: 300 ms
	})
	publishN(t, pub, 1, 2, 0, 0) // one keyframe: fetchers start there, no PLI of their own
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	var fs []*Fetcher
	for i := range 3 {
		col := newCollector()
		f := testFetcher(t, 1+i, pub, v, col, nil)
		runFetcher(t, f)
		waitFor(t, 2*time.Second, "first packet", func() bool { return col.count() > 0 })
		fs = append(fs, f)
	}
	time.Sleep(350 * time.Millisecond) // the keyframe is no longer recent
	if c := calls.Load(); c != 0 {
		t.Fatalf("%d keyframe requests before any PLI", c)
	}
	// Three subscribers ask at once: one request reaches the source.
	for _, f := range fs {
		f.RequestKeyframe()
	}
	waitFor(t, time.Second, "keyframe request", func() bool { return calls.Load() >= 1 })
	time.Sleep(100 * time.Millisecond)
	if c := calls.Load(); c != 1 {
		t.Errorf("%d keyframe requests, want 1", c)
	}
	st := pub.Stats()
	t.Logf("after 3 PLIs: %+v", st)
	if st.PLIReceived < 1 || st.PLIReceived > 3 {
		t.Errorf("PLIs received %d", st.PLIReceived)
	}
	// One fetcher asks many times: rate-limited to one now and one later.
	time.Sleep(350 * time.Millisecond)
	for range 10 {
		fs[0].RequestKeyframe()
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := fs[0].Stats().PLISent; n != 2 {
		t.Errorf("fetcher sent %d PLIs after 11 requests, want 2", n)
	}
	waitFor(t, time.Second, "second keyframe request", func() bool { return calls.Load() == 2 })
	time.Sleep(400 * time.Millisecond)
	if n := fs[0].Stats().PLISent; n != 3 {
		t.Errorf("fetcher sent %d PLIs, want 3 (one trailing)", n)
	}
	if c := calls.Load(); c != 3 {
		t.Errorf("%d keyframe requests, want 3", c)
	}
}

// TestTwoStreamsOneParticipant: streams of one participant share the
// producer's PLI handler.
func TestTwoStreamsOneParticipant(t *testing.T) {
	checkGoroutines(t)
	P := participant(t)
	key := newTestKey(t, P)
	prod, err := NewProducer(ProducerConfig{Engine: conns[0].Engine(), Participant: P, Logger: testLog})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	register(t, 0, P)
	var camKeys, micKeys atomic.Int32
	cam, err := prod.NewPublisher(PublisherConfig{Stream: "cam", Signer: key.signer, MimeType: "video/VP8", OnKeyframeRequest: func() { camKeys.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	mic, err := prod.NewPublisher(PublisherConfig{Stream: "mic", Signer: key.signer, MimeType: "audio/opus", OnKeyframeRequest: func() { micKeys.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prod.NewPublisher(PublisherConfig{Stream: "mic", Signer: key.signer}); !errors.Is(err, ErrConfig) {
		t.Errorf("duplicate stream: %v", err)
	}
	publishN(t, cam, 1, 11, 0, 0)
	publishN(t, mic, 1, 11, 0, 0)
	v := newKeyVerifier()
	v.pin(P, key.pub)
	for _, pub := range []*Publisher{cam, mic} {
		col := newCollector()
		f := testFetcher(t, 1, pub, v, col, nil)
		runFetcher(t, f)
		waitFor(t, 2*time.Second, "packets", func() bool { return col.count() >= 10 })
		f.RequestKeyframe()
	}
	waitFor(t, time.Second, "PLIs", func() bool { return camKeys.Load() == 1 && micKeys.Load() == 1 })
	mic.Close()
	r := expressRaw(t, 5, proto.PLIName(P, "mic", mic.Boot(), 1), false, true, 100*time.Millisecond)
	if r.result != ndn.InterestResultTimeout || prod.Stats().PLIUnknown != 1 {
		t.Errorf("PLI for a closed stream: %v %+v", r.result, prod.Stats())
	}
}
