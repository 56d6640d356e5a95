package media

import (
	"context"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

func benchPublish(b *testing.B, s ndn.Signer) {
	prod, err := NewProducer(ProducerConfig{Engine: newFakeEngine(), Participant: fuzzParticipant, Logger: testLog})
	if err != nil {
		b.Fatal(err)
	}
	defer prod.Close()
	pub, err := prod.NewPublisher(PublisherConfig{Stream: "cam", Signer: s})
	if err != nil {
		b.Fatal(err)
	}
	pkt := rtpPacket(1, false, 1200)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pub.Publish(pkt, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish: make + sign (Ed25519) + ring insert of one 1200-byte
// RTP packet, no subscriber.
func BenchmarkPublish(b *testing.B) {
	k := newTestKey(b, fuzzParticipant)
	benchPublish(b, k.signer)
}

// BenchmarkPublishSHA256 is BenchmarkPublish with a digest "signature", to
// show what the signature costs.
func BenchmarkPublishSHA256(b *testing.B) { benchPublish(b, signer.NewSha256Signer()) }

// BenchmarkFetchVerify: the fetcher's per-packet work from an arrived Data
// (already parsed by the engine) to OnPacket: checks, Ed25519 verification,
// in-order delivery, buffering and expressing the next Interest.
func BenchmarkFetchVerify(b *testing.B) {
	S := proto.StreamPrefix(fuzzParticipant, "cam")
	k := newTestKey(b, fuzzParticipant)
	v := newKeyVerifier()
	v.pin(fuzzParticipant, k.pub)
	const boot = 5
	const n = 2048
	datas := make([]ndn.Data, n)
	covs := make([]enc.Wire, n)
	for i := range n {
		d, err := spec.Spec{}.MakeData(proto.MediaName(S, boot, uint64(i+1)),
			&ndn.DataConfig{ContentType: optional.Some(ndn.ContentTypeBlob), Freshness: optional.Some(time.Second)},
			enc.Wire{rtpPacket(uint64(i+1), false, 1200)}, k.signer)
		if err != nil {
			b.Fatal(err)
		}
		datas[i], covs[i], err = spec.Spec{}.ReadData(enc.NewWireView(d.Wire))
		if err != nil {
			b.Fatal(err)
		}
	}
	delivered := 0
	newFetcher := func() *Fetcher {
		f, err := NewFetcher(FetcherConfig{Engine: newFakeEngine(), Owner: fuzzParticipant, Stream: "cam",
			Verifier: v, OnPacket: func([]byte, uint64) { delivered++ }, Logger: testLog})
		if err != nil {
			b.Fatal(err)
		}
		f.onMeta(proto.StreamMeta{Boot: boot, Latest: 0}, time.Now())
		f.step(time.Now())
		return f
	}
	f := newFetcher()
	b.SetBytes(1200)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == n {
			b.StopTimer()
			f, i = newFetcher(), 0
			b.StartTimer()
		}
		now := time.Now()
		f.handle(event{tag: tag{kind: tagMedia, boot: boot, seq: uint64(i + 1), sent: now},
			result: ndn.InterestResultData, data: datas[i], covered: covs[i]}, now)
		f.step(now)
		i++
	}
	if delivered == 0 {
		b.Fatal("nothing delivered")
	}
}

// BenchmarkEndToEnd: one packet published, forwarded by the in-process
// forwarder and delivered to one fetcher, with up to 256 packets in flight.
func BenchmarkEndToEnd(b *testing.B) {
	pub, key := testPublisher(b, PublisherConfig{RingSize: 4096})
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	col := newCollector()
	f := testFetcher(b, 1, pub, v, col, func(c *FetcherConfig) {
		// A throughput test on a loaded machine, not a playout deadline.
		c.RateHint, c.ReorderWait, c.MaxReorderWait = 5000, time.Second, time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.Run(ctx)
	waitFor(b, 3*time.Second, "discovery", func() bool { return f.Stats().Boot != 0 })
	pkt := rtpPacket(1, false, 1200)
	b.SetBytes(int64(len(pkt)))
	sent := 0
	for b.Loop() {
		for sent-col.count() > 256 {
			<-col.ch
		}
		if _, err := pub.Publish(pkt, false); err != nil {
			b.Fatal(err)
		}
		sent++
	}
	deadline := time.Now().Add(10 * time.Second)
	for col.count() < sent && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if col.count() < sent {
		b.Fatalf("%d of %d delivered: %+v\npublisher %+v", col.count(), sent, f.Stats(), pub.Stats())
	}
	b.ReportMetric(float64(f.Stats().Lost), "lost")
}
