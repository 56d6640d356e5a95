package forwarder

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
)

// Only one embedded forwarder can exist per process. Tests here share it
// sequentially: each Open("embedded") in its own StateDir is fine once the
// previous test's Conns are closed (the socket moves, the core stays).

func TestParseTransportURI(t *testing.T) {
	good := map[string]string{
		"unix:///run/nfd/nfd.sock": "unix:///run/nfd/nfd.sock",
		"unix:/tmp/x.sock":         "unix:///tmp/x.sock",
		" unix:///a//b/../c.sock ": "unix:///a/c.sock",
		"tcp://127.0.0.1:6363":     "tcp://127.0.0.1:6363",
		"tcp://localhost":          "tcp://localhost:6363",
		"tcp6://[::1]:7000":        "tcp6://[::1]:7000",
		"TCP4://127.0.0.1:1/":      "tcp4://127.0.0.1:1",
	}
	for in, want := range good {
		ep, err := parseTransportURI(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if ep.String() != want {
			t.Errorf("%q: got %q want %q", in, ep.String(), want)
		}
	}
	if ep, _ := parseTransportURI("tcp://127.0.0.1:6363"); !ep.local {
		t.Errorf("loopback tcp must be local")
	}
	if ep, _ := parseTransportURI("tcp://192.0.2.1:6363"); ep.local {
		t.Errorf("remote tcp must not be local")
	}
	bad := []string{
		"", "embedded2", "/run/nfd.sock", "nfd.sock", "unix://relative/x.sock", "unix:relative",
		"unix://", "unix:///" + strings.Repeat("x", 200), "tcp://", "tcp://:6363",
		"tcp://127.0.0.1:0", "tcp://127.0.0.1:99999", "tcp://127.0.0.1:abc", "tcp://127.0.0.1:",
		"tcp://127.0.0.1:6363/path", "tcp://u@127.0.0.1", "udp://127.0.0.1:6363",
		"ws://localhost:9696", "%zz", "unix:///x?y=1", "::::",
	}
	for _, in := range bad {
		if _, err := parseTransportURI(in); !errors.Is(err, ErrBadURI) {
			t.Errorf("%q: want ErrBadURI, got %v", in, err)
		}
	}
}

func TestParseLinkURI(t *testing.T) {
	ctx := ctxT(t)
	good := map[string]string{
		"udp://127.0.0.1:6363": "udp4://127.0.0.1:6363",
		"udp://127.0.0.1":      "udp4://127.0.0.1:6363",
		"tcp://[::1]:7000":     "tcp6://[::1]:7000",
		"udp6://[::1]":         "udp6://[::1]:6363",
		"udp://localhost:9":    "udp4://127.0.0.1:9",
	}
	for in, want := range good {
		lt, err := parseLinkURI(in)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		got, err := lt.canonical(ctx)
		if err != nil {
			if strings.Contains(in, "localhost") {
				t.Logf("%q: %v (no resolver for localhost here?)", in, err)
				continue
			}
			t.Errorf("%q: %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
	for _, in := range []string{"", "unix:///x", "udp://", "udp://h:0", "udp://h:1/p", "ether://x", "udp4://[::1]:1"} {
		lt, err := parseLinkURI(in)
		if err == nil {
			_, err = lt.canonical(ctx)
		}
		if !errors.Is(err, ErrBadURI) {
			t.Errorf("%q: want ErrBadURI, got %v", in, err)
		}
	}
}

func TestClientConf(t *testing.T) {
	dir := t.TempDir()
	home := filepath.Join(dir, "home.conf")
	etc := filepath.Join(dir, "etc.conf")
	os.WriteFile(home, []byte("; comment\n# other\nprotocol=x\n"), 0o600)
	os.WriteFile(etc, []byte("transport=unix:///etc.sock\n transport = tcp://127.0.0.1:1 \n"), 0o600)
	env := clientEnv{getenv: func(string) string { return "" }, confFiles: []string{home, etc, filepath.Join(dir, "missing")}}
	uri, src, ok := env.configuredTransport()
	if !ok || uri != "tcp://127.0.0.1:1" || src != etc {
		t.Fatalf("got %q %q %v", uri, src, ok)
	}
	os.WriteFile(home, []byte("transport=unix:///home.sock\n"), 0o600)
	if uri, _, _ = env.configuredTransport(); uri != "unix:///home.sock" {
		t.Fatalf("home must win: %q", uri)
	}
	env.getenv = func(k string) string {
		if k == "NDN_CLIENT_TRANSPORT" {
			return "unix:///env.sock"
		}
		return ""
	}
	if uri, src, _ = env.configuredTransport(); uri != "unix:///env.sock" || src != "NDN_CLIENT_TRANSPORT" {
		t.Fatalf("env must win: %q %q", uri, src)
	}
	env = clientEnv{getenv: func(string) string { return "" }}
	if _, _, ok := env.configuredTransport(); ok {
		t.Fatalf("nothing configured")
	}
}

// listenPlain makes a unix listener that accepts and holds connections (a
// stand-in for "some forwarder answers here").
func listenPlain(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
}

func TestDiscoverOrder(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, "dead.sock")
	live := filepath.Join(dir, "live.sock")
	state := filepath.Join(dir, "nfd.sock")
	listenPlain(t, live)
	ctx := ctxT(t)
	envWith := func(v string) clientEnv {
		return clientEnv{getenv: func(k string) string {
			if k == "NDN_CLIENT_TRANSPORT" {
				return v
			}
			return ""
		}, defaultURI: "unix://" + filepath.Join(dir, "default.sock")}
	}

	// (1) configured transport answers
	p := discover(ctx, envWith("unix://"+live), state, testLog)
	if p.kind != KindExternal || p.ep.addr != live {
		t.Fatalf("configured live: %+v", p)
	}
	p.conn.Close()

	// (3) configured transport dead, nothing at the state socket: embedded
	p = discover(ctx, envWith("unix://"+dead), state, testLog)
	if p.kind != KindEmbedded || p.sock != state || p.conn != nil {
		t.Fatalf("dead transport: %+v", p)
	}
	// malformed configuration is skipped, never fatal
	p = discover(ctx, envWith("bogus:/%%%"), state, testLog)
	if p.kind != KindEmbedded {
		t.Fatalf("malformed transport: %+v", p)
	}

	// (2) dead configured transport, something answers at the state socket
	listenPlain(t, state)
	p = discover(ctx, envWith("unix://"+dead), state, testLog)
	if p.kind != KindExternal || p.ep.addr != state {
		t.Fatalf("state socket: %+v", p)
	}
	p.conn.Close()

	// nothing configured: the system default socket is tried first
	def := filepath.Join(dir, "default.sock")
	listenPlain(t, def)
	p = discover(ctx, envWith(""), state, testLog)
	if p.kind != KindExternal || p.ep.addr != def {
		t.Fatalf("default socket: %+v", p)
	}
	p.conn.Close()
}

func TestOpenBadURI(t *testing.T) {
	for _, u := range []string{"bogus", "unix://relative/x", "tcp://", "tcp://127.0.0.1:70000", "http://x", "unix:"} {
		_, err := Open(context.Background(), Options{URI: u, StateDir: t.TempDir(), Logger: testLog})
		if !errors.Is(err, ErrBadURI) {
			t.Errorf("%q: want ErrBadURI, got %v", u, err)
		}
	}
}

func TestOpenExplicitNoForwarder(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	_, err := Open(context.Background(), Options{
		URI: "unix://" + filepath.Join(dir, "none.sock"), StateDir: dir, Logger: testLog,
		OpenTimeout: 300 * time.Millisecond,
	})
	if !errors.Is(err, ErrNoForwarder) {
		t.Fatalf("want ErrNoForwarder, got %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
		t.Fatalf("wait %v not bounded by OpenTimeout", d)
	}
	// a dead tcp port as well
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err = Open(context.Background(), Options{URI: "tcp://" + addr, StateDir: dir, Logger: testLog, OpenTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrNoForwarder) {
		t.Fatalf("tcp: want ErrNoForwarder, got %v", err)
	}
}

// TestEmbedded: the in-process forwarder, reached by an in-process face and
// by a second engine over its unix socket, both ways.
func TestEmbedded(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "nfd.sock")
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	if a.Kind() != KindEmbedded || a.SocketPath() != sock || a.URI() != "unix://"+sock || !a.Up() {
		t.Fatalf("embedded conn: kind %s sock %s uri %s up %v", a.Kind(), a.SocketPath(), a.URI(), a.Up())
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket not created: %v", err)
	}
	b := openT(t, Options{URI: "unix://" + sock, StateDir: dir})
	if b.Kind() != KindExternal || b.SocketPath() != sock {
		t.Fatalf("second conn: %s %s", b.Kind(), b.SocketPath())
	}
	ctx := ctxT(t)

	serve(t, a.Engine(), name(t, "/test/a"), "A")
	serve(t, b.Engine(), name(t, "/test/b"), "B")
	if err := a.Register(ctx, name(t, "/test/a")); err != nil {
		t.Fatalf("register a: %v", err)
	}
	if err := b.Register(ctx, name(t, "/test/b")); err != nil {
		t.Fatalf("register b: %v", err)
	}
	if err := a.SetStrategy(ctx, name(t, "/test/group"), MulticastStrategy); err != nil {
		t.Fatalf("strategy: %v", err)
	}
	for i := range 20 {
		mustFetch(t, b.Engine(), "/test/a/"+itoa(i), "A") // unix -> in-process
		mustFetch(t, a.Engine(), "/test/b/"+itoa(i), "B") // in-process -> unix
	}

	// Unregister: the route is gone, the Interest times out.
	if err := b.Unregister(ctx, name(t, "/test/b")); err != nil {
		t.Fatalf("unregister: %v", err)
	}
	if _, err := fetch(a.Engine(), name(t, "/test/b/gone"), 200*time.Millisecond); err == nil {
		t.Fatalf("fetch after unregister succeeded")
	}

	st := a.Stats()
	if st.Kind != KindEmbedded || !st.Up || st.Routes != 1 || st.Strategies != 1 || st.PacketsIn == 0 || st.PacketsOut == 0 {
		t.Fatalf("stats: %+v", st)
	}
	if st := b.Stats(); st.Routes != 0 || st.Reconnects != 0 || st.SendDrops != 0 {
		t.Fatalf("stats b: %+v", st)
	}

	b.Close()
	a.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket not removed on Close: %v", err)
	}
	if err := a.Register(ctx, name(t, "/x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("register after close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestEmbeddedSingleton: one forwarder per process, sockets never stolen,
// stale ones cleaned, auto mode joins the running one.
func TestEmbeddedSingleton(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir1})

	// same StateDir: shares the forwarder (refcount)
	a2 := openT(t, Options{URI: URIEmbedded, StateDir: dir1})
	ctx := ctxT(t)
	serve(t, a2.Engine(), name(t, "/single/a2"), "A2")
	if err := a2.Register(ctx, name(t, "/single/a2")); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, a.Engine(), "/single/a2/1", "A2")

	// another StateDir while in use: clear error
	if _, err := Open(ctx, Options{URI: URIEmbedded, StateDir: dir2, Logger: testLog}); !errors.Is(err, ErrEmbeddedConflict) {
		t.Fatalf("want ErrEmbeddedConflict, got %v", err)
	}
	// another UDP port: clear error
	if _, err := Open(ctx, Options{URI: URIEmbedded, StateDir: dir1, UDPPort: 16363, Logger: testLog}); !errors.Is(err, ErrEmbeddedConflict) {
		t.Fatalf("want ErrEmbeddedConflict for UDP port, got %v", err)
	}
	// auto discovery with another StateDir joins the in-process forwarder
	t.Setenv("NDN_CLIENT_TRANSPORT", "unix://"+filepath.Join(dir2, "dead.sock"))
	j := openT(t, Options{StateDir: dir2})
	if j.Kind() != KindEmbedded || j.SocketPath() != filepath.Join(dir1, "nfd.sock") {
		t.Fatalf("auto join: %s %s", j.Kind(), j.SocketPath())
	}
	mustFetch(t, j.Engine(), "/single/a2/2", "A2")

	// closing a2 scrubs its routes (its face is pooled, not left routed)
	a2.Close()
	if _, err := fetch(a.Engine(), name(t, "/single/a2/3"), 200*time.Millisecond); err == nil {
		t.Fatalf("route of a closed Conn still answers")
	}
	j.Close()
	a.Close()

	// live socket: never stolen
	live := filepath.Join(dir2, "nfd.sock")
	listenPlain(t, live)
	if _, err := Open(ctx, Options{URI: URIEmbedded, StateDir: dir2, Logger: testLog}); !errors.Is(err, ErrSocketInUse) {
		t.Fatalf("want ErrSocketInUse, got %v", err)
	}

	// stale socket file: removed and reused
	dir3 := t.TempDir()
	stale := filepath.Join(dir3, "nfd.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(stale); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	c := openT(t, Options{URI: URIEmbedded, StateDir: dir3})
	if c.SocketPath() != stale {
		t.Fatalf("stale reuse: %s", c.SocketPath())
	}
	c.Close()
}

// TestAutoFallsBackToEmbedded: NDN_CLIENT_TRANSPORT names a socket nobody
// listens on; Open("") must fall back, not fail or exit.
func TestAutoFallsBackToEmbedded(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir) // no ~/.ndn/client.conf
	t.Setenv("NDN_CLIENT_TRANSPORT", "unix://"+filepath.Join(dir, "nobody.sock"))
	c := openT(t, Options{StateDir: dir})
	if c.Kind() != KindEmbedded || c.SocketPath() != filepath.Join(dir, "nfd.sock") {
		t.Fatalf("got %s %s", c.Kind(), c.SocketPath())
	}
	// and a second auto Open with the same StateDir finds the same forwarder
	t.Setenv("NDN_CLIENT_TRANSPORT", "not a uri")
	d := openT(t, Options{StateDir: dir})
	if d.Kind() != KindEmbedded || d.SocketPath() != c.SocketPath() {
		t.Fatalf("second: %s %s", d.Kind(), d.SocketPath())
	}
}

// TestReconnect exercises the external face's reconnect logic in-process:
// the embedded forwarder drops every unix face (as a dying forwarder would),
// the client redials, re-registers and serves again.
func TestReconnect(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	b := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	ctx := ctxT(t)
	serve(t, b.Engine(), name(t, "/rc/b"), "B")
	if err := b.Register(ctx, name(t, "/rc/b")); err != nil {
		t.Fatal(err)
	}
	if err := b.SetStrategy(ctx, name(t, "/rc/b"), MulticastStrategy); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, a.Engine(), "/rc/b/0", "B")

	ups := make(chan struct{}, 4)
	cancel := b.OnUp(func() { ups <- struct{}{} })
	defer cancel()

	for round := 1; round <= 3; round++ {
		start := time.Now()
		dropAcceptedFaces(t)
		select {
		case <-ups:
		case <-time.After(2 * time.Second):
			t.Fatalf("round %d: no OnUp within 2 s (stats %+v)", round, b.Stats())
		}
		mustFetch(t, a.Engine(), "/rc/b/"+itoa(round), "B")
		t.Logf("round %d: resumed (route re-registered, Data flowing) in %v", round, time.Since(start))
	}
	st := b.Stats()
	if st.Reconnects != 3 || !st.Up || st.Routes != 1 || st.LastResumeMS <= 0 {
		t.Fatalf("stats: %+v", st)
	}
}

// dropAcceptedFaces closes the server side of every app connection of the
// embedded forwarder.
func dropAcceptedFaces(t *testing.T) {
	t.Helper()
	embMu.Lock()
	e := emb
	embMu.Unlock()
	e.mu.Lock()
	var rs []*appRelay
	for r := range e.accepted {
		rs = append(rs, r)
	}
	e.mu.Unlock()
	for _, r := range rs {
		r.close()
	}
	if len(rs) == 0 {
		t.Fatalf("no accepted faces")
	}
}

// TestSendWhileDown: sends fail fast with ErrDown, management says ErrDown,
// nothing blocks, and Close ends the redial loop.
func TestSendWhileDown(t *testing.T) {
	ff := newFakeForwarder(t)
	base := numGoroutine()
	c, err := Open(ctxT(t), Options{URI: "unix://" + ff.sock, StateDir: t.TempDir(), Logger: testLog})
	if err != nil {
		t.Fatal(err)
	}
	srv := ff.accept(t)
	ff.ln.Close() // the "forwarder" is gone for good
	srv.Close()
	if !eventually(2*time.Second, func() bool { return !c.Up() && !c.Engine().Face().IsRunning() }) {
		t.Fatalf("still up after the forwarder vanished")
	}
	start := time.Now()
	if _, err := fetch(c.Engine(), name(t, "/down/x"), 100*time.Millisecond); err == nil {
		t.Fatalf("fetch while down succeeded")
	}
	err = c.Register(ctxT(t), name(t, "/down"))
	if !errors.Is(err, ErrDown) {
		t.Fatalf("register while down: %v", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("calls while down took %v", d)
	}
	st := c.Stats()
	if st.Up || st.SendDrops == 0 || st.Routes != 1 || st.DownSince.IsZero() {
		t.Fatalf("stats while down: %+v", st)
	}
	c.Close()
	goroutinesSettle(t, base)
}

func numGoroutine() int { return runtime.NumGoroutine() }

// TestNoGoroutineLeak: a full embedded + external lifecycle returns to the
// baseline (the forwarder core and pooled in-process links are per-process
// and exist before the baseline is taken).
func TestNoGoroutineLeak(t *testing.T) {
	warm := func() {
		dir := t.TempDir()
		a, err := Open(ctxT(t), Options{URI: URIEmbedded, StateDir: dir, Logger: testLog})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Open(ctxT(t), Options{URI: "unix://" + a.SocketPath(), StateDir: dir, Logger: testLog})
		if err != nil {
			t.Fatal(err)
		}
		serve(t, b.Engine(), name(t, "/leak/b"), "B")
		if err := b.Register(ctxT(t), name(t, "/leak/b")); err != nil {
			t.Fatal(err)
		}
		mustFetch(t, a.Engine(), "/leak/b/1", "B")
		b.Close()
		a.Close()
	}
	warm()
	// A link goes back to the pool once its last delivery is over, which
	// on a loaded machine may be after Close returned: wait for every link
	// to be back before the next round, or that round makes a new one.
	// A link never given back fails here.
	time.Sleep(100 * time.Millisecond)
	out := linksOut()
	base := numGoroutine()
	for range 3 {
		warm()
		if !eventually(5*time.Second, func() bool { return linksOut() <= out }) {
			t.Fatalf("in-process links not given back: %d out, %d before", linksOut(), out)
		}
	}
	goroutinesSettle(t, base)
}

// linksOut is the number of in-process links of the embedded forwarder that
// are not in its pool (in use, the sweeper's, or abandoned).
func linksOut() int {
	embMu.Lock()
	e := emb
	embMu.Unlock()
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.linkIDs)
	for _, p := range e.pool {
		n -= len(p)
	}
	return n
}

// TestLinkTCP: Link makes the embedded forwarder dial a remote forwarder
// (here a minimal TLV peer on loopback) and route a prefix over it.
func TestLinkTCP(t *testing.T) {
	peer := startTLVPeer(t, "P")
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	ctx := ctxT(t)
	if err := a.Link(ctx, "tcp://"+peer, []enc.Name{name(t, "/linked")}); err != nil {
		t.Fatalf("link: %v", err)
	}
	// the forwarder connects a TCP face in the background: allow it a moment
	if !eventually(3*time.Second, func() bool {
		_, err := fetch(a.Engine(), name(t, "/linked/warmup"), 200*time.Millisecond)
		return err == nil
	}) {
		t.Fatalf("no Data over the link")
	}
	mustFetch(t, a.Engine(), "/linked/x", "P")
	// linking again is idempotent (409 from the forwarder is fine)
	if err := a.Link(ctx, "tcp://"+peer, []enc.Name{name(t, "/linked2")}); err != nil {
		t.Fatalf("relink: %v", err)
	}
	mustFetch(t, a.Engine(), "/linked2/y", "P")
	if st := a.Stats(); st.Links != 1 {
		t.Fatalf("stats: %+v", st)
	}
	if err := a.Link(ctx, "ether://x", nil); !errors.Is(err, ErrBadURI) {
		t.Fatalf("bad link uri: %v", err)
	}
}

// TestTakeover: a Conn attached to the shared forwarder of "another peets
// process" (here a bare listener at <StateDir>/nfd.sock) takes over with the
// embedded forwarder when that process goes away, and re-applies its state.
func TestTakeover(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	t.Setenv("NDN_CLIENT_TRANSPORT", "unix://"+filepath.Join(dir, "nobody.sock"))
	sock := filepath.Join(dir, "nfd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			srv <- c
		}
	}()
	b := openT(t, Options{StateDir: dir})
	if b.Kind() != KindExternal || b.URI() != "unix://"+sock {
		t.Fatalf("want shared external, got %s %s", b.Kind(), b.URI())
	}
	serve(t, b.Engine(), name(t, "/to/b"), "B")
	// the fake forwarder does not answer management: the route is remembered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_ = b.Register(ctx, name(t, "/to/b"))
	cancel()
	ups := make(chan struct{}, 1)
	defer b.OnUp(func() { ups <- struct{}{} })()

	start := time.Now()
	ln.Close() // unlinks the socket: the other process is gone
	(<-srv).Close()
	select {
	case <-ups:
	case <-time.After(3 * time.Second):
		t.Fatalf("no takeover: %+v", b.Stats())
	}
	t.Logf("took over and re-registered in %v", time.Since(start))
	if st := b.Stats(); b.Kind() != KindEmbedded || !st.TookOver || !st.Up {
		t.Fatalf("after takeover: kind %s stats %+v", b.Kind(), st)
	}
	// a new peets process (here: a Conn) finds the new forwarder
	a := openT(t, Options{StateDir: dir})
	if a.Kind() != KindEmbedded || a.SocketPath() != sock {
		t.Fatalf("joiner: %s %s", a.Kind(), a.SocketPath())
	}
	mustFetch(t, a.Engine(), "/to/b/1", "B")
	b.Close()
	a.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// TestLinkUDP: with no UDP listener (UDPPort 0), a UDP link still works: the
// forwarder's face uses its own ephemeral port.
func TestLinkUDP(t *testing.T) {
	peer := startUDPPeer(t, "U")
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	if err := a.Link(ctxT(t), "udp://"+peer, []enc.Name{name(t, "/udplinked")}); err != nil {
		t.Fatalf("link: %v", err)
	}
	if !eventually(3*time.Second, func() bool {
		_, err := fetch(a.Engine(), name(t, "/udplinked/warmup"), 200*time.Millisecond)
		return err == nil
	}) {
		t.Fatalf("no Data over the UDP link")
	}
	for i := range 10 {
		mustFetch(t, a.Engine(), "/udplinked/"+itoa(i), "U")
	}
}

// inetListeners lists this process's listening TCP sockets and unconnected
// UDP sockets (Linux /proc), as "proto local-address".
func inetListeners(t *testing.T) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		b, err := os.ReadFile("/proc/self/net/" + proto)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !mine[f[9]] {
				continue
			}
			remote, state := f[2], f[3]
			if (strings.HasPrefix(proto, "tcp") && state == "0A") ||
				(strings.HasPrefix(proto, "udp") && strings.Trim(remote, "0:") == "") {
				out = append(out, proto+" "+f[1])
			}
		}
	}
	return out
}

