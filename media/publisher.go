package media

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/security/signer"

	"github.com/peets/peets/proto"
)

// Publisher defaults.
const (
	DefaultRingSize         = 1024
	DefaultHorizon          = 512 // > DefaultMaxWindow: fetchers count their window from the oldest missing packet
	DefaultMaxHeld          = 2048
	DefaultKeyframeInterval = 400 * time.Millisecond
	heldSweepInterval       = 100 * time.Millisecond
	rateWindow              = time.Second
	defaultControlFreshness = 0
)

// PublisherConfig configures a Publisher.
type PublisherConfig struct {
	// Engine and Participant are used by NewPublisher, which makes a
	// private Producer; Producer.NewPublisher takes them from the producer.
	Engine      ndn.Engine
	Participant enc.Name

	// Stream is the stream id (proto.ValidIdent).
	Stream string
	// Boot separates restarts; default: the current time in microseconds
	// since the epoch (the t= convention). It must grow across restarts.
	Boot uint64
	// Signer signs every Data. Required.
	Signer Signer

	// RingSize is the number of recent packets served (default 1024,
	// ~3-10 s of video).
	RingSize int
	// Horizon is how far ahead of the newest seq an Interest is held
	// (default 512); Interests beyond are ignored and counted.
	Horizon uint64
	// MaxHeld bounds the held Interests (default 2048).
	MaxHeld int
	// Freshness is the FreshnessPeriod of media Data. Default 0: none, and
	// no MetaInfo at all (9 bytes less per packet). A media packet never
	// changes, so a cached copy is always right; caches keep Data without
	// FreshnessPeriod and give it to any Interest without MustBeFresh.
	Freshness time.Duration
	// MetaFreshness is the FreshnessPeriod of metadata Data (default 0:
	// every fresh metadata Interest reaches the publisher).
	MetaFreshness time.Duration
	// MaxPacketSize bounds the RTP packets accepted (default MaxRTPSize).
	MaxPacketSize int

	// OnKeyframeRequest asks the source for a keyframe. It is called from
	// the producer's worker goroutine, at most once per KeyframeInterval,
	// and must not block.
	OnKeyframeRequest func()
	// KeyframeInterval rate-limits OnKeyframeRequest (default 400 ms).
	KeyframeInterval time.Duration

	// OnInterest, if set, is called for every well-formed Interest for the
	// stream's media or metadata (a pull, a probe, an Interest held for a
	// packet to come), before it is answered. It runs on the engine
	// goroutine: it must be quick and must not block.
	OnInterest func()

	// MimeType and ClockRate are advertised in the stream metadata.
	MimeType  string
	ClockRate uint64

	// MediaKeys, if set and with a key, are the room's media keys: every
	// packet is sealed with a key of this stream and boot derived from the
	// newest one (crypt.go), and the metadata names its epoch (KeyEpoch).
	MediaKeys MediaKeys

	// Logger; slog.Default() if nil.
	Logger *slog.Logger
}

// Publisher publishes one local RTP stream: one signed Data per packet,
// served from a ring, with Interests for future packets held until they
// are published. It is safe for concurrent use; Publish is meant to be
// called from one media goroutine.
type Publisher struct {
	producer *Producer
	owned    bool // producer made by NewPublisher
	stream   string
	prefix   enc.Name
	boot     uint64
	signer   Signer
	enc      *dataEncoder // media Data of this boot, signed
	log      *slog.Logger

	// Per-frame signatures (video; proto/manifest.go): a packet that does
	// not end a frame is signed DigestSha256 (encDigest) and its digest
	// kept in unsigned (pubMu); the next one that ends a frame carries
	// their manifest (encManifest).
	perFrame    bool
	encDigest   *dataEncoder
	encManifest *dataEncoder
	unsigned    [][proto.DigestSize]byte
	scratch     []byte

	sealer *sealer // nil: in the clear
	sealed []byte  // pubMu: the last packet sealed

	horizon       uint64
	maxHeld       int
	freshness     time.Duration
	metaFreshness time.Duration
	maxPacket     int
	keyInterval   time.Duration
	onKeyframe    func()
	interestHook  func()
	mimeType      string
	clockRate     uint64

	pubMu  sync.Mutex // serializes Publish; taken before mu
	next   uint64     // next seq (pubMu)
	closed bool       // pubMu

	mu         sync.Mutex
	ring       ring
	latest     uint64
	keySeq     uint64
	keyTime    time.Time
	held       map[uint64][]heldInterest
	heldCount  int
	lastSweep  time.Time
	rate       uint64 // packets/s over the last rateWindow
	bitrate    uint64 // bits/s of RTP over the last rateWindow
	rateCount  uint64
	rateBytes  uint64
	rateStart  time.Time
	metaWire   []byte // cached signed metadata for metaLatest
	metaLatest uint64

	lastKeyReq time.Time // worker goroutine only

	counters pubCounters

	// testDrop, if set, makes the handler ignore media Interests for
	// which it returns true (tests: simulated loss).
	testDrop func(seq uint64) bool
}

