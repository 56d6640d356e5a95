package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/peets/peets/proto"
)

// fakeBackend is an in-memory room with chat and profiles, no media.
type fakeBackend struct {
	mu      sync.Mutex
	n       int
	pages   map[string]*fakeHandle
	refuse  error
	onJoin  func(page PageConn) // runs during Join
	signals []proto.Message
}

type fakeHandle struct {
	b    *fakeBackend
	page PageConn
	p    proto.Participant
}

func newFakeBackend() *fakeBackend { return &fakeBackend{pages: map[string]*fakeHandle{}} }

func (b *fakeBackend) Join(ctx context.Context, req JoinRequest, page PageConn) (PageHandle, error) {
	if b.refuse != nil {
		return nil, b.refuse
	}
	b.mu.Lock()
	b.n++
	id := fmt.Sprintf("u%d", b.n)
	name := req.Name
	if name == "" {
		name = id
	}
	role := req.Role
	if role == "" {
		role = proto.RoleParticipant
	}
	h := &fakeHandle{b: b, page: page, p: proto.Participant{ID: id, Name: name, Role: role}}
	others := b.othersLocked(id)
	b.pages[id] = h
	b.mu.Unlock()
	for _, o := range others {
		_ = o.page.Send(proto.MustSignal(proto.TypeJoin, h.p))
	}
	if b.onJoin != nil {
		b.onJoin(page)
	}
	return h, nil
}

func (b *fakeBackend) othersLocked(id string) []*fakeHandle {
	var l []*fakeHandle
	for k, h := range b.pages {
		if k != id {
			l = append(l, h)
		}
	}
	return l
}

func (b *fakeBackend) RoomInfo() proto.RoomInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	info := proto.RoomInfo{Room: "test"}
	for _, h := range b.pages {
		info.Participants = append(info.Participants, h.p)
	}
	return info
}

func (b *fakeBackend) ICEServers() []proto.ICEServer { return nil }
func (b *fakeBackend) Stats() any                    { return map[string]int{"pages": len(b.RoomInfo().Participants)} }

func (h *fakeHandle) Greeting() proto.Greeting {
	info := h.b.RoomInfo()
	return proto.Greeting{ID: h.p.ID, Name: h.p.Name, Room: info.Room, Role: h.p.Role, Participants: info.Participants}
}

func (h *fakeHandle) Signal(m proto.Message) error {
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	h.b.signals = append(h.b.signals, m)
	if m.Type == proto.TypeAnswer {
		return &proto.SignalError{Code: proto.CodeNegotiation, Err: errors.New("no offer pending")}
	}
	return nil
}

func (h *fakeHandle) SetProfile(p proto.Profile) error {
	h.b.mu.Lock()
	if p.Name != nil {
		h.p.Name = *p.Name
	}
	if p.AudioMuted != nil {
		h.p.AudioMuted = *p.AudioMuted
	}
	if p.VideoMuted != nil {
		h.p.VideoMuted = *p.VideoMuted
	}
	others := h.b.othersLocked(h.p.ID)
	up := h.p
	h.b.mu.Unlock()
	for _, o := range others {
		_ = o.page.Send(proto.MustSignal(proto.TypeUpdate, up))
	}
	return nil
}

func (h *fakeHandle) SendChat(to, text string) error {
	h.b.mu.Lock()
	others := h.b.othersLocked(h.p.ID)
	name := h.p.Name
	h.b.mu.Unlock()
	m := proto.MustSignal(proto.TypeText, proto.Text{Text: text, Name: name, Time: time.Now().UnixMilli()})
	m.Sender = h.p.ID
	for _, o := range others {
		if to == "" || to == o.p.ID {
			_ = o.page.Send(m)
		}
	}
	return nil
}

func (h *fakeHandle) Leave() {
	h.b.mu.Lock()
	delete(h.b.pages, h.p.ID)
	others := h.b.othersLocked(h.p.ID)
	h.b.mu.Unlock()
	for _, o := range others {
		_ = o.page.Send(proto.MustSignal(proto.TypeLeave, proto.Leave{ID: h.p.ID}))
	}
}
