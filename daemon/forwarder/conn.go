// Package forwarder connects the Peets daemon to an NDN forwarder.
//
// Open attaches to an external forwarder (NFD, ndnd fw, or the embedded
// forwarder of another Peets process on this machine) or starts ndnd's YaNFD
// inside this process, and returns a Conn whose ndn.Engine stays valid for
// the Conn's whole life. Connections to external forwarders never end the
// process: when the forwarder goes away the Conn redials with backoff and,
// once back, re-applies every route, strategy and link it was asked for.
package forwarder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/engine/basic"
	ndnlog "github.com/named-data/ndnd/std/log"
	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/internal/ratelog"
)

// DefaultOpenTimeout bounds how long Open waits for an explicitly requested
// external forwarder to answer.
const DefaultOpenTimeout = 3 * time.Second

// closeTimeout bounds the waits of Close on goroutines it does not own
// (engine handlers that might be stuck).
const closeTimeout = 5 * time.Second

// linkUndoTimeout bounds the management commands Close sends to undo links.
const linkUndoTimeout = 2 * time.Second

// Options configure Open.
type Options struct {
	// URI selects the forwarder: "" = auto discovery; "embedded" forces the
	// in-process forwarder; "unix:///path" or "tcp://127.0.0.1:6363" name an
	// external one.
	URI string
	// StateDir is the per-user directory; the embedded forwarder's unix
	// socket is <StateDir>/nfd.sock. "" = DefaultStateDir().
	StateDir string
	// Logger receives the package's logs; the first embedded Open of the
	// process also routes the embedded forwarder's logs to it. nil =
	// slog.Default().
	Logger *slog.Logger

	// ForwarderLogLevel is the embedded forwarder's log level (TRACE, DEBUG,
	// INFO, WARN, ERROR); "" = WARN. Fixed by the first embedded Open of the
	// process.
	ForwarderLogLevel string
	// UDPPort, for the embedded forwarder only: 0 (default) runs no UDP
	// listener (links to remote forwarders still work); > 0 accepts UDP faces
	// on that port on all interfaces, so that remote peers can link to this
	// machine. Fixed by the first embedded Open of the process.
	UDPPort int
	// OpenTimeout bounds the wait for an explicit external URI to answer;
	// 0 = DefaultOpenTimeout.
	OpenTimeout time.Duration
	// NoSweep, for the embedded forwarder only, runs it without its CS
	// sweeper (sweep.go), so that its name tree grows with every name it
	// caches: for benchmarks that measure what the sweeper costs and
	// saves. Fixed by the first embedded Open of the process.
	NoSweep bool
	// Announce registers this app's prefixes (Register) with origin client
	// (65) instead of app (0): the forwarder then hands them to its routing
	// daemon (NFD's readvertise to NLSR, ndnd fw's readvertiser to NLSR or
	// ndnd dv, both on /localhost/nlsr/rib/register), which announces them
	// to the network. Without it, other hosts need static routes.
	Announce bool
}

