package browser

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/peets/peets/daemon/web"
	"github.com/peets/peets/media/bridge"
	"github.com/peets/peets/proto"
)

// Relay is an in-process web.Backend: every page gets a bridge.Session,
// and each page's streams are relayed straight to the other pages'
// sessions (no NDN). It exercises the whole browser-facing path (page,
// signaling, perfect negotiation, RTCP termination, keyframe requests,
// NACK answers from a buffer) and shows the daemon how to wire a Session.
type Relay struct {
	api  *bridge.API
	log  *slog.Logger
	room string
	loss float64
	cfg  RelayConfig

	mu       sync.Mutex
	n        int
	members  map[string]*member
	reserved map[string]bool // ids of pages still joining
}

// RelayConfig configures a Relay.
type RelayConfig struct {
	Room   string      // default "test"
	API    *bridge.API // default bridge.NewAPI(bridge.APIConfig{})
	Logger *slog.Logger
	// Loss is the fraction of video packets not forwarded, evenly spaced (but kept for
	// NACKs): a test of loss recovery.
	Loss float64
	// FirstOfferWait is passed to the sessions (bridge.SessionConfig).
	FirstOfferWait time.Duration
	// HoldNewPages holds the signaling of every new page from the start
	// (see HoldSignals): a test hook, changed later with SetHoldNewPages.
	HoldNewPages bool
}

// NewRelay makes an empty room.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if cfg.Room == "" {
		cfg.Room = "test"
	}
	if cfg.API == nil {
		api, err := bridge.NewAPI(bridge.APIConfig{})
		if err != nil {
			return nil, err
		}
		cfg.API = api
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Relay{api: cfg.API, log: log.With("component", "relay"), room: cfg.Room, loss: cfg.Loss, cfg: cfg,
		members: map[string]*member{}, reserved: map[string]bool{}}, nil
}

// SetHoldNewPages changes RelayConfig.HoldNewPages for the pages that join
// from now on.
func (r *Relay) SetHoldNewPages(hold bool) {
	r.mu.Lock()
	r.cfg.HoldNewPages = hold
	r.mu.Unlock()
}

// member is one joined page.
type member struct {
	r    *Relay
	id   string
	page web.PageConn
	sess *bridge.Session

	// guarded by r.mu
	p       proto.Participant
	streams map[string]*stream // the page's own streams, by stream id

	hmu  sync.Mutex
	hold bool
	held []proto.Message
}

// stream is one page stream: its NACK buffer and its subscribers.
type stream struct {
	ls   bridge.LocalStream
	ring *packetRing
	loss float64
	acc  float64 // accumulated loss; a packet is dropped each time it passes 1 (guarded by mu, write lock)

	mu   sync.RWMutex
	subs map[string]*bridge.RemoteTrack // by subscriber id
}

