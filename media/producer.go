package media

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/internal/ratelog"
	"github.com/peets/peets/proto"
)

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	// Engine is the NDN engine the handlers are attached to. The caller
	// registers a route for Participant with the forwarder.
	Engine ndn.Engine
	// Participant is the participant prefix P = <user-prefix>/<room>.
	Participant enc.Name
	// ControlQueue bounds the control answers (metadata, keyframe
	// requests, "gone") waiting to be signed. Default 256.
	ControlQueue int
	// Logger; slog.Default() if nil.
	Logger *slog.Logger
}

// Producer owns the Interest handlers of one participant's streams: the
// keyframe-request handler under P/ctrl/pli, shared by all streams, and the
// Publishers (one handler each, on their stream prefix). It runs one worker
// goroutine that signs the control answers, so that neither the engine
// goroutine nor the media goroutines wait on them.
type Producer struct {
	engine      ndn.Engine
	participant enc.Name
	pliPrefix   enc.Name
	log         *slog.Logger

	jobs chan func()
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	streams map[string]*Publisher
	closed  bool

	pliMalformed, pliUnknown, controlDrops atomic.Uint64
	panics                                 atomic.Uint64
	warn                                   ratelog.Limiter // panics recovered
}

// NewProducer attaches the keyframe-request handler of cfg.Participant and
// starts the control worker. Close stops both.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	if cfg.Engine == nil || len(cfg.Participant) == 0 {
		return nil, fmt.Errorf("%w: engine and participant are required", ErrConfig)
	}
	if cfg.ControlQueue <= 0 {
		cfg.ControlQueue = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Producer{
		engine:      cfg.Engine,
		participant: cfg.Participant.Clone(),
		pliPrefix:   proto.PLIPrefix(cfg.Participant).Clone(),
		log:         cfg.Logger.With("participant", cfg.Participant.String()),
		jobs:        make(chan func(), cfg.ControlQueue),
		done:        make(chan struct{}),
		streams:     make(map[string]*Publisher),
		warn:        ratelog.Limiter{Every: ratelog.DefaultEvery},
	}
	if err := p.engine.AttachHandler(p.pliPrefix, p.onPLI); err != nil {
		return nil, fmt.Errorf("attach %s: %w", p.pliPrefix, err)
	}
	p.wg.Add(1)
	go p.work()
	return p, nil
}

// Participant returns the participant prefix.
func (p *Producer) Participant() enc.Name { return p.participant }

// Close detaches the handlers of the producer and of all its publishers and
// stops the worker. It is idempotent.
func (p *Producer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	pubs := make([]*Publisher, 0, len(p.streams))
	for _, pub := range p.streams {
		pubs = append(pubs, pub)
	}
	p.mu.Unlock()
	for _, pub := range pubs {
		pub.Close()
	}
	_ = p.engine.DetachHandler(p.pliPrefix)
	close(p.done)
	p.wg.Wait()
	return nil
}

// Stats returns the producer's counters.
func (p *Producer) Stats() ProducerStats {
	return ProducerStats{
		PLIMalformed: p.pliMalformed.Load(),
		PLIUnknown:   p.pliUnknown.Load(),
		ControlDrops: p.controlDrops.Load(),
		Panics:       p.panics.Load(),
	}
}

func (p *Producer) add(pub *Publisher) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if _, ok := p.streams[pub.stream]; ok {
		return fmt.Errorf("%w: stream %q already published", ErrConfig, pub.stream)
	}
	if err := p.engine.AttachHandler(pub.prefix, pub.onInterest); err != nil {
		return fmt.Errorf("attach %s: %w", pub.prefix, err)
	}
	p.streams[pub.stream] = pub
	return nil
}

func (p *Producer) remove(pub *Publisher) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.streams[pub.stream] == pub {
		delete(p.streams, pub.stream)
		_ = p.engine.DetachHandler(pub.prefix)
	}
}

// post queues job for the worker without blocking; false if the queue is
// full or the producer closed.
func (p *Producer) post(job func()) bool {
	select {
	case <-p.done:
		return false
	default:
	}
	select {
	case p.jobs <- job:
		return true
	default:
		p.controlDrops.Add(1)
		return false
	}
}

func (p *Producer) work() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case job := <-p.jobs:
			p.run(job)
		}
	}
}

// run runs one job of the worker (the answer to one Interest).
func (p *Producer) run(job func()) {
	defer recovered(&p.panics, &p.warn, p.log, "control answer", nil)
	job()
}

// onPLI runs on the engine goroutine.
func (p *Producer) onPLI(args ndn.InterestHandlerArgs) {
	defer recovered(&p.panics, &p.warn, p.log, "keyframe request", nil)
	name := args.Interest.Name()
	req, err := proto.ParsePLINameStrict(p.participant, name)
	if err != nil {
		p.pliMalformed.Add(1)
		p.log.Debug("bad keyframe request", "name", name.String(), "err", err)
		return
	}
	p.mu.Lock()
	pub := p.streams[req.Stream]
	p.mu.Unlock()
	if pub == nil {
		p.pliUnknown.Add(1)
		return
	}
	pub.counters.pliReceived.Add(1)
	name = name.Clone()
	reply := args.Reply
	if !p.post(func() { pub.answerPLI(req, name, reply) }) {
		pub.counters.controlDrops.Add(1)
	}
}
