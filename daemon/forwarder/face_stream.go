package forwarder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peets/peets/internal/ratelog"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
)

// Reconnect and I/O timing of the stream face.
const (
	redialMin = 50 * time.Millisecond // first retry after a disconnect (remote forwarder)
	redialMax = 1 * time.Second       // backoff cap (remote forwarder): found within ~1 s of its return
	// A local forwarder (unix socket, loopback tcp) is redialed faster: a
	// refused local connect costs a few microseconds, and the time to find
	// a restarted forwarder is what media streams wait before they resume.
	redialMinLocal = 10 * time.Millisecond
	redialMaxLocal = 25 * time.Millisecond // found within ~25 ms of its return (a refused dial costs ~13 us: 40/s)
	dialTimeout    = 1 * time.Second       // one connect attempt
	writeTimeout   = 2 * time.Second       // a wedged forwarder must not block senders forever
)

// faceCounters are the packet counters every face of this package keeps.
type faceCounters struct {
	in, out, drops, reconnects atomic.Uint64
	malformed                  atomic.Uint64 // frames dropped by validatePacket (or framing errors)
}

// badLogEvery rate-limits the logs of malformed packets (they are all
// counted).
const badLogEvery = 5 * time.Second

// faceHooks let the Conn observe transitions that ndn.Face does not expose
// with enough detail. They run on the face's own goroutine, never on the
// engine's.
type faceHooks struct {
	onLost       func(err error)                                     // connection lost; redialing starts
	onReconnect  func()                                              // a new connection is up (not called for the first one)
	onRedialFail func(err error, down time.Duration) (retryNow bool) // a redial attempt failed (down: time since the loss)
	onLpFrame    func(frame []byte)                                  // an LpPacket frame on its way to the engine (marks.go)
}

// streamFace is an ndn.Face over a unix or tcp stream to an external
// forwarder. Unlike ndnd's StreamFace it never exits the process and never
// reports a fatal error to the engine: when the connection drops it fires
// OnDown, redials with exponential backoff (redialMin..redialMax, faster for
// local forwarders: redialMinLocal..redialMaxLocal) until Close,
// and fires OnUp again. Sends while down fail fast with ErrDown.
type streamFace struct {
	ep    endpoint
	log   *slog.Logger
	hooks faceHooks
	cnt   faceCounters

	onPkt  func(frame []byte)
	badLog ratelog.Limiter
	panics panicCounter // recovered in the handling of a frame (guard.go)

	running atomic.Bool
	sendMu  sync.Mutex // serializes writes: one frame per Write
	corked  int        // Cork depth, under sendMu
	pend    []byte     // packets sent while corked, under sendMu
	pendN   uint64     // how many

	mu      sync.Mutex
	conn    net.Conn // nil while down
	raw     *rawIO   // conn's raw writer (Linux), or nil
	initial net.Conn // pre-dialed connection handed over by Open, used once
	opened  bool
	closed  bool
	onUp    map[int]func()
	onDown  map[int]func()
	nextCB  int
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed when the run goroutine exits
}

var _ ndn.Face = (*streamFace)(nil)

// newStreamFace makes a face for ep. initial, if not nil, is an already
// connected stream to use first (from discovery), saving a redial.
func newStreamFace(ep endpoint, initial net.Conn, log *slog.Logger, hooks faceHooks) *streamFace {
	return &streamFace{
		badLog:  ratelog.Limiter{Every: badLogEvery},
		panics:  panicCounter{lim: ratelog.Limiter{Every: ratelog.DefaultEvery}},
		ep:      ep,
		log:     log,
		hooks:   hooks,
		initial: initial,
		onUp:    map[int]func(){},
		onDown:  map[int]func(){},
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// String implements ndn.Face.
func (f *streamFace) String() string { return fmt.Sprintf("peets-stream-face (%s)", f.ep) }

// IsRunning implements ndn.Face: true while connected.
func (f *streamFace) IsRunning() bool { return f.running.Load() }

// IsLocal implements ndn.Face. Unix sockets and loopback tcp are local, so
// management commands go to /localhost/nfd.
func (f *streamFace) IsLocal() bool { return f.ep.local }

// OnPacket implements ndn.Face.
func (f *streamFace) OnPacket(onPkt func(frame []byte)) { f.onPkt = onPkt }

// OnError implements ndn.Face. The callback is deliberately never called:
// ndnd's engine stops itself for good on a face error, and this face
// recovers instead.
func (f *streamFace) OnError(func(err error)) {}

// OnUp implements ndn.Face.
func (f *streamFace) OnUp(cb func()) (cancel func()) { return f.addCB(f.onUp, cb) }

// OnDown implements ndn.Face.
func (f *streamFace) OnDown(cb func()) (cancel func()) { return f.addCB(f.onDown, cb) }

func (f *streamFace) addCB(m map[int]func(), cb func()) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextCB
	f.nextCB++
	m[id] = cb
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(m, id)
	}
}

