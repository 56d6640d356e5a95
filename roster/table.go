package roster

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/internal/metric"
	"github.com/peets/peets/internal/ratelog"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
	roomsync "github.com/peets/peets/sync"
)

// DefaultExpireAfter is how many heartbeat intervals a silent member stays.
const DefaultExpireAfter = 3

// maxGone bounds the departures a table remembers (see goneMark).
const maxGone = 1024

// maxClaims bounds the refused claimants of a user id a table remembers
// (see claim).
const maxClaims = 64

// claim is a participant whose heartbeats claim a user id that another
// participant holds (refused: user_taken), until its claims would have
// expired as a member's heartbeats do.
type claim struct {
	claimant Member
	holder   enc.Name
	until    time.Time
}

// goneMark is the (boot, seq) of a member's bye, or of its last heartbeat
// when it expired: a heartbeat of that member must be newer to count. So a
// member that went away and comes back in the same boot (Participant.
// SetPresent) is taken back, while a stale or replayed heartbeat from before
// its departure is not.
type goneMark struct {
	boot, seq uint64
	at        time.Time
}

// newer reports whether (boot, seq) comes after (boot0, seq0).
func newer(boot, seq, boot0, seq0 uint64) bool {
	return boot > boot0 || (boot == boot0 && seq > seq0)
}

// Reasons a publication was rejected by the roster (after the sync layer
// accepted and verified it), as counted in Stats.Rejected.
const (
	ReasonBadEntry       = "bad_entry"        // heartbeat body invalid (JSON, types, limits)
	ReasonEntryMismatch  = "entry_mismatch"   // heartbeat about someone else than its signer
	ReasonBadChat        = "bad_chat"         // chat body invalid
	ReasonUnknownKind    = "unknown_kind"     // publication kind this version does not know
	ReasonStale          = "stale"            // heartbeat or bye not newer than what the table has, or than the member's departure
	ReasonUserTaken      = "user_taken"       // heartbeat claiming the user id of another live member, or of this table's own participant
	ReasonNotUsersPrefix = "not_users_prefix" // certified room: heartbeat claiming a user id its participant prefix does not end in
	ReasonEventsDropped  = "events_dropped"   // a subscriber fell maxQueued events behind
)

// Stats counts the table's activity.
type Stats struct {
	Members int    `json:"members"`
	Joins   uint64 `json:"joins"`
	Updates uint64 `json:"updates"`
	Byes    uint64 `json:"byes"`
	Expired uint64 `json:"expired"`
	// KeptByMedia counts the times verified media of a member whose
	// heartbeats were late pushed its expiry back (Alive).
	KeptByMedia uint64            `json:"kept_by_media,omitempty"`
	Chats       uint64            `json:"chats"`
	Rejected    map[string]uint64 `json:"rejected" metric:"label=reason"` // roster-level reasons
	Sync        roomsync.Stats    `json:"sync"`                           // sync-level counters and reasons
	// HeartbeatAge: by member (participant prefix), the time since its latest
	// heartbeat reached this table (the own entry excluded).
	HeartbeatAge map[string]metric.Millis `json:"heartbeat_age_ms" metric:"label=member"`
}

