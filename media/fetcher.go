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

	"github.com/peets/peets/internal/metric"
	"github.com/peets/peets/internal/ratelog"
	"github.com/peets/peets/proto"
)

// Fetcher defaults.
const (
	DefaultLifetime       = 2 * time.Second
	DefaultMetaLifetime   = 500 * time.Millisecond
	DefaultReorderWait    = 80 * time.Millisecond
	DefaultMaxReorderWait = 250 * time.Millisecond
	DefaultMinWindow      = 32
	DefaultMaxWindow      = 256
	DefaultInterestBatch  = 8
	DefaultRateHint       = 50
	DefaultBufferSize     = 512
	DefaultMaxStartLag    = 512
	DefaultPLIInterval    = 300 * time.Millisecond
	defaultRetries        = 3
	slotRingSize          = 1024 // >= 2*DefaultMaxWindow, power of two
	bootRegressAfter      = 5 * time.Second
	verifyTimeout         = 5 * time.Second
	stallProbe            = time.Second
	DefaultRTTProbe       = 2 * time.Second
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
	// OnPacket receives the RTP packets in seq order, one call at a time,
	// while Run runs. It is called on the goroutine that handled the Data,
	// normally the engine's (see Fetcher), so it must not block nor call
	// into the engine synchronously (RegisterRoute, ExecMgmtCmd); it may
	// call the Fetcher's methods. rtp must not be modified; it may be
	// retained.
	OnPacket func(rtp []byte, seq uint64)

	// RateHint is the expected packet rate (packets/s) before one is
	// measured; it sizes the Interest window. Default 50.
	RateHint float64
	// MinWindow and MaxWindow bound the number of Interests kept
	// outstanding ahead of the next packet to deliver (defaults 32, 256;
	// MaxWindow + InterestBatch should not exceed the publisher's Horizon).
	MinWindow, MaxWindow int
	// InterestBatch: Interests for new seqs are expressed in batches of
	// this many, aligned on multiples of it (default 8, at most 64; 1 sends
	// one Interest per delivered packet). The publisher then gets them in
	// bursts, one wake-up per batch instead of one per packet, and all
	// subscribers of a stream share the batch boundaries, so forwarders
	// still merge their Interests. The window is then between its size and
	// its size plus InterestBatch-1.
	InterestBatch int
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
	// MediaKeys are the room's media keys, to open sealed streams
	// (crypt.go).
	MediaKeys MediaKeys
	// BufferSize is the number of delivered packets kept for Buffered
	// (default 512).
	BufferSize int
	// RTTProbeInterval: while the stream flows, a metadata query goes to
	// the publisher when no RTT was measured for this long (default 2 s),
	// so that repairs are timed by the current RTT.
	RTTProbeInterval time.Duration
	// PLIInterval rate-limits RequestKeyframe (default 300 ms).
	PLIInterval time.Duration
	// AwaitKeyframe (video): a fetcher that cannot start at a keyframe
	// (none recent enough, MaxStartLag) asks for one and pulls nothing
	// until it is published, polling the metadata every KeyframePoll
	// (default 50 ms) and asking again every second, instead of pulling
	// packets that cannot be decoded without it. For a simulcast layer
	// being switched to, whose packets before its keyframe would be
	// dropped: they are load on the path the switch is about.
	AwaitKeyframe bool
	KeyframePoll  time.Duration
	// Logger; slog.Default() if nil.
	Logger *slog.Logger
}

