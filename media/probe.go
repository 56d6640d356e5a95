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
	// Rate, when above 0, paces the train (bits/s on the wire): each
	// Interest leaves a mean packet's time at Rate after the one before
	// (the mean from the stream's metadata), so the Data come no faster
	// than Rate. A path that carries Rate delivers the train at about
	// Rate; a slower one spreads it to its own pace. A train all at once
	// (0) measures any capacity, but is a burst of ~13 KB into the
	// bottleneck: where it is a few hundred kbit/s, the token bucket drops
	// some of it and holds the pulled layer's packets behind the rest for
	// up to its whole queue, long enough to freeze the picture.
	Rate float64
	// MaxPacketSize bounds accepted RTP packets (default MaxRTPSize).
	MaxPacketSize int
}

// ProbeResult is what a probe measured: when each verified packet of the
// train arrived (in order) and its size on the wire, and the stream's
// metadata.
type ProbeResult struct {
	Arrivals []time.Time
	Sent     []time.Time // when each of those packets' Interest left
	Sizes    []int       // each packet's Data on the wire, in bytes
	RTPBytes int         // the RTP bytes those Data carried
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

	// The train: every Interest at once, or paced at cfg.Rate.
	var gap time.Duration
	if cfg.Rate > 0 {
		gap = time.Duration(meanWireBits(res.Meta) / cfg.Rate * float64(time.Second))
	}
	type arrival struct {
		at, sent  time.Time
		wire, rtp int
		seq       uint64
	}
	var mu gosync.Mutex
	var got []arrival
	done := make(chan struct{}, int(res.Meta.Latest-first+1))
	n := 0
	began := time.Now()
train:
	for seq := first; seq <= res.Meta.Latest; seq++ {
		// Each Interest at its time from the first (a timer fires late
		// on a busy machine; sleeping a gap each time would add that up
		// and pace the train slower than asked).
		if wait := time.Until(began.Add(time.Duration(seq-first) * gap)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				break train
			}
		}
		n++
		sent := time.Now()
		t := tag{kind: tagMedia, boot: res.Meta.Boot, seq: seq}
		name := proto.MediaName(prefix, res.Meta.Boot, seq)
		expressOne(cfg.Engine, name, false, false, cfg.Timeout, func(a ndn.ExpressCallbackArgs, at time.Time) {
			if a.Result != ndn.InterestResultData || checkAnswer(prefix, t, a.Data, cfg.MaxPacketSize) != nil ||
				a.Data.ContentType().GetOr(ndn.ContentTypeBlob) == ndn.ContentTypeNack {
				done <- struct{}{}
				return
			}
			rtpLen := len(rtpOf(a.Data))
			wire := int(a.RawData.Length())
			if wire == 0 {
				wire = rtpLen
			}
			arrived := func(err error) {
				if err == nil {
					mu.Lock()
					got = append(got, arrival{at: at, sent: sent, wire: wire, rtp: rtpLen, seq: seq})
					mu.Unlock()
				}
				done <- struct{}{}
			}
			if sig := a.Data.Signature(); sig != nil && sig.SigType() == ndn.SignatureDigestSha256 {
				// A packet inside a frame: its digest is checked, not its
				// manifest (a probe only times arrivals, it delivers
				// nothing).
				_, err := checkDigest(a.Data, a.SigCovered)
				arrived(err)
				return
			}
			cfg.Verifier.Verify(cfg.Owner, a.Data, a.SigCovered, arrived)
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
		res.Sent = append(res.Sent, a.sent)
		res.Sizes = append(res.Sizes, a.wire)
		res.RTPBytes += a.rtp
	}
	return res, nil
}

// probeOverhead is about what a media Data adds on the wire to its RTP
// packet (name, signature, TLV, NDNLPv2, UDP, IP), for pacing a train.
const probeOverhead = 180

// meanWireBits is the mean size on the wire of a stream's packets, from
// its metadata (1,200 bytes of RTP when it does not say).
func meanWireBits(m proto.StreamMeta) float64 {
	rtp := 1200.0
	if m.Rate > 0 && m.Bitrate > 0 {
		rtp = float64(m.Bitrate) / 8 / float64(m.Rate)
	}
	return 8 * (rtp + probeOverhead)
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
