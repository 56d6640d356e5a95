package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"math/rand"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peets/peets/internal/metric"
	"github.com/peets/peets/proto"
)

func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.Backend == nil {
		cfg.Backend = newFakeBackend()
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	url, err := s.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.Done():
		case <-time.After(10 * time.Second):
			t.Error("server did not stop")
		}
	})
	return s, url
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

// at is the address of path on the server of pageURL, with the page's
// query (its token) and the parameters of query on top ("?token=" drops
// the token).
func at(pageURL, path, query string) string {
	u, err := url.Parse(pageURL)
	if err != nil {
		panic(err)
	}
	u.Path = path
	q := u.Query()
	extra, _ := url.ParseQuery(strings.TrimPrefix(query, "?"))
	maps.Copy(q, extra)
	u.RawQuery = q.Encode()
	return u.String()
}

func dial(t *testing.T, pageURL, origin, query string) (*client, *http.Response, error) {
	t.Helper()
	wsURL := "ws" + strings.TrimPrefix(at(pageURL, "/ws", query), "http")
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(wsURL, h)
	if err != nil {
		return nil, resp, err
	}
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { _ = ws.Close() })
	return c, resp, nil
}

// originOf is the origin of the page at pageURL.
func originOf(pageURL string) string {
	u, err := url.Parse(pageURL)
	if err != nil {
		panic(err)
	}
	return u.Scheme + "://" + u.Host
}

func mustDial(t *testing.T, pageURL, query string) *client {
	t.Helper()
	c, _, err := dial(t, pageURL, originOf(pageURL), query)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *client) sendRaw(b string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(b)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) read() proto.Message {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	m, err := proto.DecodeSignal(b, proto.FromServer, 0)
	if err != nil {
		c.t.Fatalf("server sent an invalid message %s: %v", b, err)
	}
	return m
}

// expect reads until a message of type typ (skipping others).
func (c *client) expect(typ string) proto.Message {
	c.t.Helper()
	for i := 0; i < 50; i++ {
		if m := c.read(); m.Type == typ {
			return m
		}
	}
	c.t.Fatalf("no %s message", typ)
	return proto.Message{}
}

func (c *client) expectError(code string) {
	c.t.Helper()
	m := c.expect(proto.TypeError)
	e, _ := proto.DataAs[proto.Error](m)
	if e.Code != code {
		c.t.Fatalf("error code %q (%s), want %q", e.Code, e.Message, code)
	}
}

func TestHTTPRoutes(t *testing.T) {
	_, page := startServer(t, Config{})
	get := func(path, host string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, at(page, path, ""), nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("/", "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/static/app.js") {
		t.Fatalf("GET /: %d %.100s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	for _, p := range []string{"/static/app.js", "/static/style.css", "/healthz", "/api/roster", "/api/stats"} {
		if r := get(p, ""); r.StatusCode != 200 {
			t.Errorf("GET %s: %d", p, r.StatusCode)
		}
	}
	if r := get("/api/roster", ""); r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("roster content type %q", r.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/static/", "/nope", "/static/../go.mod"} {
		if r := get(p, ""); r.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, r.StatusCode)
		}
	}
	// DNS rebinding: a foreign Host is refused.
	if r := get("/api/roster", "evil.example:80"); r.StatusCode != http.StatusForbidden {
		t.Errorf("foreign host: %d", r.StatusCode)
	}
	if r := get("/api/roster", "localhost:"+portOf(page)); r.StatusCode != 200 {
		t.Errorf("localhost host: %d", r.StatusCode)
	}
	resp, err := http.Post(page, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", resp.StatusCode)
	}
}

func portOf(pageURL string) string {
	u, err := url.Parse(pageURL)
	if err != nil {
		panic(err)
	}
	return u.Port()
}

func TestOriginCheck(t *testing.T) {
	s, page := startServer(t, Config{})
	port := portOf(page)
	for _, origin := range []string{"http://evil.example", "", "null", "https://127.0.0.1:" + port} {
		_, resp, err := dial(t, page, origin, "")
		if err == nil {
			t.Errorf("origin %q accepted", origin)
			continue
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: %v", origin, err)
		}
	}
	if got := s.Stats().OriginRejected; got != 4 {
		t.Errorf("OriginRejected = %d", got)
	}
	for _, origin := range []string{"http://127.0.0.1:" + port, "http://localhost:" + port} {
		c, _, err := dial(t, page, origin, "")
		if err != nil {
			t.Fatalf("origin %q: %v", origin, err)
		}
		g := c.read()
		if g.Type != proto.TypeGreeting {
			t.Fatalf("first message %s", g.Type)
		}
	}
}

