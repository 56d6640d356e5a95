package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peets/peets/proto"
)

// conn is one page's WebSocket. The handler goroutine reads (run), one
// goroutine writes (writeLoop); the backend sends through Send.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	id     string
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	out    chan outMsg
	wdone  chan struct{}

	mu      sync.Mutex
	started bool     // greeting queued: Send goes to out
	held    [][]byte // messages sent before the greeting
	closed  bool

	bucket      tokenBucket
	lastRateErr time.Time
}

type outMsg struct {
	b    []byte
	last bool // close the connection after this one
}

var _ PageConn = (*conn)(nil)

func newConn(s *Server, ws *websocket.Conn, id string) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{
		srv:    s,
		ws:     ws,
		id:     id,
		log:    s.log.With("conn", id),
		ctx:    ctx,
		cancel: cancel,
		out:    make(chan outMsg, s.cfg.SendQueue),
		wdone:  make(chan struct{}),
		bucket: newTokenBucket(s.cfg.Rate, s.cfg.Burst),
	}
}

// ID implements PageConn.
func (c *conn) ID() string { return c.id }

// Done implements PageConn.
func (c *conn) Done() <-chan struct{} { return c.ctx.Done() }

// Send implements PageConn.
func (c *conn) Send(m proto.Message) error {
	b, err := m.Encode()
	if err != nil {
		return err
	}
	return c.enqueue(outMsg{b: b})
}

func (c *conn) enqueue(m outMsg) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrPageClosed
	}
	if !c.started {
		if len(c.held) >= c.srv.cfg.SendQueue {
			c.closeSlowLocked()
			return ErrPageSlow
		}
		c.held = append(c.held, m.b)
		return nil
	}
	select {
	case c.out <- m:
		if m.last {
			c.closed = true
		}
		return nil
	default:
		c.closeSlowLocked()
		return ErrPageSlow
	}
}

func (c *conn) closeSlowLocked() {
	c.srv.st.slowClosed.Add(1)
	c.log.Warn("page does not keep up: disconnecting")
	c.closed = true
	c.cancel()
}

// Close implements PageConn: a bye with reason, then the end.
func (c *conn) Close(reason string) {
	b, err := proto.MustSignal(proto.TypeBye, proto.Bye{Reason: reason}).Encode()
	if err == nil {
		c.mu.Lock()
		started := c.started
		c.mu.Unlock()
		if started && c.enqueue(outMsg{b: b, last: true}) == nil {
			return
		}
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
}

// sendError reports a problem to the page.
func (c *conn) sendError(code, msg, ref string) {
	c.srv.st.badMessage(code)
	_ = c.Send(proto.ErrorSignal(code, msg, ref))
}

// run joins the page, then reads its messages until it goes away.
func (c *conn) run(req JoinRequest) {
	s := c.srv
	s.st.connections.Add(1)
	s.st.active.Add(1)
	defer s.st.active.Add(-1)
	go c.writeLoop()
	defer func() {
		c.cancel()
		<-c.wdone
	}()
	// The reader must see the end of the context even while blocked.
	go func() {
		<-c.ctx.Done()
		<-c.wdone
		_ = c.ws.Close()
	}()

	jctx, jcancel := context.WithTimeout(c.ctx, s.cfg.JoinTimeout)
	handle, err := s.cfg.Backend.Join(jctx, req, c)
	jcancel()
	if err != nil {
		s.st.joinFailed.Add(1)
		c.log.Info("page refused", "err", err)
		c.start(nil)
		c.sendError(proto.CodeNotJoined, err.Error(), "")
		c.Close("not joined")
		c.drainReads()
		return
	}
	defer func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.cancel()
		handle.Leave()
	}()
	g := handle.Greeting()
	g.Version = proto.SignalVersion
	g.Polite = true
	if g.ICEServers == nil {
		g.ICEServers = s.cfg.Backend.ICEServers()
	}
	if g.ICEServers == nil {
		g.ICEServers = []proto.ICEServer{}
	}
	if g.Participants == nil {
		g.Participants = []proto.Participant{}
	}
	greeting, err := proto.NewSignal(proto.TypeGreeting, g)
	if err != nil {
		c.log.Error("greeting", "err", err)
		return
	}
	c.start(&greeting)
	c.log.Info("page joined", "user", g.ID, "role", g.Role, "remote", req.RemoteAddr)
	c.readLoop(handle, g.ID)
}

