package bidi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// needFirefox skips without a browser, except under CI where that is a
// failure.
func needFirefox(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(FirefoxPath()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("firefox missing under CI: %v", err)
		}
		t.Skipf("firefox not found at %s (set PEETS_FIREFOX): %v", FirefoxPath(), err)
	}
}

func TestLaunchEvalScreenshot(t *testing.T) {
	needFirefox(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, err := Launch(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v := b.Version(); !strings.HasPrefix(v, "firefox ") {
		t.Errorf("version %q", v)
	}
	t.Logf("browser %s", b.Version())
	p, err := b.NewPage(ctx, "data:text/html,<title>x</title><p>hello</p>")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := p.Eval(ctx, `new Promise(r => setTimeout(() => r(6*7), 10))`, &n); err != nil || n != 42 {
		t.Fatalf("eval = %d, %v", n, err)
	}
	var obj struct {
		A []int `json:"a"`
		S string
	}
	if err := p.Eval(ctx, `({a: [1, 2], S: document.title})`, &obj); err != nil || len(obj.A) != 2 || obj.S != "x" {
		t.Fatalf("eval = %+v, %v", obj, err)
	}
	if err := p.Eval(ctx, `(console.log("hi", 1), null.x)`, nil); !errors.Is(err, ErrJSException) {
		t.Fatalf("exception not reported: %v", err)
	}
	// The log event may come after the evaluation's answer, and after
	// Firefox's own messages about the page.
	logged := func() bool { return slices.Contains(p.Console(), "log: hi 1") }
	for deadline := time.Now().Add(5 * time.Second); !logged() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if !logged() {
		t.Errorf("console %q", p.Console())
	}
	// The fake camera and microphone open without a prompt (in a secure
	// context: loopback over http is one).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<title>media</title><p>media</p>"))
	}))
	defer srv.Close()
	if err := p.Navigate(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	var tracks []string
	if err := p.Eval(ctx, `navigator.mediaDevices.getUserMedia({video: true, audio: true}).then(s => s.getTracks().map(t => t.kind).sort())`, &tracks); err != nil {
		t.Fatal(err)
	}
	if strings.Join(tracks, ",") != "audio,video" {
		t.Errorf("getUserMedia tracks %v", tracks)
	}
	if err := p.SetViewport(ctx, 800, 600); err != nil {
		t.Fatal(err)
	}
	var w int
	if err := p.Eval(ctx, `window.innerWidth`, &w); err != nil || w != 800 {
		t.Errorf("innerWidth %d after SetViewport: %v", w, err)
	}
	path := filepath.Join(t.TempDir(), "shot.png")
	if err := p.Screenshot(ctx, path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Size() < 100 {
		t.Fatalf("screenshot: %v", err)
	}
	if err := p.WaitFor(ctx, "false", 200*time.Millisecond); err == nil {
		t.Fatal("WaitFor(false) returned nil")
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	dir := b.proc.Dir()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("profile dir left behind: %v", err)
	}
	if err := p.Eval(ctx, "1", nil); err == nil {
		t.Error("eval after close succeeded")
	}
}