type heldInterest struct {
	reply    ndn.WireReplyFunc
	deadline time.Time
}

// NewPublisher makes a Publisher with its own Producer (so it also answers
// keyframe requests of cfg.Participant). To publish several streams of one
// participant on one engine, use NewProducer and Producer.NewPublisher.
func NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	prod, err := NewProducer(ProducerConfig{Engine: cfg.Engine, Participant: cfg.Participant, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	pub, err := prod.NewPublisher(cfg)
	if err != nil {
		prod.Close()
		return nil, err
	}
	pub.owned = true
	return pub, nil
}

// NewPublisher makes a Publisher for one stream of the producer's
// participant and attaches its handler on the stream prefix.
func (p *Producer) NewPublisher(cfg PublisherConfig) (*Publisher, error) {
	if err := proto.ValidIdent(cfg.Stream); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.Signer == nil {
		return nil, fmt.Errorf("%w: signer is required", ErrConfig)
	}
	if len(cfg.Participant) > 0 && !cfg.Participant.Equal(p.participant) {
		return nil, fmt.Errorf("%w: participant %s is not the producer's %s", ErrConfig, cfg.Participant, p.participant)
	}
	if cfg.Boot == 0 {
		cfg.Boot = uint64(time.Now().UnixMicro())
	}
	if cfg.RingSize <= 0 {
		cfg.RingSize = DefaultRingSize
	}
	if cfg.Horizon == 0 {
		cfg.Horizon = DefaultHorizon
	}
	if cfg.MaxHeld <= 0 {
		cfg.MaxHeld = DefaultMaxHeld
	}
	if cfg.Freshness < 0 {
		cfg.Freshness = 0
	}
	if cfg.MetaFreshness < 0 {
		cfg.MetaFreshness = 0
	}
	if cfg.MaxPacketSize <= 0 {
		cfg.MaxPacketSize = MaxRTPSize
	}
	if cfg.MaxPacketSize > ndn.MaxNDNPacketSize-1024 {
		return nil, fmt.Errorf("%w: MaxPacketSize %d exceeds what fits in an NDN packet", ErrConfig, cfg.MaxPacketSize)
	}
	if cfg.KeyframeInterval <= 0 {
		cfg.KeyframeInterval = DefaultKeyframeInterval
	}
	log := cfg.Logger
	if log == nil {
		log = p.log
	}
	pub := &Publisher{
		producer:      p,
		stream:        cfg.Stream,
		prefix:        proto.StreamPrefix(p.participant, cfg.Stream).Clone(),
		boot:          cfg.Boot,
		signer:        cfg.Signer,
		log:           log.With("stream", cfg.Stream),
		horizon:       cfg.Horizon,
		maxHeld:       cfg.MaxHeld,
		freshness:     cfg.Freshness,
		metaFreshness: cfg.MetaFreshness,
		maxPacket:     cfg.MaxPacketSize,
		keyInterval:   cfg.KeyframeInterval,
		onKeyframe:    cfg.OnKeyframeRequest,
		interestHook:  cfg.OnInterest,
		mimeType:      cfg.MimeType,
		clockRate:     cfg.ClockRate,
		next:          1,
		ring:          newRing(cfg.RingSize),
		held:          make(map[uint64][]heldInterest),
	}
	if cfg.MediaKeys != nil && cfg.MediaKeys.Epoch() != 0 {
		pub.sealer = &sealer{keys: cfg.MediaKeys, stream: pub.prefix, boot: pub.boot}
	}
	pub.enc = newDataEncoder(pub.prefix, pub.boot, pub.signer, pub.freshness, 0)
	if pub.perFrame = strings.HasPrefix(strings.ToLower(cfg.MimeType), "video/"); pub.perFrame {
		pub.encDigest = newDataEncoder(pub.prefix, pub.boot, signer.NewSha256Signer(), pub.freshness, 0)
		pub.encManifest = newDataEncoder(pub.prefix, pub.boot, pub.signer, pub.freshness, proto.ContentTypeManifest)
	}
	if err := p.add(pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// Prefix returns the stream prefix S.
func (p *Publisher) Prefix() enc.Name { return p.prefix }

// Boot returns the boot of this publisher.
func (p *Publisher) Boot() uint64 { return p.boot }

// Publish makes, signs and stores one Data for the RTP packet pkt (its
// content is pkt unchanged, after a manifest on a video packet that ends a
// frame; pkt is copied and may be reused by the caller) and answers every
// Interest held for it. It returns the packet's seq. Signing happens here,
// on the caller's goroutine: once per packet, or once per frame on video.
func (p *Publisher) Publish(pkt []byte, keyframe bool) (uint64, error) {
	if len(pkt) == 0 {
		return 0, fmt.Errorf("%w: empty packet", ErrMalformed)
	}
	if len(pkt) > p.maxPacket {
		return 0, fmt.Errorf("%w: %d bytes > %d", ErrOversized, len(pkt), p.maxPacket)
	}
	p.pubMu.Lock()
	defer p.pubMu.Unlock()
	if p.closed {
		return 0, ErrClosed
	}
	seq := p.next
	content := pkt
	if p.sealer != nil {
		var err error
		if p.sealed, err = p.sealer.seal(p.sealed[:0], seq, pkt); err != nil {
			p.counters.signErrors.Add(1)
			return 0, fmt.Errorf("media: seal: %w", err)
		}
		content = p.sealed
	}
	wire, err := p.sign(seq, len(pkt) < 2 || pkt[1]&0x80 != 0, content)
	if err != nil {
		p.counters.signErrors.Add(1)
		return 0, fmt.Errorf("media: make data: %w", err)
	}
	p.next++

	now := time.Now()
	p.mu.Lock()
	p.ring.put(seq, wire, keyframe)
	p.latest = seq
	if keyframe {
		p.keySeq = seq
		p.keyTime = now
	}
	p.updateRateLocked(now, len(pkt))
	waiting := p.held[seq]
	if waiting != nil {
		delete(p.held, seq)
		p.heldCount -= len(waiting)
	}
	if now.Sub(p.lastSweep) >= heldSweepInterval {
		p.sweepLocked(now)
	}
	p.mu.Unlock()

	p.counters.published.Add(1)
	p.counters.bytesIn.Add(uint64(len(pkt)))
	if keyframe {
		p.counters.keyframes.Add(1)
	}
	for _, h := range waiting {
		if now.After(h.deadline) {
			p.counters.expired.Add(1)
			continue
		}
		p.counters.heldAnswered.Add(1)
		p.sendMedia(h.reply, wire)
	}
	return seq, nil
}

// sign encodes the Data of seq with content, the RTP packet, sealed or not
// (pubMu held): Ed25519 on every packet, or on video DigestSha256 on a
// packet that does not end a frame and Ed25519 with the manifest of those
// before it on the next one that does (or after proto.MaxUnsigned of them).
func (p *Publisher) sign(seq uint64, frameEnd bool, content []byte) ([]byte, error) {
	switch {
	case !p.perFrame:
		return p.enc.encode(seq, content)
	case !frameEnd && len(p.unsigned) < proto.MaxUnsigned: // the frame goes on
		wire, err := p.encDigest.encode(seq, content)
		if err != nil {
			return nil, err
		}
		var d [proto.DigestSize]byte
		copy(d[:], wire[len(wire)-sha256.Size:]) // the SignatureValue
		p.unsigned = append(p.unsigned, d)
		return wire, nil
	case len(p.unsigned) == 0:
		return p.enc.encode(seq, content)
	}
	p.scratch = proto.AppendManifest(p.scratch[:0], p.unsigned, content)
	wire, err := p.encManifest.encode(seq, p.scratch)
	if err == nil {
		p.unsigned = p.unsigned[:0]
	}
	return wire, err
}

// Stats returns a snapshot of the publisher's counters.
func (p *Publisher) Stats() PublisherStats {
	p.mu.Lock()
	p.sweepLocked(time.Now())
	latest, key, held := p.latest, p.keySeq, p.heldCount
	p.mu.Unlock()
	s := p.counters.snapshot()
	s.Boot, s.Latest, s.KeySeq, s.HeldNow = p.boot, latest, key, uint64(held)
	return s
}

// Meta returns the stream metadata as advertised now.
func (p *Publisher) Meta() proto.StreamMeta {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.metaLocked()
}

// Close detaches the stream's handler; held Interests are left to expire.
// If the publisher was made by NewPublisher its producer is closed too.
func (p *Publisher) Close() error {
	p.pubMu.Lock()
	if p.closed {
		p.pubMu.Unlock()
		return nil
	}
	p.closed = true
	p.pubMu.Unlock()

	p.producer.remove(p)
	p.mu.Lock()
	p.held = make(map[uint64][]heldInterest)
	p.heldCount = 0
	p.ring.reset()
	p.mu.Unlock()
	if p.owned {
		p.producer.Close()
	}
	return nil
}

func (p *Publisher) send(reply ndn.WireReplyFunc, wire []byte) bool {
	if err := reply(enc.Wire{wire}); err != nil {
		p.counters.replyErrors.Add(1)
		return false
	}
	p.counters.bytesOut.Add(uint64(len(wire)))
	return true
}

// sendMedia sends a media packet's Data.
func (p *Publisher) sendMedia(reply ndn.WireReplyFunc, wire []byte) {
	if p.send(reply, wire) {
		p.counters.mediaBytesOut.Add(uint64(len(wire)))
	}
}

func (p *Publisher) oldestLocked() uint64 {
	if p.latest == 0 {
		return 0
	}
	if p.latest < p.ring.size() {
		return 1
	}
	return p.latest - p.ring.size() + 1
}

func (p *Publisher) metaLocked() proto.StreamMeta {
	return proto.StreamMeta{
		Boot:      p.boot,
		Latest:    p.latest,
		Oldest:    p.oldestLocked(),
		KeySeq:    p.keySeq,
		MimeType:  p.mimeType,
		ClockRate: p.clockRate,
		Rate:      p.rate,
		Bitrate:   p.bitrate,
		KeyEpoch:  p.keyEpoch(),
	}
}

func (p *Publisher) keyEpoch() uint64 {
	if p.sealer == nil {
		return 0
	}
	if e := p.sealer.epoch.Load(); e != 0 {
		return e
	}
	return p.sealer.keys.Epoch() // nothing sealed yet
}

func (p *Publisher) updateRateLocked(now time.Time, size int) {
	if p.rateStart.IsZero() {
		p.rateStart = now
	}
	p.rateCount++
	p.rateBytes += uint64(size)
	if el := now.Sub(p.rateStart); el >= rateWindow {
		p.rate = uint64(float64(p.rateCount)/el.Seconds() + 0.5)
		p.bitrate = uint64(float64(p.rateBytes*8)/el.Seconds() + 0.5)
		p.rateCount, p.rateBytes = 0, 0
		p.rateStart = now
	}
}

// sweepLocked drops held Interests past their deadline.
func (p *Publisher) sweepLocked(now time.Time) {
	p.lastSweep = now
	for seq, hs := range p.held {
		kept := hs[:0]
		for _, h := range hs {
			if now.After(h.deadline) {
				p.counters.expired.Add(1)
				continue
			}
			kept = append(kept, h)
		}
		p.heldCount -= len(hs) - len(kept)
		if len(kept) == 0 {
			delete(p.held, seq)
		} else {
			clear(hs[len(kept):])
			p.held[seq] = kept
		}
	}
}
