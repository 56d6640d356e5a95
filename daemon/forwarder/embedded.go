package forwarder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peets/peets/internal/ratelog"

	fw_cmd "github.com/named-data/ndnd/fw/cmd"
	fw_core "github.com/named-data/ndnd/fw/core"
	fwface "github.com/named-data/ndnd/fw/face"
	"github.com/named-data/ndnd/fw/table"
	ndnlog "github.com/named-data/ndnd/std/log"
)

// The embedded forwarder is ndnd's YaNFD running inside this process. YaNFD
// keeps its state in package globals (core.C, face.FaceTable, table.Rib, ...)
// and cannot be restarted once stopped, so there is exactly one per process:
// the singleton below, the only global of this package.
//
// Once started, the forwarder core lives until the process exits. What a Conn
// starts, Close stops: the last embedded Conn to close shuts the unix listener
// (removing the socket file), closes the faces of the local apps that
// connected through it, and returns its in-process face to a pool.
//
// Listeners: YaNFD's TCP, WebSocket, HTTP/3 and UDP listeners are off, and
// YaNFD has no UDP face at all: the UDP port (Options.UDPPort > 0, on all
// interfaces; 0 for none) belongs to this package's udpGuard, which gives
// each remote peer a non-local in-process face in YaNFD and validates
// every datagram before it gets there (udpguard.go). UDP links (Link) go
// through the guard too, from the UDP port or, without one, an ephemeral
// port that hears only the link targets. The public unix socket is served
// by this package, not by YaNFD, so that it can be closed and moved between
// Conns; YaNFD's own unix listener (it must have at least one listener or
// it exits) is bound to a private temporary path that is unlinked as soon
// as it is up.
//
// Untrusted input. ndnd v1.5.3 panics on some malformed packets and never
// recovers (see validate.go), so every packet is checked before ndnd code
// parses it, wherever this package owns the entry point: frames of local
// apps on the public socket go through an appRelay (relay.go) before YaNFD
// sees them, datagrams from the network through the udpGuard, and what
// YaNFD hands to an in-process face is checked before the engine sees it
// (face_inproc.go; stream faces: face_stream.go).
//
// TCP links (Link tcp://) are relayed the same way (tcplink.go): no face of
// YaNFD reads the network.
var (
	embMu sync.Mutex
	emb   *embeddedFw // nil until the first embedded Conn starts it
)

// embeddedFw is the state of the in-process forwarder.
type embeddedFw struct {
	// fixed at start
	udpPort int
	log     *slog.Logger

	// guarded by embMu
	refs   int
	sock   string
	ln     *net.UnixListener
	lnDone chan struct{}

	fwThreads int      // forwarding threads of YaNFD (fixed at start)
	sweep     *sweeper // the CS sweeper (sweep.go), nil if off (fixed at start)
	qdrops    queueDrops

	relays      sync.WaitGroup // app relay goroutines
	relayCnt    relayCounters
	badLog      ratelog.Limiter
	framePanics panicCounter // recovered in the per-frame work of relays, the UDP guard, TCP links (guard.go)

	mu       sync.Mutex                 // guards the fields below
	accepted map[*appRelay]struct{}     // local apps on the public socket
	pool     map[linkKind][]*inprocLink // released links, by kind
	linkIDs  map[uint64]bool            // face ids of every in-process link made
	guard    *udpGuard                  // the UDP port, if any (udpguard.go)
	tcpLinks map[string]*tcpLink        // by host:port (tcplink.go)
}

// fwThreads is the number of forwarding threads of the embedded YaNFD. One
// thread: ndnd v1.5.3's PIT/CS tree is not safe across threads (the race
// detector flags it), and several threads reorder Data of one flow, which
// under load shows up as spurious retransmissions. A Peets node forwards a
// few thousand packets per second, far below what one thread does.
const fwThreads = 1

// embeddedConfig is what an Open asks of the embedded forwarder.
type embeddedConfig struct {
	sock     string
	udpPort  int
	logLevel string
	noSweep  bool
}

