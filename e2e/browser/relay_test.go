//go:build e2e

package browser

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/daemon/web"
	"github.com/peets/peets/media/bridge"
	"github.com/peets/peets/proto"
)

// room is a relay behind a web server.
type room struct {
	relay *Relay
	srv   *web.Server
	url   string
}

func startRoom(t *testing.T) *room {
	t.Helper()
	return startRoomWith(t, RelayConfig{})
}

func startRoomWith(t *testing.T, cfg RelayConfig) *room {
	t.Helper()
	level := slog.LevelWarn
	if os.Getenv("PEETS_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Room, cfg.Logger = "e2e", log
	relay, err := NewRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.NewServer(web.Config{Backend: relay, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	url, err := srv.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-srv.Done():
		case <-time.After(15 * time.Second):
			t.Error("web server did not stop")
		}
	})
	return &room{relay: relay, srv: srv, url: url}
}

// waitPublishing waits until the relay sees n streams of member id.
func (r *room) waitPublishing(t *testing.T, id string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if s := r.relay.Session(id); s != nil && len(s.LocalStreams()) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not publish %d streams", id, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func myID(p *Page) string {
	var id string
	p.Eval("window.peets.state.me.id", &id)
	return id
}

// TestTwoPages: each page decodes the other's video and receives its
// audio; the time from page load to the first remote frame is reported.
func TestTwoPages(t *testing.T) {
	r := startRoom(t)
	b := StartBrowser(t)
	alice := OpenPage(t, b, PageURL(r.url, "name", "Alice"))
	r.waitPublishing(t, myID(alice), 2)
	bob := OpenPage(t, b, PageURL(r.url, "name", "Bob"))
	WaitDecoded(t, bob, 1, 20*time.Second)
	WaitDecoded(t, alice, 1, 20*time.Second)
	ff := bob.FirstFrame()
	t.Logf("bob: page load to first decoded remote frame: %v", ff.Round(time.Millisecond))
	if ff <= 0 {
		t.Error("no first frame time")
	}
	if strings.Contains(strings.Join(bob.Errors(), "\n"), "negotiation") {
		t.Errorf("negotiation errors: %v", bob.Errors())
	}
}

// TestThreePages: three pages decode each other; chat, a name change and
// a muted microphone reach the others; a screenshot is saved.
func TestThreePages(t *testing.T) {
	r := startRoom(t)
	b := StartBrowser(t)
	names := []string{"Alice", "Bob", "Carol"}
	var pages []*Page
	for _, n := range names {
		p := OpenPage(t, b, PageURL(r.url, "name", n))
		r.waitPublishing(t, myID(p), 2)
		pages = append(pages, p)
	}
	for _, p := range pages {
		WaitDecoded(t, p, 2, 30*time.Second)
	}

	// Chat through the page's own form, as a user would.
	alice, bob, carol := pages[0], pages[1], pages[2]
	alice.Eval(`(() => {
		const i = document.getElementById('chat-input');
		i.value = 'Hello from Alice <script>x()</script>';
		document.getElementById('chat-form').requestSubmit();
		return true; })()`, nil)
	for _, p := range []*Page{bob, carol} {
		p.WaitFor(`window.peets.state.chat.some(m => m.name === 'Alice' && m.text.startsWith('Hello from Alice'))`, 5*time.Second)
		p.WaitFor(`[...document.querySelectorAll('#messages .text')].some(e => e.textContent === 'Hello from Alice <script>x()</script>')`, 5*time.Second)
	}
	bob.Eval(`(() => { window.peets.send('text', {text: 'Hi Alice, Bob here'}); return true; })()`, nil)
	alice.WaitFor(`window.peets.state.chat.some(m => m.name === 'Bob')`, 5*time.Second)

	// A new name and a muted microphone show on the others' tiles.
	carol.Eval(`(() => {
		document.getElementById('name-input').value = 'Caroline';
		document.getElementById('name-form').requestSubmit();
		document.getElementById('btn-mic').click();
		return true; })()`, nil)
	carolID := myID(carol)
	for _, p := range []*Page{alice, bob} {
		p.WaitFor(`(() => { const t = document.querySelector('.tile[data-participant="`+carolID+`"]');
			return t && t.querySelector('.name').textContent === 'Caroline' &&
				getComputedStyle(t.querySelector('.mic-off')).display !== 'none'; })()`, 5*time.Second)
	}

	// Everyone still plays everyone.
	for _, p := range pages {
		WaitDecoded(t, p, 2, 10*time.Second)
		if errs := p.Errors(); len(errs) > 0 {
			t.Errorf("%s got errors: %v", p.URL, errs)
		}
	}
	time.Sleep(1500 * time.Millisecond) // let the video settle for the picture
	Screenshot(t, alice, "/tmp/peets-shot.png")
	t.Logf("screenshot: /tmp/peets-shot.png")
	for _, id := range r.relay.Members() {
		st := r.relay.Session(id).Stats()
		t.Logf("session %s: offers %d answers %d ignored %d, local %d pkts %d B (%d keyframes, %d padding %d B), remote %d pkts, PLIs from page %d, to page %d, NACKs %d (%d retransmitted, %d missed)",
			id, st.OffersSent, st.AnswersSent, st.OffersIgnored, st.LocalPackets, st.LocalBytes, st.LocalKeyframes,
			st.LocalPadding, st.LocalPaddingBytes, st.RemotePackets,
			st.PLIsFromPage, st.PLIsToPage, st.NACKs, st.Retransmits, st.RetransmitMisses)
	}
}