// Fetcher fetches one remote stream and delivers its RTP packets in order.
// Stats, Buffered, RequestKeyframe, Rediscover and Refresh may be called
// from any goroutine.
//
// Where the work runs: an arriving Data is handled (checked, verified,
// delivered, the window refilled) at once on the goroutine that brought it,
// normally the engine's, instead of being handed to Run's goroutine. At a
// real-time packet rate a proxy is idle between packets, and each handoff
// to a parked goroutine costs a thread wake-up (a futex, often another
// CPU), which costs more CPU than the handling itself. Run's goroutine only
// acts on requests; deadlines (repairs, probes) are met by a timer armed for
// the next one, never a periodic tick. The state is guarded by mu; whoever
// holds it also handles the events queued meanwhile, so a callback never
// waits for the lock (no lock-order cycles with the verifier's callbacks,
// nothing blocks the engine goroutine on Run).
type Fetcher struct {
	cfg      FetcherConfig
	engine   ndn.Engine
	owner    enc.Name
	prefix   enc.Name
	verifier Verifier
	cipher   *opener // opens the current boot's packets; nil: in the clear
	log      *slog.Logger

	events   chan event
	kick     chan struct{} // wakes Run: a request (RequestKeyframe, Rediscover, Refresh)
	pliReq   atomic.Bool
	probeReq atomic.Bool
	refresh  atomic.Bool
	running  atomic.Bool
	dropped  atomic.Uint64   // events dropped by callbacks
	panics   atomic.Uint64   // panics recovered (recovered)
	badLog   ratelog.Limiter // warnings about bad answers and panics

	// mu guards everything below "owned" (and active, wakeAt, armedAt).
	mu      sync.Mutex
	active  bool        // between Run's start and its end: events are handled
	wakeAt  time.Time   // when step next needs to run
	armedAt time.Time   // when timer fires; zero: not armed
	timer   *time.Timer // runs onTimer

	bufMu  sync.Mutex
	buf    ring   // delivered packets, for Buffered
	bufTop uint64 // newest seq in buf (bufMu)

	statsMu sync.Mutex
	shared  FetcherStats // snapshot published by Run (statsMu)

	// Owned: everything below is guarded by mu.
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
	// Refresh follow-ups (refreshStep): start, next, current gap; refreshOK:
	// an Interest expressed since the start was answered.
	refreshStart, refreshNext time.Time
	refreshGap                time.Duration
	refreshOK                 bool
	nextProbe                 time.Time
	probeEvery                time.Duration
	lastPLI                   time.Time
	pliWanted                 bool
	probeWanted               bool
	awaitKey                  bool          // AwaitKeyframe: waiting for a keyframe newer than awaitAfter
	awaitAfter                uint64        // the newest keyframe seq known when the wait began
	nextKeyPoll               time.Time     // next metadata poll while awaitKey
	srtt, rttvar              time.Duration // RFC 6298 estimator of the media RTT
	rttSampled                bool
	minRTT                    time.Duration // smallest RTT sample lately (minRTTAt, renewed after rttMemory)
	minRTTAt                  time.Time
	reoWin                    time.Duration // reordering window (Stats.ReorderWindow), forgotten after reorderMemory without reordering
	reoAt                     time.Time
	lastSample                time.Time // last RTT sample, or RTT probe sent
	rate                      float64   // measured packets/s
	rateCount                 int
	rateStart                 time.Time
	jitter                    float64 // seconds
	lastArrival               time.Time
	lastTS                    uint32
	haveTS                    bool
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
	if cfg.InterestBatch <= 0 {
		cfg.InterestBatch = DefaultInterestBatch
	}
	cfg.InterestBatch = min(cfg.InterestBatch, 64)
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
	if cfg.KeyframePoll <= 0 {
		cfg.KeyframePoll = 50 * time.Millisecond
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
	if cfg.RTTProbeInterval <= 0 {
		cfg.RTTProbeInterval = DefaultRTTProbe
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
		verifier: newFrameVerifier(cfg.Verifier),
		log:      cfg.Logger.With("stream", prefix.String()),
		events:   make(chan event, 4*slotRingSize),
		kick:     make(chan struct{}, 1),
		badLog:   ratelog.Limiter{Every: ratelog.DefaultEvery},
		buf:      newRing(cfg.BufferSize),
		slots:    make([]fslot, slotRingSize),
	}, nil
}

// Prefix returns the stream prefix S.
func (f *Fetcher) Prefix() enc.Name { return f.prefix }

// Run fetches the stream until ctx is cancelled, then returns nil. Interests
// still outstanding then complete on their own; their results are ignored,
// and OnPacket is not called any more once Run has returned.
func (f *Fetcher) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run called twice", ErrConfig)
	}
	f.mu.Lock()
	f.init(time.Now())
	f.active = true
	f.timer = time.AfterFunc(time.Hour, f.onTimer)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.active = false
		f.timer.Stop()
		f.mu.Unlock()
		f.discard()
	}()
	for {
		f.mu.Lock()
		f.process()
		f.mu.Unlock()
		f.pump() // events queued while the lock was held here
		select {
		case <-ctx.Done():
			return nil
		case <-f.kick:
		}
	}
}

// init sets the state machine's initial state (mu held).
func (f *Fetcher) init(now time.Time) {
	f.start = now
	f.metaBackoff = 100 * time.Millisecond
	f.probeEvery = stallProbe
	f.srtt, f.rttvar = 50*time.Millisecond, 25*time.Millisecond
	f.st.Window = f.window()
}

// onTimer runs when the timer armed for the state machine's next deadline
// fires (on a goroutine of its own).
func (f *Fetcher) onTimer() {
	f.mu.Lock()
	f.armedAt = time.Time{} // fired: process re-arms it
	f.process()
	f.mu.Unlock()
	f.pump()
}

