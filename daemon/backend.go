package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/peets/peets/daemon/web"
	"github.com/peets/peets/internal/metric"
	"github.com/peets/peets/media/bridge"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/roster"
)

// Backend makes the daemon a web.Backend: each page that opens the
// signaling WebSocket gets a bridge.Session; its camera and microphone are
// published (one Publisher per stream), every fetched remote stream is
// added to it as a track, and the roster and chat reach it as signaling
// messages.
type Backend struct {
	d   *Daemon
	api *bridge.API

	mu    sync.Mutex
	pages map[*page]struct{}
	// publisher is the page whose camera and mic are published; a newer
	// page takes over (a reloaded tab).
	publisher *page
}

// NewBackend makes the web backend of d.
func NewBackend(d *Daemon, api *bridge.API) *Backend {
	return &Backend{d: d, api: api, pages: map[*page]struct{}{}}
}

// page is one joined page.
type page struct {
	b    *Backend
	conn web.PageConn
	sess *bridge.Session

	removeSink func()
	cancel     context.CancelFunc

	mu      sync.Mutex
	layers  []string                       // the camera's encodings the page was told to send (nil: all, as it starts)
	tracks  map[string]*bridge.RemoteTrack // daemon remote key -> track
	ids     map[string]string              // bridge remote id -> daemon remote key
	profile proto.Profile
}

// participantOf is a roster member as the page knows it.
func participantOf(m roster.Member) proto.Participant {
	p := proto.Participant{ID: m.User, Name: m.Name, Role: m.Role, AudioMuted: m.AudioMuted, VideoMuted: m.VideoMuted}
	for _, s := range m.Streams {
		p.Streams = append(p.Streams, proto.PageStream{ID: s.ID, Kind: s.Kind, MimeType: s.Codec})
	}
	return p
}

// Join implements web.Backend.
func (b *Backend) Join(ctx context.Context, req web.JoinRequest, conn web.PageConn) (web.PageHandle, error) {
	d := b.d
	p := &page{b: b, conn: conn, tracks: map[string]*bridge.RemoteTrack{}, ids: map[string]string{}}
	sess, err := bridge.NewSession(bridge.SessionConfig{
		API: b.api, ID: conn.ID(), Role: d.cfg.Role, Logger: d.log,
		// Offer the remote tracks at once: the page opens its camera in
		// parallel and offers it in a second round, so receiving the call
		// does not wait for the camera.
		FirstOfferWait:   -1,
		Signal:           func(m proto.Message) { _ = conn.Send(m) },
		OnLocalStream:    p.onLocalStream,
		OnLocalStreamEnd: p.onLocalStreamEnd,
		OnLocalRTP: func(ls bridge.LocalStream, pkt []byte, key bool) {
			d.mu.Lock()
			l := d.locals[ls.ID]
			d.mu.Unlock()
			if l != nil && b.isPublisher(p) {
				d.publish(l, pkt, key)
			}
		},
		OnRemoteKeyframeRequest: func(id string) {
			if key := p.key(id); key != "" {
				d.RequestRemoteKeyframe(key)
			}
		},
		LookupRemote: func(id string, seq uint16) []byte {
			if key := p.key(id); key != "" {
				return d.RemoteBuffered(key, seq)
			}
			return nil
		},
		OnClose: func(err error) {
			if err != nil {
				conn.Close("media session ended: " + err.Error())
			}
		},
	})
	if err != nil {
		return nil, err
	}
	p.sess = sess
	b.mu.Lock()
	b.pages[p] = struct{}{}
	if d.cfg.Role != proto.RoleViewer {
		b.publisher = p
	}
	b.mu.Unlock()
	p.removeSink = d.AddSink(p)
	evCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.forwardEvents(d.part.Table().Subscribe(evCtx))
	if msg := d.removed.Load(); msg != nil {
		p.SendNotice(proto.CodeRemoved, *msg)
	}
	d.pageOpened()
	d.log.Info("page joined", "page", conn.ID(), "agent", req.UserAgent)
	return p, nil
}

