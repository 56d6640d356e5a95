package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/peets/peets/internal/testlog"
)

// tokenOf is the token in a page URL.
func tokenOf(t testing.TB, pageURL string) string {
	t.Helper()
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get(TokenParam)
}

// wrongTokens are near misses of tok: each must be refused.
func wrongTokens(tok string) map[string]string {
	flip := func(i int) string {
		b := []byte(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	return map[string]string{
		"empty":       "",
		"first wrong": flip(0),
		"last wrong":  flip(len(tok) - 1),
		"prefix":      tok[:len(tok)-1],
		"longer":      tok + "A",
		"lower case":  strings.ToLower(tok),
	}
}

// TestTokenRequired: the page and the API need the token (query or
// Bearer header); the page's script and style and /healthz do not; every
// refusal is counted and logged once per interval, without the token.
func TestTokenRequired(t *testing.T) {
	var logs testlog.Buffer
	s, page := startServer(t, Config{Logger: logs.Logger(slog.LevelInfo)})
	tok := tokenOf(t, page)
	if len(tok) < MinTokenLen {
		t.Fatalf("page URL %q: token %q", page, tok)
	}
	do := func(method, path, query, bearer string) int {
		t.Helper()
		req, _ := http.NewRequest(method, at(page, path, query), nil)
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	refused := int64(0)
	for _, path := range []string{"/", "/api/roster", "/api/stats"} {
		if c := do("GET", path, "", ""); c != 200 {
			t.Errorf("GET %s with the token: %d", path, c)
		}
		for what, w := range wrongTokens(tok) {
			if c := do("GET", path, "?token="+url.QueryEscape(w), ""); c != http.StatusForbidden {
				t.Errorf("GET %s, token %s: %d, want 403", path, what, c)
			}
			refused++
		}
	}
	// The page asks for itself with HEAD to tell an expired link.
	if c := do("HEAD", "/", "?token=WRONG", ""); c != http.StatusForbidden {
		t.Errorf("HEAD / with a wrong token: %d", c)
	}
	refused++
	// Scripts may send the token in a header instead.
	if c := do("GET", "/api/stats", "?token=", tok); c != 200 {
		t.Errorf("Bearer token: %d", c)
	}
	if c := do("GET", "/api/stats", "?token=", tok[1:]); c != http.StatusForbidden {
		t.Errorf("wrong Bearer token: %d", c)
	}
	refused++
	// The same for everyone, no secret in them.
	for _, path := range []string{"/static/app.js", "/static/style.css", "/healthz"} {
		if c := do("GET", path, "?token=", ""); c != 200 {
			t.Errorf("GET %s without token: %d", path, c)
		}
	}
	if got := s.Stats().TokenRejected; got != refused {
		t.Errorf("TokenRejected = %d, want %d", got, refused)
	}
	out := logs.String()
	if n := strings.Count(out, "request without the page's token refused"); n != 1 {
		t.Errorf("%d warnings logged for %d refusals (want 1 per interval):\n%s", n, refused, out)
	}
	if !strings.Contains(out, "level=WARN") {
		t.Errorf("refusal not at warn level:\n%s", out)
	}
	if strings.Contains(out, tok) || strings.Contains(out, "WRONG") || strings.Contains(out, strings.ToLower(tok)) {
		t.Errorf("a token reached the log:\n%s", out)
	}
}

// TestTokenWebSocket: a client that sets Origin and Host exactly as the
// page does (any local program can) is refused without the token, and the
// Origin rule still holds with it.
func TestTokenWebSocket(t *testing.T) {
	s, page := startServer(t, Config{})
	tok := tokenOf(t, page)
	origin := originOf(page)
	for what, w := range wrongTokens(tok) {
		_, resp, err := dial(t, page, origin, "?token="+url.QueryEscape(w))
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("token %s: err %v, resp %v; want 403", what, err, resp)
		}
	}
	if _, resp, err := dial(t, page, "http://evil.example", ""); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin with the token: %v", err)
	}
	st := s.Stats()
	if st.TokenRejected != int64(len(wrongTokens(tok))) || st.OriginRejected != 1 || st.Connections != 0 {
		t.Errorf("stats %+v", st)
	}
	c := mustDial(t, page, "?name=Alice")
	if g := c.read(); g.Type != "greeting" {
		t.Fatalf("first message %s", g.Type)
	}
}

// TestTokenConfig: a fixed token is used as given and checked; generated
// ones differ from run to run.
func TestTokenConfig(t *testing.T) {
	const fixed = "abcdefghijklmnopqrstuvwxyz_-0123"
	_, page := startServer(t, Config{Token: fixed})
	if tokenOf(t, page) != fixed {
		t.Errorf("page URL %q does not carry the fixed token", page)
	}
	for _, bad := range []string{"short", strings.Repeat("a", MinTokenLen-1), strings.Repeat("a", 30) + "/", strings.Repeat("a", 30) + "é", strings.Repeat("a", 257)} {
		if _, err := NewServer(Config{Token: bad, Backend: newFakeBackend()}); !errors.Is(err, ErrBadToken) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	seen := map[string]bool{}
	for range 20 {
		tok := NewToken()
		if checkToken(tok) != nil || seen[tok] {
			t.Fatalf("token %q invalid or repeated", tok)
		}
		seen[tok] = true
	}
}

// TestTokenCheck: only the exact token passes, whatever the length.
func TestTokenCheck(t *testing.T) {
	tok := NewToken()
	c := newTokenCheck(tok)
	if !c.ok(tok) {
		t.Fatal("the token itself refused")
	}
	for what, w := range wrongTokens(tok) {
		if c.ok(w) {
			t.Errorf("%s accepted", what)
		}
	}
	if c.ok(tok + tok) {
		t.Error("doubled token accepted")
	}
}

// BenchmarkTokenCheck: the comparison takes the same time whether a
// candidate is right, wrong at its first or its last character, or of
// another length (both sides are hashed before a constant-time compare):
//
//	go test -run - -bench TokenCheck ./daemon/web/
func BenchmarkTokenCheck(b *testing.B) {
	tok := NewToken()
	c := newTokenCheck(tok)
	cases := wrongTokens(tok)
	cases["right"] = tok
	for _, what := range []string{"right", "first wrong", "last wrong", "prefix", "longer"} {
		cand := cases[what]
		b.Run(strings.ReplaceAll(what, " ", "-"), func(b *testing.B) {
			for b.Loop() {
				c.ok(cand)
			}
		})
	}
}