// Stats is a snapshot of a Conn's state and counters.
type Stats struct {
	Kind            string        `json:"kind"`
	TookOver        bool          `json:"took_over,omitempty"` // this Conn now runs the forwarder a departed peer ran
	URI             string        `json:"uri"`
	SocketPath      string        `json:"socket_path,omitempty"`
	Up              bool          `json:"up"`
	Reconnects      uint64        `json:"reconnects"`
	RegisterErrors  uint64        `json:"register_errors"`
	CommandsRefused uint64        `json:"commands_refused,omitempty"` // management commands the forwarder answered 403 (each attempt; most are retried)
	CommandKey      string        `json:"command_key,omitempty"`      // the KeyLocator of this Conn's management commands
	Routes          int           `json:"routes"`
	Strategies      int           `json:"strategies"`
	Links           int           `json:"links"`
	PacketsIn       uint64        `json:"packets_in"`
	PacketsOut      uint64        `json:"packets_out"`
	SendDrops       uint64        `json:"send_drops"`
	MalformedIn     uint64        `json:"malformed_in"`                  // packets from the forwarder dropped as malformed, not given to the engine
	CongestionMarks uint64        `json:"congestion_marks_in,omitempty"` // Data from the forwarder with an NDNLPv2 congestion mark (marks.go)
	HandlerPanics   uint64        `json:"handler_panics"`                // panics recovered in this Conn's Interest handlers, Express callbacks and engine tasks (each dropped its packet)
	FramePanics     uint64        `json:"frame_panics,omitempty"`        // panics recovered in the per-frame work of this Conn's stream face and, embedded (process-wide), of the app relays, UDP guard and TCP links
	AppMalformedIn  uint64        `json:"app_malformed_in,omitempty"`    // embedded, process-wide: local apps' packets dropped as malformed before the forwarder
	AppOversized    uint64        `json:"app_oversized,omitempty"`       // embedded, process-wide: of which packets above 8800 bytes (the connection stays)
	AppConnsClosed  uint64        `json:"app_conns_closed,omitempty"`    // embedded, process-wide: local app connections closed for bad input
	AppUndecodable  uint64        `json:"app_undecodable,omitempty"`     // embedded, process-wide: packets for local apps the forwarder's output could not be decoded into (should stay 0)
	UDP             *guardStats   `json:"udp,omitempty"`                 // embedded with a UDP port or UDP links: the guard's counters (udpguard.go)
	CSSweep         *sweepStats   `json:"cs_sweep,omitempty"`            // embedded: the CS sweeper's counters (sweep.go)
	QueueDrops      uint64        `json:"fw_queue_drops,omitempty"`      // embedded, process-wide: packets the forwarding queue dropped (it was full)
	TCP             *tcpLinkStats `json:"tcp,omitempty"`                 // embedded with TCP links: the link relays' counters (tcplink.go)
	DownSince       time.Time     `json:"down_since,omitzero"`
	LastResumeMS    float64       `json:"last_resume_ms,omitempty"`  // connection lost -> state re-applied, last time
	LastReapplyMS   float64       `json:"last_reapply_ms,omitempty"` // reconnected -> state re-applied (OnUp), last time
	LastError       string        `json:"last_error,omitempty"`
}

// connFace is what a Conn needs of its face.
type connFace interface {
	ndn.Face
	counters() *faceCounters
}

func (f *streamFace) counters() *faceCounters { return &f.cnt }
func (f *inprocFace) counters() *faceCounters { return &f.cnt }

type strategyEntry struct {
	prefix, strategy enc.Name
}

type linkEntry struct {
	uri     string
	target  linkTarget
	routes  []enc.Name
	faceID  uint64 // last face id the forwarder gave (guarded by Conn.mu)
	created bool   // this Conn created that face (vs. found it existing)
	release func() // lets an embedded link go (guard peer or TCP relay), or nil
}

// Conn is a connection to an NDN forwarder. Its methods are safe for
// concurrent use; the management methods (Register, Unregister, SetStrategy,
// Link) block on the forwarder and must not be called on the engine goroutine
// (inside Interest handlers or Express callbacks).
type Conn struct {
	log    *slog.Logger
	uri    string
	sock   string
	engine ndn.Engine // ndnd's
	eng    cmdEngine  // what Engine returns: engine, commands through cmd
	cmd    *commander
	face   connFace
	stream *streamFace // external only
	inproc *inprocFace // embedded only

	// shared: attached to another process's forwarder at <StateDir>/nfd.sock;
	// if it goes away this Conn starts the embedded forwarder there.
	shared   bool
	takeCfg  embeddedConfig
	announce bool // Options.Announce

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // reconnect signal for the reapply loop

	up             atomic.Bool
	registerErrors atomic.Uint64
	marks          atomic.Uint64                             // Data that came with a congestion mark
	onMark         atomic.Pointer[map[uint64]func(enc.Name)] // OnCongestionMark's, replaced (never modified) under markMu
	markMu         sync.Mutex
	markID         uint64
	panics         panicCounter    // recovered in handlers and callbacks (guard.go)
	refusals       atomic.Uint64   // commands answered 403 (each attempt)
	refusedLog     ratelog.Limiter // their warnings

	mu         sync.Mutex
	closed     bool
	kind       string
	emb        *embeddedFw // embedded forwarder reference held (embedded, or after a takeover)
	takeErr    string
	routes     map[string]enc.Name
	strategies map[string]strategyEntry
	links      map[string]*linkEntry
	onUp       map[uint64]func()
	nextCB     uint64
	downSince  time.Time
	lastResume time.Duration
	// reapply timing: upAt is when the current connection came up
	upAt        time.Time
	lastReapply time.Duration
	lastErr     string
}