// Table is a room's soft-state roster: members join on their first valid
// heartbeat, are updated by the next ones, and leave on an explicit bye or
// after ExpireAfter heartbeat intervals without one. Methods are safe for
// concurrent use.
type Table struct {
	room   string
	self   string   // the own participant's user id, "" for an observer (set before use)
	selfP  enc.Name // the own participant prefix, nil for an observer (set before use)
	expire int
	log    *slog.Logger
	group  atomic.Pointer[roomsync.Group]
	// bindUsers (a room with an anchor): a member's user id is the one its
	// certified participant prefix names (set before use).
	bindUsers  bool
	badUserLog ratelog.Keyed // per claimant prefix

	mu       sync.Mutex
	members  map[string]*Member
	deadline map[string]time.Time
	gone     map[string]goneMark
	claims   map[string]claim // by claimant key
	subs     map[*subscriber]struct{}
	closed   bool
	st       Stats

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// newTable makes a table and starts its expiry goroutine.
func newTable(room string, expireAfter int, log *slog.Logger) *Table {
	if expireAfter <= 0 {
		expireAfter = DefaultExpireAfter
	}
	t := &Table{
		room:       room,
		expire:     expireAfter,
		badUserLog: ratelog.Keyed{Every: ratelog.DefaultEvery},
		log:        log,
		members:    make(map[string]*Member),
		deadline:   make(map[string]time.Time),
		gone:       make(map[string]goneMark),
		claims:     make(map[string]claim),
		subs:       make(map[*subscriber]struct{}),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	t.st.Rejected = map[string]uint64{}
	go t.expiry()
	return t
}

// Room is the room id.
func (t *Table) Room() string { return t.room }

// Done is closed when the table stopped (its group left).
func (t *Table) Done() <-chan struct{} { return t.done }

// Snapshot returns the current members, sorted by user id.
func (t *Table) Snapshot() []Member {
	now := time.Now()
	t.mu.Lock()
	out := make([]Member, 0, len(t.members))
	for _, m := range t.members {
		c := m.clone()
		c.State = c.state(now)
		out = append(out, c)
	}
	t.mu.Unlock()
	sortMembers(out)
	return out
}

// Get returns the member with participant prefix p.
func (t *Table) Get(p enc.Name) (Member, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[p.String()]
	if !ok {
		return Member{}, false
	}
	c := m.clone()
	c.State = c.state(time.Now())
	return c, true
}

// Len is the number of members.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.members)
}

// JSON renders the roster (see Render).
func (t *Table) JSON() ([]byte, error) {
	j := Render(t.room, t.Snapshot(), time.Now())
	if r := t.Stats().Refusals(); len(r) > 0 {
		j.Refused = r
	}
	return json.Marshal(j)
}

// Refusals merges the reasons publications were refused: the roster's
// (user_taken, not_users_prefix, ...) and the sync group's, as
// "sync/<reason>" (sync/untrusted: a certificate the room's anchor did
// not issue). Stale heartbeats are not counted: they are the normal
// overlap of soft state.
func (s Stats) Refusals() map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range s.Rejected {
		if v > 0 && k != ReasonStale {
			out[k] += v
		}
	}
	for k, v := range s.Sync.Rejected {
		if v > 0 {
			out["sync/"+k] += v
		}
	}
	return out
}

// Stats returns the counters.
func (t *Table) Stats() Stats {
	t.mu.Lock()
	s := t.st
	s.Members = len(t.members)
	s.Rejected = maps.Clone(t.st.Rejected)
	now := time.Now()
	s.HeartbeatAge = make(map[string]metric.Millis, len(t.members))
	for _, m := range t.members {
		if !m.Self {
			s.HeartbeatAge[m.Key()] = metric.Millis(now.Sub(m.LastHeartbeat))
		}
	}
	t.mu.Unlock()
	if g := t.group.Load(); g != nil {
		s.Sync = g.Stats()
	}
	return s
}

// Subscribe returns a channel of events: first a join for every current
// member, then every change, in order. The channel is closed when ctx is
// done or the table stops; read it until then (or cancel ctx).
func (t *Table) Subscribe(ctx context.Context) <-chan Event {
	s := newSubscriber(func() { t.reject(ReasonEventsDropped) })
	now := time.Now()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		s.close()
	} else {
		cur := make([]Member, 0, len(t.members))
		for _, m := range t.members {
			cur = append(cur, m.clone())
		}
		sortMembers(cur)
		for _, m := range cur {
			m.State = m.state(now)
			s.push(Event{Type: EventJoin, Time: now, Member: m})
		}
		for _, c := range t.claims {
			if now.Before(c.until) {
				s.push(Event{Type: EventUserTaken, Time: now, Member: c.claimant.clone(), Holder: c.holder})
			}
		}
		t.subs[s] = struct{}{}
		t.mu.Unlock()
	}
	go func() {
		s.run(ctx)
		t.mu.Lock()
		delete(t.subs, s)
		t.mu.Unlock()
	}()
	return s.out
}

// emit sends ev to every subscriber (t.mu held).
func (t *Table) emit(ev Event) {
	for s := range t.subs {
		s.push(ev)
	}
}

func (t *Table) reject(reason string) {
	t.mu.Lock()
	t.st.Rejected[reason]++
	t.mu.Unlock()
}

// apply takes one verified publication from the sync group (on the group's
// goroutine).
func (t *Table) apply(p roomsync.Pub) {
	switch p.Kind {
	case proto.PubKindHeartbeat:
		t.applyHeartbeat(p)
	case proto.PubKindChat:
		t.applyChat(p)
	default:
		t.reject(ReasonUnknownKind)
	}
}

