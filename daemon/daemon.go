package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/ratelog"
	"github.com/peets/peets/media"
	"github.com/peets/peets/media/source"
	"github.com/peets/peets/media/speaker"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/roster"
	"github.com/peets/peets/sec"
)

// Options configure New.
type Options struct {
	Config Config
	Logger *slog.Logger

	// Conn is the forwarder connection to use; nil: open one as
	// Config.Forwarder and Config.StateDir say (and close it at the end).
	Conn *forwarder.Conn
	// Source, when set, is published instead of a browser's camera and mic
	// (bots, demos, benchmarks). The daemon runs it.
	Source *source.Source
	// Ephemeral: a fresh key that is not saved (bots, tests), when this
	// machine owns the room.
	Ephemeral bool
	// Room, when set, is the room's anchor to use instead of the one in
	// Config.TrustDir (tests and benchmarks that run several daemons in
	// one process). It must be owned (hold the anchor's key).
	Room *sec.Room

	// OnPublish, if set, sees every local RTP packet once published, with
	// the time it reached the proxy, on the media goroutine (benchmarks). It
	// must not block.
	OnPublish func(stream string, seq uint64, rtp []byte, in time.Time)
	// OnRemote, if set, sees every remote RTP packet delivered in order, on
	// the fetcher's goroutine (benchmarks, tests). It must not block.
	OnRemote func(owner enc.Name, stream string, seq uint64, rtp []byte)
	// Fetch limits which remote streams are fetched (nil: every stream of
	// every publishing member, unless the role is broadcaster).
	Fetch func(m roster.Member, s proto.RosterStream) bool

	// PresenceFollowsPages makes the participant present in the room only
	// while at least one page is connected (`peets up` serving the web
	// page): it starts absent, is announced as soon as a page joins, and
	// says bye PresenceGrace after the last page left. While absent the
	// daemon keeps following the room (roster, fetchers), so coming back is
	// quick. Without it (bots, headless proxies) it is present from New to
	// the end of Run.
	PresenceFollowsPages bool
	// PresenceGrace is how long the participant stays after the last page
	// left, so that a reload does not flap (default 250 ms).
	PresenceGrace time.Duration
}

// DefaultPresenceGrace is the default Options.PresenceGrace.
const DefaultPresenceGrace = 250 * time.Millisecond

// Daemon is one participant's proxy in one room.
type Daemon struct {
	cfg  Config
	opts Options
	log  *slog.Logger

	conn    *forwarder.Conn
	ownConn bool
	id      *sec.Identity
	room    *sec.Room // the room's trust anchor
	unlock  func()    // releases the identity's lock (nil: ephemeral)
	ver     *sec.Verifier
	prod    *media.Producer
	part    *roster.Participant
	self    enc.Name

	// takenLog limits the warnings about participants claiming our user id
	takenLog ratelog.Limiter
	// rekeyWant carries newer key epochs heard in heartbeats to the rekey
	// loop (rekey.go); rekeyLog limits its warnings.
	spk        speakers // who is speaking (speakers.go)
	views      views    // what the pages show (view.go)
	viewWake   chan struct{}
	rekeyWant  chan uint64
	removed    atomic.Pointer[string] // the notice for the pages once the owner removed us
	rekeyLog   ratelog.Limiter
	serveRekey bool // the rekey handler is attached
	// marks counts the congestion marks on remote media (marks.go);
	// unmark stops the counting
	marks  markCounts
	unmark func()
	// ownUplinkLimited: this proxy's own uplink limits the layer of its
	// camera others pull (uplink.go, ownLimit): the layer choice of
	// remote cameras is cautious (layered.go)
	ownUplinkLimited atomic.Bool
	// quality is the quality loop's latest view of the remote streams
	// (for /api/stats and peets stats).
	quality atomic.Pointer[[]proto.StreamQuality]
	// receiveShare: while it is, the bits/s of video each remote camera
	// may be pulled at (math.Float64bits; 0: no limit; uplink.go)
	receiveShare atomic.Uint64

	mu      sync.Mutex
	locals  map[string]*localStream  // stream id -> publisher
	remotes map[string]*remoteStream // remoteKey -> fetcher
	sinks   map[int]RemoteSink       // every page session
	nextID  int
	// sinkSnap is the list of d.sinks, replaced (never modified) when it
	// changes: fetchers read it once per packet without d.mu.
	sinkSnap atomic.Pointer[[]RemoteSink]
	final    Stats
	// layerWake wakes the layer loop when an Interest asks for a paused
	// layer of the camera (idleloop.go).
	layerWake chan struct{}

	// presence (Options.PresenceFollowsPages)
	presMu  sync.Mutex
	pages   int         // connected pages
	awayGen uint64      // bumped to cancel a pending away
	away    *time.Timer // pending away, nil if none

	wg sync.WaitGroup
}