func (b *Backend) isPublisher(p *page) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.publisher == p
}

// RoomInfo implements web.Backend.
func (b *Backend) RoomInfo() proto.RoomInfo {
	d := b.d
	info := proto.RoomInfo{Room: d.cfg.Room, Self: d.cfg.User, Participants: []proto.Participant{}}
	for _, m := range d.part.Snapshot() {
		info.Participants = append(info.Participants, participantOf(m))
	}
	return info
}

// RosterJSON implements web.RosterJSONer: the JSON of `peets roster --json`,
// this participant included.
func (b *Backend) RosterJSON() ([]byte, error) { return b.d.part.JSON() }

// ICEServers implements web.Backend.
func (b *Backend) ICEServers() []proto.ICEServer {
	out := []proto.ICEServer{}
	for _, s := range b.d.cfg.ICEServers {
		out = append(out, proto.ICEServer{URLs: s.URLs, Username: s.Username, Credential: s.Credential})
	}
	return out
}

// Stats implements web.Backend.
func (b *Backend) Stats() any { return b.stats() }

// BackendStats is what GET /api/stats serves under "backend": the
// daemon's figures and each page's WebRTC session's (by connection id).
type BackendStats struct {
	Daemon   Stats                          `json:"daemon" metric:"flat"`
	Sessions map[string]bridge.SessionStats `json:"sessions" metric:"page,label=page"`
}

func (b *Backend) stats() BackendStats {
	b.mu.Lock()
	sess := map[string]bridge.SessionStats{}
	for p := range b.pages {
		sess[p.conn.ID()] = p.sess.Stats()
	}
	b.mu.Unlock()
	return BackendStats{Daemon: b.d.Stats(), Sessions: sess}
}

// Collector is the Prometheus view of the backend's figures: the same
// names as /api/stats's (docs/metrics.md).
func (b *Backend) Collector() *metric.Collector {
	c := metric.NewCollector("peets")
	c.Add("", func() any { return b.stats() })
	return c
}

// key maps a bridge remote id to the daemon's remote stream key.
func (p *page) key(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ids[id]
}

// Greeting implements web.PageHandle.
func (p *page) Greeting() proto.Greeting {
	d := p.b.d
	self := d.part.SelfMember()
	info := p.b.RoomInfo()
	return proto.Greeting{
		ID: d.cfg.User, Name: self.Name, Room: d.cfg.Room, Role: d.cfg.Role,
		Participants: info.Participants, VideoBitrate: DefaultVideoBitrate,
		Simulcast: d.cfg.Layers(), Anchor: d.room.Fingerprint(), Owner: d.room.Owner(),
	}
}

// Signal implements web.PageHandle. A full negotiation queue is "busy" (the
// page may retry), a message the session cannot use "bad-data".
func (p *page) Signal(m proto.Message) error {
	err := p.sess.HandleSignal(m)
	switch {
	case errors.Is(err, bridge.ErrBusy):
		return &proto.SignalError{Code: proto.CodeBusy, Type: m.Type, Err: err}
	case errors.Is(err, bridge.ErrUnexpectedSignal):
		return &proto.SignalError{Code: proto.CodeBadData, Type: m.Type, Err: err}
	}
	return err
}

// SetProfile implements web.PageHandle: a new display name, and the
// publishing page's mute state, reach every member with the heartbeat sent
// at once.
func (p *page) SetProfile(pr proto.Profile) error {
	p.mu.Lock()
	if pr.AudioMuted != nil {
		p.profile.AudioMuted = pr.AudioMuted
	}
	if pr.VideoMuted != nil {
		p.profile.VideoMuted = pr.VideoMuted
	}
	p.mu.Unlock()
	if (pr.AudioMuted != nil || pr.VideoMuted != nil) && p.b.isPublisher(p) {
		if err := p.b.d.part.Update(func(e *proto.RosterEntry) {
			if pr.AudioMuted != nil {
				e.AudioMuted = *pr.AudioMuted
			}
			if pr.VideoMuted != nil {
				e.VideoMuted = *pr.VideoMuted
			}
		}); err != nil {
			return err
		}
	}
	if pr.Name != nil {
		return p.b.d.part.SetName(*pr.Name)
	}
	return nil
}

