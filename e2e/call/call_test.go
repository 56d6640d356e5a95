//go:build e2e

// Package call holds the end-to-end tests of real calls: real headless
// Chromium pages, each talking WebRTC to its own `peets up` proxy process,
// the proxies exchanging media as named Data through a real forwarder.
package call

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/peets/peets/e2e/browser"
	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

func TestMain(m *testing.M) { e2etest.Main(m) }

var fwRe = regexp.MustCompile(`^forwarder: (unix://\S+)$`)
var urlRe = regexp.MustCompile(`^(http://127\.0\.0\.1:\d+/\S*)$`)

// room runs a forwarder and proxies for one test.
type room struct {
	t    *testing.T
	bin  string
	dir  string
	fw   string
	name string
	g    proc.Group
}

func newRoom(t *testing.T, name string) *room {
	r := &room{t: t, bin: e2etest.Peets(t), dir: t.TempDir(), name: name}
	t.Cleanup(func() { r.g.StopAll(3 * time.Second) })
	fw := r.start("fw", "forwarder", "--state-dir", filepath.Join(r.dir, "fw"), "--log-level", "warn")
	m, err := fw.WaitLine(fwRe, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r.fw = m[1]
	return r
}

func (r *room) start(name string, args ...string) *proc.Proc {
	r.t.Helper()
	o := proc.Options{}
	if testing.Verbose() {
		o.Echo = os.Stderr
	}
	p, err := proc.Start(name, r.bin, args, o)
	if err != nil {
		r.t.Fatal(err)
	}
	r.g.Add(p)
	r.t.Cleanup(func() {
		if r.t.Failed() {
			r.t.Logf("%s output:\n%s", name, p.Output())
		}
	})
	return p
}

// proxy starts `peets up` for user and returns it and its page URL.
func (r *room) proxy(user, name string, extra ...string) (*proc.Proc, string) {
	r.t.Helper()
	args := append([]string{"up", "--user", user, "--name", name, "--room", r.name, "--forwarder", r.fw,
		"--state-dir", filepath.Join(r.dir, user), "--log-level", "info"}, extra...)
	p := r.start(user, args...)
	m, err := p.WaitLine(urlRe, 20*time.Second)
	if err != nil {
		r.t.Fatal(err)
	}
	return p, m[1]
}

// lateBound bounds, in TestThreeWayCall, how long a late joiner takes to
// see everyone and a closed page to vanish. The goal is a second, which
// `peets bench call` measures (first_frame_ms, ~0.3-0.4 s); this test
// checks the behaviour with the margin a shared 2-core machine needs: under
// a load average of ~20 a page took 1.3 s just to open its WebSocket, and
// the late joiner saw the others 1.19 s after it had joined; in a
// clean-clone CI run (four Chromium pages and their proxies on two cores)
// it took 3.19 s, its first remote frame 3.86 s after its page loaded.
const lateBound = 5 * time.Second

// TestThreeWayCall: three pages, three proxies, one forwarder. Each page
// decodes the other two participants' video and receives their audio; chat
// typed in one page appears in the other two; a fourth page joining late
// sees all three, and a page that closes vanishes from the others, within
// lateBound; with the others muted, the one who speaks is marked speaking
// on every page (the goal, a second, is measured by `peets bench call`).
func TestThreeWayCall(t *testing.T) {
	r := newRoom(t, "call")
	b := browser.StartBrowser(t)
	names := map[string]string{"alice": "Alice", "bob": "Bob", "carol": "Carol"}
	var pages []*browser.Page
	for _, u := range []string{"alice", "bob", "carol"} {
		_, url := r.proxy(u, names[u])
		pages = append(pages, browser.OpenPage(t, b, url))
	}
	for _, p := range pages {
		d := browser.WaitDecoded(t, p, 2, 20*time.Second)
		t.Logf("%s decodes %+v", p.URL, d)
	}
	alice, bob, carol := pages[0], pages[1], pages[2]

	// Chat through the page's own form.
	alice.Eval(`(() => {
		const i = document.getElementById('chat-input');
		i.value = 'Hello over NDN';
		document.getElementById('chat-form').requestSubmit();
		return true; })()`, nil)
	for _, p := range []*browser.Page{bob, carol} {
		p.WaitFor(`window.peets.state.chat.some(m => m.name === 'Alice' && m.text === 'Hello over NDN')`, 5*time.Second)
	}
	browser.Screenshot(t, alice, filepath.Join(os.TempDir(), "peets-call.png"))

	// Alice mutes her microphone: the others see it (it travels in her
	// roster entry), then unmuted again.
	muted := time.Now()
	alice.Eval(`window.peets.toggle('audio')`, nil)
	for _, p := range []*browser.Page{bob, carol} {
		p.WaitFor(`window.peets.state.participants.get('alice')?.audioMuted === true`, 3*time.Second)
	}
	t.Logf("mute seen by the others %v after the click", time.Since(muted))
	alice.Eval(`window.peets.toggle('audio')`, nil)
	for _, p := range []*browser.Page{bob, carol} {
		p.WaitFor(`window.peets.state.participants.get('alice')?.audioMuted === false`, 3*time.Second)
	}

	// Who is speaking, from the audio levels every audio packet carries
	// (Chromium's fake microphone beeps): with alice and carol muted, bob
	// is marked speaking on every page; then bob mutes and alice unmutes,
	// and the mark moves to alice everywhere.
	toggleAudio := func(ps ...*browser.Page) {
		for _, p := range ps {
			p.Eval(`window.peets.toggle('audio')`, nil)
		}
	}
	speaking := func(who string, since time.Time) {
		for _, p := range pages {
			p.WaitFor(`window.peets.state.speakers.dominant === '`+who+`' && document.querySelector('.tile[data-participant="`+who+`"]').classList.contains('speaking')`, 10*time.Second)
		}
		t.Logf("%s marked speaking on every page %v after the change", who, time.Since(since).Round(time.Millisecond))
	}
	toggleAudio(alice, carol)
	speaking("bob", time.Now())
	switched := time.Now()
	toggleAudio(bob, alice)
	speaking("alice", switched)
	toggleAudio(bob, carol)

	// A fourth participant joins late: sees all three within a second.
	_, url := r.proxy("dave", "Dave")
	dave := browser.OpenPage(t, b, url)
	joined := time.Now()
	browser.WaitDecoded(t, dave, 3, 10*time.Second)
	t.Logf("late joiner decodes all three %v after joining; first remote frame %v after page load", time.Since(joined), dave.FirstFrame())
	if d := time.Since(joined); d > lateBound {
		t.Errorf("late joiner saw the others after %v (want <= %v)", d, lateBound)
	}

	// Carol closes her page: she vanishes from the others within a second.
	closed := time.Now()
	if err := carol.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*browser.Page{alice, bob, dave} {
		p.WaitFor(`!window.peets.state.participants.has('carol')`, 3*time.Second)
	}
	t.Logf("closed page gone from the others after %v", time.Since(closed))
	if d := time.Since(closed); d > lateBound {
		t.Errorf("closed page vanished after %v (want <= %v)", d, lateBound)
	}
}

// newRoomBin is the peets binary for tests that run no room of their own.
func newRoomBin(t *testing.T) string { return e2etest.Peets(t) }