// DefaultStateDir returns $XDG_RUNTIME_DIR/peets, else
// os.UserCacheDir()/peets (else <tmp>/peets-<uid>), creating it with mode
// 0700.
func DefaultStateDir() string {
	var dir string
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && filepath.IsAbs(x) {
		dir = filepath.Join(x, "peets")
	} else if c, err := os.UserCacheDir(); err == nil {
		dir = filepath.Join(c, "peets")
	} else {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("peets-%d", os.Getuid()))
	}
	if os.MkdirAll(dir, 0o700) == nil {
		_ = os.Chmod(dir, 0o700) // our own directory: keep the socket private
	}
	return dir
}

// Open connects to a forwarder as o says (see Options.URI) and starts the
// engine. With URI == "" it uses, in order: the NDN client transport
// (NDN_CLIENT_TRANSPORT, ~/.ndn/client.conf, /usr/local/etc/ndn/client.conf,
// /etc/ndn/client.conf, else the system default socket) if a forwarder
// answers there; <StateDir>/nfd.sock if a forwarder answers there; else the
// embedded forwarder, listening on <StateDir>/nfd.sock. An explicit external
// URI that does not answer within OpenTimeout is an error (ErrNoForwarder);
// a malformed one is ErrBadURI.
func Open(ctx context.Context, o Options) (*Conn, error) {
	return open(ctx, o, systemClientEnv())
}