func (f *streamFace) fire(m map[int]func()) {
	f.mu.Lock()
	cbs := make([]func(), 0, len(m))
	for _, cb := range m {
		cbs = append(cbs, cb)
	}
	f.mu.Unlock()
	for _, cb := range cbs {
		cb()
	}
}

// Open implements ndn.Face: it connects (or adopts the pre-dialed
// connection) and starts the receive/reconnect goroutine.
func (f *streamFace) Open() error {
	if f.onPkt == nil {
		return fmt.Errorf("%v: packet callback not set", f)
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	if f.opened {
		f.mu.Unlock()
		return fmt.Errorf("%v: already open", f)
	}
	c := f.initial
	f.initial = nil
	f.mu.Unlock()

	if c == nil {
		var err error
		if c, err = net.DialTimeout(f.ep.network, f.ep.addr, dialTimeout); err != nil {
			return fmt.Errorf("%w at %s: %v", ErrNoForwarder, f.ep, err)
		}
	}

	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		c.Close()
		return ErrClosed
	}
	f.opened = true
	f.conn, f.raw = c, newRawIO(c)
	f.running.Store(true)
	f.mu.Unlock()

	f.fire(f.onUp)
	go f.run(c)
	return nil
}

// Close implements ndn.Face. It stops redialing and closes the connection
// (OnDown is not fired). It does not wait for the face goroutine, because the
// engine calls Close from its own goroutine, which that goroutine may be
// waiting on to deliver a packet; Conn.Close waits through wait(). Idempotent.
func (f *streamFace) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.quit)
	if f.initial != nil {
		f.initial.Close()
		f.initial = nil
	}
	c := f.conn
	f.conn, f.raw = nil, nil
	f.running.Store(false)
	f.mu.Unlock()

	if c != nil {
		c.Close()
	}
	return nil
}

// wait blocks until the face goroutine has exited (after Close) or timeout.
func (f *streamFace) wait(timeout time.Duration) bool {
	f.mu.Lock()
	opened := f.opened
	f.mu.Unlock()
	if !opened {
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-f.done:
		return true
	case <-t.C:
		return false
	}
}

// Send implements ndn.Face. It never blocks longer than writeTimeout; on a
// write error the connection is dropped and the face reconnects. While the
// face is corked, the packet is queued and written at the uncork. A packet
// larger than 8800 bytes is refused (ErrTooLarge): a forwarder would take it
// for broken framing and close the connection.
func (f *streamFace) Send(pkt enc.Wire) error {
	if !f.running.Load() {
		f.cnt.drops.Add(1)
		return ErrDown
	}
	if err := checkPacketSize(pkt); err != nil {
		f.cnt.drops.Add(1)
		return err
	}
	f.sendMu.Lock()
	defer f.sendMu.Unlock()
	if f.corked > 0 {
		for _, b := range pkt {
			f.pend = append(f.pend, b...)
		}
		f.pendN++
		if len(f.pend) < maxCorked {
			return nil
		}
		return f.flushLocked()
	}
	return f.writeLocked(pkt, 1)
}

// checkPacketSize refuses a packet larger than ndn.MaxNDNPacketSize.
func checkPacketSize(pkt enc.Wire) error {
	n := 0
	for _, b := range pkt {
		n += len(b)
	}
	if n > ndn.MaxNDNPacketSize {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	return nil
}

// maxCorked bounds the bytes a corked face holds: beyond, it writes them.
const maxCorked = 32 << 10

// Cork makes the face hold the packets sent until uncork is called and
// write them then with one system call. The media fetcher corks its face
// while it sends a batch of Interests, so the batch costs one write here
// and one read (one wake-up) in the forwarder instead of one each. Corks nest; packets of other goroutines sent
// meanwhile wait for the uncork too, so a corker must not block.
func (f *streamFace) Cork() (uncork func()) {
	f.sendMu.Lock()
	f.corked++
	f.sendMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.sendMu.Lock()
			defer f.sendMu.Unlock()
			f.corked--
			if f.corked == 0 && f.pendN > 0 {
				_ = f.flushLocked()
			}
		})
	}
}

// flushLocked writes the queued packets (sendMu held).
func (f *streamFace) flushLocked() error {
	n := f.pendN
	pend := f.pend
	f.pend, f.pendN = f.pend[:0], 0
	if cap(f.pend) > 2*maxCorked {
		f.pend = nil // a burst of large packets: do not keep its buffer
	}
	return f.writeLocked(enc.Wire{pend}, n)
}

