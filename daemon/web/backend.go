package web

import (
	"context"
	"errors"

	"github.com/peets/peets/proto"
)

// Backend is what the web server needs from the daemon: the roster, the
// chat and one media session per page. The daemon implements it by wiring
// roster, media and a bridge.Session per page; e2e/browser has an
// in-process relay for tests.
//
// Message flow. The server itself answers ping, get-room-info (RoomInfo)
// and get-ice-servers (ICEServers), and turns bye or a closed WebSocket
// into PageHandle.Leave. Everything else the page sends goes to its
// PageHandle. The backend pushes to the page through PageConn.Send:
// roster events (join, leave, update), chat from others (text, with the
// author's id as sender), and the bridge session's signaling (offer,
// answer, candidate, tracks, error).
type Backend interface {
	// Join admits a page that opened the signaling WebSocket. page stays
	// valid until Leave (page.Done() closes when the page goes away);
	// messages sent on it during Join reach the page after the greeting.
	// ctx bounds the Join call only (Config.JoinTimeout). An error refuses
	// the page (it gets an error "not-joined" and a bye).
	Join(ctx context.Context, req JoinRequest, page PageConn) (PageHandle, error)
	// RoomInfo is the current roster (get-room-info and GET /api/roster).
	RoomInfo() proto.RoomInfo
	// ICEServers are the ICE servers pages should use; none on loopback.
	ICEServers() []proto.ICEServer
	// Stats is served under "backend" by GET /api/stats; any value that
	// encoding/json can marshal, or nil.
	Stats() any
}

// RosterJSONer is a Backend that renders GET /api/roster itself (the daemon
// serves the same JSON as `peets roster --json`).
type RosterJSONer interface {
	RosterJSON() ([]byte, error)
}

// JoinRequest describes a page asking to join. Name and Role come from the
// page URL's query (?name=...&role=...) and are only wishes: the backend
// decides.
type JoinRequest struct {
	Name       string
	Role       string
	RemoteAddr string
	UserAgent  string
}

// PageConn is the backend's handle on one page's WebSocket.
type PageConn interface {
	// ID identifies the connection within this server ("c1", "c2"...).
	ID() string
	// Send queues m for the page. It never blocks: a page that does not
	// keep up is disconnected (ErrPageSlow); after the end, ErrPageClosed.
	Send(m proto.Message) error
	// Close says bye to the page (with reason) and ends the connection;
	// Leave follows.
	Close(reason string)
	// Done is closed when the connection has ended.
	Done() <-chan struct{}
}

// PageHandle is the backend's side of one joined page. The server calls
// its methods from the connection's reader goroutine, one at a time; they
// must not block for long. An error is reported to the page as an error
// message: a *proto.SignalError gives its code, anything else "internal".
type PageHandle interface {
	// Greeting is the first message the page gets: its user id, room,
	// role, roster. Version and Polite are filled in by the server, and
	// ICEServers from Backend.ICEServers when nil.
	Greeting() proto.Greeting
	// Signal takes the page's offer, answer and candidate messages (for
	// bridge.Session.HandleSignal).
	Signal(m proto.Message) error
	// SetProfile changes the page's display name or muted flags.
	SetProfile(p proto.Profile) error
	// SendChat sends a chat message from the page to the room (to == "")
	// or to one participant. The author does not get it back.
	SendChat(to, text string) error
	// Leave is called once when the page is gone.
	Leave()
}

// ViewHandle is a PageHandle that takes the page's view (what it shows);
// a handle without it ignores view messages.
type ViewHandle interface {
	SetView(v proto.View) error
}

// Errors of page connections.
var (
	ErrPageClosed   = errors.New("web: page connection closed")
	ErrPageSlow     = errors.New("web: page does not keep up; disconnected")
	ErrNotLoopback  = errors.New("web: not a loopback address")
	ErrBadToken     = errors.New("web: bad token")
	ErrNoBackend    = errors.New("web: no backend")
	ErrAlreadyStart = errors.New("web: server already started")
)
