// Package web is the proxy's HTTP side: the embedded page, the signaling
// WebSocket and a small JSON API, served on loopback only.
//
//	GET /?token=T    the page (static/index.html, embedded)
//	GET /static/...  the page's script and style (the same for everyone)
//	GET /ws?token=T  signaling WebSocket (proto signaling messages)
//	GET /api/roster  the roster: RosterJSONer's JSON if the backend has it, else proto.RoomInfo
//	GET /api/stats   {"web": Stats, "backend": Backend.Stats()}
//	GET /metrics     the same figures for Prometheus (Config.Metrics; docs/metrics.md)
//	GET /healthz     "ok"
//
// The page, the WebSocket and the API need the server's per-run token (in
// the query, or "Authorization: Bearer T" for the API): other local users
// can reach a loopback port too (token.go). Only the page's own origin may
// open the WebSocket, and every request must name the server by a loopback
// host (DNS rebinding defence).
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peets/peets/internal/metric"
	"github.com/peets/peets/internal/ratelog"
	"github.com/peets/peets/proto"
)

//go:embed static
var staticFS embed.FS

// Defaults of Config.
const (
	DefaultListen       = "127.0.0.1:0"
	DefaultRate         = 50  // messages per second per connection
	DefaultBurst        = 200 // messages
	DefaultSendQueue    = 512 // messages queued towards one page
	DefaultPingInterval = 15 * time.Second
	DefaultJoinTimeout  = 10 * time.Second
	writeTimeout        = 10 * time.Second
	shutdownWait        = 5 * time.Second
)

// Config configures a Server. Backend is required.
type Config struct {
	// Listen is host:port, a loopback address (CheckListen); default
	// 127.0.0.1:0 (a free port).
	Listen string
	// Token is the secret every request for the page, its WebSocket and
	// the API must carry (at least MinTokenLen of [A-Za-z0-9_-]); default:
	// a fresh NewToken, so a page URL is good for one run only.
	Token string
	// ExtraOrigins are further origins allowed to open the WebSocket
	// (e.g. "https://peets.example" behind a reverse proxy); their hosts
	// are allowed in the Host header too.
	ExtraOrigins []string
	Backend      Backend
	Logger       *slog.Logger
	// Metrics, if set, is served in Prometheus's format at GET /metrics
	// (token required, as for the API), with the server's own figures
	// added under peets_web_.
	Metrics *metric.Collector

	// MaxMessageBytes bounds one signaling message (default
	// proto.MaxSignalSize); bigger ones get an error "too-large".
	MaxMessageBytes int
	// Rate and Burst limit the messages a page may send (token bucket;
	// defaults 50/s and 200). Excess messages are dropped with an error.
	Rate  float64
	Burst int
	// SendQueue bounds the messages queued towards one page (default 512).
	SendQueue int
	// PingInterval is the WebSocket keepalive (default 15 s); a page that
	// does not answer within three intervals is disconnected.
	PingInterval time.Duration
	// JoinTimeout bounds Backend.Join (default 10 s).
	JoinTimeout time.Duration
	// Static overrides the embedded page (for development).
	Static fs.FS
}

// Server serves the page and its signaling.
type Server struct {
	cfg    Config
	log    *slog.Logger
	static fs.FS
	token  tokenCheck

	// refusals are logged at most once per ratelog.DefaultEvery each
	hostLog, originLog, tokenLog ratelog.Limiter

	mu       sync.Mutex
	started  bool
	ln       net.Listener
	http     *http.Server
	url      string
	origins  map[string]bool
	hosts    map[string]bool
	csp      string
	conns    map[*conn]struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	nextConn int

	connWG sync.WaitGroup
	done   chan struct{}
	err    error

	st counters
}

// NewServer checks cfg and makes a server; Start runs it.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Backend == nil {
		return nil, ErrNoBackend
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = proto.MaxSignalSize
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = DefaultJoinTimeout
	}
	if err := CheckListen(cfg.Listen); err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		cfg.Token = NewToken()
	}
	if err := checkToken(cfg.Token); err != nil {
		return nil, err
	}
	static := cfg.Static
	if static == nil {
		sub, err := fs.Sub(staticFS, "static")
		if err != nil {
			return nil, err
		}
		static = sub
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Server{
		cfg:       cfg,
		log:       log.With("component", "web"),
		static:    static,
		token:     newTokenCheck(cfg.Token),
		hostLog:   ratelog.Limiter{Every: ratelog.DefaultEvery},
		originLog: ratelog.Limiter{Every: ratelog.DefaultEvery},
		tokenLog:  ratelog.Limiter{Every: ratelog.DefaultEvery},
		conns:     make(map[*conn]struct{}),
		done:      make(chan struct{}),
		st:        newCounters(),
	}, nil
}

