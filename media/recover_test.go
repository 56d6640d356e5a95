package media

import (
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/security/signer"

	"github.com/peets/peets/proto"
)

// panicky is an Interest whose every method panics, like a packet that
// trips a bug in a handler.
type panicky struct{ ndn.Interest }

func (panicky) Name() enc.Name { panic("a bug") }

// TestProducerRecovers: a panic in an Interest handler or in a job of the
// producer's worker is recovered and counted; the handlers and the worker
// go on.
func TestProducerRecovers(t *testing.T) {
	checkGoroutines(t)
	var logBuf syncBuffer
	e := newFakeEngine()
	prod, err := NewProducer(ProducerConfig{Engine: e, Participant: fuzzParticipant, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var keyReqs atomic.Int32
	pub, err := prod.NewPublisher(PublisherConfig{Stream: "cam", Boot: 1, Signer: signer.NewSha256Signer(),
		OnKeyframeRequest: func() {
			keyReqs.Add(1)
			panic("a bug in the source")
		}})
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, pub, 1, 5, 0, 0)
	bad := ndn.InterestHandlerArgs{Interest: panicky{}, Reply: func(enc.Wire) error { return nil }}
	pub.onInterest(bad)
	prod.onPLI(bad)
	if n := prod.Stats().Panics; n != 2 {
		t.Fatalf("%d panics counted, want 2", n)
	}
	// A keyframe request: the source's panic is the worker's; the worker
	// goes on and answers a metadata Interest after it.
	answered := make(chan struct{}, 2)
	reply := func(enc.Wire) error { answered <- struct{}{}; return nil }
	args := func(n enc.Name) ndn.InterestHandlerArgs {
		return ndn.InterestHandlerArgs{Interest: fakeInterest{name: n}, Reply: reply, Deadline: time.Now().Add(time.Second)}
	}
	prod.onPLI(args(proto.PLIName(fuzzParticipant, "cam", 1, 1)))
	pub.onInterest(args(proto.MetaInterestName(pub.Prefix())))
	for range 2 {
		select {
		case <-answered:
		case <-time.After(5 * time.Second):
			t.Fatal("the worker stopped answering")
		}
	}
	waitFor(t, time.Second, "the third panic", func() bool { return prod.Stats().Panics == 3 })
	if keyReqs.Load() != 1 {
		t.Errorf("%d keyframe requests", keyReqs.Load())
	}
	if !strings.Contains(logBuf.String(), `msg="recovered from a panic"`) {
		t.Errorf("no warning: %s", logBuf.String())
	}
}

// TestFetcherRecovers: a panic while a fetcher handles an answer (here in
// its verifier) or in OnPacket is recovered and counted; the stream goes
// on, and the packet whose handling panicked is asked again (once its
// verification is given up).
func TestFetcherRecovers(t *testing.T) {
	s := newSimNet(t, testLog)
	f := s.f
	var once1, once2 bool
	s.verifyHook = func(d ndn.Data) {
		if sn, err := proto.ParseStreamName(s.S, d.Name()); err == nil && sn.Kind == proto.KindMedia && sn.Seq == 150 && !once1 {
			once1 = true
			panic("a bug in the verifier")
		}
	}
	s.packetHook = func(seq uint64) {
		if seq == 160 && !once2 {
			once2 = true
			panic("a bug in the consumer")
		}
	}
	s.run(s.now.Add(10*time.Second), nil)
	if n := f.Stats().Panics; n != 2 {
		t.Fatalf("%d panics counted, want 2: %+v", n, f.Stats())
	}
	first := s.delivered[0]
	for i, seq := range s.delivered {
		if seq != first+uint64(i) {
			t.Fatalf("delivered seq %d after %d", seq, s.delivered[i-1])
		}
	}
	if last := s.delivered[len(s.delivered)-1]; first > 150 || last < s.latest()-uint64(s.rate) || f.st.Lost != 0 {
		t.Fatalf("delivered %d..%d of %d: %+v", first, last, s.latest(), f.st)
	}
	t.Logf("%+v", f.Stats())
}