func (s *stream) write(pkt []byte) {
	s.ring.put(pkt)
	if s.loss > 0 {
		// Evenly spaced drops (every 1/loss-th packet), not random ones: a
		// short test with few packets still loses some, every run.
		s.mu.Lock()
		s.acc += s.loss
		lost := s.acc >= 1
		if lost {
			s.acc--
		}
		s.mu.Unlock()
		if lost {
			return
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, rt := range s.subs {
		_ = rt.WriteRTP(pkt)
	}
}

func (s *stream) setSub(id string, rt *bridge.RemoteTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rt == nil {
		delete(s.subs, id)
	} else {
		s.subs[id] = rt
	}
}

var nameRe = regexp.MustCompile(`[^a-z0-9]+`)

// Join implements web.Backend.
func (r *Relay) Join(ctx context.Context, req web.JoinRequest, page web.PageConn) (web.PageHandle, error) {
	role := req.Role
	if role == "" {
		role = proto.RoleParticipant
	}
	if !proto.ValidRole(role) {
		return nil, fmt.Errorf("unknown role %q", role)
	}
	name := strings.TrimSpace(req.Name)
	if proto.ValidDisplayName(name) != nil {
		name = ""
	}
	r.mu.Lock()
	r.n++
	base := strings.Trim(nameRe.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if base == "" || len(base) > 32 {
		base = "user"
	}
	id := base
	if base == "user" {
		id = fmt.Sprintf("user-%d", r.n)
	}
	for i := 2; r.members[id] != nil || r.reserved[id]; i++ {
		id = fmt.Sprintf("%s-%d", base, i)
	}
	r.reserved[id] = true
	defer func() {
		r.mu.Lock()
		delete(r.reserved, id)
		r.mu.Unlock()
	}()
	if name == "" {
		name = fmt.Sprintf("Guest %d", r.n)
	}
	m := &member{
		r: r, id: id, page: page,
		p:       proto.Participant{ID: id, Name: name, Role: role},
		streams: map[string]*stream{},
		hold:    r.cfg.HoldNewPages,
	}
	r.mu.Unlock()

	sess, err := bridge.NewSession(bridge.SessionConfig{
		API: r.api, ID: id, Role: role, Logger: r.log, FirstOfferWait: r.cfg.FirstOfferWait,
		Signal:        func(msg proto.Message) { _ = page.Send(msg) },
		OnLocalStream: func(ls bridge.LocalStream) { r.onLocalStream(m, ls) },
		OnLocalRTP: func(ls bridge.LocalStream, pkt []byte, _ bool) {
			r.mu.Lock()
			s := m.streams[ls.ID]
			r.mu.Unlock()
			if s != nil {
				s.write(pkt)
			}
		},
		OnRemoteKeyframeRequest: r.keyframe,
		LookupRemote:            r.lookup,
		OnClose: func(err error) {
			if err != nil {
				page.Close("media session ended: " + err.Error())
			}
		},
	})
	if err != nil {
		return nil, err
	}
	m.sess = sess

	r.mu.Lock()
	r.members[id] = m
	var others []*member
	type sub struct {
		owner *member
		s     *stream
	}
	var subs []sub
	for _, o := range r.members {
		if o == m {
			continue
		}
		others = append(others, o)
		for _, s := range o.streams {
			subs = append(subs, sub{o, s})
		}
	}
	me := m.p
	r.mu.Unlock()
	for _, x := range subs {
		r.subscribe(m, x.owner, x.s)
	}
	for _, o := range others {
		_ = o.page.Send(proto.MustSignal(proto.TypeJoin, me))
	}
	r.log.Info("joined", "id", id, "name", name, "role", role)
	return m, nil
}

// subscribe sends owner's stream s to sub's page.
func (r *Relay) subscribe(sub, owner *member, s *stream) {
	if sub.p.Role == proto.RoleBroadcaster {
		return
	}
	rt, err := sub.sess.AddRemote(owner.id+"/"+s.ls.ID, bridge.RemoteInfo{
		Participant: owner.id, Stream: s.ls.ID, MimeType: s.ls.MimeType, ClockRate: s.ls.ClockRate,
	})
	if err != nil {
		r.log.Warn("subscribe", "sub", sub.id, "stream", owner.id+"/"+s.ls.ID, "err", err)
		return
	}
	s.setSub(sub.id, rt)
}

func (r *Relay) onLocalStream(m *member, ls bridge.LocalStream) {
	s := &stream{ls: ls, ring: newPacketRing(1024), subs: map[string]*bridge.RemoteTrack{}}
	if ls.Kind == proto.KindVideo && r.loss > 0 {
		s.loss = r.loss
	}
	r.mu.Lock()
	if r.members[m.id] != m {
		r.mu.Unlock()
		return
	}
	m.streams[ls.ID] = s
	m.p.Streams = append(m.p.Streams, proto.PageStream{ID: ls.ID, Kind: ls.Kind, MimeType: ls.MimeType})
	var others []*member
	for _, o := range r.members {
		if o != m {
			others = append(others, o)
		}
	}
	up := m.p
	r.mu.Unlock()
	for _, o := range others {
		r.subscribe(o, m, s)
		_ = o.page.Send(proto.MustSignal(proto.TypeUpdate, up))
	}
}

// keyframe forwards a page's keyframe request to the stream's owner.
func (r *Relay) keyframe(remoteID string) {
	owner, streamID, ok := strings.Cut(remoteID, "/")
	if !ok {
		return
	}
	r.mu.Lock()
	o := r.members[owner]
	r.mu.Unlock()
	if o != nil {
		_ = o.sess.RequestLocalKeyframe(streamID)
	}
}

// lookup answers NACKs from the owner's buffer.
func (r *Relay) lookup(remoteID string, seq uint16) []byte {
	owner, streamID, ok := strings.Cut(remoteID, "/")
	if !ok {
		return nil
	}
	r.mu.Lock()
	var s *stream
	if o := r.members[owner]; o != nil {
		s = o.streams[streamID]
	}
	r.mu.Unlock()
	if s == nil {
		return nil
	}
	return s.ring.get(seq)
}

// RoomInfo implements web.Backend.
func (r *Relay) RoomInfo() proto.RoomInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	info := proto.RoomInfo{Room: r.room, Participants: []proto.Participant{}}
	for _, m := range r.members {
		info.Participants = append(info.Participants, m.p)
	}
	return info
}

// ICEServers implements web.Backend: none on loopback.
func (r *Relay) ICEServers() []proto.ICEServer { return nil }

// Stats implements web.Backend: the sessions' counters.
func (r *Relay) Stats() any {
	r.mu.Lock()
	ms := make([]*member, 0, len(r.members))
	for _, m := range r.members {
		ms = append(ms, m)
	}
	r.mu.Unlock()
	out := map[string]bridge.SessionStats{}
	for _, m := range ms {
		out[m.id] = m.sess.Stats()
	}
	return map[string]any{"sessions": out}
}

// Session returns the bridge session of a joined page, or nil.
func (r *Relay) Session(id string) *bridge.Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.members[id]; m != nil {
		return m.sess
	}
	return nil
}

// Members returns the ids of the joined pages.
func (r *Relay) Members() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.members))
	for id := range r.members {
		ids = append(ids, id)
	}
	return ids
}