func open(ctx context.Context, o Options, env clientEnv) (*Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("pkg", "forwarder")
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir()
	}
	stateDir, err := filepath.Abs(o.StateDir)
	if err != nil {
		return nil, fmt.Errorf("forwarder: state dir: %w", err)
	}
	stateSock := filepath.Join(stateDir, "nfd.sock")
	if len(stateSock) > maxUnixPath {
		return nil, fmt.Errorf("%w: state dir %s: socket path longer than %d bytes", ErrBadURI, stateDir, maxUnixPath)
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = DefaultOpenTimeout
	}
	o.ForwarderLogLevel = strings.ToUpper(strings.TrimSpace(o.ForwarderLogLevel))
	if o.ForwarderLogLevel == "" {
		o.ForwarderLogLevel = "WARN"
	}
	if _, err := ndnlog.ParseLevel(o.ForwarderLogLevel); err != nil {
		return nil, fmt.Errorf("forwarder: %w", err)
	}
	if o.UDPPort < 0 || o.UDPPort > 65535 {
		return nil, fmt.Errorf("forwarder: bad UDP port %d", o.UDPPort)
	}

	var p plan
	switch o.URI {
	case "":
		p = discover(ctx, env, stateSock, log)
	case URIEmbedded:
		p = plan{kind: KindEmbedded, sock: stateSock, reason: "requested"}
	default:
		ep, err := parseTransportURI(o.URI)
		if err != nil {
			return nil, err
		}
		c, err := dialWithin(ctx, ep, o.OpenTimeout)
		if err != nil {
			return nil, err
		}
		p = plan{kind: KindExternal, ep: ep, conn: c, reason: "requested"}
	}

	ecfg := embeddedConfig{sock: stateSock, udpPort: o.UDPPort, logLevel: o.ForwarderLogLevel, noSweep: o.NoSweep}
	var emb *embeddedFw
	if p.kind == KindEmbedded {
		ecfg.sock = p.sock
		e, err := acquireEmbedded(ecfg, log)
		if errors.Is(err, ErrSocketInUse) && o.URI == "" {
			// Another process started its forwarder on the socket since
			// discovery looked (several started at once: the state
			// directory's lock elected it): use that one.
			p, err = sharedPlan(ctx, p.sock, o.OpenTimeout)
		}
		if err != nil {
			return nil, err
		}
		emb = e
	}

	cctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		log:        log,
		kind:       p.kind,
		shared:     p.shared,
		takeCfg:    ecfg,
		announce:   o.Announce,
		ctx:        cctx,
		cancel:     cancel,
		kick:       make(chan struct{}, 1),
		routes:     map[string]enc.Name{},
		strategies: map[string]strategyEntry{},
		links:      map[string]*linkEntry{},
		onUp:       map[uint64]func(){},
		refusedLog: ratelog.Limiter{Every: ratelog.DefaultEvery},
	}

	if emb != nil {
		c.emb = emb
		c.sock = p.sock
		c.uri = "unix://" + p.sock
		c.inproc = emb.newFace()
		c.inproc.onLp = c.lpFrame
		c.face = c.inproc
	} else {
		c.uri = p.ep.String()
		if p.ep.network == "unix" {
			c.sock = p.ep.addr
		}
		c.stream = newStreamFace(p.ep, p.conn, log, faceHooks{
			onLost: c.onLost, onReconnect: c.onReconnect, onRedialFail: c.onRedialFail,
			onLpFrame: c.lpFrame,
		})
		c.face = c.stream
	}

	c.panics.lim.Every = ratelog.DefaultEvery
	c.engine = &guardedEngine{Engine: basic.NewEngine(c.face, basic.NewTimer()), log: log, panics: &c.panics}
	if c.cmd, err = newCommander(c.engine, c.face.IsLocal()); err != nil {
		c.face.Close()
		c.release()
		cancel()
		return nil, err
	}
	c.eng = cmdEngine{Engine: c.engine, c: c}
	c.up.Store(true) // before Start: the face may report a loss right away
	if err := c.engine.Start(); err != nil {
		c.face.Close()
		c.release()
		cancel()
		return nil, fmt.Errorf("forwarder: start engine: %w", err)
	}
	if c.stream != nil {
		c.wg.Add(1)
		go c.reapplyLoop()
	}
	log.Info("connected to NDN forwarder", "kind", p.kind, "uri", c.uri, "why", p.reason)
	return c, nil
}

// sharedPlan connects to the forwarder another process of this machine
// serves at sock.
func sharedPlan(ctx context.Context, sock string, wait time.Duration) (plan, error) {
	ep, err := parseTransportURI("unix://" + sock)
	if err != nil {
		return plan{}, err
	}
	conn, err := dialWithin(ctx, ep, wait)
	if err != nil {
		return plan{}, err
	}
	return plan{kind: KindExternal, ep: ep, conn: conn, shared: true,
		reason: "shared forwarder at " + sock + " (started meanwhile by another process)"}, nil
}

// release gives back what the embedded forwarder lent this Conn.
func (c *Conn) release() {
	if c.inproc != nil {
		if !c.inproc.finish(closeTimeout) {
			c.log.Warn("in-process face still busy at close; abandoning it")
		}
	}
	c.mu.Lock()
	e := c.emb
	c.emb = nil
	c.mu.Unlock()
	if e != nil {
		e.release()
	}
}

// Engine returns the NDN engine. It stays valid for the Conn's whole life,
// across reconnects; do not Stop it (Close does). Its management commands
// (ExecMgmtCmd, RegisterRoute, UnregisterRoute) are the Conn's: signed with
// the Conn's key, in order, retried like the Conn's own (command.go);
// SetCmdSec changes that key.
func (c *Conn) Engine() ndn.Engine { return c.eng }

// Kind returns KindEmbedded or KindExternal: whether the forwarder runs in
// this process. It changes to KindEmbedded if this Conn took over a shared
// forwarder that went away.
func (c *Conn) Kind() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kind
}

