package media

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestProbe: a probe train of the newest packets of a stream nobody
// fetches: every packet verified and reported in arrival order, with its
// size; a stream that does not exist fails.
func TestProbe(t *testing.T) {
	pub, key := testPublisher(t, PublisherConfig{Stream: "cam.h"})
	for i := range 20 {
		if _, err := pub.Publish(rtpPacket(uint64(i+1), i == 0, 300+i), i == 0); err != nil {
			t.Fatal(err)
		}
	}
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), key.pub)
	cfg := ProbeConfig{Engine: conns[1].Engine(), Verifier: v, Owner: pub.producer.Participant(), Stream: "cam.h"}
	res, err := Probe(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Meta.Latest != 20 || len(res.Arrivals) != DefaultProbePackets || len(res.Sizes) != DefaultProbePackets {
		t.Fatalf("meta latest %d, %d arrivals, %d sizes", res.Meta.Latest, len(res.Arrivals), len(res.Sizes))
	}
	for i := 1; i < len(res.Arrivals); i++ {
		if res.Arrivals[i].Before(res.Arrivals[i-1]) {
			t.Fatalf("arrivals not in order: %v", res.Arrivals)
		}
	}
	// packets 9..20: 308..319 bytes of RTP each, more on the wire
	if res.RTPBytes != (308+319)*12/2 {
		t.Fatalf("%d bytes of RTP", res.RTPBytes)
	}
	for i, s := range res.Sizes {
		if s <= 308+i || s > 319+200 {
			t.Fatalf("wire sizes %v", res.Sizes)
		}
	}
	if r := res.WireRatio(); r <= 1 || r > 1.7 {
		t.Fatalf("wire ratio %v", r)
	}
	// Paced: each Interest a mean packet's time at Rate after the one
	// before, so the train arrives no faster than Rate.
	cfg.Packets, cfg.Rate = 8, 8*1200/0.02 // 20 ms a packet of 1,200 bytes
	res, err = Probe(context.Background(), cfg)
	if err != nil || len(res.Arrivals) != 8 {
		t.Fatalf("paced train: %d arrivals, %v", len(res.Arrivals), err)
	}
	for i := range res.Arrivals {
		if len(res.Sent) != 8 || res.Sent[i].After(res.Arrivals[i]) {
			t.Fatalf("sent %v, arrived %v", res.Sent, res.Arrivals)
		}
	}
	gap := time.Duration(meanWireBits(res.Meta) / cfg.Rate * float64(time.Second))
	// The last Interest left 7 gaps after the first; the first Data may
	// have been slow (a loaded machine): 3 gaps of margin. All at once,
	// the train arrives within a few ms.
	if span := res.Arrivals[7].Sub(res.Arrivals[0]); span < 4*gap {
		t.Fatalf("paced train arrived over %v, want at least 4 gaps of %v", span, gap)
	}
	cfg.Packets, cfg.Rate = 0, 0
	// A wrong key verifies nothing: no arrival counts.
	other := newKeyVerifier()
	other.pin(pub.producer.Participant(), newTestKey(t, pub.producer.Participant()).pub)
	cfg.Verifier = other
	if res, err := Probe(context.Background(), cfg); err == nil && len(res.Arrivals) != 0 {
		t.Fatalf("unverified packets counted: %d", len(res.Arrivals))
	}
	cfg.Verifier, cfg.Stream, cfg.Timeout = v, "nothing", 300*time.Millisecond
	if _, err := Probe(context.Background(), cfg); !errors.Is(err, ErrProbe) {
		t.Fatalf("probe of no stream: %v", err)
	}
}
