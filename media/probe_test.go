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
	total := 0
	for _, s := range res.Sizes {
		total += s
	}
	// packets 13..20: 312..319 bytes each
	if total != (312+319)*8/2 {
		t.Fatalf("sizes %v", res.Sizes)
	}
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