// URI returns where the Conn is attached, e.g. unix:///run/user/0/peets/nfd.sock
// (for the embedded forwarder: the socket it serves to other processes).
func (c *Conn) URI() string { return c.uri }

// SocketPath returns the unix socket other local processes can use to reach
// the same forwarder, or "" if there is none (tcp).
func (c *Conn) SocketPath() string { return c.sock }

// Up reports whether the forwarder is reachable and, after a reconnect, the
// remembered state has been re-applied.
func (c *Conn) Up() bool { return c.up.Load() }

// Register routes prefix to this app (rib/register, origin app) and
// remembers it: it is registered again after every reconnect, until
// Unregister. The prefix stays remembered even if this call fails; while the
// forwarder is down the error wraps ErrDown.
func (c *Conn) Register(ctx context.Context, prefix enc.Name) error {
	if len(prefix) == 0 {
		return fmt.Errorf("forwarder: register: empty prefix")
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	key := prefix.TlvStr()
	c.routes[key] = prefix.Clone()
	c.mu.Unlock()
	err := c.noteErr(c.register(ctx, prefix))
	if err != nil {
		c.retryLater("route "+prefix.String(), func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			_, ok := c.routes[key]
			return ok
		}, func(ctx context.Context) error { return c.register(ctx, prefix) })
	}
	return err
}

// Unregister removes the route of prefix to this app and forgets it.
func (c *Conn) Unregister(ctx context.Context, prefix enc.Name) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	delete(c.routes, prefix.TlvStr())
	c.mu.Unlock()
	return c.noteErr(c.unregister(ctx, prefix))
}

// SetStrategy sets the forwarding strategy of prefix (strategy-choice/set)
// and remembers it for reconnects.
func (c *Conn) SetStrategy(ctx context.Context, prefix, strategy enc.Name) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	key := prefix.TlvStr()
	c.strategies[key] = strategyEntry{prefix: prefix.Clone(), strategy: strategy.Clone()}
	c.mu.Unlock()
	err := c.noteErr(c.setStrategy(ctx, prefix, strategy))
	if err != nil {
		c.retryLater("strategy "+prefix.String(), func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			e, ok := c.strategies[key]
			return ok && e.strategy.Equal(strategy)
		}, func(ctx context.Context) error { return c.setStrategy(ctx, prefix, strategy) })
	}
	return err
}

// Link makes the forwarder create a permanent face to a remote forwarder
// (faces/create; uri is udp://HOST[:PORT] or tcp://HOST[:PORT]) and route
// each of routes over it (rib/register, origin static). It is remembered and
// re-applied after reconnects; linking the same uri again adds routes.
func (c *Conn) Link(ctx context.Context, uri string, routes []enc.Name) error {
	lt, err := parseLinkURI(uri)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	l := c.links[uri]
	if l == nil {
		l = &linkEntry{uri: uri, target: lt}
		c.links[uri] = l
	}
	for _, r := range routes {
		dup := false
		for _, have := range l.routes {
			if have.Equal(r) {
				dup = true
				break
			}
		}
		if !dup {
			l.routes = append(l.routes, r.Clone())
		}
	}
	c.mu.Unlock()
	return c.noteErr(c.applyLink(ctx, lt, routes, l))
}