// CheckListen refuses a listen address that is not loopback: the page,
// and the WebRTC connection it makes to the proxy (loopback ICE
// candidates only), are for a browser on this machine; browsers also open
// the camera only on a secure or loopback origin.
func CheckListen(listen string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("web: listen address %q: %w", listen, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q: the page is for a browser on this machine only (listen on 127.0.0.1, [::1] or localhost)", ErrNotLoopback, listen)
	}
	return nil
}

// Start listens and serves until ctx is cancelled. It returns the page's
// URL with its token, e.g. http://127.0.0.1:41234/?token=T.
func (s *Server) Start(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return "", ErrAlreadyStart
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return "", fmt.Errorf("web: listen: %w", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	if !addr.IP.IsLoopback() {
		_ = ln.Close()
		return "", fmt.Errorf("%w: bound %s", ErrNotLoopback, addr)
	}
	s.started = true
	s.ln = ln
	s.setOrigins(addr)
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	go s.serve()
	// The URL, token included, is the caller's to print, once: logs are
	// often kept and shared, the token stays out of them.
	s.log.Info("serving the page", "addr", addr.String())
	return s.url, nil
}

func (s *Server) serve() {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	var err error
	select {
	case <-s.ctx.Done():
	case err = <-errc:
		s.cancel()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	_ = s.http.Shutdown(sctx) // hijacked WebSockets end with s.ctx
	waited := make(chan struct{})
	go func() { s.connWG.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-sctx.Done():
		s.log.Warn("page connections still open after shutdown")
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.err = err
	close(s.done)
}

// setOrigins computes the allowed origins, Host headers and CSP from the
// bound address.
func (s *Server) setOrigins(addr *net.TCPAddr) {
	port := strconv.Itoa(addr.Port)
	hosts := []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port}
	s.origins = map[string]bool{}
	s.hosts = map[string]bool{}
	var wsSrc []string
	for _, h := range hosts {
		s.hosts[h] = true
		s.origins["http://"+h] = true
		wsSrc = append(wsSrc, "ws://"+h)
	}
	for _, o := range s.cfg.ExtraOrigins {
		s.origins[o] = true
		if i := strings.Index(o, "://"); i >= 0 {
			s.hosts[o[i+3:]] = true
		}
	}
	host := "127.0.0.1:" + port
	if addr.IP.To4() == nil && addr.IP.IsLoopback() {
		host = "[::1]:" + port
	}
	s.url = "http://" + host + "/?" + TokenParam + "=" + s.cfg.Token
	s.csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"media-src 'self' blob: mediastream:; connect-src 'self' " + strings.Join(wsSrc, " ") +
		"; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"
}

// URL returns the page's URL, with its token, once started.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Addr returns the bound address once started.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Done is closed when the server has stopped and every page connection
// has ended.
func (s *Server) Done() <-chan struct{} { return s.done }

// Wait blocks until the server has stopped, and returns why (nil after
// the context was cancelled).
func (s *Server) Wait() error {
	<-s.done
	return s.err
}

// Handler returns the server's routes, with the Host check and security
// headers. Started servers use it; tests may call it directly after
// Start.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	files := http.FileServerFS(s.static)
	mux.HandleFunc("GET /{$}", s.authed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeFileFS(w, r, s.static, "index.html")
	}))
	mux.Handle("GET /static/", http.StripPrefix("/static/", noDirs(files)))
	mux.HandleFunc("GET /ws", s.authed(s.serveWS))
	mux.HandleFunc("GET /api/roster", s.authed(func(w http.ResponseWriter, r *http.Request) {
		if rj, ok := s.cfg.Backend.(RosterJSONer); ok {
			b, err := rj.RosterJSON()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
			return
		}
		writeJSON(w, s.cfg.Backend.RoomInfo())
	}))
	mux.HandleFunc("GET /api/stats", s.authed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"web": s.Stats(), "backend": s.cfg.Backend.Stats()})
	}))
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Add("web", func() any { return s.Stats() })
		h := metric.Handler(s.cfg.Metrics)
		mux.HandleFunc("GET /metrics", s.authed(h.ServeHTTP))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	return s.guard(mux)
}