// Kick closes a page's connection (with a bye carrying reason), as a
// failing proxy would: a test hook for the page's reconnection.
func (r *Relay) Kick(id, reason string) error {
	r.mu.Lock()
	m := r.members[id]
	r.mu.Unlock()
	if m == nil {
		return fmt.Errorf("no member %q", id)
	}
	m.page.Close(reason)
	return nil
}

// HoldSignals holds (true) or releases (false) the signaling messages a
// page sends to its session: a test hook to force glare.
func (r *Relay) HoldSignals(id string, hold bool) error {
	r.mu.Lock()
	m := r.members[id]
	r.mu.Unlock()
	if m == nil {
		return fmt.Errorf("no member %q", id)
	}
	// Under hmu, so that a message the page sends meanwhile cannot
	// overtake the held ones (HandleSignal only queues).
	m.hmu.Lock()
	defer m.hmu.Unlock()
	m.hold = hold
	if hold {
		return nil
	}
	held := m.held
	m.held = nil
	for _, msg := range held {
		if err := m.sess.HandleSignal(msg); err != nil {
			return err
		}
	}
	return nil
}

// Held returns the types of the signaling messages held for a page (see
// HoldSignals), in the order the page sent them.
func (r *Relay) Held(id string) []string {
	r.mu.Lock()
	m := r.members[id]
	r.mu.Unlock()
	if m == nil {
		return nil
	}
	m.hmu.Lock()
	defer m.hmu.Unlock()
	types := make([]string, len(m.held))
	for i, msg := range m.held {
		types[i] = msg.Type
	}
	return types
}