// TestGlare forces an offer collision: the page offers (a second video
// track) while its session offers a newcomer's tracks. The session ignores
// the page's offer, the page rolls back and answers, then offers again.
func TestGlare(t *testing.T) { testGlare(t, chromium(t)) }

// TestFirefoxGlare is TestGlare with Firefox pages.
func TestFirefoxGlare(t *testing.T) { testGlare(t, firefox(t)) }

// opener opens a page in the test's browser.
type opener func(url string) *Page

func chromium(t *testing.T) opener {
	b := StartBrowser(t)
	return func(url string) *Page { return OpenPage(t, b, url) }
}

func firefox(t *testing.T) opener {
	b := StartFirefox(t)
	return func(url string) *Page { return OpenFirefoxPage(t, b, url) }
}

func testGlare(t *testing.T, open opener) {
	r := startRoom(t)
	alice := open(PageURL(r.url, "name", "Alice"))
	aliceID := myID(alice)
	r.waitPublishing(t, aliceID, 2)
	alice.WaitFor(`window.peets.pc.signalingState === 'stable' && window.peets.pc.connectionState === 'connected'`, 10*time.Second)
	sess := r.relay.Session(aliceID)
	offers := sess.Stats().OffersSent
	camMic, err := alice.Outbound()
	if err != nil || len(camMic) != 2 {
		t.Fatalf("alice sends %+v (err %v), want her camera and microphone", camMic, err)
	}

	if err := r.relay.HoldSignals(aliceID, true); err != nil {
		t.Fatal(err)
	}
	// A second video track (a canvas) makes the page offer; the offer is held.
	alice.Eval(`(() => {
		const c = document.createElement('canvas'); c.width = 320; c.height = 180;
		const g = c.getContext('2d');
		setInterval(() => { g.fillStyle = '#' + Math.floor(Math.random()*0xfff).toString(16).padStart(3, '0'); g.fillRect(0, 0, 320, 180); }, 50);
		const s = c.captureStream(15);
		window.peets.pc.addTransceiver(s.getVideoTracks()[0], {direction: 'sendonly', streams: [s]});
		return true; })()`, nil)
	alice.WaitFor(`window.peets.pc.signalingState === 'have-local-offer'`, 5*time.Second)

	// Bob joins: Alice's session offers his tracks while her offer waits.
	bob := open(PageURL(r.url, "name", "Bob"))
	r.waitPublishing(t, myID(bob), 2)
	deadline := time.Now().Add(10 * time.Second)
	for sess.Stats().OffersSent == offers {
		if time.Now().After(deadline) {
			t.Fatal("session did not offer")
		}
		time.Sleep(20 * time.Millisecond)
	}
	alice.WaitFor(`window.peets.state.glare > 0`, 5*time.Second)
	if err := r.relay.HoldSignals(aliceID, false); err != nil {
		t.Fatal(err)
	}

	WaitDecoded(t, alice, 1, 20*time.Second)
	alice.WaitFor(`window.peets.pc.signalingState === 'stable' &&
		window.peets.pc.getTransceivers().every(t => t.mid !== null && t.currentDirection !== null)`, 10*time.Second)
	// Her camera and microphone still go out after her offer was rolled
	// back (Chromium 148 stopped them there unless the page restarts them).
	now, err := alice.Outbound()
	if err != nil {
		t.Fatal(err)
	}
	for mid := range camMic {
		camMic[mid] = now[mid]
	}
	WaitSending(t, alice, camMic, 10, 5*time.Second)
	WaitDecoded(t, bob, 1, 20*time.Second)
	r.waitPublishing(t, aliceID, 3) // the canvas track arrived after all
	st := sess.Stats()
	if st.OffersIgnored < 1 {
		t.Errorf("session ignored no offer: %+v", st)
	}
	if st.NegotiationErrors != 0 {
		t.Errorf("negotiation errors: %+v", st)
	}
	t.Logf("glare resolved: session offers %d, ignored %d, answers %d", st.OffersSent, st.OffersIgnored, st.AnswersSent)
}