// OnUp registers f to be called after each reconnect to an external
// forwarder, as soon as the remembered state has been re-applied: the moment
// to re-express Interests that were pending when the connection dropped
// (they are lost with it, and time out).
//
// Ordering guarantee: when f runs, Up() is true and every strategy, route
// and link this Conn remembers has been sent again on the new connection
// and answered by the forwarder, in that order (strategies, routes, links),
// one command at a time; ndnd/YaNFD (and NFD) update their FIB before they
// answer, and a tcp link's face has connected (YaNFD connects it in the
// background; the wait is bounded by linkConnectWait), so an Interest
// expressed in f reaches this Conn's own producers and links. Entries the
// forwarder refused do not hold f back (they count in Stats.RegisterErrors
// and LastError); if the connection drops again while re-applying, f is not
// called for it and the next reconnect starts over. Not covered: routes that
// other processes register on the same forwarder (they resume on their own
// schedule, so consumers of another process's data still retransmit on
// timeout), and a link whose remote end is itself down.
//
// Timing: a local forwarder (unix socket, loopback tcp) is redialed every
// 10-25 ms while down, a remote one with backoff up to 1 s; re-applying
// costs about one forwarder round trip per entry (measured with ndnd fw:
// 5-30 ms, median ~15 ms, from its socket accepting again to OnUp, for 7
// entries).
// Stats.LastReapplyMS and LastResumeMS record the last reconnection.
//
// The callbacks run one after another on a package goroutine (never the
// engine's, so f may call Express, or management methods), right after the
// state is re-applied; f should return promptly, since later callbacks wait
// for it. f is not called for the initial connection, nor ever for the
// embedded forwarder, which cannot go down.
func (c *Conn) OnUp(f func()) (cancel func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.nextCB
	c.nextCB++
	c.onUp[id] = f
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.onUp, id)
	}
}

// Stats returns a snapshot of the Conn's state and counters.
func (c *Conn) Stats() Stats {
	cnt := c.face.counters()
	var keyStr string
	if k := c.cmd.keyName(); k != nil {
		keyStr = k.String()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var appBad, appOver, appClosed, appUndec, framePanics uint64
	if c.stream != nil {
		framePanics = c.stream.panics.n.Load()
	}
	var udp *guardStats
	var tcp *tcpLinkStats
	var sweep *sweepStats
	var qdrops uint64
	if c.emb != nil {
		if s := c.emb.sweep; s != nil {
			st := s.stats()
			sweep = &st
		}
		qdrops = c.emb.qdrops.interests.Load() + c.emb.qdrops.data.Load()
		tcp = c.emb.tcpStats()
		appBad = c.emb.relayCnt.malformed.Load()
		appOver = c.emb.relayCnt.oversized.Load()
		framePanics += c.emb.framePanics.n.Load()
		appClosed = c.emb.relayCnt.closedConn.Load()
		appUndec = c.emb.relayCnt.undecodable.Load()
		if g := c.emb.udpGuard(); g != nil {
			st := g.stats()
			udp = &st
		}
	}
	return Stats{
		Kind:            c.kind,
		TookOver:        c.shared && c.emb != nil,
		URI:             c.uri,
		SocketPath:      c.sock,
		Up:              c.up.Load(),
		Reconnects:      cnt.reconnects.Load(),
		RegisterErrors:  c.registerErrors.Load(),
		CommandsRefused: c.refusals.Load(),
		CommandKey:      keyStr,
		Routes:          len(c.routes),
		Strategies:      len(c.strategies),
		Links:           len(c.links),
		PacketsIn:       cnt.in.Load(),
		PacketsOut:      cnt.out.Load(),
		SendDrops:       cnt.drops.Load(),
		MalformedIn:     cnt.malformed.Load(),
		CongestionMarks: c.marks.Load(),
		HandlerPanics:   c.panics.n.Load(),
		FramePanics:     framePanics,
		AppMalformedIn:  appBad,
		AppOversized:    appOver,
		AppConnsClosed:  appClosed,
		AppUndecodable:  appUndec,
		UDP:             udp,
		TCP:             tcp,
		CSSweep:         sweep,
		QueueDrops:      qdrops,
		DownSince:       c.downSince,
		LastResumeMS:    float64(c.lastResume.Microseconds()) / 1000,
		LastReapplyMS:   float64(c.lastReapply.Microseconds()) / 1000,
		LastError:       c.lastErr,
	}
}

// Close stops the engine, the face and every goroutine of the Conn, and
// releases the embedded forwarder's socket if this was its last Conn. Routes
// to this app die with its face; links are undone explicitly (routes
// withdrawn, faces this Conn created destroyed; at most linkUndoTimeout).
// Idempotent. Like the management methods, not for the engine goroutine.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	hasLinks := len(c.links) > 0
	c.mu.Unlock()

	if hasLinks && c.face.IsRunning() {
		ctx, cancel := context.WithTimeout(c.ctx, linkUndoTimeout)
		c.undoLinks(ctx)
		cancel()
	}
	c.cancel()
	c.up.Store(false)
	// Stop input first, while the engine still drains its queue, so that no
	// face goroutine stays blocked on it; then stop the engine.
	c.face.Close()
	if c.stream != nil && !c.stream.wait(closeTimeout) {
		c.log.Warn("forwarder face goroutine did not stop in time")
	}
	c.release()
	if c.engine.IsRunning() {
		_ = c.engine.Stop()
	}
	c.wg.Wait()
	c.log.Info("forwarder connection closed", "uri", c.uri)
	return nil
}