// writeLocked writes pkt, which holds n packets (sendMu held).
func (f *streamFace) writeLocked(pkt enc.Wire, n uint64) error {
	f.mu.Lock()
	c, raw := f.conn, f.raw
	f.mu.Unlock()
	if c == nil {
		f.cnt.drops.Add(n)
		return ErrDown
	}
	_ = c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if raw != nil {
		if err := raw.writev(pkt); err != nil {
			f.cnt.drops.Add(n)
			c.Close() // as below: a partial write breaks the framing
			return fmt.Errorf("%w: send: %v", ErrDown, err)
		}
		f.cnt.out.Add(n)
		return nil
	}

	// net.Buffers.WriteTo consumes its slice in place: never hand it the
	// caller's wire, which may be cached and re-sent.
	bufs := make(net.Buffers, len(pkt))
	for i, b := range pkt {
		bufs[i] = b
	}
	if _, err := bufs.WriteTo(c); err != nil {
		f.cnt.drops.Add(n)
		// A partial write breaks the TLV framing: drop the connection, the
		// receive goroutine notices and reconnects.
		c.Close()
		return fmt.Errorf("%w: send: %v", ErrDown, err)
	}
	f.cnt.out.Add(n)
	return nil
}

// run reads frames from the current connection and, when it breaks, redials
// until Close.
func (f *streamFace) run(c net.Conn) {
	defer close(f.done)
	fr := newFrameReader(nil)
	for {
		fr.reset(readerOf(c))
		err := f.receive(fr)
		c.Close()

		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return
		}
		f.conn, f.raw = nil, nil
		f.running.Store(false)
		f.mu.Unlock()

		if err == nil {
			err = fmt.Errorf("connection closed by forwarder")
		}
		f.log.Warn("forwarder connection lost; reconnecting", "uri", f.ep.String(), "err", err)
		if f.hooks.onLost != nil {
			f.hooks.onLost(err)
		}
		f.fire(f.onDown)

		if c = f.redial(); c == nil {
			return // closed
		}
		f.cnt.reconnects.Add(1)
		f.log.Info("forwarder connection restored", "uri", f.ep.String())
		if f.hooks.onReconnect != nil {
			f.hooks.onReconnect()
		}
		f.fire(f.onUp)
	}
}

// receive reads frames from the connection until it fails and hands the
// well-formed ones to the engine. A malformed frame is dropped and counted
// (the forwarder may merely relay it from someone else: the connection
// stays), and so is a packet larger than 8800 bytes; a stream whose
// framing is lost ends the connection, which is then redialed.
func (f *streamFace) receive(fr *frameReader) error {
	err := fr.each(func(frame []byte, skipped error) error {
		if skipped != nil {
			f.dropBad(skipped, nil)
			return nil
		}
		f.frame(frame)
		return nil
	})
	switch {
	case errors.Is(err, errFraming):
		f.cnt.malformed.Add(1)
	case errors.Is(err, io.EOF):
		return nil
	}
	return err
}

// frame hands one frame to the engine if it is well formed. A panic is
// recovered (guard.go): the frame is dropped.
func (f *streamFace) frame(frame []byte) {
	defer f.panics.recoverFrame(f.log, "stream face", frame)
	if err := validatePacket(frame, validateOpts{}); err != nil {
		f.dropBad(err, frame)
		return
	}
	f.cnt.in.Add(1)
	if frame[0] == tLpPacket && f.hooks.onLpFrame != nil {
		f.hooks.onLpFrame(frame)
	}
	f.onPkt(frame)
}

// dropBad counts and logs (rate-limited) a frame from the forwarder that
// does not reach the engine.
func (f *streamFace) dropBad(err error, frame []byte) {
	f.cnt.malformed.Add(1)
	if ok, more := f.badLog.Allow(); ok {
		f.log.Warn("dropped malformed packet from the forwarder", "uri", f.ep.String(),
			"err", err, "frame", frameSummary(frame), "suppressed_before", more,
			"total", f.cnt.malformed.Load())
	}
}

// redial connects with exponential backoff; it returns nil once the face is
// closed. On success the connection is installed and the face marked up.
func (f *streamFace) redial() net.Conn {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-f.quit:
			cancel()
		case <-ctx.Done():
		}
	}()

	d := net.Dialer{Timeout: dialTimeout}
	lost := time.Now()
	wait, maxWait := redialMin, redialMax
	if f.ep.network == "unix" || f.ep.local {
		wait, maxWait = redialMinLocal, redialMaxLocal
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-f.quit:
			return nil
		case <-t.C:
		}
		c, err := d.DialContext(ctx, f.ep.network, f.ep.addr)
		if err == nil {
			f.mu.Lock()
			if f.closed {
				f.mu.Unlock()
				c.Close()
				return nil
			}
			f.conn, f.raw = c, newRawIO(c)
			f.running.Store(true)
			f.mu.Unlock()
			return c
		}
		f.log.Debug("redial failed", "uri", f.ep.String(), "err", err, "next", wait)
		wait = min(wait*2, maxWait)
		if f.hooks.onRedialFail != nil && f.hooks.onRedialFail(err, time.Since(lost)) {
			t.Reset(0)
		} else {
			t.Reset(wait)
		}
	}
}