// TestBadSignaling: junk over a page's own WebSocket and over a foreign
// one breaks nothing; a foreign origin cannot open the WebSocket.
func TestBadSignaling(t *testing.T) {
	r := startRoom(t)
	b := StartBrowser(t)
	alice := OpenPage(t, b, PageURL(r.url, "name", "Alice"))
	r.waitPublishing(t, myID(alice), 2)
	bob := OpenPage(t, b, PageURL(r.url, "name", "Bob"))
	WaitDecoded(t, bob, 1, 20*time.Second)

	// Junk from the page itself.
	bob.Eval(`(() => {
		const ws = window.peets.state.ws;
		const junk = ['', '{', 'null', '[]', '{"type":"nope"}', '{"type":"greeting","data":{}}',
			'{"type":"offer","data":{"sdp":"v=0 garbage"}}', '{"type":"candidate","data":{"candidate":"candidate:bogus"}}',
			'{"type":"answer","data":{"sdp":"x"}}', '{"type":"text","data":{"text":42}}',
			'{"type":"profile","data":{"name":"`+"\u0001"+`"}}', 'x'.repeat(300000)];
		for (let i = 0; i < 50; i++) {
			let s = ''; for (let j = 0; j < 40; j++) s += String.fromCharCode(Math.floor(Math.random() * 128));
			junk.push(s);
		}
		for (const j of junk) ws.send(j);
		ws.send(new Uint8Array([1, 2, 3]));
		return junk.length; })()`, nil)
	bob.WaitFor(`window.peets.state.errors.length >= 50`, 10*time.Second)
	var codes []string
	bob.Eval(`[...new Set(window.peets.state.errors.map(e => e.code))].sort()`, &codes)
	t.Logf("error codes received: %v", codes)
	for _, want := range []string{"bad-json", "unknown-type", "not-allowed", "too-large", "bad-data"} {
		if !strings.Contains(strings.Join(codes, ","), want) {
			t.Errorf("no %s error", want)
		}
	}

	// Still playing, still chatting.
	before, err := bob.Decoded()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	after := WaitDecoded(t, bob, 1, 10*time.Second)
	for id, d := range after {
		if d.FramesDecoded <= before[id].FramesDecoded {
			t.Errorf("bob stopped decoding %s: %d -> %d frames", id, before[id].FramesDecoded, d.FramesDecoded)
		}
	}
	bob.Eval(`(() => { window.peets.send('text', {text: 'still here'}); return true; })()`, nil)
	alice.WaitFor(`window.peets.state.chat.some(m => m.text === 'still here')`, 5*time.Second)

	// A page of another origin (another port on loopback) cannot open
	// the WebSocket, even with the token: the server refuses its Origin.
	evilSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<title>evil</title><p>evil</p>"))
	}))
	defer evilSrv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evil, err := b.NewPage(ctx, evilSrv.URL)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(r.url) // the page URL, with its token
	if err != nil {
		t.Fatal(err)
	}
	u.Scheme, u.Path = "ws", "/ws"
	wsURL := u.String()
	var outcome string
	if err := evil.Eval(ctx, `new Promise(res => {
		const ws = new WebSocket('`+wsURL+`');
		ws.onopen = () => res('open');
		ws.onerror = () => res('refused');
		setTimeout(() => res('timeout'), 5000); })`, &outcome); err != nil {
		t.Fatal(err)
	}
	if outcome != "refused" {
		t.Errorf("foreign origin: %s", outcome)
	}
	st := r.srv.Stats()
	if st.OriginRejected < 1 {
		t.Errorf("origin rejection not counted: %+v", st)
	}
	t.Logf("web stats: %+v", st)
}