func (t *Table) applyHeartbeat(p roomsync.Pub) {
	e, err := proto.DecodeRosterEntry(p.Body)
	if err != nil {
		t.log.Debug("bad heartbeat", "from", p.Publisher, "err", err)
		t.reject(ReasonBadEntry)
		return
	}
	if err := e.CheckOwner(p.Publisher, t.room); err != nil {
		t.log.Debug("heartbeat about someone else", "from", p.Publisher, "err", err)
		t.reject(ReasonEntryMismatch)
		return
	}
	if t.bindUsers {
		// The anchor certified P = U/<room> for the user whose id ends U:
		// that id, and no other, may be claimed from P.
		if u, ok := sec.UserOf(p.Publisher); !ok || u != e.User {
			t.reject(ReasonNotUsersPrefix)
			t.badUserLog.Warn(t.log, p.Publisher.String(), "refused a heartbeat: its user id is not the one its certified prefix names", "from", p.Publisher, "user", e.User)
			return
		}
	}
	u, _ := e.UserPrefix()
	m := &Member{
		User:          e.User,
		Name:          e.Name,
		Prefix:        u,
		Participant:   p.Publisher,
		Role:          e.Role,
		Streams:       e.Streams,
		Description:   e.Description,
		AudioMuted:    e.AudioMuted,
		VideoMuted:    e.VideoMuted,
		UplinkLimited: e.UplinkLimited,
		KeyEpoch:      e.KeyEpoch,
		Boot:          p.Boot,
		Seq:           p.Seq,
		Sent:          p.Sent,
		LastHeartbeat: p.Received,
		Interval:      time.Duration(e.IntervalMs) * time.Millisecond,
	}
	key := m.Key()
	now := p.Received

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	old, known := t.members[key]
	if g, ok := t.gone[key]; ok && !newer(m.Boot, m.Seq, g.boot, g.seq) {
		t.st.Rejected[ReasonStale]++ // from before its departure
		return
	}
	if known && !newer(m.Boot, m.Seq, old.Boot, old.Seq) {
		t.st.Rejected[ReasonStale]++ // older than what we have
		return
	}
	if e.Leave {
		t.markGone(key, m.Boot, m.Seq, now)
		if known {
			delete(t.members, key)
			delete(t.deadline, key)
			t.st.Byes++
			left := old.clone()
			left.State = left.state(now)
			t.emit(Event{Type: EventLeave, Time: now, Member: left, Reason: LeaveBye})
		}
		return
	}
	if !known || old.User != m.User {
		if holder, taken := t.userTaken(m.User, key); taken {
			// A user id names one participant at a time: pages and the
			// roster CLI show members by it, so a second claimant (another
			// prefix, perhaps an impostor) waits until the holder leaves or
			// expires.
			t.st.Rejected[ReasonUserTaken]++
			t.log.Debug("heartbeat claims a user id in use", "from", p.Publisher, "user", m.User)
			t.noteClaim(key, m, holder, now)
			return
		}
	}
	delete(t.gone, key)
	if known {
		m.Joined = old.Joined
	} else {
		m.Joined = now
	}
	t.members[key] = m
	t.deadline[key] = now.Add(time.Duration(t.expire) * m.Interval)
	ev := m.clone()
	ev.State = StateActive
	switch {
	case !known:
		t.st.Joins++
		t.emit(Event{Type: EventJoin, Time: now, Member: ev})
	case profileChanged(old, m):
		t.st.Updates++
		t.emit(Event{Type: EventUpdate, Time: now, Member: ev})
	}
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// markGone remembers a departure (t.mu held), forgetting the oldest one
// beyond maxGone.
func (t *Table) markGone(key string, boot, seq uint64, now time.Time) {
	if g, ok := t.gone[key]; ok && !newer(boot, seq, g.boot, g.seq) {
		return
	}
	t.gone[key] = goneMark{boot: boot, seq: seq, at: now}
	for len(t.gone) > maxGone {
		oldest, at := "", time.Time{}
		for k, g := range t.gone {
			if oldest == "" || g.at.Before(at) {
				oldest, at = k, g.at
			}
		}
		delete(t.gone, oldest)
	}
}

func (t *Table) applyChat(p roomsync.Pub) {
	c, err := proto.DecodeChat(p.Body)
	if err != nil {
		t.reject(ReasonBadChat)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	from := chatFrom(p.Publisher)
	if m, ok := t.members[p.Publisher.String()]; ok {
		from = m.clone()
		from.State = from.state(p.Received)
	}
	t.st.Chats++
	t.emit(Event{Type: EventChat, Time: p.Received, Chat: &Chat{
		From: from, Boot: p.Boot, Seq: p.Seq, Text: c.Text, Sent: p.Sent,
	}})
}

// echoChat emits this participant's own chat message.
func (t *Table) echoChat(from Member, boot, seq uint64, text string) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.emit(Event{Type: EventChat, Time: now, Chat: &Chat{
		From: from, Boot: boot, Seq: seq, Text: text, Sent: now, Self: true,
	}})
}

// expiry removes members whose deadline passed.
func (t *Table) expiry() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t.mu.Lock()
		next := time.Time{}
		for _, d := range t.deadline {
			if next.IsZero() || d.Before(next) {
				next = d
			}
		}
		t.mu.Unlock()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(0, time.Until(next))
		}
		timer.Reset(wait)
		select {
		case <-t.stop:
			return
		case <-t.wake:
			timer.Stop() // Go >= 1.23: no stale tick after Stop
		case <-timer.C:
			t.expireNow(time.Now())
		}
	}
}