// Errors of the daemon.
var (
	// ErrStopped is returned after the daemon stopped.
	ErrStopped = errors.New("daemon stopped")
	// ErrInUse: another process of this machine is the same participant.
	ErrInUse = errors.New("participant already running")
)

// New connects to the forwarder, loads the identity, registers the
// participant prefix and joins the room. Run runs it.
func New(ctx context.Context, o Options) (*Daemon, error) {
	cfg := o.Config
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	d := &Daemon{
		cfg: cfg, opts: o, log: log.With("user", cfg.User, "room", cfg.Room),
		conn: o.Conn, locals: map[string]*localStream{}, remotes: map[string]*remoteStream{},
		sinks: map[int]RemoteSink{}, layerWake: make(chan struct{}, 1), takenLog: ratelog.Limiter{Every: ratelog.DefaultEvery},
		rekeyWant: make(chan uint64, 4), spk: speakers{tr: speaker.New(speaker.Config{})},
		viewWake: make(chan struct{}, 1), rekeyLog: ratelog.Limiter{Every: ratelog.DefaultEvery},
	}
	d.self = cfg.ParticipantPrefix()
	ok := false
	defer func() {
		if !ok {
			d.closeAll()
		}
	}()
	if d.conn == nil {
		c, err := forwarder.Open(ctx, forwarder.Options{URI: cfg.Forwarder, StateDir: stateDir(cfg), Logger: log, Announce: cfg.Announce})
		if err != nil {
			return nil, err // the forwarder package's errors say "forwarder: ..."
		}
		d.conn, d.ownConn = c, true
		for _, l := range cfg.Links {
			if err := d.conn.Link(ctx, l, []enc.Name{mustName("/peets"), cfg.GroupPrefix(), cfg.UserPrefix()}); err != nil {
				return nil, fmt.Errorf("link %s: %w", l, err)
			}
		}
	}
	d.unmark = d.conn.OnCongestionMark(d.marks.add)
	var err error
	if !o.Ephemeral {
		// A second proxy of the same participant would silently shadow
		// this one in everybody's roster (its boot is newer): refuse it.
		dir := stateDir(cfg)
		if d.unlock, err = sec.LockIdentity(dir, d.self); err != nil {
			if errors.Is(err, sec.ErrIdentityInUse) {
				return nil, fmt.Errorf("%w: user %s is in room %s already, on this machine (state dir %s, %v): stop that one first, or use another --user",
					ErrInUse, cfg.User, cfg.Room, dir, err)
			}
			return nil, fmt.Errorf("identity: %w", err)
		}
	}
	if d.room, d.id, err = openTrust(cfg, o, d.log); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	e := d.conn.Engine()
	d.ver = sec.NewVerifier(e, d.log)
	d.ver.SetRoom(d.room)
	// Our own key is trusted without a fetch.
	if err := d.ver.Pin(d.self, d.id.KeyName(), d.id.PublicKey()); err != nil {
		return nil, err
	}
	if err := d.id.ServeCert(e); err != nil {
		return nil, fmt.Errorf("serve certificate: %w", err)
	}
	if err := d.attachRekey(e); err != nil {
		return nil, fmt.Errorf("serve rekeys: %w", err)
	}
	d.serveRekey = true
	d.prod, err = media.NewProducer(media.ProducerConfig{Engine: e, Participant: d.self, Logger: d.log})
	if err != nil {
		return nil, err
	}
	if err := d.conn.Register(ctx, d.self); err != nil && !errors.Is(err, forwarder.ErrDown) {
		if ctx.Err() != nil || errors.Is(err, forwarder.ErrClosed) {
			return nil, fmt.Errorf("register %s: %w", d.self, err)
		}
		// Remembered, retried in the background: others cannot fetch our
		// media until the forwarder takes it.
		d.log.Warn("our participant prefix is not routed to us yet: retrying", "prefix", d.self, "err", err)
	}
	if o.Source != nil && cfg.Role != proto.RoleViewer {
		if err := d.addSourceStreams(o.Source); err != nil {
			return nil, err
		}
	}
	var desc json.RawMessage
	if cfg.Description != nil {
		desc, _ = json.Marshal(cfg.Description)
	}
	d.part, err = roster.Join(ctx, roster.Config{
		Conn: d.conn, Room: cfg.Room, User: cfg.User, Name: cfg.Name, Role: cfg.Role,
		UserPrefix: cfg.UserPrefix(), Group: cfg.GroupPrefix(), Description: desc,
		Streams: d.rosterStreams, KeyEpoch: d.room.Epoch, Signer: d.id.Signer(), Verifier: d.ver, BindUsers: true,
		Interval: cfg.Heartbeat, Jitter: cfg.Jitter, ExpireAfter: cfg.ExpireAfter,
		StartAbsent: o.PresenceFollowsPages, Logger: d.log,
	})
	if err != nil {
		return nil, fmt.Errorf("join room: %w", err)
	}
	ok = true
	return d, nil
}