// TestViewerAndLeave: a viewer receives without publishing; a participant
// who leaves disappears from the others, and one who joins after reuses
// the freed m-lines.
func TestViewerAndLeave(t *testing.T) {
	r := startRoom(t)
	b := StartBrowser(t)
	alice := OpenPage(t, b, PageURL(r.url, "name", "Alice"))
	r.waitPublishing(t, myID(alice), 2)
	bob := OpenPage(t, b, PageURL(r.url, "name", "Bob"))
	bobID := myID(bob)
	r.waitPublishing(t, bobID, 2)
	viewer := OpenPage(t, b, PageURL(r.url, "name", "Vera", "role", "viewer"))
	viewerID := myID(viewer)
	WaitDecoded(t, viewer, 2, 20*time.Second)
	var gum bool
	viewer.Eval(`window.peets.state.local !== null`, &gum)
	if gum {
		t.Error("viewer asked for camera and microphone")
	}
	if n := len(r.relay.Session(viewerID).LocalStreams()); n != 0 {
		t.Errorf("viewer publishes %d streams", n)
	}
	var tiles int
	alice.Eval(`document.querySelectorAll('.tile').length`, &tiles)
	if tiles != 2 {
		t.Errorf("alice shows %d tiles, want 2 (herself and Bob, not the viewer)", tiles)
	}

	// Bob leaves with the button.
	slots := r.relay.Session(viewerID).Stats().Slots
	bob.Eval(`(() => { document.getElementById('btn-leave').click(); return true; })()`, nil)
	bob.WaitFor(`!document.getElementById('left').hidden`, 5*time.Second)
	for _, p := range []*Page{alice, viewer} {
		p.WaitFor(`!document.querySelector('.tile[data-participant="`+bobID+`"]') && !window.peets.state.participants.has('`+bobID+`')`, 10*time.Second)
	}
	// Dave comes in: the viewer's m-lines are reused.
	dave := OpenPage(t, b, PageURL(r.url, "name", "Dave"))
	daveID := myID(dave)
	r.waitPublishing(t, daveID, 2)
	WaitDecoded(t, viewer, 2, 20*time.Second)
	WaitDecoded(t, alice, 1, 20*time.Second)
	if now := r.relay.Session(viewerID).Stats().Slots; now != slots {
		t.Errorf("viewer's m-lines: %d, then %d after a leave and a join", slots, now)
	}

	// Dave turns his camera off: the others show his avatar.
	dave.Eval(`(() => { document.getElementById('btn-cam').click(); return true; })()`, nil)
	for _, p := range []*Page{alice, viewer} {
		p.WaitFor(`document.querySelector('.tile[data-participant="`+daveID+`"]').classList.contains('novideo')`, 5*time.Second)
	}
	Screenshot(t, viewer, "/tmp/peets-shot-viewer.png")
	t.Logf("viewer's screenshot: /tmp/peets-shot-viewer.png")
}