// TestEmbeddedListensOnlyOnUnix: the embedded forwarder opens no TCP, UDP or
// WebSocket listener by default.
func TestEmbeddedListensOnlyOnUnix(t *testing.T) {
	before := inetListeners(t)
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	b := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: t.TempDir()})
	_ = b
	if after := inetListeners(t); len(after) != len(before) {
		t.Fatalf("inet listeners: before %v, with the embedded forwarder %v", before, after)
	}
}

func TestLogBridge(t *testing.T) {
	kv := parseLogfmt(`time=2026-01-01T00:00:00Z level=WARN msg="Unable to x" tag="unix-stream-listener (unix:///a b)" faceid=3 err="read: \"q\""`)
	want := []string{"time", "2026-01-01T00:00:00Z", "level", "WARN", "msg", "Unable to x",
		"tag", "unix-stream-listener (unix:///a b)", "faceid", "3", "err", `read: "q"`}
	if strings.Join(kv, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", kv)
	}
	var buf strings.Builder
	b := &logBridge{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), udpOff: true}
	b.Write([]byte(`time=x level=ERROR msg="Unable to create UDP listener" uri=udp://0.0.0.0:0` + "\n"))
	b.Write([]byte(`time=x level=WARN msg="Face DOWN" faceid=7` + "\n"))
	if got := buf.String(); strings.Contains(got, "UDP") || !strings.Contains(got, `level=WARN msg="Face DOWN" faceid=7`) {
		t.Fatalf("bridge output: %q", got)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{URI: URIEmbedded, ForwarderLogLevel: "LOUD"},
		{URI: URIEmbedded, UDPPort: -1},
		{URI: URIEmbedded, UDPPort: 70000},
		{URI: URIEmbedded, StateDir: "/tmp/" + strings.Repeat("d", 120)},
	} {
		o.Logger = testLog
		if o.StateDir == "" {
			o.StateDir = t.TempDir()
		}
		if c, err := Open(context.Background(), o); err == nil {
			c.Close()
			t.Errorf("%+v: accepted", o)
		}
	}
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	d := DefaultStateDir()
	if fi, err := os.Stat(d); d != filepath.Join(run, "peets") || err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("DefaultStateDir: %s %v %v", d, fi, err)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("XDG_CACHE_HOME", run)
	if d := DefaultStateDir(); d != filepath.Join(run, "peets") {
		t.Fatalf("DefaultStateDir without XDG_RUNTIME_DIR: %s", d)
	}
}

