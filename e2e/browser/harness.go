// Package browser is the browser test harness of Peets: it starts
// Chromium (internal/cdp), opens the page of a proxy and checks what the
// page plays through the page's own test hooks (window.peets). The tests
// of this package (build tag e2e) run pages against an in-process Relay;
// the NDN end-to-end tests reuse the harness against real proxies.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/bidi"
	"github.com/peets/peets/internal/cdp"
)

// StartBrowser launches a headless Chromium for the test and closes it
// (killing its process group) at the end. Without Chromium the test is
// skipped, except when CI=true, where that is a failure.
func StartBrowser(t testing.TB) *cdp.Browser {
	t.Helper()
	needBrowser(t, "chromium", cdp.ChromiumPath(), "PEETS_CHROMIUM")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := cdp.Launch(ctx, cdp.Options{})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// Tab is one page of a browser, whatever drives it: *cdp.Page (Chromium,
// DevTools protocol) or *bidi.Page (Firefox, WebDriver BiDi).
type Tab interface {
	Navigate(ctx context.Context, url string) error
	Eval(ctx context.Context, expr string, out any) error
	WaitFor(ctx context.Context, cond string, d time.Duration) error
	SetViewport(ctx context.Context, width, height int) error
	Screenshot(ctx context.Context, path string) error
	Console() []string
	Close(ctx context.Context) error
}

// needBrowser skips the test when the browser at path is missing, except
// when CI=true, where that is a failure.
func needBrowser(t testing.TB, name, path, env string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing under CI (%s): %v", name, path, err)
		}
		t.Skipf("%s not found at %s (set %s): %v", name, path, env, err)
	}
}

// Page is an open page of a proxy.
type Page struct {
	Tab
	t      testing.TB
	URL    string
	Opened time.Time
}

// OpenPage opens url in a new tab of b (1280x800) and waits until the page
// has joined its proxy (it got the greeting). On failure, and when the test
// fails, the page's console is logged.
func OpenPage(t testing.TB, b *cdp.Browser, pageURL string) *Page {
	t.Helper()
	return openTab(t, func(ctx context.Context) (Tab, error) { return b.NewPage(ctx, "") }, pageURL)
}

// StartFirefox launches a headless Firefox for the test (WebDriver BiDi,
// fake camera and microphone) and closes it at the end. Without Firefox
// the test is skipped, except when CI=true, where that is a failure.
func StartFirefox(t testing.TB) *bidi.Browser {
	t.Helper()
	needBrowser(t, "firefox", bidi.FirefoxPath(), "PEETS_FIREFOX")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	b, err := bidi.Launch(ctx, bidi.Options{})
	if err != nil {
		t.Fatalf("start firefox: %v", err)
	}
	t.Logf("browser: %s", b.Version())
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// OpenFirefoxPage is OpenPage for a page in Firefox (a window of its own).
func OpenFirefoxPage(t testing.TB, b *bidi.Browser, pageURL string) *Page {
	t.Helper()
	return openTab(t, func(ctx context.Context) (Tab, error) { return b.NewPage(ctx, "") }, pageURL)
}

// openTab opens a tab with newTab, sizes it to 1280x800, loads pageURL in
// it and waits until the page has joined its proxy.
func openTab(t testing.TB, newTab func(context.Context) (Tab, error), pageURL string) *Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tab, err := newTab(ctx)
	if err != nil {
		t.Fatalf("new page: %v", err)
	}
	if err := tab.SetViewport(ctx, 1280, 800); err != nil {
		t.Fatalf("viewport: %v", err)
	}
	page := &Page{Tab: tab, t: t, URL: pageURL, Opened: time.Now()}
	t.Cleanup(func() {
		if t.Failed() {
			page.LogConsole()
		}
	})
	if err := tab.Navigate(ctx, pageURL); err != nil {
		page.LogConsole()
		t.Fatalf("open %s: %v", pageURL, err)
	}
	if err := tab.WaitFor(ctx, "window.peets && window.peets.state.joined", 20*time.Second); err != nil {
		page.LogConsole()
		t.Fatalf("page %s did not join: %v", pageURL, err)
	}
	return page
}

// LogConsole writes the page's console to the test log.
func (p *Page) LogConsole() {
	for _, l := range p.Console() {
		p.t.Logf("[%s console] %s", p.URL, l)
	}
}