// TestReconnect: when its proxy drops the connection, the page comes back
// by itself and plays again.
func TestReconnect(t *testing.T) {
	r := startRoom(t)
	b := StartBrowser(t)
	alice := OpenPage(t, b, PageURL(r.url, "name", "Alice"))
	r.waitPublishing(t, myID(alice), 2)
	bob := OpenPage(t, b, PageURL(r.url, "name", "Bob"))
	bobID := myID(bob)
	WaitDecoded(t, bob, 1, 20*time.Second)
	if err := r.relay.Kick(bobID, "test"); err != nil {
		t.Fatal(err)
	}
	bob.WaitFor(`window.peets.state.joined && window.peets.state.greetings === 2`, 15*time.Second)
	r.waitPublishing(t, myID(bob), 2)
	WaitDecoded(t, bob, 1, 20*time.Second)
	WaitDecoded(t, alice, 1, 20*time.Second)
	var tiles int
	bob.Eval(`document.querySelectorAll('.tile').length`, &tiles)
	if tiles != 2 {
		t.Errorf("bob shows %d tiles after reconnecting, want 2", tiles)
	}
}

// TestLossRecovery drops 3% of the video packets in the relay: the page's
// NACKs are answered from the relay's buffer and the video keeps playing.
// Bob must decode the frames alice's camera encodes, all but a few, in a
// window that starts once the stream flows and spans a number of alice's
// frames, not a time: a loaded machine encodes fewer frames per second
// (alice's encoder adapts to the CPU), but whatever is encoded must reach
// bob's screen through the losses. Without the retransmissions a lost
// packet costs the frames up to the next keyframe.
func TestLossRecovery(t *testing.T) {
	r := startRoomWith(t, RelayConfig{Loss: 0.03})
	b := StartBrowser(t)
	alice := OpenPage(t, b, PageURL(r.url, "name", "Alice"))
	aliceID := myID(alice)
	r.waitPublishing(t, aliceID, 2)
	bob := OpenPage(t, b, PageURL(r.url, "name", "Bob"))
	WaitDecoded(t, bob, 1, 20*time.Second)
	// The stream flows: bob has decoded a second of it.
	bob.WaitFor(`window.peets.decoded().then(d => (d['`+aliceID+`']?.framesDecoded || 0) >= 20)`, 20*time.Second)

	const frames = 80 // alice's frames in the window (4 s at the fake camera's 20/s)
	start := time.Now()
	enc0, dec0 := videoSent(t, alice), videoReceived(t, bob, aliceID)
	enc1 := enc0
	for enc1.FramesEncoded-enc0.FramesEncoded < frames {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("alice encoded %d frames in %v", enc1.FramesEncoded-enc0.FramesEncoded, time.Since(start).Round(time.Second))
		}
		time.Sleep(250 * time.Millisecond)
		enc1 = videoSent(t, alice)
	}
	dec1 := videoReceived(t, bob, aliceID) // sampled as at the start: the delay to bob's decoder cancels out
	window := time.Since(start)

	encoded := enc1.FramesEncoded - enc0.FramesEncoded
	decoded := dec1.FramesDecoded - dec0.FramesDecoded
	st := r.relay.Session(myID(bob)).Stats()
	t.Logf("in %v alice encoded %d frames (%.1f/s, limited by %q), bob decoded %d (%.0f%%); bob's page: %d packets lost, %d NACKs, %d PLIs, %d freezes (%.2f s); bob's session: NACKs %d, retransmitted %d, missed %d",
		window.Round(time.Millisecond), encoded, float64(encoded)/window.Seconds(), enc1.QualityLimitationReason,
		decoded, 100*float64(decoded)/float64(encoded), dec1.PacketsLost-dec0.PacketsLost, dec1.NACKs-dec0.NACKs, dec1.PLIs-dec0.PLIs,
		dec1.Freezes-dec0.Freezes, dec1.FreezeSeconds-dec0.FreezeSeconds, st.NACKs, st.Retransmits, st.RetransmitMisses)
	if st.Retransmits == 0 {
		t.Error("no retransmission")
	}
	if decoded < encoded*9/10 {
		t.Errorf("video stalls under loss: bob decoded %d of the %d frames alice encoded", decoded, encoded)
	}
}