// Greeting implements web.PageHandle.
func (m *member) Greeting() proto.Greeting {
	info := m.r.RoomInfo()
	m.r.mu.Lock()
	p := m.p
	m.r.mu.Unlock()
	return proto.Greeting{ID: m.id, Name: p.Name, Room: info.Room, Role: p.Role, Participants: info.Participants, VideoBitrate: 1_500_000}
}

// Signal implements web.PageHandle.
func (m *member) Signal(msg proto.Message) error {
	m.hmu.Lock()
	defer m.hmu.Unlock()
	if m.hold {
		m.held = append(m.held, msg)
		return nil
	}
	return m.sess.HandleSignal(msg)
}

// SetProfile implements web.PageHandle.
func (m *member) SetProfile(p proto.Profile) error {
	r := m.r
	r.mu.Lock()
	if p.Name != nil {
		m.p.Name = *p.Name
	}
	if p.AudioMuted != nil {
		m.p.AudioMuted = *p.AudioMuted
	}
	if p.VideoMuted != nil {
		m.p.VideoMuted = *p.VideoMuted
	}
	up := m.p
	others := r.othersLocked(m)
	r.mu.Unlock()
	for _, o := range others {
		_ = o.page.Send(proto.MustSignal(proto.TypeUpdate, up))
	}
	return nil
}

// SendChat implements web.PageHandle.
func (m *member) SendChat(to, text string) error {
	r := m.r
	r.mu.Lock()
	name := m.p.Name
	others := r.othersLocked(m)
	r.mu.Unlock()
	msg := proto.MustSignal(proto.TypeText, proto.Text{Text: text, Name: name, Time: time.Now().UnixMilli()})
	msg.Sender = m.id
	for _, o := range others {
		if to == "" || to == o.id {
			_ = o.page.Send(msg)
		}
	}
	return nil
}

// Leave implements web.PageHandle.
func (m *member) Leave() {
	r := m.r
	r.mu.Lock()
	if r.members[m.id] != m {
		r.mu.Unlock()
		return
	}
	delete(r.members, m.id)
	others := r.othersLocked(m)
	var own []*stream
	for _, s := range m.streams {
		own = append(own, s)
	}
	var theirs []*stream
	for _, o := range others {
		for _, s := range o.streams {
			theirs = append(theirs, s)
		}
	}
	r.mu.Unlock()
	for _, s := range theirs {
		s.setSub(m.id, nil)
	}
	for _, o := range others {
		for _, s := range own {
			_ = o.sess.RemoveRemote(m.id + "/" + s.ls.ID)
		}
		_ = o.page.Send(proto.MustSignal(proto.TypeLeave, proto.Leave{ID: m.id}))
	}
	_ = m.sess.Close()
	r.log.Info("left", "id", m.id)
}

func (r *Relay) othersLocked(m *member) []*member {
	var l []*member
	for _, o := range r.members {
		if o != m {
			l = append(l, o)
		}
	}
	return l
}

// packetRing keeps the last packets of a stream by sequence number.
type packetRing struct {
	mu   sync.Mutex
	pkts [][]byte
	seqs []uint16
}

func newPacketRing(n int) *packetRing {
	return &packetRing{pkts: make([][]byte, n), seqs: make([]uint16, n)}
}

func (r *packetRing) put(pkt []byte) {
	var h rtp.Header
	if _, err := h.Unmarshal(pkt); err != nil {
		return
	}
	i := int(h.SequenceNumber) % len(r.pkts)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pkts[i] = append(r.pkts[i][:0], pkt...)
	r.seqs[i] = h.SequenceNumber
}

func (r *packetRing) get(seq uint16) []byte {
	i := int(seq) % len(r.pkts)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pkts[i] == nil || r.seqs[i] != seq {
		return nil
	}
	return append([]byte(nil), r.pkts[i]...)
}
