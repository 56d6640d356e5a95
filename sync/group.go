package roomsync

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	gosync "sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/internal/ratelog"
	"github.com/peets/peets/proto"
)

// Defaults of GroupConfig.
const (
	DefaultHistory          = 20
	DefaultKeep             = 256
	DefaultMaxPeers         = 256
	DefaultFetchLifetime    = time.Second
	DefaultFreshness        = time.Second
	DefaultOrderedFreshness = 10 * time.Second
	DefaultSuppression      = 200 * time.Millisecond
	DefaultPeriodic         = 30 * time.Second
	// DefaultPeerIdle is how long a member's verified position is kept
	// (and announced) without news from it.
	DefaultPeerIdle = 5 * time.Minute
	// DefaultVectorBudget bounds the entries of a sent state vector, in
	// bytes: the sync Interest stays well under an NDN packet's 8800 bytes
	// (about 80 members with /peets/user/<id>/<room> names). Members beyond
	// it still announce themselves; they are only not carried by others.
	DefaultVectorBudget = 6000
)

// GroupConfig configures Join.
type GroupConfig struct {
	// Conn is the forwarder connection (required).
	Conn Conn
	// Group is the sync group prefix G (required).
	Group enc.Name
	// Self is the participant prefix P this member publishes under; nil makes
	// an observer, which publishes nothing.
	Self enc.Name
	// Signer signs own publications (required with Self); its key must be
	// P/KEY/<id>, so that others' Verifier accepts it.
	Signer ndn.Signer
	// Verifier checks others' publications (required).
	Verifier Verifier
	// OnPub receives every accepted publication, on the group's goroutine:
	// it must not block, nor call Close.
	OnPub func(Pub)
	// AcceptPeer, if set, filters the state vector entry names worth
	// fetching from (for example: only names ending with the room id).
	AcceptPeer func(enc.Name) bool

	// Boot is this member's boot time (s since the epoch; default now).
	Boot uint64
	// Freshness is the FreshnessPeriod of unordered publications (default
	// 1 s; set it to about one heartbeat interval).
	Freshness time.Duration
	// OrderedFreshness is the FreshnessPeriod of ordered ones (default 10 s).
	OrderedFreshness time.Duration
	// FetchLifetime is the lifetime of fetch Interests (default 1 s).
	FetchLifetime time.Duration
	// History is how many ordered publications sent before this member first
	// heard of a publisher it delivers (0: DefaultHistory; negative: none).
	History int
	// Keep is how many own ordered publications stay served (default 256).
	Keep int
	// MaxPeers bounds the publishers whose publications verified (default
	// 256). Names only announced, never verified, are bounded separately
	// and forgotten when their fetches fail.
	MaxPeers int
	// SuppressionPeriod and PeriodicTimeout tune SVS (defaults 200 ms, 30 s).
	SuppressionPeriod time.Duration
	PeriodicTimeout   time.Duration
	// PeerIdle is how long a verified position is kept without news
	// (default DefaultPeerIdle).
	PeerIdle time.Duration
	// VectorBudget bounds the bytes of entries in a sent state vector
	// (default DefaultVectorBudget).
	VectorBudget int

	Logger *slog.Logger
}

// Pub is a publication received from another member, checked and verified.
type Pub struct {
	Publisher enc.Name        // participant prefix P
	Boot      uint64          // publisher's boot (s)
	Seq       uint64          // publisher's seq
	Kind      string          // proto.PubKind*
	Ordered   bool            // part of the ordered stream
	Sent      time.Time       // publisher's clock
	Received  time.Time       // local clock
	Body      json.RawMessage // the kind's JSON object
}

// Group is a joined sync group. Its methods are safe for concurrent use.
type Group struct {
	cfg        GroupConfig
	e          ndn.Engine
	log        *slog.Logger
	boot       uint64
	syncPrefix enc.Name // G/v=3

	out    outbox
	stats  counters
	inbox  inbox
	badLog ratelog.Limiter // rejected sync Interests and claims
	panLog ratelog.Limiter // recovered panics

	// owned by run
	peers  map[string]*peer
	vec    *vectorState
	failed failedClaims

	closeOnce gosync.Once
	cancel    context.CancelFunc
	cancelUp  func() // stops capture after reconnects
	done      chan struct{}
}

// upConn is a Conn that re-applies its routes after a reconnect and then
// calls the OnUp callbacks (forwarder.Conn).
type upConn interface {
	OnUp(f func()) (cancel func())
}

// captureFlags are the flags of the own publications' route.
const captureFlags = uint64(mgmt.RouteFlagChildInherit | mgmt.RouteFlagCapture)