// process handles the queued events and requests, steps the state machine
// and arms the timer for its next deadline (mu held).
func (f *Fetcher) process() {
	if !f.active {
		f.discard() // before Run or after it: results are ignored
		return
	}
	if f.pliReq.Swap(false) {
		f.pliWanted = true
	}
	if f.probeReq.Swap(false) {
		f.probeWanted = true
	}
	if f.refresh.Swap(false) {
		uncork := f.cork()
		f.refreshNow(time.Now())
		uncork()
	}
	for {
		// Batches of a bounded size: delivery keeps up during a flood.
		n := 0
	batch:
		for ; n < 64; n++ {
			select {
			case ev := <-f.events:
				f.handleEvent(ev, time.Now())
			default:
				break batch
			}
		}
		uncork := f.cork() // the Interests step sends: one write
		f.wakeAt = f.step(time.Now())
		uncork()
		if n < 64 {
			break
		}
	}
	f.publishStats()
	f.arm(time.Now())
}

// corker is a face that can hold a burst of packets and write them at
// once (the daemon's stream face: see forwarder.streamFace.Cork).
type corker interface {
	Cork() (uncork func())
}

// cork corks the engine's face if it can (see corker). Only the sending
// is corked, not the handling of Data (verification): packets of other
// goroutines on the same face, such as the local publisher's, must not
// wait for it.
func (f *Fetcher) cork() (uncork func()) {
	if c, ok := f.engine.Face().(corker); ok {
		return c.Cork()
	}
	return func() {}
}

// timerSlack: a timer armed to fire within it is moved to a later deadline
// only if that one is at least as far again (a hole filled by the next
// packet must not cost a wake-up; a 1 s probe moving by 20 ms with every
// packet must not cost a timer update per packet).
const timerSlack = 100 * time.Millisecond

// arm sets the timer to the state machine's next deadline: earlier at once;
// later only when the armed one is close and the new one much later (mu
// held). A timer that fires before the deadline is harmless: process
// re-arms it.
func (f *Fetcher) arm(now time.Time) {
	due := f.wakeAt
	switch {
	case f.armedAt.IsZero(), due.Before(f.armedAt):
	case f.armedAt.Sub(now) < timerSlack && due.Sub(f.armedAt) > timerSlack:
	default:
		return
	}
	// At least 1 ms: a deadline in the past must not make a busy loop.
	d := max(due.Sub(now), time.Millisecond)
	f.armedAt = now.Add(d)
	f.timer.Reset(d)
}

// pump handles the queued events on the calling goroutine unless another
// holds the lock (it then handles them before letting go). It never waits.
func (f *Fetcher) pump() {
	for len(f.events) > 0 && f.mu.TryLock() {
		f.process()
		f.mu.Unlock()
	}
}

// wake makes Run look again (non-blocking).
func (f *Fetcher) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// discard drops the queued events (after Run).
func (f *Fetcher) discard() {
	for {
		select {
		case <-f.events:
		default:
			return
		}
	}
}

// RequestKeyframe asks the publisher for a keyframe (a PLI Interest),
// at most once per PLIInterval. It does not block.
func (f *Fetcher) RequestKeyframe() {
	f.pliReq.Store(true)
	f.wake()
}

// Rediscover makes the fetcher ask the publisher where the stream is now
// (a metadata Interest), e.g. when the roster reports that the publisher
// restarted: a new boot is then followed at once. It does not block.
func (f *Fetcher) Rediscover() {
	f.probeReq.Store(true)
	f.wake()
}

// Refresh re-expresses at once every Interest of the window still waiting
// for its Data (and the metadata Interest if one is pending), e.g. when the
// connection to the forwarder is up again after a forwarder restart: the
// Interests outstanding then died with the forwarder's PIT, and waiting for
// their lifetime to run out would stall the stream for seconds. It does not
// block.
func (f *Fetcher) Refresh() {
	f.refresh.Store(true)
	f.wake()
}

// Stats returns a snapshot of the fetcher's counters, as of Run's last
// step.
func (f *Fetcher) Stats() FetcherStats {
	f.statsMu.Lock()
	s := f.shared
	f.statsMu.Unlock()
	s.EventsDropped = f.dropped.Load()
	s.Panics = f.panics.Load()
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
	f.st.Bitrate = f.meta.Bitrate
	f.st.SRTT, f.st.RTTVar, f.st.RTO = metric.Millis(f.srtt), metric.Millis(f.rttvar), metric.Millis(f.rto())
	f.st.ReorderWindow = metric.Millis(f.reoWin)
	f.st.Jitter = metric.Millis(f.jitter * float64(time.Second))
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
