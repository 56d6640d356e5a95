package roster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/proto"
	roomsync "github.com/peets/peets/sync"
)

// DefaultLeaveLinger is how long Leave keeps serving the farewell.
const DefaultLeaveLinger = 200 * time.Millisecond

// emptyRoomLinger is the linger when nobody is known to fetch the bye: some
// member may have just heard of us.
const emptyRoomLinger = 20 * time.Millisecond

// Sentinel errors.
var (
	ErrConfig = errors.New("roster: bad configuration")
	ErrLeft   = errors.New("roster: participant left the room")
)

// presenceReq asks the heartbeat loop to change the presence.
type presenceReq struct {
	present bool
	done    chan error
}

// Config configures Join.
type Config struct {
	// Conn is the forwarder connection (required).
	Conn roomsync.Conn
	// Room is the room id (required).
	Room string
	// User is the user id (required).
	User string
	// Name is the display name (default User).
	Name string
	// Role is proto.RoleParticipant (default), RoleBroadcaster or RoleViewer.
	Role string
	// UserPrefix is U (default proto.DefaultUserPrefix(User)); the
	// participant prefix is U/<room>.
	UserPrefix enc.Name
	// Group is the room's sync group (default proto.DefaultGroupPrefix(Room)).
	Group enc.Name
	// Description is a JSON object from the daemon's own configuration
	// (never from a browser), at most proto.MaxDescriptionSize bytes.
	Description json.RawMessage
	// Streams, if set, is called at every heartbeat (and by SelfMember) for
	// the streams to announce, with their latest seqs; it overrides the
	// entry's Streams. It must be quick and safe for concurrent use.
	Streams func() []proto.RosterStream
	// KeyEpoch, if set, is called at every heartbeat for the newest media
	// key epoch to announce (docs/protocol.md 4.9).
	KeyEpoch func() uint64

	// Signer signs with the participant's key, named P/KEY/<id> (required).
	// Serving its certificate (sec.Identity.ServeCert) and registering P so
	// that certificate Interests reach it are the caller's job; Join
	// registers only G and P/sync/t=<boot>.
	Signer ndn.Signer
	// Verifier checks others' heartbeats and chat (required).
	Verifier roomsync.Verifier
	// BindUsers: the room has an anchor (the Verifier believes only keys
	// it certified), so a member's user id must be the last component of
	// its user prefix (sec.UserOf); other claims are refused.
	BindUsers bool

	// Interval is the mean heartbeat interval (default 1 s).
	Interval time.Duration
	// Jitter is the +- fraction of Interval (0: default 0.25; < 0: none).
	Jitter float64
	// ExpireAfter is how many intervals a silent member stays (default 3).
	ExpireAfter int
	// LeaveLinger is how long Leave keeps serving the farewell (default
	// 200 ms; Leave returns earlier when the room is empty).
	LeaveLinger time.Duration
	// ChatHistory is how many chat messages sent before we first heard of a
	// member are shown (default 20; < 0: none).
	ChatHistory int
	// Rand drives the heartbeat jitter (nil: randomly seeded).
	Rand *rand.Rand
	// Boot is the boot time (s; default now). A restart must not reuse one.
	Boot uint64
	// StartAbsent joins the sync group (the table fills, chat arrives)
	// without announcing this participant: nobody lists it until
	// SetPresent(ctx, true).
	StartAbsent bool
	// Sync tunes the sync group; its Conn, Group, Self, Signer, Verifier,
	// OnPub, AcceptPeer, Boot, Freshness and History are set by Join.
	Sync roomsync.GroupConfig

	Logger *slog.Logger
}

// Participant is this daemon's membership of a room: it heartbeats, keeps
// the roster of the others and sends and receives chat.
type Participant struct {
	cfg   Config
	self  enc.Name
	sched *roomsync.JitterSchedule
	group *roomsync.Group
	table *Table
	log   *slog.Logger

	mu      sync.Mutex
	entry   proto.RosterEntry
	lastHB  time.Time
	left    bool
	present bool // changed only by loop; read under mu

	kick     chan struct{}
	presence chan presenceReq
	stop     chan struct{}
	loopDone chan struct{}
	once     sync.Once
	leaveErr error
}