// capture sets the Capture flag on the route of this boot's publications,
// P/sync/t=<boot> (Conn.Register registered it, with the default flags): a
// forwarder then sends their Interests to this member only, never along a
// route inherited from a shorter prefix. Without it, another process that
// registers P (a second proxy of the same user, an impostor: each registers
// P for its certificate and media, with ChildInherit) gets them whenever the
// forwarder happens to list its nexthop first (ndnd orders equal-cost
// nexthops arbitrarily), and answers that it has no such publication: the
// members miss this one's heartbeats and expire it.
// It is redone after every reconnect (the Conn registers the route again,
// with the default flags). A failure only loses that protection.
func (g *Group) capture(ctx context.Context) {
	select {
	case <-g.done:
		return
	default:
	}
	route := proto.SyncBootPrefix(g.cfg.Self, g.boot)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ch := make(chan error, 1)
	go func() {
		_, err := g.e.ExecMgmtCmd("rib", "register", &mgmt.ControlArgs{
			Name: route, Flags: optional.Some(captureFlags),
		})
		ch <- err
	}()
	select {
	case err := <-ch:
		if err != nil {
			g.log.Warn("own publications' route not captured", "route", route, "err", err)
		}
	case <-ctx.Done():
		g.log.Warn("own publications' route not captured", "route", route, "err", ctx.Err())
	}
}

// Join joins the sync group: it sets the multicast strategy on G, registers
// G (and P/sync/t=<boot>, where Self's publications are served, with the
// Capture flag) and starts SVS. The participant prefix P itself (its
// certificate, its media) is the caller's to register. ctx bounds the setup
// only; the group runs until Close.
func Join(ctx context.Context, cfg GroupConfig) (*Group, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	g := &Group{
		cfg:        cfg,
		e:          cfg.Conn.Engine(),
		log:        cfg.Logger.With("module", "roomsync", "group", cfg.Group.String()),
		boot:       cfg.Boot,
		syncPrefix: proto.SyncInterestPrefix(cfg.Group),
		peers:      make(map[string]*peer),
		badLog:     ratelog.Limiter{Every: ratelog.DefaultEvery},
		panLog:     ratelog.Limiter{Every: ratelog.DefaultEvery},
		done:       make(chan struct{}),
		cancelUp:   func() {},
	}
	g.vec = newVectorState(cfg.Self, cfg.Boot, cfg.PeriodicTimeout, cfg.SuppressionPeriod, cfg.VectorBudget,
		cfg.PeerIdle, rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), time.Now())
	g.failed.init(maxFailedClaims)
	g.inbox.init()
	g.out.init(cfg.Keep)
	if g.e == nil {
		return nil, fmt.Errorf("%w: connection has no engine", ErrConfig)
	}

	// A command the forwarder refuses or does not answer is no reason to
	// leave: the Conn remembers it and applies it again (in the background,
	// and after every reconnect). Meanwhile the room may not hear us.
	if err := cfg.Conn.SetStrategy(ctx, cfg.Group, MulticastStrategy); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("roomsync: set multicast strategy on %s: %w", cfg.Group, err)
		}
		g.log.Warn("multicast strategy not set yet on the room's group prefix: retrying", "prefix", cfg.Group, "err", err)
	}
	if err := cfg.Conn.Register(ctx, cfg.Group); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("roomsync: register %s: %w", cfg.Group, err)
		}
		g.log.Warn("the room's group prefix is not routed to us yet: retrying", "prefix", cfg.Group, "err", err)
	}
	if cfg.Self != nil {
		// The route is for this boot only, and captures (see capture); the
		// handler takes all of P/sync, to answer a stray Interest.
		route := proto.SyncBootPrefix(cfg.Self, cfg.Boot)
		if err := cfg.Conn.Register(ctx, route); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("roomsync: register %s: %w", route, err)
			}
			g.log.Warn("our publications' prefix is not routed to us yet: retrying", "prefix", route, "err", err)
		}
		g.capture(ctx)
		pre := proto.SyncPubPrefix(cfg.Self)
		if err := g.e.AttachHandler(pre, g.onInterest); err != nil {
			_ = cfg.Conn.Unregister(ctx, route)
			return nil, fmt.Errorf("roomsync: serve %s: %w", pre, err)
		}
	}
	if err := g.attachSync(ctx); err != nil {
		uctx, ucancel := context.WithTimeout(context.Background(), time.Second)
		defer ucancel()
		_ = cfg.Conn.Unregister(uctx, cfg.Group)
		if cfg.Self != nil {
			_ = g.e.DetachHandler(proto.SyncPubPrefix(cfg.Self))
			_ = cfg.Conn.Unregister(uctx, proto.SyncBootPrefix(cfg.Self, cfg.Boot))
		}
		return nil, err
	}
	// After a reconnect the forwarder lost our Interests and the others may
	// have missed news: announce again (after the routes are back), and
	// capture our route again.
	if uc, ok := cfg.Conn.(upConn); ok {
		g.cancelUp = uc.OnUp(func() {
			g.inbox.post(upEv{})
			if cfg.Self != nil {
				go g.capture(context.Background())
			}
		})
	}

	rctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go g.run(rctx)
	g.log.Debug("joined", "self", cfg.Self, "boot", g.boot)
	return g, nil
}