func TestNonLoopbackRefused(t *testing.T) {
	for _, l := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8080", "example.com:80", "[::]:0"} {
		if _, err := NewServer(Config{Listen: l, Backend: newFakeBackend()}); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: %v", l, err)
		}
	}
	for _, l := range []string{"127.0.0.1:0", "localhost:0", "[::1]:0", "127.0.0.2:9"} {
		if _, err := NewServer(Config{Listen: l, Backend: newFakeBackend()}); err != nil {
			t.Errorf("%s: %v", l, err)
		}
	}
	if _, err := NewServer(Config{}); !errors.Is(err, ErrNoBackend) {
		t.Errorf("no backend: %v", err)
	}
}

func TestGreetingFirstAndChat(t *testing.T) {
	b := newFakeBackend()
	b.onJoin = func(page PageConn) {
		_ = page.Send(proto.MustSignal(proto.TypeTracks, proto.Tracks{Tracks: []proto.Track{}}))
	}
	_, url := startServer(t, Config{Backend: b})
	a := mustDial(t, url, "?name=Alice")
	g := a.read()
	if g.Type != proto.TypeGreeting {
		t.Fatalf("first message %s, want greeting", g.Type)
	}
	gd, _ := proto.DataAs[proto.Greeting](g)
	if gd.ID != "u1" || gd.Name != "Alice" || !gd.Polite || gd.Version != proto.SignalVersion || gd.ICEServers == nil {
		t.Errorf("greeting %+v", gd)
	}
	if m := a.read(); m.Type != proto.TypeTracks {
		t.Fatalf("second message %s, want the one sent during Join", m.Type)
	}

	bob := mustDial(t, url, "?name=Bob")
	bob.expect(proto.TypeGreeting)
	a.expect(proto.TypeJoin)

	a.sendRaw(`{"type":"text","sender":"spoofed","data":{"text":"hello <b>Bob</b>"}}`)
	m := bob.expect(proto.TypeText)
	td, _ := proto.DataAs[proto.Text](m)
	if m.Sender != "u1" || td.Text != "hello <b>Bob</b>" || td.Name != "Alice" {
		t.Errorf("chat %+v %+v", m, td)
	}
	a.sendRaw(`{"type":"profile","data":{"name":"Alicia","audioMuted":true}}`)
	up := bob.expect(proto.TypeUpdate)
	ud, _ := proto.DataAs[proto.Participant](up)
	if ud.Name != "Alicia" || !ud.AudioMuted {
		t.Errorf("update %+v", ud)
	}
	a.sendRaw(`{"type":"get-room-info"}`)
	ri, _ := proto.DataAs[proto.RoomInfo](a.expect(proto.TypeRoomInfo))
	if ri.Self != "u1" || len(ri.Participants) != 2 {
		t.Errorf("room info %+v", ri)
	}
	a.sendRaw(`{"type":"get-ice-servers"}`)
	a.expect(proto.TypeICEServers)
	a.sendRaw(`{"type":"ping","data":{"ts":42}}`)
	p, _ := proto.DataAs[proto.Ping](a.expect(proto.TypePong))
	if p.TS != 42 {
		t.Errorf("pong %+v", p)
	}
	// The backend's error comes back with its code.
	a.sendRaw(`{"type":"answer","data":{"sdp":"v=0"}}`)
	a.expectError(proto.CodeNegotiation)

	a.sendRaw(`{"type":"bye"}`)
	bob.expect(proto.TypeLeave)
}