// videoSent returns what a page's (only) camera sent so far.
func videoSent(t *testing.T, p *Page) Outbound {
	t.Helper()
	out, err := p.Outbound()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Kind == "video" {
			return o
		}
	}
	t.Fatalf("page %s sends no video: %+v", p.URL, out)
	return Outbound{}
}

// inboundVideo is a page's inbound-rtp video statistics of one participant.
type inboundVideo struct {
	FramesDecoded int     `json:"framesDecoded"`
	PacketsLost   int     `json:"packetsLost"`
	NACKs         int     `json:"nackCount"`
	PLIs          int     `json:"pliCount"`
	Freezes       int     `json:"freezeCount"`
	FreezeSeconds float64 `json:"totalFreezesDuration"`
}

// videoReceived returns what a page received of a participant's video.
func videoReceived(t *testing.T, p *Page, from string) inboundVideo {
	t.Helper()
	var in []struct {
		inboundVideo
		Kind        string `json:"kind"`
		Participant string `json:"participant"`
	}
	p.Eval("window.peets.inbound()", &in)
	for _, s := range in {
		if s.Kind == "video" && s.Participant == from {
			return s.inboundVideo
		}
	}
	t.Fatalf("page %s receives no video of %s: %+v", p.URL, from, in)
	return inboundVideo{}
}