// Join joins the room: it starts the sync group, sends a first heartbeat at
// once (unless Config.StartAbsent), then one at every tick of a
// JitterSchedule. The participant stays
// until Leave (a clean leave: a bye heartbeat), Close (silent, like a crash),
// or ctx is done (then it leaves cleanly).
func Join(ctx context.Context, cfg Config) (*Participant, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	p := &Participant{
		cfg:      cfg,
		self:     proto.ParticipantPrefix(cfg.UserPrefix, cfg.Room),
		log:      cfg.Logger.With("module", "roster", "room", cfg.Room),
		kick:     make(chan struct{}, 1),
		presence: make(chan presenceReq),
		present:  !cfg.StartAbsent,
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		entry: proto.RosterEntry{
			User:        cfg.User,
			Name:        cfg.Name,
			Prefix:      cfg.UserPrefix.String(),
			Role:        cfg.Role,
			Description: cfg.Description,
			IntervalMs:  int(cfg.Interval / time.Millisecond),
		},
	}
	if err := p.entry.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	jitter := max(cfg.Jitter, 0)
	sched, err := roomsync.NewJitterSchedule(cfg.Interval, jitter, cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	p.sched = sched
	p.table = newTable(cfg.Room, cfg.ExpireAfter, p.log)
	p.table.self = cfg.User
	p.table.selfP = p.self
	p.table.bindUsers = cfg.BindUsers

	gc := cfg.Sync
	gc.Conn, gc.Group, gc.Self = cfg.Conn, cfg.Group, p.self
	gc.Signer, gc.Verifier = cfg.Signer, cfg.Verifier
	gc.OnPub = p.table.apply
	gc.AcceptPeer = roomPeer(cfg.Room)
	gc.Boot = cfg.Boot
	gc.Freshness = cfg.Interval
	gc.History = cfg.ChatHistory
	if gc.Logger == nil {
		gc.Logger = cfg.Logger
	}
	g, err := roomsync.Join(ctx, gc)
	if err != nil {
		p.table.close()
		return nil, err
	}
	p.group = g
	p.table.group.Store(g)
	go p.loop(ctx)
	return p, nil
}

func (c *Config) fill() error {
	if c.Conn == nil {
		return fmt.Errorf("%w: Conn is required", ErrConfig)
	}
	if err := proto.ValidIdent(c.Room); err != nil {
		return fmt.Errorf("%w: room: %v", ErrConfig, err)
	}
	if err := proto.ValidIdent(c.User); err != nil {
		return fmt.Errorf("%w: user: %v", ErrConfig, err)
	}
	if c.Signer == nil || c.Verifier == nil {
		return fmt.Errorf("%w: Signer and Verifier are required", ErrConfig)
	}
	if c.Name == "" {
		c.Name = c.User
	}
	if c.Role == "" {
		c.Role = proto.RoleParticipant
	}
	if len(c.UserPrefix) == 0 {
		c.UserPrefix = proto.DefaultUserPrefix(c.User)
	}
	if len(c.Group) == 0 {
		c.Group = proto.DefaultGroupPrefix(c.Room)
	}
	if c.Interval == 0 {
		c.Interval = roomsync.DefaultInterval
	}
	if c.Interval < time.Duration(proto.MinIntervalMs)*time.Millisecond ||
		c.Interval > time.Duration(proto.MaxIntervalMs)*time.Millisecond {
		return fmt.Errorf("%w: interval %v", ErrConfig, c.Interval)
	}
	if c.Jitter == 0 {
		c.Jitter = roomsync.DefaultJitter
	}
	if c.ExpireAfter <= 0 {
		c.ExpireAfter = DefaultExpireAfter
	}
	if c.LeaveLinger <= 0 {
		c.LeaveLinger = DefaultLeaveLinger
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// roomPeer accepts the state vector names of participants of room: U/<room>.
func roomPeer(room string) func(enc.Name) bool {
	return func(n enc.Name) bool {
		return len(n) >= 2 && n.At(-1).IsGeneric(room)
	}
}

// Prefix is the participant prefix P = U/<room>.
func (p *Participant) Prefix() enc.Name { return p.self }

// Boot is the participant's boot time.
func (p *Participant) Boot() uint64 { return p.group.Boot() }

// Table is the roster of the other members.
func (p *Participant) Table() *Table { return p.table }

// Group is the underlying sync group.
func (p *Participant) Group() *roomsync.Group { return p.group }

// Stats returns the roster and sync counters.
func (p *Participant) Stats() Stats { return p.table.Stats() }

// Entry returns the current own roster entry.
func (p *Participant) Entry() proto.RosterEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.entry
	e.Streams = slices.Clone(e.Streams)
	return e
}

// SelfMember returns this participant as a roster member (state "self").
func (p *Participant) SelfMember() Member {
	e := p.Entry()
	if p.cfg.Streams != nil {
		e.Streams = p.cfg.Streams()
	}
	p.mu.Lock()
	last := p.lastHB
	p.mu.Unlock()
	return Member{
		User: e.User, Name: e.Name, Prefix: p.cfg.UserPrefix, Participant: p.self, Role: e.Role,
		Streams: e.Streams, Description: e.Description, AudioMuted: e.AudioMuted, VideoMuted: e.VideoMuted,
		UplinkLimited: e.UplinkLimited, Boot: p.group.Boot(),
		LastHeartbeat: last, Sent: last, Interval: p.cfg.Interval, State: StateSelf, Self: true,
	}
}

// Snapshot returns every member, including this participant while it is
// present.
func (p *Participant) Snapshot() []Member {
	ms := p.table.Snapshot()
	if p.Present() {
		ms = append(ms, p.SelfMember())
		sortMembers(ms)
	}
	return ms
}

// Present reports whether this participant is announced in the room (see
// SetPresent).
func (p *Participant) Present() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.present && !p.left
}

// SetPresent changes whether this participant is in the room, keeping the
// sync group and the table running either way.
//
// Not present ("away"): a bye is published at once, so every member drops
// this participant as on Leave, and no heartbeat is sent any more; but the
// group stays joined and the bye stays served, so the table keeps following
// the others (their heartbeats, streams, chat) and a member that joins
// meanwhile learns from the bye that we are away.
//
// Present again ("back"): a heartbeat is sent at once, then one at every
// tick; it has a higher seq than the bye, so members take it as a join.
//
// It returns once the bye or heartbeat is published (nil when the presence
// does not change), ErrLeft after Leave or Close, or ctx's error.
func (p *Participant) SetPresent(ctx context.Context, present bool) error {
	req := presenceReq{present: present, done: make(chan error, 1)}
	select {
	case p.presence <- req:
	case <-p.loopDone:
		return ErrLeft
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// JSON renders the roster including this participant (GET /api/roster).
func (p *Participant) JSON() ([]byte, error) {
	return RenderJSON(p.cfg.Room, p.Snapshot(), time.Now())
}

// Update changes the own roster entry (name, role, streams, description)
// with f and sends a heartbeat at once (while present; else the entry goes
// out when present again). The user, prefix, interval and leave
// flag cannot be changed.
func (p *Participant) Update(f func(*proto.RosterEntry)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.left {
		return ErrLeft
	}
	e := p.entry
	e.Streams = slices.Clone(e.Streams)
	f(&e)
	e.User, e.Prefix, e.IntervalMs, e.Leave = p.entry.User, p.entry.Prefix, p.entry.IntervalMs, false
	if err := e.Validate(); err != nil {
		return err
	}
	p.entry = e
	select {
	case p.kick <- struct{}{}:
	default:
	}
	return nil
}

// SetName changes the display name; everyone sees it with the heartbeat
// sent at once.
func (p *Participant) SetName(name string) error {
	if err := proto.ValidDisplayName(name); err != nil {
		return err
	}
	return p.Update(func(e *proto.RosterEntry) { e.Name = name })
}

// SendChat sends a room text message: every member gets it once, in order.
// It is also emitted locally as a chat event with Self set.
func (p *Participant) SendChat(text string) error {
	msg := proto.ChatMessage{Text: text}
	b, err := msg.Encode()
	if err != nil {
		return err
	}
	p.mu.Lock()
	left := p.left
	p.mu.Unlock()
	if left {
		return ErrLeft
	}
	seq, err := p.group.Publish(proto.PubKindChat, true, b)
	if err != nil {
		return err
	}
	p.table.echoChat(p.SelfMember(), p.group.Boot(), seq, text)
	return nil
}

// loop sends the heartbeats while present, and makes the presence
// changes, so that no heartbeat can follow a bye by mistake.
func (p *Participant) loop(ctx context.Context) {
	defer close(p.loopDone)
	var timer *time.Timer
	var tick <-chan time.Time
	arm := func() {
		d := time.Until(p.sched.Next(time.Now()))
		if timer == nil {
			timer = time.NewTimer(d)
		} else {
			timer.Reset(d)
		}
		tick = timer.C
	}
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	if p.isPresent() {
		p.beat(false)
		arm()
	}
	for {
		select {
		case <-ctx.Done():
			go p.Leave(context.Background()) // waits for this loop: not inline
			return
		case <-p.stop:
			return
		case req := <-p.presence:
			req.done <- p.changePresence(req.present, arm, func() {
				if timer != nil {
					timer.Stop() // Go >= 1.23: no stale tick after Stop
				}
				tick = nil
			})
			continue
		case <-p.kick:
		case <-tick:
		}
		if p.isPresent() {
			p.beat(false)
			arm()
		}
	}
}

// changePresence applies a presence change (on the loop).
func (p *Participant) changePresence(present bool, arm, disarm func()) error {
	if present == p.isPresent() {
		return nil
	}
	p.setPresent(present)
	if present {
		err := p.beat(false)
		arm()
		p.log.Debug("present in the room")
		return err
	}
	disarm()
	err := p.beat(true)
	p.log.Debug("away from the room: bye sent")
	return err
}

func (p *Participant) setPresent(v bool) {
	p.mu.Lock()
	p.present = v
	p.mu.Unlock()
}

func (p *Participant) isPresent() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.present
}

// beat publishes one heartbeat (a bye if leave).
func (p *Participant) beat(leave bool) error {
	p.mu.Lock()
	e := p.entry
	p.mu.Unlock()
	if p.cfg.Streams != nil {
		e.Streams = p.cfg.Streams()
	}
	if p.cfg.KeyEpoch != nil {
		e.KeyEpoch = p.cfg.KeyEpoch()
	}
	e.Leave = leave
	b, err := e.Encode()
	if err != nil {
		p.log.Error("cannot encode heartbeat", "err", err)
		return err
	}
	if _, err := p.group.Publish(proto.PubKindHeartbeat, false, b); err != nil {
		p.log.Warn("heartbeat not published", "err", err)
		return err
	}
	p.mu.Lock()
	p.lastHB = time.Now()
	p.mu.Unlock()
	return nil
}

// Leave leaves the room cleanly: it stops heartbeating, publishes a bye
// (which makes every member drop this participant at once), keeps serving
// it for LeaveLinger (or until ctx is done; 20 ms if the room looks empty),
// then leaves the sync group. When away (SetPresent) the bye was sent
// already: it just leaves the group. Idempotent.
func (p *Participant) Leave(ctx context.Context) error {
	p.once.Do(func() {
		p.mu.Lock()
		p.left = true
		p.mu.Unlock()
		close(p.stop)
		<-p.loopDone
		if !p.isPresent() {
			p.group.Close()
			p.table.close()
			return
		}
		p.leaveErr = p.beat(true)
		if p.leaveErr == nil {
			linger := p.cfg.LeaveLinger
			if p.table.Len() == 0 {
				linger = min(linger, emptyRoomLinger)
			}
			t := time.NewTimer(linger)
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
		}
		p.group.Close()
		p.table.close()
	})
	return p.leaveErr
}

// Close stops at once without a bye, as a crash would: the others expire
// this participant after ExpireAfter intervals. Idempotent (and a no-op after
// Leave).
func (p *Participant) Close() {
	p.once.Do(func() {
		p.mu.Lock()
		p.left = true
		p.mu.Unlock()
		close(p.stop)
		<-p.loopDone
		p.group.Close()
		p.table.close()
	})
}