// userTaken reports whether user is this table's own user id or that of a
// live member other than the one keyed key, and who holds it (t.mu held).
func (t *Table) userTaken(user, key string) (enc.Name, bool) {
	if user == t.self {
		return t.selfP, true
	}
	for k, m := range t.members {
		if m.User == user && k != key {
			return m.Participant, true
		}
	}
	return nil, false
}

// noteClaim remembers a refused claimant and tells the subscribers when
// its claim is news: the first, or the first after it stopped claiming
// for as long as a member takes to expire (t.mu held).
func (t *Table) noteClaim(key string, m *Member, holder enc.Name, now time.Time) {
	c, seen := t.claims[key]
	news := !seen || !now.Before(c.until)
	t.claims[key] = claim{claimant: m.clone(), holder: holder, until: now.Add(time.Duration(t.expire) * m.Interval)}
	if len(t.claims) > maxClaims {
		oldest := ""
		for k, c := range t.claims {
			if oldest == "" || c.until.Before(t.claims[oldest].until) {
				oldest = k
			}
		}
		delete(t.claims, oldest)
	}
	if news {
		ev := m.clone()
		ev.State = StateActive
		t.emit(Event{Type: EventUserTaken, Time: now, Member: ev, Holder: holder})
	}
}

// Alive takes verified Data a member published under its participant
// prefix p at now (its media, which the caller fetched and verified) as
// proof that it lives: its expiry moves to ExpireAfter of its intervals
// after now, as a heartbeat's would. Heartbeats share the member's path
// with its media, and on a congested uplink they are lost with it: a
// member whose stream still arrives must not be expired for it. Nothing
// else of the member changes (its state shows the overdue heartbeat), an
// unknown or departed member is not brought back, and a bye still ends
// it at once. It reports whether p is a member.
func (t *Table) Alive(p enc.Name, now time.Time) bool {
	key := p.String()
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.members[key]
	if !ok {
		return false
	}
	d := now.Add(time.Duration(t.expire) * m.Interval)
	if d.After(t.deadline[key]) {
		if now.Sub(m.LastHeartbeat) > m.Interval*3/2 {
			t.st.KeptByMedia++
		}
		t.deadline[key] = d
	}
	return true
}

func (t *Table) expireNow(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for key, d := range t.deadline {
		if d.After(now) {
			continue
		}
		m := t.members[key]
		delete(t.members, key)
		delete(t.deadline, key)
		t.markGone(key, m.Boot, m.Seq, now)
		t.st.Expired++
		left := m.clone()
		left.State = StateStale
		t.emit(Event{Type: EventLeave, Time: now, Member: left, Reason: LeaveExpired})
	}
}

// Remove drops participant p from the table at once (its key was removed
// from the room): a leave event with reason LeaveRemoved. Its later
// heartbeats fail verification. It reports whether p was a member.
func (t *Table) Remove(p enc.Name) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := p.String()
	m, ok := t.members[key]
	if !ok || t.closed {
		return false
	}
	now := time.Now()
	delete(t.members, key)
	delete(t.deadline, key)
	t.markGone(key, m.Boot, m.Seq, now)
	left := m.clone()
	left.State = left.state(now)
	t.emit(Event{Type: EventLeave, Time: now, Member: left, Reason: LeaveRemoved})
	return true
}

// close stops the table: subscribers' channels close, events stop.
func (t *Table) close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	for s := range t.subs {
		s.close()
	}
	t.mu.Unlock()
	close(t.stop)
	close(t.done)
}

// syncSettle is how long WaitSynced listens after the first sync
// Interest: SVS's suppression period (200 ms) and a round trip.
const syncSettle = 250 * time.Millisecond

// WaitSynced waits until the table has caught up with the room: sync
// Interests have been received for syncSettle (the members answer an
// observer's sync Interest within SVS's suppression period, and the first
// vector heard may be a partial one: a newcomer's, or one from outside the
// room's trust that lists only itself) and every fetch they caused has
// completed, stable for a few milliseconds. In an empty room nothing ever
// answers: it returns ctx's error at ctx's deadline.
func (t *Table) WaitSynced(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	calm := 0
	var first time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.done:
			return errors.New("roster: table closed")
		case <-tick.C:
		}
		g := t.group.Load()
		if g == nil {
			continue
		}
		st := g.Stats()
		if st.SyncRecv > 0 && first.IsZero() {
			first = time.Now()
		}
		if st.SyncRecv > 0 && st.Outstanding == 0 {
			calm++
			if calm >= 3 && time.Since(first) >= syncSettle {
				return nil
			}
		} else {
			calm = 0
		}
	}
}
