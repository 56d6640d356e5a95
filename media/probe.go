package media

import (
	"context"
	"fmt"
	"math/rand/v2"
	gosync "sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

// Probe trains (docs/protocol.md 4.7). To learn whether the path from a
// publisher could carry a layer it does not pull, a subscriber asks for the
// newest few packets of that layer all at once. They exist already (the
// publisher publishes every layer, pulled or not), so they leave the
// publisher, or the nearest cache that has them, back to back, and arrive
// spread out by the narrowest link on the way and the traffic sharing it:
// adapt.TrainRate turns that into a capacity. A train costs ~13 KB once
// every few seconds, and nothing the receiver does not verify counts.

// DefaultProbePackets is the length of a probe train: long enough that
// its second half comes after a token bucket's burst (adapt.TrainRate).
const DefaultProbePackets = 12

// ProbeConfig configures Probe.
type ProbeConfig struct {
	Engine   ndn.Engine
	Verifier Verifier
	Owner    enc.Name // the publisher's participant prefix
	Stream   string   // the stream (layer) to probe
	// Packets is the train's length (default DefaultProbePackets);
	// Timeout bounds the whole probe (default 1 s).
	Packets int
	Timeout time.Duration
	// MaxPacketSize bounds accepted RTP packets (default MaxRTPSize).
	MaxPacketSize int
}

// ProbeResult is what a probe measured: when each verified packet of the
// train arrived (in order) and its size on the wire, and the stream's
// metadata.
type ProbeResult struct {
	Arrivals []time.Time
	Sizes    []int // each packet's Data on the wire, in bytes
	RTPBytes int   // the RTP bytes those Data carried
	Meta     proto.StreamMeta
}

// WireRatio is what the train's Data cost on the wire per byte of RTP
// (names, signatures, TLV): a layer's bitrate times it is what pulling
// the layer puts on the path. 0 for an empty train.
func (r ProbeResult) WireRatio() float64 {
	if r.RTPBytes == 0 {
		return 0
	}
	w := 0
	for _, s := range r.Sizes {
		w += s
	}
	return float64(w) / float64(r.RTPBytes)
}

// Probe sends a probe train for one stream and waits for its packets (or
// the timeout). It blocks: not for the engine goroutine.
func Probe(ctx context.Context, cfg ProbeConfig) (ProbeResult, error) {
	if cfg.Packets <= 0 {
		cfg.Packets = DefaultProbePackets
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.MaxPacketSize <= 0 {
		cfg.MaxPacketSize = MaxRTPSize
	}
	if cfg.Engine == nil || cfg.Verifier == nil {
		return ProbeResult{}, fmt.Errorf("%w: probe needs an engine and a verifier", ErrConfig)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	prefix := proto.StreamPrefix(cfg.Owner, cfg.Stream)

	// Where the stream is: its metadata, from the publisher itself.
	var res ProbeResult
	metaCh := make(chan error, 1)
	expressOne(cfg.Engine, proto.MetaInterestName(prefix), true, true, DefaultMetaLifetime, func(a ndn.ExpressCallbackArgs, _ time.Time) {
		if a.Result != ndn.InterestResultData {
			metaCh <- fmt.Errorf("%w: metadata: %v", ErrProbe, a.Result)
			return
		}
		if err := checkAnswer(prefix, tag{kind: tagMeta}, a.Data, cfg.MaxPacketSize); err != nil {
			metaCh <- err
			return
		}
		content := a.Data.Content().Join()
		cfg.Verifier.Verify(cfg.Owner, a.Data, a.SigCovered, func(err error) {
			if err == nil {
				res.Meta, err = proto.DecodeStreamMeta(content)
			}
			metaCh <- err
		})
	})
	select {
	case err := <-metaCh:
		if err != nil {
			return res, err
		}
	case <-ctx.Done():
		return res, fmt.Errorf("%w: metadata: %v", ErrProbe, ctx.Err())
	}
	if res.Meta.Latest == 0 {
		return res, fmt.Errorf("%w: nothing published yet", ErrProbe)
	}
	first := uint64(1)
	if res.Meta.Latest > uint64(cfg.Packets) {
		first = res.Meta.Latest - uint64(cfg.Packets) + 1
	}
	first = max(first, res.Meta.Oldest)

	// The train: every Interest at once.
	type arrival struct {
		at        time.Time
		wire, rtp int
		seq       uint64
	}
	var mu gosync.Mutex
	var got []arrival
	n := int(res.Meta.Latest - first + 1)
	done := make(chan struct{}, n)
	for seq := first; seq <= res.Meta.Latest; seq++ {
		t := tag{kind: tagMedia, boot: res.Meta.Boot, seq: seq}
		name := proto.MediaName(prefix, res.Meta.Boot, seq)
		expressOne(cfg.Engine, name, false, false, cfg.Timeout, func(a ndn.ExpressCallbackArgs, at time.Time) {
			if a.Result != ndn.InterestResultData || checkAnswer(prefix, t, a.Data, cfg.MaxPacketSize) != nil ||
				a.Data.ContentType().GetOr(ndn.ContentTypeBlob) != ndn.ContentTypeBlob {
				done <- struct{}{}
				return
			}
			rtpLen := int(a.Data.Content().Length())
			wire := int(a.RawData.Length())
			if wire == 0 {
				wire = rtpLen
			}
			cfg.Verifier.Verify(cfg.Owner, a.Data, a.SigCovered, func(err error) {
				if err == nil {
					mu.Lock()
					got = append(got, arrival{at: at, wire: wire, rtp: rtpLen, seq: seq})
					mu.Unlock()
				}
				done <- struct{}{}
			})
		})
	}
wait:
	for range n {
		select {
		case <-done:
		case <-ctx.Done():
			break wait // late answers are ignored
		}
	}
	mu.Lock()
	defer mu.Unlock()
	// in arrival order
	for i := 1; i < len(got); i++ {
		for j := i; j > 0 && got[j].at.Before(got[j-1].at); j-- {
			got[j], got[j-1] = got[j-1], got[j]
		}
	}
	for _, a := range got {
		res.Arrivals = append(res.Arrivals, a.at)
		res.Sizes = append(res.Sizes, a.wire)
		res.RTPBytes += a.rtp
	}
	return res, nil
}

// expressOne sends one Interest; cb gets the result and the time it came
// (taken first thing on the engine goroutine). cb must not block.
func expressOne(e ndn.Engine, name enc.Name, cbp, mbf bool, life time.Duration, cb func(ndn.ExpressCallbackArgs, time.Time)) {
	intr, err := e.Spec().MakeInterest(name, &ndn.InterestConfig{
		CanBePrefix: cbp,
		MustBeFresh: mbf,
		Lifetime:    optional.Some(life),
		Nonce:       optional.Some(rand.Uint32()),
	}, nil, nil)
	if err != nil {
		cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultError}, time.Now())
		return
	}
	if err := e.Express(intr, func(a ndn.ExpressCallbackArgs) { cb(a, time.Now()) }); err != nil {
		cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultError}, time.Now())
	}
}