// onLost runs on the face goroutine when the connection drops.
func (c *Conn) onLost(err error) {
	c.mu.Lock()
	c.up.Store(false)
	if c.downSince.IsZero() {
		c.downSince = time.Now()
	}
	c.lastErr = err.Error()
	c.mu.Unlock()
}

// onReconnect runs on the face goroutine when a new connection is up.
func (c *Conn) onReconnect() {
	c.mu.Lock()
	c.upAt = time.Now()
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// takeoverAfter is how long redials of a shared forwarder's socket must have
// failed (gone or refusing: its process exited) before the takeover starts.
const takeoverAfter = 100 * time.Millisecond

// onRedialFail runs on the face goroutine after each failed redial. When the
// shared forwarder of another peets process has gone away, this Conn starts
// the embedded forwarder on the same socket (the state dir lock makes
// concurrent takeovers safe: losers get ErrSocketInUse and connect to the
// winner); the face's next redial then reaches it.
func (c *Conn) onRedialFail(err error, down time.Duration) bool {
	if !c.shared || down < takeoverAfter {
		return false
	}
	if !errors.Is(err, syscall.ENOENT) && !errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	c.mu.Lock()
	busy := c.closed || c.emb != nil
	c.mu.Unlock()
	if busy {
		return false
	}
	e, aerr := acquireEmbedded(c.takeCfg, c.log)
	if aerr != nil {
		c.mu.Lock()
		first := c.takeErr != aerr.Error()
		c.takeErr = aerr.Error()
		c.mu.Unlock()
		if errors.Is(aerr, ErrSocketInUse) {
			return true // another process took over first: connect to it
		}
		if first {
			c.log.Warn("shared forwarder is gone and the embedded one could not take over", "socket", c.takeCfg.sock, "err", aerr)
		}
		return false
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		e.release()
		return false
	}
	c.emb = e
	c.kind = KindEmbedded
	c.mu.Unlock()
	c.log.Warn("shared forwarder went away; the embedded forwarder took over its socket", "socket", c.takeCfg.sock)
	return true
}

// reapplyLoop re-applies the remembered state after each reconnect and then
// fires the OnUp callbacks.
func (c *Conn) reapplyLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		}
		if !c.reapply(c.ctx) {
			continue // dropped again; the next reconnect kicks us
		}
		c.mu.Lock()
		if c.closed || !c.face.IsRunning() {
			c.mu.Unlock()
			continue
		}
		c.up.Store(true)
		if !c.downSince.IsZero() {
			c.lastResume = time.Since(c.downSince)
			c.downSince = time.Time{}
		}
		if !c.upAt.IsZero() {
			c.lastReapply = time.Since(c.upAt)
		}
		resume, reapplied := c.lastResume, c.lastReapply
		cbs := make([]func(), 0, len(c.onUp))
		for _, f := range c.onUp {
			cbs = append(cbs, f)
		}
		c.mu.Unlock()
		c.log.Info("forwarder state re-applied", "uri", c.uri, "resume", resume, "reapply", reapplied)
		for _, f := range cbs {
			f()
		}
	}
}

// noteErr counts and records a management failure.
func (c *Conn) noteErr(err error) error {
	if err != nil {
		c.registerErrors.Add(1)
		c.setLastErr(err)
	}
	return err
}

func (c *Conn) setLastErr(err error) {
	c.mu.Lock()
	c.lastErr = err.Error()
	c.mu.Unlock()
}