// acquireEmbedded starts the forwarder if needed, opens its unix listener at
// cfg.sock if no Conn holds it yet, and takes a reference.
func acquireEmbedded(cfg embeddedConfig, log *slog.Logger) (*embeddedFw, error) {
	embMu.Lock()
	defer embMu.Unlock()

	if emb != nil && emb.udpPort != cfg.udpPort {
		return nil, fmt.Errorf("%w: UDP port %d requested, forwarder runs with %d", ErrEmbeddedConflict, cfg.udpPort, emb.udpPort)
	}
	if emb != nil && emb.refs > 0 {
		if emb.sock != cfg.sock {
			return nil, fmt.Errorf("%w: socket %s requested, forwarder serves %s", ErrEmbeddedConflict, cfg.sock, emb.sock)
		}
		emb.refs++
		return emb, nil
	}

	// Bind the public socket first: a failure must not leave global state.
	ln, err := listenUnix(cfg.sock)
	if err != nil {
		return nil, err
	}
	if emb == nil {
		e := &embeddedFw{udpPort: cfg.udpPort, log: log.With("component", "forwarder"),
			fwThreads: fwThreads, badLog: ratelog.Limiter{Every: badLogEvery}}
		e.framePanics.lim.Every = ratelog.DefaultEvery
		if err := e.start(cfg.logLevel, !cfg.noSweep); err != nil {
			ln.Close()
			return nil, err
		}
		emb = e
	}
	emb.refs = 1
	emb.sock = cfg.sock
	emb.ln = ln
	emb.lnDone = make(chan struct{})
	go emb.accept(ln, emb.lnDone)
	emb.log.Info("embedded forwarder listening", "socket", cfg.sock)
	return emb, nil
}

// activeEmbeddedSock returns the socket of the embedded forwarder if a Conn
// of this process holds it, else "".
func activeEmbeddedSock() string {
	embMu.Lock()
	defer embMu.Unlock()
	if emb == nil || emb.refs == 0 {
		return ""
	}
	return emb.sock
}

// release drops a reference; the last one closes the listener (unlinking
// the socket file) and the faces accepted through it.
func (e *embeddedFw) release() {
	embMu.Lock()
	defer embMu.Unlock()
	if e.refs == 0 {
		return
	}
	e.refs--
	if e.refs > 0 {
		return
	}
	e.ln.Close() // unlinks the socket file
	<-e.lnDone
	e.mu.Lock()
	acc := e.accepted
	e.accepted = nil
	e.mu.Unlock()
	for r := range acc {
		r.close()
	}
	e.relays.Wait() // the apps' connections are closed: the readers stop at once
	e.log.Info("embedded forwarder socket closed", "socket", e.sock)
	e.ln, e.lnDone, e.sock = nil, nil, ""
}

// newFace returns an in-process face, reusing a pooled link if any.
func (e *embeddedFw) newFace() *inprocFace {
	return newInprocFace(e.getLink(linkInproc), func(l *inprocLink, timeout time.Duration) bool {
		return e.returnLink(linkInproc, l, timeout)
	}, e.log)
}

// getLink takes a link of a kind from the pool, or makes one.
func (e *embeddedFw) getLink(kind linkKind) *inprocLink {
	e.mu.Lock()
	var l *inprocLink
	if n := len(e.pool[kind]); n > 0 {
		l = e.pool[kind][n-1]
		e.pool[kind] = e.pool[kind][:n-1]
	}
	e.mu.Unlock()
	if l == nil {
		l = newInprocLink(kind, e.sweep)
		e.mu.Lock()
		if e.linkIDs == nil {
			e.linkIDs = map[uint64]bool{}
		}
		e.linkIDs[l.faceID()] = true
		e.mu.Unlock()
	}
	return l
}

// isLink reports whether id is the face of an in-process link: an
// in-process Conn's, a local app's or a network link's (mgmtlink.go).
func (e *embeddedFw) isLink(id uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.linkIDs[id]
}

