package media

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

// topVerifier wraps a Verifier and records the newest position the Data
// it accepted vouch for: the seq of a media packet, the Latest of metadata
// and of "gone" answers. A fetcher may only move on what it accepted.
type topVerifier struct {
	Verifier
	stream enc.Name
	top    atomic.Uint64
}

func (v *topVerifier) Verify(owner enc.Name, d ndn.Data, covered enc.Wire, cb func(error)) {
	v.Verifier.Verify(owner, d, covered, func(err error) {
		if err == nil {
			v.saw(d)
		}
		cb(err)
	})
}

func (v *topVerifier) saw(d ndn.Data) {
	sn, err := proto.ParseMediaName(v.stream, d.Name())
	if err != nil {
		return
	}
	pos := sn.Seq // a packet's seq, or the v=<latest> of metadata
	if sn.Kind == proto.KindMedia && d.ContentType().GetOr(ndn.ContentTypeBlob) == ndn.ContentTypeNack {
		m, err := proto.DecodeStreamMeta(d.Content().Join())
		if err != nil {
			return
		}
		pos = m.Latest
	}
	for {
		old := v.top.Load()
		if pos <= old || v.top.CompareAndSwap(old, pos) {
			return
		}
	}
}

// impostor answers every Interest under its prefix with Data that fail
// verification: well-formed media packets signed with another key, "gone"
// answers that claim a newer boot, metadata that claims the stream is far
// ahead. No FreshnessPeriod: the forwarder caches them like the
// publisher's own packets.
type impostor struct {
	t       testing.TB
	stream  enc.Name
	signer  ndn.Signer
	answers atomic.Uint64
}

func (im *impostor) onInterest(a ndn.InterestHandlerArgs) {
	name := a.Interest.Name()
	sn, err := proto.ParseStreamName(im.stream, name)
	if err != nil {
		return
	}
	name, ct, content := forgery(im.stream, name, sn)
	d, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{ContentType: optional.Some(ct)}, enc.Wire{content}, im.signer)
	if err != nil {
		im.t.Error(err)
		return
	}
	im.answers.Add(1)
	a.Reply(d.Wire)
}

// forgery is an impostor's answer to an Interest for name (sn, under the
// stream prefix S): metadata that claim the stream is far ahead in a newer
// boot, a "gone" that claims a newer boot (every fifth seq), or an RTP
// packet that is not the publisher's.
func forgery(S, name enc.Name, sn proto.StreamName) (enc.Name, ndn.ContentType, []byte) {
	switch {
	case sn.Kind == proto.KindMeta:
		m := proto.StreamMeta{Boot: 1 << 50, Latest: 1 << 20, KeySeq: 1 << 20, MimeType: "video/vp8", Rate: 5000}
		return proto.MetaDataName(S, m.Boot, m.Latest), ndn.ContentTypeBlob, m.Encode()
	case sn.Seq%5 == 0:
		m := proto.StreamMeta{Boot: sn.Boot + 1, Latest: 1 << 20, KeySeq: 1 << 20, Oldest: 1 << 19}
		return name, ndn.ContentTypeNack, m.Encode()
	}
	return name, ndn.ContentTypeBlob, rtpPacket(sn.Seq|1<<40, true, 200)
}

// pacedPublisher publishes a packet every gap until stopped, a keyframe
// every 50 packets, and remembers each packet by seq.
type pacedPublisher struct {
	pub  *Publisher
	mu   sync.Mutex
	pkts map[uint64][]byte
	stop chan struct{}
	wg   sync.WaitGroup
}