func mustName(s string) enc.Name {
	n, err := enc.NameFromStr(s)
	if err != nil {
		panic(err)
	}
	return n
}

// Participant is this daemon's participant prefix.
func (d *Daemon) Participant() enc.Name { return d.self }

// Room is the room's trust anchor (its fingerprint, whether this machine
// owns the room).
func (d *Daemon) Room() *sec.Room { return d.room }

// Config is the normalized configuration.
func (d *Daemon) Config() Config { return d.cfg }

// Roster is the room membership.
func (d *Daemon) Roster() *roster.Participant { return d.part }

// Conn is the forwarder connection.
func (d *Daemon) Conn() *forwarder.Conn { return d.conn }

// Run runs the file source (if any) and follows the roster until ctx is
// done, then leaves the room cleanly (a bye heartbeat) and stops.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.closeAll()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if d.opts.Source != nil && d.cfg.Role != proto.RoleViewer {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			if err := d.opts.Source.Run(runCtx, d.onSourcePacket); err != nil && !errors.Is(err, context.Canceled) {
				d.log.Error("source stopped", "err", err)
			}
		}()
	}
	for _, loop := range []func(context.Context){d.qualityLoop, d.layerLoop, d.rekeyLoop, d.speakerLoop} {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			loop(runCtx)
		}()
	}
	// After a forwarder restart the Interests outstanding died with its PIT:
	// re-express them at once rather than after their lifetime.
	cancelUp := d.conn.OnUp(d.refreshFetchers)
	defer cancelUp()
	if d.opts.PresenceFollowsPages {
		d.log.Info("not in the room until a page is open: others see this participant while its page is open")
	}
	events := d.part.Table().Subscribe(runCtx)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return d.leave()
			}
			d.onRosterEvent(runCtx, ev)
		case <-d.viewWake:
			// What the pages show changed: every member's fetching follows.
			for _, m := range d.part.Table().Snapshot() {
				if !m.Self && !m.Participant.Equal(d.self) {
					d.syncMember(runCtx, m)
				}
			}
		case <-ctx.Done():
			return d.leave()
		}
	}
}

// refreshFetchers re-expresses every fetcher's outstanding Interests.
func (d *Daemon) refreshFetchers() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.remotes {
		r.refresh()
	}
	d.log.Info("forwarder back: fetchers refreshed", "fetchers", len(d.remotes))
}

