package media

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/proto"
)

// Fetcher defaults.
const (
	DefaultLifetime       = 2 * time.Second
	DefaultMetaLifetime   = time.Second
	DefaultReorderWait    = 80 * time.Millisecond
	DefaultMaxReorderWait = 250 * time.Millisecond
	DefaultMinWindow      = 32
	DefaultMaxWindow      = 256
	DefaultRateHint       = 50
	DefaultBufferSize     = 512
	DefaultMaxStartLag    = 512
	DefaultPLIInterval    = 300 * time.Millisecond
	defaultRetries        = 3
	slotRingSize          = 1024 // >= 2*DefaultMaxWindow, power of two
	bootRegressAfter      = 5 * time.Second
	verifyTimeout         = 5 * time.Second
	stallProbe            = time.Second
	maxStallProbe         = 8 * time.Second
)

// FetcherConfig configures a Fetcher.
type FetcherConfig struct {
	// Engine expresses the Interests.
	Engine ndn.Engine
	// Owner is the publisher's participant prefix; Stream its stream id.
	Owner  enc.Name
	Stream string
	// Verifier checks every Data (media, metadata, answers). Required.
	Verifier Verifier
	// OnPacket receives the RTP packets in seq order, on the goroutine
	// running Run. rtp must not be modified; it may be retained.
	OnPacket func(rtp []byte, seq uint64)

	// RateHint is the expected packet rate (packets/s) before one is
	// measured; it sizes the Interest window. Default 50.
	RateHint float64
	// MinWindow and MaxWindow bound the number of Interests kept
	// outstanding ahead of the next packet to deliver (defaults 32, 256;
	// MaxWindow should not exceed the publisher's Horizon).
	MinWindow, MaxWindow int
	// Lifetime of media Interests, which the publisher holds until the
	// packet exists (default 2 s); they are re-expressed when they expire.
	Lifetime time.Duration
	// ReorderWait is how long a missing packet may hold up delivery once a
	// later one arrived (default 80 ms); it is stretched to fit a few
	// retransmissions when the RTT is large, up to MaxReorderWait (250 ms).
	ReorderWait, MaxReorderWait time.Duration
	// Retries bounds the retransmissions of one missing packet (default 3).
	Retries int
	// MaxStartLag: the fetcher starts at the latest keyframe if it is at
	// most this many packets old, else at the next packet (default 512).
	MaxStartLag uint64
	// MaxPacketSize bounds accepted RTP packets (default MaxRTPSize).
	MaxPacketSize int
	// BufferSize is the number of delivered packets kept for Buffered
	// (default 512).
	BufferSize int
	// PLIInterval rate-limits RequestKeyframe (default 300 ms).
	PLIInterval time.Duration
	// Logger; slog.Default() if nil.
	Logger *slog.Logger
}

// Fetcher fetches one remote stream and delivers its RTP packets in order.
// Run does the work on the caller's goroutine; Stats, Buffered and
// RequestKeyframe may be called from any goroutine.
type Fetcher struct {
	cfg      FetcherConfig
	engine   ndn.Engine
	owner    enc.Name
	prefix   enc.Name
	verifier Verifier
	log      *slog.Logger

	events  chan event
	pliReq  chan struct{}
	probe   chan struct{}
	running atomic.Bool

	dropped atomic.Uint64 // events dropped by callbacks

	bufMu  sync.Mutex
	buf    ring   // delivered packets, for Buffered
	bufTop uint64 // newest seq in buf (bufMu)

	statsMu sync.Mutex
	shared  FetcherStats // snapshot published by Run (statsMu)

	// Everything below is owned by the goroutine running Run.
	st          FetcherStats
	start       time.Time
	boot        uint64
	meta        proto.StreamMeta // newest known metadata of boot
	slots       []fslot
	deliverSeq  uint64 // next seq to deliver
	nextExpress uint64 // next seq to express for the first time
	highest     uint64 // highest seq received in this boot
	metaPending bool
	metaSent    time.Time
	metaRetry   time.Time // discovery: next meta Interest
	metaBackoff time.Duration
	lastData    time.Time
	nextProbe   time.Time
	probeEvery  time.Duration
	lastPLI     time.Time
	pliWanted   bool
	probeWanted bool
	srtt        time.Duration
	rttSampled  bool
	rate        float64 // measured packets/s
	rateCount   int
	rateStart   time.Time
	jitter      float64 // seconds
	lastArrival time.Time
	lastTS      uint32
	haveTS      bool
}