func startPaced(t *testing.T, pub *Publisher, gap time.Duration) *pacedPublisher {
	pp := &pacedPublisher{pub: pub, pkts: map[uint64][]byte{}, stop: make(chan struct{})}
	pp.wg.Add(1)
	go func() {
		defer pp.wg.Done()
		tick := time.NewTicker(gap)
		defer tick.Stop()
		for i := uint64(1); ; i++ {
			key := i%50 == 1
			pkt := rtpPacket(i, key, 200+int(i*37%1000))
			seq, err := pub.Publish(pkt, key)
			if err != nil {
				t.Error(err)
				return
			}
			pp.mu.Lock()
			pp.pkts[seq] = pkt
			pp.mu.Unlock()
			select {
			case <-pp.stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(pp.close)
	return pp
}

func (pp *pacedPublisher) close() {
	select {
	case <-pp.stop:
	default:
		close(pp.stop)
	}
	pp.wg.Wait()
}

// route registers (with the Capture flag: no route of a shorter prefix,
// such as the publisher's, is inherited) or unregisters prefix for e's
// face, as an impostor would, so that the forwarder sends it every
// Interest under prefix.
func route(t *testing.T, e ndn.Engine, verb string, prefix enc.Name) {
	t.Helper()
	args := &mgmt.ControlArgs{Name: prefix}
	if verb == "register" {
		args.Flags = optional.Some(uint64(mgmt.RouteFlagChildInherit | mgmt.RouteFlagCapture))
	}
	if _, err := e.ExecMgmtCmd("rib", verb, args); err != nil {
		t.Fatalf("%s %s: %v", verb, prefix, err)
	}
}

func (pp *pacedPublisher) packet(seq uint64) []byte {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	return pp.pkts[seq]
}

// TestFetcherImpostor: while a stream flows, another app registers a
// longer prefix than the publisher's (so the forwarder sends it the
// fetcher's Interests) and answers them with Data that fail verification,
// then goes away. The fetcher never runs ahead of what it verified by more
// than its window, delivers nothing of the impostor's, and delivers the
// stream again promptly once the impostor is gone, although the forwarder
// still caches the impostor's answers.
func TestFetcherImpostor(t *testing.T) {
	for _, under := range []string{"stream", "media"} {
		t.Run(under, func(t *testing.T) { testImpostor(t, under) })
	}
}

func testImpostor(t *testing.T, under string) {
	checkGoroutines(t)
	P := participant(t)
	pub, key := testPublisher(t, PublisherConfig{Participant: P})
	S := pub.Prefix()
	v := newKeyVerifier()
	v.pin(P, key.pub)
	tv := &topVerifier{Verifier: v, stream: S}
	col := newCollector()
	const maxWindow = 64
	f := testFetcher(t, 1, pub, tv, col, func(c *FetcherConfig) { c.MaxWindow = maxWindow })
	runFetcher(t, f)
	pp := startPaced(t, pub, 4*time.Millisecond) // 250 packets/s
	waitFor(t, 5*time.Second, "the stream", func() bool { return col.count() >= 100 })

	// The bound, checked every millisecond from here on (the first
	// violation is reported).
	var broke atomic.Bool
	bound := func() {
		if broke.Load() {
			return
		}
		f.mu.Lock()
		next, deliver := f.nextExpress, f.deliverSeq
		f.mu.Unlock()
		top := tv.top.Load() // after: the state read came from what it had verified
		if limit := top + 1 + maxWindow + uint64(f.cfg.InterestBatch); next > limit {
			broke.Store(true)
			t.Errorf("the fetcher asks for seq %d, beyond %d (verified %d + window)", next-1, limit-1, top)
		}
		if deliver > top+1 {
			broke.Store(true)
			t.Errorf("delivery at seq %d, beyond the newest verified seq %d", deliver, top)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var checks sync.WaitGroup
	checks.Add(1)
	go func() {
		defer checks.Done()
		for ctx.Err() == nil {
			bound()
			time.Sleep(time.Millisecond)
		}
	}()
	defer func() { cancel(); checks.Wait() }()

	// The impostor: another app on the forwarder, with a longer prefix.
	imPrefix := S
	if under == "media" {
		imPrefix = S.Prefix(-1)
	}
	im := &impostor{t: t, stream: S, signer: newTestKey(t, P).signer}
	e := conns[2].Engine()
	if err := e.AttachHandler(imPrefix, im.onInterest); err != nil {
		t.Fatal(err)
	}
	route(t, e, "register", imPrefix)
	before := f.Stats()
	time.Sleep(DefaultLifetime + 500*time.Millisecond) // longer than an Interest's lifetime
	during := f.Stats()
	route(t, e, "unregister", imPrefix)
	e.DetachHandler(imPrefix)
	left := time.Now()
	live := pub.Stats().Latest
	delivered := col.count()
	t.Logf("impostor answered %d Interests; fetcher during the impostor: %+v", im.answers.Load(), during)
	if im.answers.Load() < 100 {
		t.Fatalf("the impostor answered only %d Interests", im.answers.Load())
	}
	if during.VerifyFailures == before.VerifyFailures {
		t.Fatal("no verification failed while the impostor answered")
	}
	if during.Boot != before.Boot || during.Restarts != before.Restarts || during.Resyncs != before.Resyncs {
		t.Errorf("the impostor moved the fetcher: before %+v, during %+v", before, during)
	}
	if during.Lost != before.Lost {
		t.Errorf("%d seqs skipped while only the impostor answered", during.Lost-before.Lost)
	}

	// Delivery resumes, and catches up with the live stream.
	var resumed time.Duration
	waitFor(t, 10*time.Second, "delivery to resume", func() bool {
		if col.count() > delivered && resumed == 0 {
			resumed = time.Since(left)
		}
		return col.count() > delivered
	})
	waitFor(t, 10*time.Second, "the live stream", func() bool { return f.Stats().CurrentSeq >= live })
	caught := time.Since(left)
	cancel()
	checks.Wait()
	pp.close()
	st := f.Stats()
	t.Logf("resumed %v and caught up with seq %d %v after the impostor left: %+v", resumed, live, caught, st)
	if resumed > 2*time.Second || caught > 3*time.Second {
		t.Errorf("resumed after %v, live after %v (want <= 2s, 3s)", resumed, caught)
	}
	pkts, seqs := col.snapshot()
	for i, seq := range seqs {
		if want := pp.packet(seq); !bytes.Equal(pkts[i], want) {
			t.Fatalf("seq %d: delivered a packet the publisher did not publish", seq)
		}
	}
}