// TestFirstFrameTime measures, over several joins, the time from page
// load to the first decoded remote frame through the relay.
func TestFirstFrameTime(t *testing.T) {
	r := startRoom(t)
	b := StartBrowser(t)
	alice := OpenPage(t, b, PageURL(r.url, "name", "Alice"))
	r.waitPublishing(t, myID(alice), 2)
	var times []time.Duration
	for i := 0; i < 5; i++ {
		p := OpenPage(t, b, PageURL(r.url, "name", fmt.Sprintf("Viewer %d", i), "role", "viewer"))
		WaitDecoded(t, p, 1, 20*time.Second)
		ff := p.FirstFrame()
		times = append(times, ff)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = p.Close(ctx)
		cancel()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("page load to first decoded remote frame over %d joins: min %v, median %v, max %v",
		len(times), times[0].Round(time.Millisecond), times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	if times[len(times)/2] > 3*time.Second {
		t.Errorf("median first frame %v", times[len(times)/2])
	}
}

// TestInitialGlare makes the very first negotiation collide: the page's
// first offer (its camera) is held until the session, after its
// FirstOfferWait, offers a participant's tracks.
// The page rolls its first offer back; its next offer must still be
// accepted (this needs the bridge's header extension ids to match
// Chromium's).
func TestInitialGlare(t *testing.T) { testInitialGlare(t, chromium(t)) }

// TestFirefoxInitialGlare is TestInitialGlare with Firefox pages.
func TestFirefoxInitialGlare(t *testing.T) { testInitialGlare(t, firefox(t)) }

func testInitialGlare(t *testing.T, open opener) {
	// The relay's sessions run Go on one OS thread, as a proxy does by
	// default (--procs 1): there a page's answer and offer read together
	// reach pion before its own goroutine has started the ICE transport.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	// The page must offer before the session does: its camera opened
	// 0.4-0.9 s after it joined on a loaded machine (Firefox the slower),
	// so the session waits the product's default.
	r := startRoomWith(t, RelayConfig{FirstOfferWait: bridge.DefaultFirstOfferWait})
	alice := open(PageURL(r.url, "name", "Alice"))
	r.waitPublishing(t, myID(alice), 2)
	r.relay.SetHoldNewPages(true)
	bob := open(PageURL(r.url, "name", "Bob"))
	r.relay.SetHoldNewPages(false)
	bobID := myID(bob)
	bob.WaitFor(`'offer-sent' in window.peets.state.marks`, bridge.DefaultFirstOfferWait)
	bob.WaitFor(`window.peets.state.glare > 0`, 10*time.Second)
	// The page answers the session's offer and offers its camera again at
	// once; the session gets both back to back, as a busy proxy reads them
	// from its socket together.
	deadline := time.Now().Add(10 * time.Second)
	for !answerThenOffer(r.relay.Held(bobID)) {
		if time.Now().After(deadline) {
			t.Fatalf("bob's held signals: %v, want an answer, then an offer", r.relay.Held(bobID))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.relay.HoldSignals(bobID, false); err != nil {
		t.Fatal(err)
	}
	r.waitPublishing(t, bobID, 2)
	WaitDecoded(t, alice, 1, 20*time.Second)
	WaitDecoded(t, bob, 1, 20*time.Second)
	st := r.relay.Session(bobID).Stats()
	if st.OffersIgnored < 1 || st.NegotiationErrors != 0 || st.ICERestarts != 0 {
		t.Errorf("session stats %+v", st)
	}
	t.Logf("bob's session: offers %d, ignored %d, delayed for the ICE transport %d, answers %d, ICE restarts %d",
		st.OffersSent, st.OffersIgnored, st.OffersDelayed, st.AnswersSent, st.ICERestarts)
	for _, l := range bob.Console() {
		if strings.Contains(l, "offer failed") || strings.Contains(l, "signaling step failed") || strings.Contains(l, "starting over") {
			t.Errorf("page: %s", l)
		}
	}
}

// answerThenOffer reports whether an answer is followed by an offer in a
// list of signaling message types.
func answerThenOffer(types []string) bool {
	i := slices.Index(types, proto.TypeAnswer)
	return i >= 0 && slices.Contains(types[i+1:], proto.TypeOffer)
}

// TestBroadcaster: a broadcaster publishes and receives nothing.
func TestBroadcaster(t *testing.T) {
	r := startRoom(t)
	b := StartBrowser(t)
	alice := OpenPage(t, b, PageURL(r.url, "name", "Alice"))
	r.waitPublishing(t, myID(alice), 2)
	bc := OpenPage(t, b, PageURL(r.url, "name", "Radio", "role", "broadcaster"))
	bcID := myID(bc)
	r.waitPublishing(t, bcID, 2)
	WaitDecoded(t, alice, 1, 20*time.Second)
	time.Sleep(time.Second)
	var n int
	bc.Eval(`window.peets.pc.getTransceivers().filter(t => t.currentDirection === 'recvonly').length`, &n)
	if n != 0 {
		t.Errorf("broadcaster receives %d m-lines", n)
	}
	bc.Eval(`document.querySelectorAll('.tile').length`, &n)
	if n != 1 {
		t.Errorf("broadcaster shows %d tiles, want its own", n)
	}
	if st := r.relay.Session(bcID).Stats(); st.Slots != 0 || st.RemotePackets != 0 {
		t.Errorf("broadcaster session %+v", st)
	}
}
