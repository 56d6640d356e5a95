//go:build e2e

package call

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peets/peets/e2e/browser"
)

// The stranger: another user of the machine (uid 65534, "nobody") who
// knows the port of a running `peets up` but not the token of its page.
// TestStranger runs this test binary again as that user, with these
// variables; TestStrangerHelper is what it runs there.
const (
	envStrangerPort  = "PEETS_STRANGER_PORT"
	envStrangerPid   = "PEETS_STRANGER_PID"
	envStrangerToken = "PEETS_STRANGER_TOKEN" // the control run only
	strangerUID      = 65534
)

// attempt is one thing the stranger tried.
type attempt struct {
	What   string `json:"what"`
	Status int    `json:"status"` // HTTP status, 0 if none
	Joined bool   `json:"joined"` // WebSocket: got the greeting
	Read   string `json:"read"`   // what it could read of the proxy's process
	Err    string `json:"err"`
}

// TestStranger: another local user who knows the port is refused by the
// page, its WebSocket and the API (it sets Origin and Host exactly as the
// page would), and cannot read the token from the proxy's command line or
// environment; the same user given the URL's token gets in (so the token,
// not the uid, made the difference), and the page opened from the URL
// works throughout. The proxy counts and logs the refusals.
func TestStranger(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run a client as another user (uid 65534)")
	}
	r := newRoom(t, "stranger")
	p, pageURL := r.proxy("alice", "Alice")
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	token := u.Query().Get("token")
	if len(token) < 26 {
		t.Fatalf("page URL %q carries no token", pageURL)
	}
	b := browser.StartBrowser(t)
	page := browser.OpenPage(t, b, pageURL)

	helper := strangerBinary(t)
	run := func(withToken bool) map[string]attempt {
		t.Helper()
		env := []string{"PATH=/usr/bin:/bin", envStrangerPort + "=" + u.Port(), envStrangerPid + "=" + fmt.Sprint(p.Pid())}
		if withToken {
			env = append(env, envStrangerToken+"="+token)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, helper, "-test.run=^TestStrangerHelper$", "-test.v")
		cmd.Env = env
		cmd.Dir = filepath.Dir(helper)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: strangerUID, Gid: strangerUID}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("stranger: %v\n%s", err, out)
		}
		got := map[string]attempt{}
		for _, l := range strings.Split(string(out), "\n") {
			if j, ok := strings.CutPrefix(l, "STRANGER "); ok {
				var a attempt
				if err := json.Unmarshal([]byte(j), &a); err != nil {
					t.Fatalf("stranger line %q: %v", l, err)
				}
				got[a.What] = a
			}
		}
		t.Logf("stranger (token given: %v): %s", withToken, out)
		return got
	}

	got := run(false)
	for _, what := range []string{"GET /", "GET /api/roster", "GET /api/stats", "GET /api/roster?token=guess", "WS /ws", "WS /ws?token=guess"} {
		a, ok := got[what]
		switch {
		case !ok:
			t.Errorf("stranger did not try %s", what)
		case a.Status != http.StatusForbidden || a.Joined:
			t.Errorf("stranger %s: status %d, joined %v, err %q (want 403)", what, a.Status, a.Joined, a.Err)
		}
	}
	for _, what := range []string{"cmdline", "environ"} {
		if a := got[what]; strings.Contains(a.Read, token) {
			t.Errorf("the token is readable in the proxy's %s by another user", what)
		}
	}
	if a := got["environ"]; a.Err == "" {
		t.Errorf("another user could read the proxy's environment: %q", a.Read)
	}

	// Control: the same user with the token gets in.
	ctl := run(true)
	if a := ctl["GET /api/roster"]; a.Status != 200 {
		t.Errorf("with the token, GET /api/roster: %d %s", a.Status, a.Err)
	}
	if a := ctl["WS /ws"]; !a.Joined {
		t.Errorf("with the token, the WebSocket: status %d, err %s", a.Status, a.Err)
	}

	// The page still plays its part: it is joined, and it was never
	// disturbed by the stranger's attempts.
	page.WaitFor(`window.peets.state.joined`, 5*time.Second)
	var stats struct {
		Web struct {
			TokenRejected int64 `json:"token_rejected"`
		} `json:"web"`
	}
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+u.Port()+"/api/stats", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats.Web.TokenRejected < 6 {
		t.Errorf("tokenRejected = %d, want >= 6", stats.Web.TokenRejected)
	}
	out := p.Output()
	if !strings.Contains(out, "request without the page's token refused") {
		t.Error("no warning about the refused requests")
	}
	if n := strings.Count(out, token); n != 1 {
		t.Errorf("the token appears %d times in the proxy's output (want once: the URL it prints)", n)
	}
}

// strangerBinary is a copy of this test binary that uid 65534 may run.
func strangerBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "peets-stranger-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(dir, "stranger.test")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestStrangerHelper is the stranger's side of TestStranger (it does
// nothing in a normal run). It prints one "STRANGER {json}" line per
// attempt.
func TestStrangerHelper(t *testing.T) {
	port := os.Getenv(envStrangerPort)
	if port == "" {
		t.Skip("run by TestStranger only")
	}
	token := os.Getenv(envStrangerToken)
	report := func(a attempt) {
		b, _ := json.Marshal(a)
		fmt.Println("STRANGER " + string(b))
	}
	base := "http://127.0.0.1:" + port
	origin := base // what the page's own origin is: a program sets it at will
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(what, path string) {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Origin", origin)
		resp, err := client.Do(req)
		a := attempt{What: what}
		if err != nil {
			a.Err = err.Error()
		} else {
			a.Status = resp.StatusCode
			resp.Body.Close()
		}
		report(a)
	}
	ws := func(what, query string) {
		d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
		h := http.Header{"Origin": {origin}}
		c, resp, err := d.Dial("ws://127.0.0.1:"+port+"/ws"+query, h)
		a := attempt{What: what}
		if resp != nil {
			a.Status = resp.StatusCode
		}
		if err != nil {
			a.Err = err.Error()
		} else {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, msg, err := c.ReadMessage()
			a.Joined = err == nil && strings.Contains(string(msg), `"greeting"`)
			if err != nil {
				a.Err = err.Error()
			}
			_ = c.Close()
		}
		report(a)
	}
	if token != "" {
		get("GET /api/roster", "/api/roster?token="+url.QueryEscape(token))
		ws("WS /ws", "?token="+url.QueryEscape(token))
		return
	}
	get("GET /", "/")
	get("GET /api/roster", "/api/roster")
	get("GET /api/stats", "/api/stats")
	get("GET /api/roster?token=guess", "/api/roster?token=AAAAAAAAAAAAAAAAAAAAAAAAAA")
	ws("WS /ws", "")
	ws("WS /ws?token=guess", "?token=AAAAAAAAAAAAAAAAAAAAAAAAAA")
	// Where else could the token be? Not in the command line, which every
	// user may read; the environment is the owner's only.
	pid := os.Getenv(envStrangerPid)
	for _, f := range []string{"cmdline", "environ"} {
		b, err := os.ReadFile("/proc/" + pid + "/" + f)
		a := attempt{What: f, Read: strings.ReplaceAll(string(b), "\x00", " ")}
		if err != nil {
			a.Err = err.Error()
		}
		report(a)
	}
}
