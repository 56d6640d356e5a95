package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/media"
	"github.com/peets/peets/media/source"
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
	// Ephemeral: a fresh key that is not saved (bots, tests).
	Ephemeral bool

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
}

// Daemon is one participant's proxy in one room.
type Daemon struct {
	cfg  Config
	opts Options
	log  *slog.Logger

	conn    *forwarder.Conn
	ownConn bool
	id      *sec.Identity
	ver     *sec.Verifier
	prod    *media.Producer
	part    *roster.Participant
	self    enc.Name

	mu      sync.Mutex
	locals  map[string]*localStream  // stream id -> publisher
	remotes map[string]*remoteStream // remoteKey -> fetcher
	sinks   map[int]RemoteSink       // every page session
	nextID  int
	final   Stats

	wg sync.WaitGroup
}

// ErrStopped is returned after the daemon stopped.
var ErrStopped = errors.New("daemon stopped")

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
		sinks: map[int]RemoteSink{},
	}
	d.self = cfg.ParticipantPrefix()
	ok := false
	defer func() {
		if !ok {
			d.closeAll()
		}
	}()
	if d.conn == nil {
		dir := cfg.StateDir
		if dir == "" {
			dir = forwarder.DefaultStateDir()
		}
		c, err := forwarder.Open(ctx, forwarder.Options{URI: cfg.Forwarder, StateDir: dir, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("forwarder: %w", err)
		}
		d.conn, d.ownConn = c, true
		for _, l := range cfg.Links {
			if err := d.conn.Link(ctx, l, []enc.Name{mustName("/peets"), cfg.GroupPrefix(), cfg.UserPrefix()}); err != nil {
				return nil, fmt.Errorf("link %s: %w", l, err)
			}
		}
	}
	var err error
	if o.Ephemeral {
		d.id, err = sec.NewEphemeral(d.self)
	} else {
		dir := cfg.StateDir
		if dir == "" {
			dir = forwarder.DefaultStateDir()
		}
		d.id, err = sec.LoadOrCreate(dir, d.self)
	}
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	e := d.conn.Engine()
	d.ver = sec.NewVerifier(e, d.log)
	// Our own key is trusted without a fetch.
	if err := d.ver.Pin(d.self, d.id.KeyName(), d.id.PublicKey()); err != nil {
		return nil, err
	}
	if err := d.id.ServeCert(e); err != nil {
		return nil, fmt.Errorf("serve certificate: %w", err)
	}
	d.prod, err = media.NewProducer(media.ProducerConfig{Engine: e, Participant: d.self, Logger: d.log})
	if err != nil {
		return nil, err
	}
	if err := d.conn.Register(ctx, d.self); err != nil && !errors.Is(err, forwarder.ErrDown) {
		return nil, fmt.Errorf("register %s: %w", d.self, err)
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
		Streams: d.rosterStreams, Signer: d.id.Signer(), Verifier: d.ver,
		Interval: cfg.Heartbeat, Jitter: cfg.Jitter, ExpireAfter: cfg.ExpireAfter,
		Logger: d.log,
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
	events := d.part.Table().Subscribe(runCtx)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return d.leave()
			}
			d.onRosterEvent(runCtx, ev)
		case <-ctx.Done():
			return d.leave()
		}
	}
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
	return nil
}

// closeAll stops everything New started, in reverse order.
func (d *Daemon) closeAll() {
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
	if d.ownConn && d.conn != nil {
		_ = d.conn.Close()
	}
}
