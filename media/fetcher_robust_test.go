package media

import (
	"sync"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

func TestPublisherRestart(t *testing.T) {
	t.Run("auto", func(t *testing.T) { testRestart(t, false) })
	t.Run("rediscover", func(t *testing.T) { testRestart(t, true) })
}

func testRestart(t *testing.T, poke bool) {
	checkGoroutines(t)
	P := participant(t)
	key := newTestKey(t, P)
	a, _ := testPublisher(t, PublisherConfig{Participant: P, Signer: key.signer, Boot: 1000})
	v := newKeyVerifier()
	v.pin(P, key.pub)
	col := newCollector()
	f := testFetcher(t, 1, a, v, col, nil)
	runFetcher(t, f)
	wantA := publishN(t, a, 1, 51, 0, 200*time.Microsecond)
	waitFor(t, 3*time.Second, "boot 1000", func() bool { return col.count() >= 50 })
	a.Close()

	// The same participant comes back with a new boot.
	b, _ := testPublisher(t, PublisherConfig{Participant: P, Signer: key.signer, Boot: 2000})
	start := time.Now()
	if poke {
		f.Rediscover() // as the roster would on a new boot in a heartbeat
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var wantB [][]byte
	go func() {
		defer wg.Done()
		for i := uint64(1); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(4 * time.Millisecond):
			}
			pkt := rtpPacket(10000+i, i%50 == 1, 500)
			if _, err := b.Publish(pkt, i%50 == 1); err != nil {
				t.Error(err)
				return
			}
			col.mu.Lock()
			wantB = append(wantB, pkt)
			col.mu.Unlock()
		}
	}()
	waitFor(t, 5*time.Second, "boot 2000", func() bool { return col.count() >= 50+30 })
	close(stop)
	wg.Wait()
	t.Logf("followed the restart in %v: %+v", time.Since(start), f.Stats())
	got, _ := col.snapshot()
	for i := range wantA {
		if string(got[i]) != string(wantA[i]) {
			t.Fatalf("boot 1000: packet %d differs", i)
		}
	}
	first := got[50]
	if !rtpIsKey(first) || rtpIndex(first) < 10000 {
		t.Errorf("first packet after restart: idx %d key %v", rtpIndex(first), rtpIsKey(first))
	}
	for i := 51; i < len(got); i++ {
		if rtpIndex(got[i]) != rtpIndex(got[i-1])+1 {
			t.Fatalf("gap after idx %d", rtpIndex(got[i-1]))
		}
	}
	// The buffer that answers the page's NACKs holds no packet of the old
	// boot (same seqs, another stream of RTP).
	if b := f.Buffered(50); b != nil && string(b) == string(wantA[49]) {
		t.Error("boot 1000's seq 50 is still buffered after the restart")
	}
	if b := f.BufferedRTP(uint16(rtpIndex(wantA[49]))); b != nil {
		t.Error("boot 1000's last RTP packet answers a NACK after the restart")
	}
	if st := f.Stats(); st.Restarts != 1 || st.Boot != 2000 {
		t.Errorf("stats %+v", st)
	}
	if poke && time.Since(start) > time.Second {
		t.Errorf("Rediscover: restart followed after %v", time.Since(start))
	}
}

func TestResyncWhenFarBehind(t *testing.T) {
	checkGoroutines(t)
	pub, key := testPublisher(t, PublisherConfig{RingSize: 64})
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	col := newCollector()
	var once sync.Once
	slow := func(pkt []byte, seq uint64) {
		col.onPacket(pkt, seq)
		if seq == 10 {
			once.Do(func() { time.Sleep(400 * time.Millisecond) }) // a stuck consumer
		}
	}
	f := testFetcher(t, 1, pub, v, col, func(c *FetcherConfig) { c.OnPacket = slow; c.MaxWindow = 32 })
	runFetcher(t, f)
	waitFor(t, 3*time.Second, "discovery", func() bool { return f.Stats().Boot != 0 })
	publishN(t, pub, 1, 401, 50, 200*time.Microsecond)
	waitFor(t, 5*time.Second, "catch up", func() bool { return f.Stats().CurrentSeq >= 400 })
	pkts, seqs := col.snapshot()
	st := f.Stats()
	t.Logf("%d delivered: %+v", len(pkts), st)
	if st.Gone == 0 || st.Resyncs == 0 || st.Lost == 0 {
		t.Errorf("expected a resync: %+v", st)
	}
	// After the jump, delivery resumes at a keyframe.
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			if !rtpIsKey(pkts[i]) {
				t.Errorf("resumed at seq %d, not a keyframe", seqs[i])
			}
			break
		}
	}
}