// noDirs refuses directory listings.
func noDirs(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// guard checks the Host header and sets the security headers.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		okHost := s.hosts[strings.ToLower(r.Host)]
		csp := s.csp
		s.mu.Unlock()
		if !okHost {
			s.st.hostRejected.Add(1)
			s.hostLog.Warn(s.log, "request with a foreign Host refused", "host", r.Host, "remote", r.RemoteAddr)
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), display-capture=(self)")
		next.ServeHTTP(w, r)
	})
}

// authed refuses a request that does not carry the server's token.
func (s *Server) authed(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.token.ok(requestToken(r)) {
			s.st.tokenRejected.Add(1)
			// The path only: a wrong token is somebody's secret too.
			s.tokenLog.Warn(s.log, "request without the page's token refused", "path", r.URL.Path, "remote", r.RemoteAddr)
			http.Error(w, "forbidden: open the page at the URL that peets printed (it carries the token of this run)", http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// serveWS checks the origin and runs one page connection.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	s.mu.Lock()
	okOrigin := s.origins[origin]
	s.mu.Unlock()
	if !okOrigin {
		s.st.originRejected.Add(1)
		s.originLog.Warn(s.log, "WebSocket from a foreign origin refused", "origin", origin, "remote", r.RemoteAddr)
		http.Error(w, "forbidden origin", http.StatusForbidden)
		return
	}
	up := websocket.Upgrader{
		HandshakeTimeout: 5 * time.Second,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  16 << 10,
		CheckOrigin:      func(*http.Request) bool { return true }, // checked above
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("upgrade", "err", err)
		return
	}
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.nextConn++
	c := newConn(s, ws, fmt.Sprintf("c%d", s.nextConn))
	s.conns[c] = struct{}{}
	s.connWG.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.connWG.Done()
	}()
	q := r.URL.Query()
	c.run(JoinRequest{
		Name:       q.Get("name"),
		Role:       q.Get("role"),
		RemoteAddr: r.RemoteAddr,
		UserAgent:  r.UserAgent(),
	})
}

// counters are the server's statistics.
type counters struct {
	connections, active, originRejected, hostRejected, joinFailed atomic.Int64
	tokenRejected, messagesIn, messagesOut, rateLimited           atomic.Int64
	slowClosed                                                    atomic.Int64
	mu                                                            sync.Mutex
	errors                                                        map[string]int64
}

func newCounters() counters { return counters{errors: map[string]int64{}} }

func (c *counters) badMessage(code string) {
	c.mu.Lock()
	c.errors[code]++
	c.mu.Unlock()
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Connections    int64            `json:"connections" metric:"counter"`     // WebSockets accepted
	Active         int64            `json:"active"`                           // open now
	OriginRejected int64            `json:"origin_rejected" metric:"counter"` // WebSockets refused for their Origin
	HostRejected   int64            `json:"host_rejected" metric:"counter"`   // requests refused for their Host
	TokenRejected  int64            `json:"token_rejected" metric:"counter"`  // requests refused for a missing or wrong token
	JoinFailed     int64            `json:"join_failed" metric:"counter"`     // pages the backend refused
	MessagesIn     int64            `json:"messages_in" metric:"counter"`
	MessagesOut    int64            `json:"messages_out" metric:"counter"`
	RateLimited    int64            `json:"rate_limited" metric:"counter"`      // messages dropped by the rate limit
	SlowClosed     int64            `json:"slow_closed" metric:"counter"`       // pages disconnected for not keeping up
	Errors         map[string]int64 `json:"errors" metric:"counter,label=code"` // bad messages by error code
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.st.mu.Lock()
	errs := make(map[string]int64, len(s.st.errors))
	for k, v := range s.st.errors {
		errs[k] = v
	}
	s.st.mu.Unlock()
	return Stats{
		Connections:    s.st.connections.Load(),
		Active:         s.st.active.Load(),
		OriginRejected: s.st.originRejected.Load(),
		HostRejected:   s.st.hostRejected.Load(),
		TokenRejected:  s.st.tokenRejected.Load(),
		JoinFailed:     s.st.joinFailed.Load(),
		MessagesIn:     s.st.messagesIn.Load(),
		MessagesOut:    s.st.messagesOut.Load(),
		RateLimited:    s.st.rateLimited.Load(),
		SlowClosed:     s.st.slowClosed.Load(),
		Errors:         errs,
	}
}