// forgetRelay drops a closed relay from the accepted apps.
func (e *embeddedFw) forgetRelay(r *appRelay) {
	e.mu.Lock()
	delete(e.accepted, r)
	e.mu.Unlock()
}

// returnLink takes back a link its user let go. Its routes are removed at
// once, so nothing is routed into it any more; once no delivery is in
// flight (at most timeout) it is pooled, else (a delivery stays stuck) it
// is abandoned. It reports whether the link was pooled.
func (e *embeddedFw) returnLink(kind linkKind, l *inprocLink, timeout time.Duration) bool {
	table.Rib.CleanUpFace(l.faceID())
	if !l.quiesce(timeout) {
		return false
	}
	e.mu.Lock()
	if e.pool == nil {
		e.pool = map[linkKind][]*inprocLink{}
	}
	e.pool[kind] = append(e.pool[kind], l)
	e.mu.Unlock()
	return true
}

// start configures and starts YaNFD, and the CS sweeper if sweep. Called
// once per process.
func (e *embeddedFw) start(level string, sweep bool) error {
	lvl, err := ndnlog.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("forwarder log level: %w", err)
	}
	hidden, err := os.MkdirTemp("", "peets-fw-")
	if err != nil {
		return fmt.Errorf("embedded forwarder: %w", err)
	}
	hiddenSock := filepath.Join(hidden, "fw.sock")

	cfg := fw_core.DefaultConfig()
	cfg.Core.LogLevel = level
	// No UDP face in YaNFD: the guard owns the UDP port (udpguard.go).
	cfg.Faces.Udp.EnabledUnicast = false
	cfg.Faces.Udp.EnabledMulticast = false
	cfg.Faces.Udp.PortUnicast = 0
	cfg.Faces.Tcp.Enabled = false
	cfg.Faces.WebSocket.Enabled = false
	cfg.Faces.HTTP3.Enabled = false
	cfg.Faces.Unix.Enabled = true
	cfg.Faces.Unix.SocketPath = hiddenSock
	cfg.Tables.Rib.ReadvertiseNlsr = false
	cfg.Fw.Threads = e.fwThreads

	y := fw_cmd.NewYaNFD(cfg)
	// Route the forwarder's log into ours. Safe here: no forwarder goroutine
	// logs before Start. The forwarder logs at least its warnings, where the
	// bridge counts the packets its queue drops and sees the sweeper's
	// pulses (sweep.go, fwtables.go).
	bridge := &logBridge{log: e.log, udpOff: true, min: lvl, drops: &e.qdrops,
		dropLog: ratelog.Limiter{Every: ratelog.DefaultEvery}}
	fw_core.Log = ndnlog.NewText(bridge)
	fw_core.Log.SetLevel(min(lvl, ndnlog.LevelWarn))
	y.Start()

	if err := waitHiddenListener(hiddenSock, 3*time.Second); err != nil {
		// Leave the directory: unlinking before YaNFD's chmod would make it exit.
		e.log.Warn("embedded forwarder: internal listener not confirmed", "err", err)
	} else {
		os.RemoveAll(hidden)
	}
	if sweep {
		// The sweeper's links are made before any other (none of them has
		// a sweeper) and are never pooled; listed as links, no local app
		// may destroy them (mgmtlink.go).
		link, sink := newInprocLink(linkInproc, nil), newInprocLink(linkInproc, nil)
		pulse := newInprocLink(linkNet, nil)
		e.mu.Lock()
		e.linkIDs = map[uint64]bool{link.faceID(): true, sink.faceID(): true, pulse.faceID(): true}
		e.mu.Unlock()
		e.sweep = newSweeper(link, sink, pulse, &e.qdrops.interests, e.fwThreads, e.log)
		bridge.sweep.Store(e.sweep)
	}
	if e.udpPort > 0 {
		g, err := newUDPGuard(e, e.udpPort, true, e.log)
		if err != nil {
			return err
		}
		e.guard = g
	}
	e.log.Info("embedded forwarder started", "udp_port", e.udpPort)
	return nil
}