// start queues the greeting (if any) and then what the backend sent
// during Join, and lets Send write directly from then on.
func (c *conn) start(greeting *proto.Message) {
	var first []byte
	if greeting != nil {
		b, err := greeting.Encode()
		if err == nil {
			first = b
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.held
	c.held = nil
	c.started = true
	if first != nil {
		held = append([][]byte{first}, held...)
	}
	for _, b := range held {
		select {
		case c.out <- outMsg{b: b}:
		default:
			c.closeSlowLocked()
			return
		}
	}
}

// drainReads reads (and drops) until the connection ends, so that a
// refused page still gets its error and bye.
func (c *conn) drainReads() {
	c.ws.SetReadLimit(int64(c.srv.cfg.MaxMessageBytes))
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

func (c *conn) readLoop(handle PageHandle, userID string) {
	s := c.srv
	max := s.cfg.MaxMessageBytes
	hard := int64(4 * max)
	if hard < 1<<20 {
		hard = 1 << 20
	}
	c.ws.SetReadLimit(hard) // beyond this the connection is dropped
	pongWait := 3 * s.cfg.PingInterval
	_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(pongWait))
	})
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			if c.ctx.Err() == nil && !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway) {
				c.log.Debug("read", "err", err)
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
		b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
		if err != nil {
			return
		}
		if len(b) > max {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
			c.sendError(proto.CodeTooLarge, fmt.Sprintf("message over %d bytes", max), "")
			continue
		}
		s.st.messagesIn.Add(1)
		if typ != websocket.TextMessage {
			c.sendError(proto.CodeBadJSON, "binary frames are not accepted", "")
			continue
		}
		if !c.bucket.allow(time.Now()) {
			s.st.rateLimited.Add(1)
			if time.Since(c.lastRateErr) > time.Second {
				c.lastRateErr = time.Now()
				c.sendError(proto.CodeRateLimited, "too many messages: some were dropped", "")
			}
			continue
		}
		m, err := proto.DecodeSignal(b, proto.FromPage, max)
		if err != nil {
			var se *proto.SignalError
			if errors.As(err, &se) {
				p := se.Payload()
				c.sendError(p.Code, p.Message, p.Ref)
			} else {
				c.sendError(proto.CodeBadJSON, err.Error(), "")
			}
			continue
		}
		m.Sender = userID // a page speaks for itself only
		if !c.dispatch(handle, m) {
			return
		}
	}
}

// dispatch handles one valid message; false ends the connection.
func (c *conn) dispatch(h PageHandle, m proto.Message) bool {
	s := c.srv
	var err error
	switch m.Type {
	case proto.TypePing:
		_ = c.Send(proto.Message{Type: proto.TypePong, Data: m.Data})
	case proto.TypePong:
	case proto.TypeGetRoomInfo:
		info := s.cfg.Backend.RoomInfo()
		info.Self = m.Sender
		if info.Participants == nil {
			info.Participants = []proto.Participant{}
		}
		_ = c.Send(proto.MustSignal(proto.TypeRoomInfo, info))
	case proto.TypeGetICEServers:
		l := s.cfg.Backend.ICEServers()
		if l == nil {
			l = []proto.ICEServer{}
		}
		_ = c.Send(proto.MustSignal(proto.TypeICEServers, proto.ICEServers{ICEServers: l}))
	case proto.TypeProfile:
		var p proto.Profile
		if p, err = proto.DataAs[proto.Profile](m); err == nil {
			err = h.SetProfile(p)
		}
	case proto.TypeView:
		if vh, ok := h.(ViewHandle); ok {
			var v proto.View
			if v, err = proto.DataAs[proto.View](m); err == nil {
				err = vh.SetView(v)
			}
		}
	case proto.TypeText:
		var t proto.Text
		if t, err = proto.DataAs[proto.Text](m); err == nil {
			err = h.SendChat(m.Receiver, t.Text)
		}
	case proto.TypeOffer, proto.TypeAnswer, proto.TypeCandidate:
		err = h.Signal(m)
	case proto.TypeBye:
		c.log.Info("page said bye")
		return false
	default:
		err = &proto.SignalError{Code: proto.CodeNotAllowed, Type: m.Type, Err: proto.ErrSignalNotAllowed}
	}
	if err != nil {
		var se *proto.SignalError
		if errors.As(err, &se) {
			c.sendError(se.Code, se.Error(), m.Type)
		} else {
			c.sendError(proto.CodeInternal, err.Error(), m.Type)
		}
	}
	return true
}

// writeLoop writes queued messages and keepalive pings until the end.
func (c *conn) writeLoop() {
	defer close(c.wdone)
	ping := time.NewTicker(c.srv.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.ctx.Done():
			c.flush()
			c.closeFrame()
			return
		case m := <-c.out:
			if !c.write(m.b) {
				c.cancel()
				return
			}
			if m.last {
				c.closeFrame()
				c.cancel()
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				c.cancel()
				return
			}
		}
	}
}

func (c *conn) write(b []byte) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.log.Debug("write", "err", err)
		return false
	}
	c.srv.st.messagesOut.Add(1)
	return true
}

// flush writes what is already queued (an error, a bye), briefly.
func (c *conn) flush() {
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		select {
		case m := <-c.out:
			if !c.write(m.b) {
				return
			}
		default:
			return
		}
	}
}

func (c *conn) closeFrame() {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// tokenBucket is a per-connection rate limit.
type tokenBucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newTokenBucket(rate float64, burst int) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst)}
}

func (b *tokenBucket) allow(now time.Time) bool {
	if !b.last.IsZero() {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