// SendChat implements web.PageHandle: room-wide only (a sync group has no
// private channel).
func (p *page) SendChat(to, text string) error {
	if to != "" && to != p.b.d.cfg.Room {
		return &proto.SignalError{Code: proto.CodeNotAllowed, Type: proto.TypeText,
			Err: fmt.Errorf("%w: private messages are not supported", proto.ErrSignalNotAllowed)}
	}
	return p.b.d.part.SendChat(text)
}

// Leave implements web.PageHandle.
func (p *page) Leave() {
	b := p.b
	p.cancel()
	p.removeSink()
	_ = p.sess.Close()
	b.mu.Lock()
	delete(b.pages, p)
	if b.publisher == p {
		b.publisher = nil
	}
	b.mu.Unlock()
	b.d.setView(p, nil)
	b.d.pageClosed()
	b.d.log.Info("page left", "page", p.conn.ID())
}

// forwardEvents turns roster events into signaling messages until the
// subscription ends (the page left: its context was cancelled).
func (p *page) forwardEvents(events <-chan roster.Event) {
	self := p.b.d.self
	for ev := range events {
		var m proto.Message
		var err error
		switch ev.Type {
		case roster.EventJoin, roster.EventUpdate:
			if ev.Member.Participant.Equal(self) {
				continue
			}
			typ := proto.TypeJoin
			if ev.Type == roster.EventUpdate {
				typ = proto.TypeUpdate
			}
			m, err = proto.NewSignal(typ, participantOf(ev.Member))
		case roster.EventLeave:
			m, err = proto.NewSignal(proto.TypeLeave, proto.Leave{ID: ev.Member.User})
		case roster.EventChat:
			if ev.Chat == nil || ev.Chat.Self {
				continue
			}
			m, err = proto.NewSignal(proto.TypeText, proto.Text{Text: ev.Chat.Text, Name: ev.Chat.From.Name, Time: ev.Chat.Sent.UnixMilli()})
			m.Sender = ev.Chat.From.User
		case roster.EventUserTaken:
			if !ev.Holder.Equal(self) {
				continue
			}
			m = proto.ErrorSignal(proto.CodeUserTaken, userTakenMessage(p.b.d.cfg.User, ev.Member), "")
		default:
			continue
		}
		if err != nil {
			p.b.d.log.Debug("event not sent to the page", "type", ev.Type, "err", err)
			continue
		}
		if p.conn.Send(m) != nil {
			return
		}
	}
}

// onLocalStream publishes a stream of the page (camera, mic).
func (p *page) onLocalStream(ls bridge.LocalStream) {
	b, d := p.b, p.b.d
	if d.cfg.Role == proto.RoleViewer || !b.isPublisher(p) {
		return
	}
	keyReq := func() { _ = p.sess.RequestLocalKeyframe(ls.ID) }
	layer := d.layerOf(ls.Group, ls.RID, ls.AbsSendTime)
	layer.audioLevel = ls.AudioLevel
	d.mu.Lock()
	l := d.locals[ls.ID]
	d.mu.Unlock()
	if l != nil && l.mime == lower(ls.MimeType) && l.layer == layer {
		l.setKeyReq(keyReq) // a reloaded page takes the stream over
	} else {
		if l != nil {
			d.removeLocal(ls.ID)
		}
		if _, err := d.newLocal(ls.ID, ls.Kind, lower(ls.MimeType), ls.ClockRate, keyReq, layer); err != nil {
			d.log.Warn("cannot publish", "stream", ls.ID, "err", err)
			return
		}
	}
	// Announce the stream now rather than at the next heartbeat.
	_ = d.part.Update(func(*proto.RosterEntry) {})
	keyReq()
}

