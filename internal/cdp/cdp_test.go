package cdp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// needChromium skips without a browser, except under CI where that is a
// failure.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(ChromiumPath()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium missing under CI: %v", err)
		}
		t.Skipf("chromium not found at %s (set PEETS_CHROMIUM): %v", ChromiumPath(), err)
	}
}

func TestLaunchEvalScreenshot(t *testing.T) {
	needChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := Launch(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	v, err := b.Version(ctx)
	if err != nil || v == "" {
		t.Fatalf("version %q: %v", v, err)
	}
	t.Logf("browser %s", v)
	p, err := b.NewPage(ctx, "data:text/html,<title>x</title><p>hello</p>")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := p.Eval(ctx, `new Promise(r => setTimeout(() => r(6*7), 10))`, &n); err != nil || n != 42 {
		t.Fatalf("eval = %d, %v", n, err)
	}
	if err := p.Eval(ctx, `console.log("hi", 1); null.x`, nil); err == nil {
		t.Fatal("exception not reported")
	}
	if c := p.Console(); len(c) == 0 || c[0] != "log: hi 1" {
		t.Errorf("console %q", c)
	}
	var devices int
	if err := p.Eval(ctx, `navigator.mediaDevices ? 1 : 0`, &devices); err != nil {
		t.Fatal(err)
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
	dir := b.dir
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