// attachSync takes the group's sync Interests (G/v=3) on the engine. A
// previous group on the same engine may still be detaching: retry briefly.
// One that stays is another member of the same group on this engine, which
// is not supported.
func (g *Group) attachSync(ctx context.Context) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := g.e.AttachHandler(g.syncPrefix, g.onSyncInterest)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %v", ErrBusy, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("roomsync: attach %s: %w", g.syncPrefix, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (c *GroupConfig) fill() error {
	switch {
	case c.Conn == nil:
		return fmt.Errorf("%w: Conn is required", ErrConfig)
	case len(c.Group) == 0:
		return fmt.Errorf("%w: Group is required", ErrConfig)
	case c.Verifier == nil:
		return fmt.Errorf("%w: Verifier is required", ErrConfig)
	case c.Self != nil && c.Signer == nil:
		return fmt.Errorf("%w: Signer is required to publish", ErrConfig)
	case c.Self != nil && len(c.Self) == 0:
		return fmt.Errorf("%w: empty Self", ErrConfig)
	}
	if c.Self != nil && (c.Group.IsPrefix(c.Self) || c.Self.IsPrefix(c.Group)) {
		return fmt.Errorf("%w: Self %s and Group %s overlap", ErrConfig, c.Self, c.Group)
	}
	if c.OnPub == nil {
		c.OnPub = func(Pub) {}
	}
	if c.Boot == 0 {
		c.Boot = uint64(time.Now().Unix())
	}
	if c.Freshness <= 0 {
		c.Freshness = DefaultFreshness
	}
	if c.OrderedFreshness <= 0 {
		c.OrderedFreshness = DefaultOrderedFreshness
	}
	if c.FetchLifetime <= 0 {
		c.FetchLifetime = DefaultFetchLifetime
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.Keep <= 0 {
		c.Keep = DefaultKeep
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = DefaultMaxPeers
	}
	if c.SuppressionPeriod <= 0 {
		c.SuppressionPeriod = DefaultSuppression
	}
	if c.PeriodicTimeout <= 0 {
		c.PeriodicTimeout = DefaultPeriodic
	}
	if c.PeerIdle <= 0 {
		c.PeerIdle = DefaultPeerIdle
	}
	if c.VectorBudget <= 0 {
		c.VectorBudget = DefaultVectorBudget
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Self is the participant prefix (nil for an observer).
func (g *Group) Self() enc.Name { return g.cfg.Self }

// Boot is this member's boot time.
func (g *Group) Boot() uint64 { return g.boot }

// Stats returns the counters.
func (g *Group) Stats() Stats { return g.stats.snapshot() }

// Close leaves the group at once: it stops announcing, own publications
// are no longer served, OnPub is not called any more, the routes Join
// registered are withdrawn. It does not send anything: a clean leave
// publishes a farewell first (see roster). Close is idempotent; do not call
// it from OnPub nor on the engine goroutine.
func (g *Group) Close() {
	g.closeOnce.Do(func() {
		_ = g.e.DetachHandler(g.syncPrefix)
		if g.cfg.Self != nil {
			_ = g.e.DetachHandler(proto.SyncPubPrefix(g.cfg.Self))
		}
		g.cancel()
		<-g.done
		g.cancelUp()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = g.cfg.Conn.Unregister(ctx, g.cfg.Group)
		if g.cfg.Self != nil {
			_ = g.cfg.Conn.Unregister(ctx, proto.SyncBootPrefix(g.cfg.Self, g.boot))
		}
		g.log.Debug("closed")
	})
}

// idleSweep is how often run forgets peers idle for PeerIdle.
const idleSweep = 30 * time.Second

// run owns the per-peer state and the state vector: it handles the events
// the engine's callbacks post, sends sync Interests when the vector's timer
// says so, and forgets idle peers.
func (g *Group) run(ctx context.Context) {
	defer close(g.done)
	timer := time.NewTimer(0)
	defer timer.Stop()
	sweep := time.NewTicker(idleSweep)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-g.inbox.sig:
			for _, ev := range g.inbox.drain() {
				if ctx.Err() != nil {
					return
				}
				g.handle(ev)
			}
		case <-timer.C:
		case now := <-sweep.C:
			g.forgetIdle(now)
		}
		now := time.Now()
		if _, send := g.vec.due(now); send {
			g.sendSync(now)
		}
		timer.Reset(max(time.Until(g.vec.deadline), 0))
	}
}

func (g *Group) handle(ev any) {
	switch ev := ev.(type) {
	case vectorEv:
		g.onVector(ev.sv)
	case publishedEv:
		g.vec.published(ev.seq, time.Now())
	case upEv:
		// the routes are being re-applied: announce shortly after
		g.vec.announceAt(time.Now().Add(upDelay))
	case resultEv:
		g.stats.outstanding.Add(-1)
		g.onResult(ev)
	case retryEv:
		g.onRetry(ev)
	}
}

// forgetIdle forgets the peers whose verified position has not moved for
// PeerIdle: members who left stop being announced and tracked.
func (g *Group) forgetIdle(now time.Time) {
	for _, key := range g.vec.idlePeers(now) {
		g.vec.forget(key)
		if _, ok := g.peers[key]; ok {
			delete(g.peers, key)
			g.stats.peers.Add(-1)
		}
	}
}