// NewFetcher checks cfg and makes a Fetcher; Run starts it.
func NewFetcher(cfg FetcherConfig) (*Fetcher, error) {
	if cfg.Engine == nil || len(cfg.Owner) == 0 || cfg.Verifier == nil || cfg.OnPacket == nil {
		return nil, fmt.Errorf("%w: engine, owner, verifier and OnPacket are required", ErrConfig)
	}
	if err := proto.ValidIdent(cfg.Stream); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.RateHint <= 0 {
		cfg.RateHint = DefaultRateHint
	}
	if cfg.MinWindow <= 0 {
		cfg.MinWindow = DefaultMinWindow
	}
	if cfg.MaxWindow <= 0 {
		cfg.MaxWindow = DefaultMaxWindow
	}
	cfg.MaxWindow = min(cfg.MaxWindow, slotRingSize/2)
	cfg.MinWindow = min(cfg.MinWindow, cfg.MaxWindow)
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.ReorderWait <= 0 {
		cfg.ReorderWait = DefaultReorderWait
	}
	if cfg.MaxReorderWait < cfg.ReorderWait {
		cfg.MaxReorderWait = max(DefaultMaxReorderWait, cfg.ReorderWait)
	}
	if cfg.Retries <= 0 {
		cfg.Retries = defaultRetries
	}
	if cfg.MaxStartLag == 0 {
		cfg.MaxStartLag = DefaultMaxStartLag
	}
	if cfg.MaxPacketSize <= 0 {
		cfg.MaxPacketSize = MaxRTPSize
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	if cfg.PLIInterval <= 0 {
		cfg.PLIInterval = DefaultPLIInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	prefix := proto.StreamPrefix(cfg.Owner, cfg.Stream).Clone()
	return &Fetcher{
		cfg:      cfg,
		engine:   cfg.Engine,
		owner:    cfg.Owner.Clone(),
		prefix:   prefix,
		verifier: cfg.Verifier,
		log:      cfg.Logger.With("stream", prefix.String()),
		events:   make(chan event, 4*slotRingSize),
		pliReq:   make(chan struct{}, 1),
		probe:    make(chan struct{}, 1),
		buf:      newRing(cfg.BufferSize),
		slots:    make([]fslot, slotRingSize),
	}, nil
}

// Prefix returns the stream prefix S.
func (f *Fetcher) Prefix() enc.Name { return f.prefix }

// Run fetches the stream until ctx is cancelled, then returns nil. Interests
// still outstanding then complete on their own; their results are ignored.
func (f *Fetcher) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run called twice", ErrConfig)
	}
	f.start = time.Now()
	f.metaBackoff = 100 * time.Millisecond
	f.probeEvery = stallProbe
	f.srtt = 50 * time.Millisecond
	f.st.Window = f.window()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		wake := f.step(now)
		f.publishStats()
		// At least 1 ms: a deadline in the past must not make a busy loop.
		timer.Reset(max(wake.Sub(now), time.Millisecond))
		select {
		case <-ctx.Done():
			return nil
		case ev := <-f.events:
			f.handle(ev, time.Now())
			f.drain()
		case <-f.pliReq:
			f.pliWanted = true
		case <-f.probe:
			f.probeWanted = true
		case <-timer.C:
		}
	}
}

// drain handles the events already queued (up to a batch) before the next
// step.
func (f *Fetcher) drain() {
	for range 64 {
		select {
		case ev := <-f.events:
			f.handle(ev, time.Now())
		default:
			return
		}
	}
}

// RequestKeyframe asks the publisher for a keyframe (a PLI Interest),
// at most once per PLIInterval. It does not block.
func (f *Fetcher) RequestKeyframe() {
	select {
	case f.pliReq <- struct{}{}:
	default:
	}
}

// Rediscover makes the fetcher ask the publisher where the stream is now
// (a metadata Interest), e.g. when the roster reports that the publisher
// restarted: a new boot is then followed at once. It does not block.
func (f *Fetcher) Rediscover() {
	select {
	case f.probe <- struct{}{}:
	default:
	}
}

// Stats returns a snapshot of the fetcher's counters, as of Run's last
// step.
func (f *Fetcher) Stats() FetcherStats {
	f.statsMu.Lock()
	s := f.shared
	f.statsMu.Unlock()
	s.EventsDropped = f.dropped.Load()
	return s
}

// Buffered returns the delivered packet of seq if it is still in the
// buffer of recent packets, else nil. The result must not be modified.
func (f *Fetcher) Buffered(seq uint64) []byte {
	f.bufMu.Lock()
	defer f.bufMu.Unlock()
	if e, ok := f.buf.get(seq); ok {
		return e.buf
	}
	return nil
}

// BufferedRTP returns the most recent delivered packet whose RTP sequence
// number is rtpSeq, if still buffered (to answer a receiver's NACK). The
// result must not be modified.
func (f *Fetcher) BufferedRTP(rtpSeq uint16) []byte {
	f.bufMu.Lock()
	defer f.bufMu.Unlock()
	return f.buf.findRTP(f.bufTop, rtpSeq)
}

func (f *Fetcher) publishStats() {
	f.st.Boot = f.boot
	if f.deliverSeq > 0 {
		f.st.CurrentSeq = f.deliverSeq - 1
	}
	f.st.Latest = max(f.meta.Latest, f.highest)
	f.st.KeySeq = f.meta.KeySeq
	f.st.SRTT = f.srtt
	f.st.Jitter = time.Duration(f.jitter * float64(time.Second))
	f.statsMu.Lock()
	f.shared = f.st
	f.statsMu.Unlock()
}

func (f *Fetcher) keep(seq uint64, pkt []byte) {
	f.bufMu.Lock()
	f.buf.put(seq, pkt, false)
	f.bufTop = seq
	f.bufMu.Unlock()
}

func (f *Fetcher) resetBuffer() {
	f.bufMu.Lock()
	f.buf.reset()
	f.bufTop = 0
	f.bufMu.Unlock()
}