func TestMalformedMessages(t *testing.T) {
	s, url := startServer(t, Config{MaxMessageBytes: 2048, Rate: 10000, Burst: 10000})
	c := mustDial(t, url, "")
	c.expect(proto.TypeGreeting)
	cases := []struct{ msg, code string }{
		{`{`, proto.CodeBadJSON},
		{`[1,2]`, proto.CodeBadJSON},
		{`{"type":"launch"}`, proto.CodeUnknownType},
		{`{"data":{}}`, proto.CodeUnknownType},
		{`{"type":"greeting","data":{"id":"x","room":"r","role":"participant","iceServers":[],"participants":[],"version":1,"polite":true}}`, proto.CodeNotAllowed},
		{`{"type":"text","data":{"text":""}}`, proto.CodeBadData},
		{`{"type":"text","data":{"text":"` + strings.Repeat("x", 3000) + `"}}`, proto.CodeTooLarge},
		{`{"type":"offer","data":{"sdp":"x","type":"offer"}}`, proto.CodeBadData},
	}
	for _, tc := range cases {
		c.sendRaw(tc.msg)
		c.expectError(tc.code)
	}
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	c.expectError(proto.CodeBadJSON)
	// Random junk: nothing breaks, every frame gets an error back.
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 200; i++ {
		b := make([]byte, rng.Intn(300))
		rng.Read(b)
		if i%2 == 0 {
			b = []byte(`{"type":"text","data":` + string(b) + `}`)
		}
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Fatal(err)
		}
		c.expect(proto.TypeError)
	}
	c.sendRaw(`{"type":"ping"}`)
	c.expect(proto.TypePong)
	st := s.Stats()
	if st.Errors[proto.CodeTooLarge] != 1 || st.Errors[proto.CodeUnknownType] != 2 || st.Active != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestRateLimit(t *testing.T) {
	s, url := startServer(t, Config{Rate: 5, Burst: 10})
	c := mustDial(t, url, "")
	c.expect(proto.TypeGreeting)
	for i := 0; i < 40; i++ {
		c.sendRaw(`{"type":"ping"}`)
	}
	c.expectError(proto.CodeRateLimited)
	if s.Stats().RateLimited == 0 {
		t.Error("nothing rate-limited")
	}
	time.Sleep(500 * time.Millisecond)
	// Drain, then the connection still works.
	c.sendRaw(`{"type":"ping","data":{"ts":7}}`)
	for {
		m := c.expect(proto.TypePong)
		if p, _ := proto.DataAs[proto.Ping](m); p.TS == 7 {
			break
		}
	}
}

func TestJoinRefused(t *testing.T) {
	b := newFakeBackend()
	b.refuse = errors.New("room full")
	s, url := startServer(t, Config{Backend: b})
	c := mustDial(t, url, "")
	c.expectError(proto.CodeNotJoined)
	bye := c.expect(proto.TypeBye)
	if d, _ := proto.DataAs[proto.Bye](bye); d.Reason != "not joined" {
		t.Errorf("bye %+v", d)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, err := c.ws.ReadMessage(); err == nil {
		t.Error("connection still open")
	}
	if s.Stats().JoinFailed != 1 {
		t.Error("JoinFailed not counted")
	}
}

func TestShutdownClosesPages(t *testing.T) {
	before := runtime.NumGoroutine()
	b := newFakeBackend()
	s, err := NewServer(Config{Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	url, err := s.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := mustDial(t, url, "")
	c.expect(proto.TypeGreeting)
	cancel()
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.ws.ReadMessage(); err != nil {
			break
		}
	}
	if len(b.RoomInfo().Participants) != 0 {
		t.Error("page not left")
	}
	_ = c.ws.Close()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+1 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines leaked:\n%s", buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestStatsJSON(t *testing.T) {
	_, url := startServer(t, Config{})
	resp, err := http.Get(at(url, "/api/stats", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Web     Stats          `json:"web"`
		Backend map[string]int `json:"backend"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v.Backend == nil {
		t.Error("no backend stats")
	}
}

// TestMetricsEndpoint: /metrics, like the API, needs the token; with it,
// the server's own figures are there in Prometheus's format.
func TestMetricsEndpoint(t *testing.T) {
	s, url := startServer(t, Config{Metrics: metric.NewCollector("peets")})
	resp, err := http.Get(at(url, "/metrics", "token=wrong-token-wrong-token-wrong"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("/metrics served with a wrong token")
	}
	resp, err = http.Get(at(url, "/metrics", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "peets_web_token_rejected_total 1\n") {
		t.Fatalf("%s:\n%s", resp.Status, b)
	}
	if s.Stats().TokenRejected != 1 {
		t.Errorf("stats %+v", s.Stats())
	}
}