// TestFetcherBadData: a rogue producer answers with every kind of bad Data.
func TestFetcherBadData(t *testing.T) {
	checkGoroutines(t)
	P := participant(t)
	key := newTestKey(t, P)
	other := newTestKey(t, P)
	S := proto.StreamPrefix(P, "cam")
	const boot = 77
	e := conns[0].Engine()
	mk := func(name enc.Name, ct ndn.ContentType, content []byte, s ndn.Signer) enc.Wire {
		d, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{ContentType: optional.Some(ct), Freshness: optional.Some(time.Duration(0))}, enc.Wire{content}, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Wire
	}
	meta := proto.StreamMeta{Boot: boot, Latest: 0, MimeType: "audio/opus", ClockRate: 48000}
	err := e.AttachHandler(S, func(a ndn.InterestHandlerArgs) {
		n := a.Interest.Name()
		sn, err := proto.ParseStreamName(S, n)
		if err != nil {
			return
		}
		if sn.Kind == proto.KindMeta {
			a.Reply(mk(proto.MetaDataName(S, boot, 0), ndn.ContentTypeBlob, meta.Encode(), key.signer))
			return
		}
		good := rtpPacket(sn.Seq, true, 300)
		var w enc.Wire
		switch sn.Seq {
		case 1:
			w = mk(n, ndn.ContentTypeBlob, make([]byte, 1600), key.signer) // oversized
		case 2:
			w = mk(n, ndn.ContentTypeBlob, []byte("not an RTP packet at all"), key.signer)
		case 3:
			w = mk(n, ndn.ContentTypeBlob, good, other.signer) // wrong key
		case 4:
			w = mk(n, ndn.ContentTypeKey, good, key.signer) // wrong type
		case 5:
			w = mk(n, ndn.ContentTypeNack, []byte{0xff, 0xff}, key.signer) // bad gone
		case 6:
			w = mk(n, ndn.ContentTypeBlob, good, signer.NewSha256Signer()) // unsigned
		case 7:
			w = mk(n.Append(enc.NewGenericComponent("x")), ndn.ContentTypeBlob, good, key.signer) // longer name
		case 8:
			w = mk(n, ndn.ContentTypeBlob, []byte{}, key.signer) // empty
		default:
			w = mk(n, ndn.ContentTypeBlob, good, key.signer)
		}
		a.Reply(w)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer e.DetachHandler(S)
	register(t, 0, P)

	v := newKeyVerifier()
	v.pin(P, key.pub)
	col := newCollector()
	f, err := NewFetcher(FetcherConfig{
		Engine: conns[1].Engine(), Owner: P, Stream: "cam", Verifier: v, OnPacket: col.onPacket,
		MaxWindow: 16, MinWindow: 16, ReorderWait: 30 * time.Millisecond, Logger: testLog,
	})
	if err != nil {
		t.Fatal(err)
	}
	runFetcher(t, f)
	// generous: a liveness wait, long enough for the race detector on a
	// loaded machine (5 s was not, once in CI)
	waitFor(t, 15*time.Second, "good packets", func() bool { return col.count() >= 20 })
	pkts, seqs := col.snapshot()
	for i, seq := range seqs {
		if seq < 9 || string(pkts[i]) != string(rtpPacket(seq, true, 300)) {
			t.Errorf("delivered a bad packet, seq %d", seq)
		}
	}
	st := f.Stats()
	t.Logf("%+v", st)
	// 8 bad seqs are skipped (more if a slow machine made a good one late).
	if st.Lost < 8 || st.Lost > 12 || st.Malformed < 5 || st.VerifyFailures < 2 {
		t.Errorf("counters: %+v", st)
	}
}

func TestBuffered(t *testing.T) {
	pub, key := testPublisher(t, PublisherConfig{})
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	col := newCollector()
	f := testFetcher(t, 1, pub, v, col, func(c *FetcherConfig) { c.BufferSize = 8 })
	runFetcher(t, f)
	waitFor(t, 3*time.Second, "discovery", func() bool { return f.Stats().Boot != 0 })
	want := publishN(t, pub, 1, 21, 0, 0)
	waitFor(t, 3*time.Second, "packets", func() bool { return col.count() >= 20 })
	if b := f.Buffered(20); string(b) != string(want[19]) {
		t.Error("Buffered(20)")
	}
	if b := f.Buffered(12); b != nil {
		t.Error("Buffered(12) should be evicted")
	}
	if b := f.BufferedRTP(uint16(15)); string(b) != string(want[14]) {
		t.Error("BufferedRTP(15)")
	}
	if b := f.BufferedRTP(uint16(3)); b != nil {
		t.Error("BufferedRTP(3) should be evicted")
	}
}