// FinalStats are the counters as they were when Run stopped (before the
// publishers and fetchers were closed).
func (d *Daemon) FinalStats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.final
}

// leave says bye to the room, bounded in time.
func (d *Daemon) leave() error {
	st := d.Stats()
	d.mu.Lock()
	d.final = st
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := d.part.Leave(ctx)
	if err != nil && !errors.Is(err, roster.ErrLeft) {
		d.log.Warn("leave", "err", err)
	}
	d.log.Info("left the room")
	rs := st.Roster
	rej, _ := json.Marshal(rs.Rejected)
	srej, _ := json.Marshal(rs.Sync.Rejected)
	d.log.Info("roster stats", "joins", rs.Joins, "byes", rs.Byes, "expired", rs.Expired,
		"fetches", rs.Sync.Fetches, "verified", rs.Sync.Verified,
		"rejected", string(rej), "sync_rejected", string(srej))
	return nil
}

// pageOpened counts a connected page: with PresenceFollowsPages the
// participant is present (at once) while there is at least one.
func (d *Daemon) pageOpened() {
	if !d.opts.PresenceFollowsPages {
		return
	}
	d.presMu.Lock()
	defer d.presMu.Unlock()
	d.pages++
	d.cancelAway()
	if d.pages == 1 {
		d.setPresent(true)
	}
}

// pageClosed uncounts a page: after the last one, the participant goes
// away once PresenceGrace has passed without a page coming back.
func (d *Daemon) pageClosed() {
	if !d.opts.PresenceFollowsPages {
		return
	}
	d.presMu.Lock()
	defer d.presMu.Unlock()
	d.pages--
	if d.pages > 0 {
		return
	}
	d.cancelAway()
	grace := d.opts.PresenceGrace
	if grace <= 0 {
		grace = DefaultPresenceGrace
	}
	gen := d.awayGen
	d.away = time.AfterFunc(grace, func() {
		d.presMu.Lock()
		defer d.presMu.Unlock()
		if gen != d.awayGen || d.pages > 0 {
			return // a page came back meanwhile
		}
		d.away = nil
		d.setPresent(false)
	})
}

// cancelAway cancels a pending away (d.presMu held).
func (d *Daemon) cancelAway() {
	d.awayGen++
	if d.away != nil {
		d.away.Stop()
		d.away = nil
	}
}

// setPresent changes the presence (d.presMu held, which keeps the changes
// in order).
func (d *Daemon) setPresent(present bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := d.part.SetPresent(ctx, present)
	switch {
	case errors.Is(err, roster.ErrLeft):
	case err != nil:
		d.log.Warn("presence not changed", "present", present, "err", err)
	case present:
		d.log.Info("in the call: a page is open")
	default:
		d.log.Info("out of the call: no page open")
	}
}

// closeAll stops everything New started, in reverse order.
func (d *Daemon) closeAll() {
	d.presMu.Lock()
	d.cancelAway()
	d.presMu.Unlock()
	d.mu.Lock()
	remotes := d.remotes
	d.remotes = map[string]*remoteStream{}
	locals := d.locals
	d.locals = map[string]*localStream{}
	d.mu.Unlock()
	for _, r := range remotes {
		r.stop()
	}
	d.wg.Wait()
	if d.part != nil {
		d.part.Close()
	}
	for _, l := range locals {
		_ = l.pub.Close()
	}
	if d.prod != nil {
		_ = d.prod.Close()
	}
	if d.id != nil && d.conn != nil {
		_ = d.id.StopServing(d.conn.Engine())
	}
	if d.serveRekey {
		_ = d.conn.Engine().DetachHandler(proto.RekeyPrefix(d.cfg.GroupPrefix()))
	}
	if d.unmark != nil {
		d.unmark()
	}
	if d.ownConn && d.conn != nil {
		_ = d.conn.Close()
	}
	if d.unlock != nil {
		d.unlock()
	}
}