// waitHiddenListener waits until YaNFD's own unix listener accepts
// connections, which proves its listen+chmod sequence is over and the path
// can be unlinked without making YaNFD exit.
func waitHiddenListener(path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var c net.Conn
	for {
		var err error
		if c, err = net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	defer c.Close()
	for {
		for _, f := range fwface.FaceTable.GetAll() {
			if u := f.LocalURI(); u != nil && u.Scheme() == "unix" && u.Path() == path {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("accept not observed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listenUnix binds a unix socket at path, removing a stale socket file but
// never one a live process still answers on.
func listenUnix(path string) (*net.UnixListener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("embedded forwarder: %w", err)
	}
	unlock, err := lockStateDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("embedded forwarder: %s exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, 500*time.Millisecond); err == nil {
			c.Close()
			return nil, fmt.Errorf("%w: %s", ErrSocketInUse, path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("embedded forwarder: remove stale socket: %w", err)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("embedded forwarder: listen %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(true)
	// same user only (the forwarder accepts management commands from any
	// local face)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("embedded forwarder: chmod socket: %w", err)
	}
	return ln, nil
}

// accept serves local apps on the public socket: each connection becomes a
// face of YaNFD through an app relay.
func (e *embeddedFw) accept(ln *net.UnixListener, done chan struct{}) {
	defer close(done)
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				e.log.Error("embedded forwarder: accept failed; socket listener stopped", "err", err)
			}
			return
		}
		// The app's packets reach YaNFD only through the relay's
		// validation (relay.go).
		r := newAppRelay(e, c)
		e.mu.Lock()
		if e.accepted == nil {
			e.accepted = map[*appRelay]struct{}{}
		}
		e.accepted[r] = struct{}{}
		e.mu.Unlock()
		r.start()
	}
}

// tcpStats sums the counters of the TCP links.
func (e *embeddedFw) tcpStats() *tcpLinkStats {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.tcpLinks) == 0 {
		return nil
	}
	st := &tcpLinkStats{Links: len(e.tcpLinks), Faces: make(map[string]tcpFaceStats, len(e.tcpLinks))}
	for addr, l := range e.tcpLinks {
		f := tcpFaceStats{PacketsIn: l.in.Load(), PacketsOut: l.out.Load(), BytesIn: l.bytesIn.Load(),
			BytesOut: l.bytesOut.Load(), Redials: l.redial.Load()}
		st.Faces[addr] = f
		st.In += f.PacketsIn
		st.Out += f.PacketsOut
		st.Malformed += l.malformed.Load()
		st.Redials += f.Redials
	}
	return st
}

// udpGuard returns the UDP guard, if the forwarder has one.
func (e *embeddedFw) udpGuard() *udpGuard {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.guard
}

// networkLink returns the face of a link to the canonical face URI uri
// (udp4://, udp6://, tcp4:// or tcp6://HOST:PORT), made by the UDP guard or
// a TCP link relay, whether it existed already, and a function that lets
// the link go. Link and the app relay's faces/create both come here.
func (e *embeddedFw) networkLink(uri string) (id uint64, existed bool, release func(), err error) {
	scheme, hostPort, ok := strings.Cut(uri, "://")
	if !ok {
		return 0, false, nil, fmt.Errorf("%w: link %s", ErrBadURI, uri)
	}
	if strings.HasPrefix(scheme, "tcp") {
		return e.tcpLinkFace(hostPort)
	}
	addr, err := netip.ParseAddrPort(hostPort)
	if err != nil {
		return 0, false, nil, fmt.Errorf("%w: link %s: %v", ErrBadURI, uri, err)
	}
	return e.udpLink(addr)
}

// udpLink returns the face of a UDP link to addr, through the guard (made
// on an ephemeral port if the forwarder has no UDP port), whether it
// existed already, and a function that lets the link go.
func (e *embeddedFw) udpLink(addr netip.AddrPort) (uint64, bool, func(), error) {
	e.mu.Lock()
	g := e.guard
	if g == nil {
		var err error
		if g, err = newUDPGuard(e, 0, false, e.log); err != nil {
			e.mu.Unlock()
			return 0, false, nil, err
		}
		e.guard = g
	}
	e.mu.Unlock()
	return g.link(addr)
}

// queueDrops counts the packets YaNFD's forwarding queue dropped (it was
// full), from its log.
type queueDrops struct {
	interests, data atomic.Uint64
}

// Log lines of the forwarder the bridge recognizes without parsing them
// (fw/fw/thread.go: QueueInterest, QueueData; processIncomingInterest).
var (
	logQueueDrop      = []byte("dropped due to full queue")
	logInterestDrop   = []byte("Interest dropped due to full queue")
	logSweepNextHopID = []byte("faceid=" + strconv.FormatUint(sweepNoFace, 10))
	logLocalhostScope = []byte("Interest from non-local face violates /localhost scope")
	logPulse          = []byte(pulseComponent)
)

// logBridge turns the forwarder's log lines (slog text format) into records
// of our slog logger.
type logBridge struct {
	log     *slog.Logger
	udpOff  bool
	min     ndnlog.Level    // lines below are dropped
	drops   *queueDrops     // counts of the queue's drops (one ERROR line each)
	dropLog ratelog.Limiter // the queue's drops are logged at this pace
	sweep   atomic.Pointer[sweeper]
}

// Write implements io.Writer; slog hands it one complete record per call
// (one at a time: the handler serializes its writes).
func (b *logBridge) Write(p []byte) (int, error) {
	if b.drops != nil && bytes.Contains(p, logQueueDrop) {
		// one line per packet dropped: counted, and logged rate-limited
		if bytes.Contains(p, logInterestDrop) {
			b.drops.interests.Add(1)
		} else {
			b.drops.data.Add(1)
		}
		b.dropLog.Warn(b.log, "embedded forwarder: forwarding queue full; packets dropped",
			"interests_dropped", b.drops.interests.Load(), "data_dropped", b.drops.data.Load())
		return len(p), nil
	}
	if bytes.Contains(p, logSweepNextHopID) {
		return len(p), nil // a sweep Interest dropped as intended (sweep.go), INFO level
	}
	if bytes.Contains(p, logLocalhostScope) && bytes.Contains(p, logPulse) {
		// the sweeper's pulse: this runs on the forwarding thread
		// (fwtables.go)
		if s := b.sweep.Load(); s != nil {
			s.onPulse()
		}
		return len(p), nil
	}
	kv := parseLogfmt(strings.TrimSpace(string(p)))
	msg := ""
	level := slog.LevelInfo
	args := make([]any, 0, len(kv))
	for i := 0; i+1 < len(kv); i += 2 {
		switch k, v := kv[i], kv[i+1]; k {
		case "time":
		case "msg":
			msg = v
		case "level":
			if l, err := ndnlog.ParseLevel(v); err == nil {
				level = slog.Level(l)
			}
		default:
			args = append(args, k, v)
		}
	}
	if b.udpOff && msg == "Unable to create UDP listener" {
		return len(p), nil // expected: the UDP listener is disabled on purpose
	}
	if ndnlog.Level(level) < b.min {
		return len(p), nil
	}
	b.log.Log(context.Background(), level, msg, args...)
	return len(p), nil
}

// parseLogfmt splits a slog text line (k=v k="quoted v" ...) into keys and
// values.
func parseLogfmt(s string) []string {
	var out []string
	for s != "" {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			if s != "" {
				out = append(out, "extra", s)
			}
			break
		}
		key := s[:eq]
		s = s[eq+1:]
		var val string
		if strings.HasPrefix(s, "\"") {
			if q, err := strconv.QuotedPrefix(s); err == nil {
				val, _ = strconv.Unquote(q)
				s = s[len(q):]
			} else {
				val, s = s, ""
			}
		} else if sp := strings.IndexByte(s, ' '); sp >= 0 {
			val, s = s[:sp], s[sp:]
		} else {
			val, s = s, ""
		}
		out = append(out, key, val)
	}
	return out
}