// Eval evaluates expr in the page and decodes its value into out; an
// error fails the test.
func (p *Page) Eval(expr string, out any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Tab.Eval(ctx, expr, out); err != nil {
		p.t.Fatalf("eval %.80q: %v", expr, err)
	}
}

// TryEval is Eval returning the error.
func (p *Page) TryEval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return p.Tab.Eval(ctx, expr, out)
}

// Decoded is what a page plays of one remote participant.
type Decoded struct {
	FramesDecoded int `json:"framesDecoded"`
	VideoWidth    int `json:"videoWidth"`
	VideoPackets  int `json:"videoPackets"`
	AudioPackets  int `json:"audioPackets"`
}

// Decoded returns, per remote participant id, what the page plays
// (inbound-rtp stats and the video element's size).
func (p *Page) Decoded() (map[string]Decoded, error) {
	var raw json.RawMessage
	if err := p.TryEval("window.peets.decoded()", &raw); err != nil {
		return nil, err
	}
	out := map[string]Decoded{}
	err := json.Unmarshal(raw, &out)
	return out, err
}

// WaitDecoded waits until the page decodes video of at least n remote
// participants (framesDecoded > 0 and video.videoWidth > 0) and receives
// their audio, or fails the test after timeout.
func WaitDecoded(t testing.TB, p *Page, n int, timeout time.Duration) map[string]Decoded {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[string]Decoded
	var lastErr error
	for {
		last, lastErr = p.Decoded()
		if lastErr == nil {
			ok := 0
			for _, d := range last {
				if d.FramesDecoded > 0 && d.VideoWidth > 0 && d.AudioPackets > 0 {
					ok++
				}
			}
			if ok >= n {
				return last
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("page %s: %d participants not decoded after %v: %+v (err %v)", p.URL, n, timeout, last, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Outbound is what a page sends on one m-line.
type Outbound struct {
	Kind          string `json:"kind"`
	Mid           string `json:"mid"`
	PacketsSent   int    `json:"packetsSent"`
	FramesEncoded int    `json:"framesEncoded"`
	// QualityLimitationReason is why the encoder sends less than asked:
	// "cpu", "bandwidth", "other" or "none" (Chromium).
	QualityLimitationReason string `json:"qualityLimitationReason"`
}

// Outbound returns, per m-line, what the page has sent so far.
func (p *Page) Outbound() (map[string]Outbound, error) {
	var list []Outbound
	if err := p.TryEval("window.peets.outbound()", &list); err != nil {
		return nil, err
	}
	out := make(map[string]Outbound, len(list))
	for _, o := range list {
		out[o.Mid] = o
	}
	return out, nil
}

// WaitSending waits until every m-line of since has sent at least min
// packets more than it had then, or fails the test after timeout.
func WaitSending(t testing.TB, p *Page, since map[string]Outbound, min int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		now, err := p.Outbound()
		var stopped []string
		for mid, o := range since {
			if err != nil || now[mid].PacketsSent < o.PacketsSent+min {
				stopped = append(stopped, o.Kind+" mid "+mid)
			}
		}
		if len(stopped) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("page %s: not sending after %v: %v (before %+v, now %+v, err %v)", p.URL, timeout, stopped, since, now, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitFor polls a JavaScript condition in the page, failing the test
// after timeout.
func (p *Page) WaitFor(cond string, timeout time.Duration) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	if err := p.Tab.WaitFor(ctx, cond, timeout); err != nil {
		p.t.Fatalf("page %s: %v", p.URL, err)
	}
}

// FirstFrame returns how long after the page's navigation start its first
// remote video frame was shown, or 0 if none yet.
func (p *Page) FirstFrame() time.Duration {
	var ms *float64
	p.Eval("window.peets.firstFrameMs", &ms)
	if ms == nil {
		return 0
	}
	return time.Duration(*ms * float64(time.Millisecond))
}

// Screenshot saves the page as a PNG.
func Screenshot(t testing.TB, p *Page, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Tab.Screenshot(ctx, path); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
}

// PageURL adds query parameters (name, role) to a proxy's page URL.
func PageURL(base string, kv ...string) string {
	if len(kv) == 0 {
		return base
	}
	var q []string
	for i := 0; i+1 < len(kv); i += 2 {
		q = append(q, url.QueryEscape(kv[i])+"="+url.QueryEscape(kv[i+1]))
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + strings.Join(q, "&")
}

// Errors returns the error messages the page received from its proxy.
func (p *Page) Errors() []string {
	var errs []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	p.Eval("window.peets.state.errors", &errs)
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return out
}