// onLocalStreamEnd stops publishing a stream the page removed.
func (p *page) onLocalStreamEnd(ls bridge.LocalStream) {
	if !p.b.isPublisher(p) {
		return
	}
	p.b.d.removeLocal(ls.ID)
	_ = p.b.d.part.Update(func(*proto.RosterEntry) {})
}

// AddRemote implements RemoteSink.
func (p *page) AddRemote(info RemoteInfo) {
	id := info.User + "/" + info.Stream
	rt, err := p.sess.AddRemote(id, bridge.RemoteInfo{
		Participant: info.User, Stream: info.Stream, MimeType: info.Codec, ClockRate: info.ClockRate,
	})
	if err != nil {
		p.b.d.log.Warn("cannot add remote track", "stream", id, "err", err)
		return
	}
	p.mu.Lock()
	p.tracks[info.Key] = rt
	p.ids[id] = info.Key
	p.mu.Unlock()
}

// WriteRemote implements RemoteSink.
func (p *page) WriteRemote(key string, pkt []byte) {
	p.mu.Lock()
	rt := p.tracks[key]
	p.mu.Unlock()
	if rt != nil {
		_ = rt.WriteRTP(pkt)
	}
}

// RemoveRemote implements RemoteSink.
func (p *page) RemoveRemote(key string) {
	p.mu.Lock()
	rt := p.tracks[key]
	delete(p.tracks, key)
	for id, k := range p.ids {
		if k == key {
			delete(p.ids, id)
		}
	}
	p.mu.Unlock()
	if rt != nil {
		_ = p.sess.RemoveRemote(rt.ID())
	}
}

// SendQuality implements QualitySink: the uplink is for the page whose
// camera is published.
func (p *page) SendQuality(q proto.Quality) {
	if !p.b.isPublisher(p) {
		q.Uplink = nil
	}
	m, err := proto.NewSignal(proto.TypeQuality, q)
	if err != nil {
		p.b.d.log.Debug("quality not sent to the page", "err", err)
		return
	}
	_ = p.conn.Send(m)
}

// SetView implements web.ViewHandle: what the page shows decides what its
// proxy pulls (view.go).
func (p *page) SetView(v proto.View) error {
	p.b.d.setView(p, &v)
	return nil
}

// SendNotice implements NoticeSink: an error message that is no reply.
func (p *page) SendNotice(code, msg string) {
	_ = p.conn.Send(proto.ErrorSignal(code, msg, ""))
}

// SendSpeakers implements SpeakerSink.
func (p *page) SendSpeakers(sp proto.Speakers) {
	m, err := proto.NewSignal(proto.TypeSpeakers, sp)
	if err != nil {
		p.b.d.log.Debug("speakers not sent to the page", "err", err)
		return
	}
	_ = p.conn.Send(m)
}

// SendLayers implements LayerSink: the publishing page learns which
// encodings of its camera to send when that changes.
func (p *page) SendLayers(active []string) {
	if !p.b.isPublisher(p) {
		return
	}
	p.mu.Lock()
	same := slices.Equal(p.layers, active) || p.layers == nil && len(active) == len(p.b.d.cfg.Layers())
	if !same {
		p.layers = slices.Clone(active)
	}
	p.mu.Unlock()
	if same {
		return
	}
	m, err := proto.NewSignal(proto.TypeLayers, proto.Layers{Active: active})
	if err != nil {
		p.b.d.log.Debug("layers not sent to the page", "err", err)
		return
	}
	_ = p.conn.Send(m)
}

// removeLocal stops publishing a local stream.
func (d *Daemon) removeLocal(id string) {
	d.mu.Lock()
	l := d.locals[id]
	delete(d.locals, id)
	d.mu.Unlock()
	if l != nil {
		_ = l.pub.Close()
		d.log.Info("stopped publishing", "stream", id)
	}
}

// lower is strings.ToLower: mime types are compared case-insensitively.
func lower(s string) string { return strings.ToLower(s) }