// TestCork: a corked stream face holds what is sent (nested corks until
// the last uncork) and then writes it with one write, in order; a burst
// beyond maxCorked is written without waiting for the uncork.
func TestCork(t *testing.T) {
	ff := newFakeForwarder(t)
	c, err := Open(ctxT(t), Options{URI: "unix://" + ff.sock, StateDir: t.TempDir(), Logger: testLog})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := ff.accept(t)
	face, ok := c.Engine().Face().(interface{ Cork() func() })
	if !ok {
		t.Fatalf("the stream face cannot cork")
	}
	buf := make([]byte, 256<<10)
	readWithin := func(d time.Duration) []byte {
		_ = srv.SetReadDeadline(time.Now().Add(d))
		n, _ := srv.Read(buf)
		return buf[:n]
	}
	frame := func(i, size int) []byte { // a TLV of type 0x80+i
		return append([]byte{byte(0x80 + i), 0xfd, byte(size >> 8), byte(size)}, bytes.Repeat([]byte{byte(i)}, size)...)
	}
	out0 := c.Stats().PacketsOut
	outer := face.Cork()
	inner := face.Cork()
	var want []byte
	for i := 0; i < 8; i++ {
		f := frame(i, 60)
		want = append(want, f...)
		if err := c.Engine().Face().Send(enc.Wire{f[:10], f[10:]}); err != nil {
			t.Fatal(err)
		}
	}
	inner()
	inner() // a second call is a no-op
	if got := readWithin(50 * time.Millisecond); len(got) != 0 {
		t.Fatalf("corked face wrote %d bytes", len(got))
	}
	outer()
	if got := readWithin(time.Second); !bytes.Equal(got, want) {
		t.Fatalf("uncork: one read got %d bytes, want the %d sent, in order", len(got), len(want))
	}
	if d := c.Stats().PacketsOut - out0; d != 8 {
		t.Fatalf("out counted %d packets, want 8", d)
	}

	// A corked burst beyond maxCorked goes out before the uncork.
	uncork := face.Cork()
	sent := 0
	for i := 0; sent < maxCorked+4000; i++ {
		f := frame(i%16, 1000)
		sent += len(f)
		if err := c.Engine().Face().Send(enc.Wire{f}); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for got < maxCorked {
		b := readWithin(time.Second)
		if len(b) == 0 {
			t.Fatalf("corked burst: %d bytes written before the uncork, want >= %d", got, maxCorked)
		}
		got += len(b)
	}
	uncork()
	for got < sent {
		b := readWithin(time.Second)
		if len(b) == 0 {
			t.Fatalf("after uncork: %d of %d bytes", got, sent)
		}
		got += len(b)
	}
}
