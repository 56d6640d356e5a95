package bridge

import (
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/peets/peets/media/codec"
	"github.com/peets/peets/proto"
)

func testAPI(t testing.TB) *API {
	t.Helper()
	api, err := NewAPI(APIConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// ring is a tiny NACK buffer, as the fetcher keeps one.
type ring struct {
	mu   sync.Mutex
	pkts map[uint16][]byte
}

func (r *ring) put(b []byte) {
	var p rtp.Packet
	if p.Unmarshal(b) != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pkts == nil {
		r.pkts = map[uint16][]byte{}
	}
	r.pkts[p.SequenceNumber] = append([]byte(nil), b...)
}

func (r *ring) get(seq uint16) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pkts[seq]
}

// TestRelayTwoPages relays page A's video through session A and session B
// to page B, and checks the mapping, keyframe requests, NACK answers and
// m-line reuse.
func TestRelayTwoPages(t *testing.T) {
	before := runtime.NumGoroutine()
	api := testAPI(t)
	pageA, pageB := newFakePage(t), newFakePage(t)

	var (
		mu        sync.Mutex
		rtB       *RemoteTrack
		buf       ring
		kfReqs    atomic.Int32
		lookups   atomic.Int32
		sessA     *Session
		sessB     *Session
		localSeen = make(chan LocalStream, 1)
		lost      atomic.Uint32
	)
	var err error
	sessB, err = NewSession(SessionConfig{
		API: api, ID: "B", Signal: pageB.signal, FirstOfferWait: -1,
		OnRemoteKeyframeRequest: func(id string) {
			kfReqs.Add(1)
			if id == "A/cam" {
				_ = sessA.RequestLocalKeyframe("cam")
			}
		},
		LookupRemote: func(id string, seq uint16) []byte {
			lookups.Add(1)
			return buf.get(seq)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sessA, err = NewSession(SessionConfig{
		API: api, ID: "A", Signal: pageA.signal,
		OnLocalStream: func(ls LocalStream) { localSeen <- ls },
		OnLocalRTP: func(ls LocalStream, pkt []byte, key bool) {
			buf.put(pkt)
			mu.Lock()
			rt := rtB
			mu.Unlock()
			var h rtp.Header
			if _, err := h.Unmarshal(pkt); err == nil && rt != nil && h.SequenceNumber%100 == 37 {
				lost.Store(uint32(h.SequenceNumber))
				return // "lost" on the way; the NACK brings it back
			}
			if rt != nil {
				if err := rt.WriteRTP(pkt); err != nil {
					t.Errorf("WriteRTP: %v", err)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pageA.sess, pageB.sess = sessA, sessB

	track := pageA.addVideo()
	stopSend := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		seq, ts := uint16(65000), uint32(1000)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopSend:
				return
			case <-tick.C:
			}
			_ = track.WriteRTP(vp8Packet(seq, ts, i%50 == 0))
			seq++
			ts += 3000
		}
	}()

	var ls LocalStream
	select {
	case ls = <-localSeen:
	case <-time.After(10 * time.Second):
		t.Fatal("no local stream")
	}
	if ls.ID != StreamCam || ls.Kind != proto.KindVideo || ls.MimeType != webrtc.MimeTypeVP8 {
		t.Fatalf("local stream %+v", ls)
	}
	rt, err := sessB.AddRemote("A/cam", RemoteInfo{Participant: "A", Stream: "cam", MimeType: ls.MimeType})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	rtB = rt
	mu.Unlock()

	// Page B learns that its m-line carries A's camera and receives it.
	var mid string
	eventually(t, 10*time.Second, "tracks mapping on page B", func() bool {
		for m, tr := range pageB.trackMap() {
			if tr.Participant == "A" && tr.Stream == "cam" && tr.Kind == proto.KindVideo {
				mid = m
				return true
			}
		}
		return false
	})
	eventually(t, 10*time.Second, "packets on page B", func() bool { return len(pageB.packets(mid)) > 20 })
	eventually(t, 5*time.Second, "keyframe request on bind reaching page A", func() bool {
		pageA.mu.Lock()
		defer pageA.mu.Unlock()
		return pageA.plis > 0 && kfReqs.Load() > 0
	})

	// Header extensions are stripped, and sequence numbers are continuous
	// through the source's wrap-around.
	pkts := pageB.packets(mid)
	for i := 1; i < len(pkts); i++ {
		if pkts[i].Extension {
			t.Fatalf("packet %d has header extensions", i)
		}
		if d := pkts[i].SequenceNumber - pkts[i-1].SequenceNumber; d != 1 && !(d == 2 && (pkts[i].SequenceNumber-1)%100 == 37) {
			t.Fatalf("seq jump %d -> %d", pkts[i-1].SequenceNumber, pkts[i].SequenceNumber)
		}
	}

	// A PLI from page B becomes a keyframe request.
	ssrc := pageB.remoteSSRC(mid)
	n0 := kfReqs.Load()
	if err := pageB.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "keyframe request from PLI", func() bool { return kfReqs.Load() > n0 })

	// A NACK is answered from the buffer: the lost packet arrives.
	eventually(t, 5*time.Second, "a lost packet", func() bool { return lost.Load() != 0 })
	want := uint16(lost.Load())
	count := func() int {
		c := 0
		for _, p := range pageB.packets(mid) {
			if p.SequenceNumber == want {
				c++
			}
		}
		return c
	}
	if err := pageB.pc.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{want}),
	}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "retransmission", func() bool { return count() >= 1 })
	if lookups.Load() == 0 {
		t.Fatal("LookupRemote not called")
	}

	// Removing A and adding C reuses the m-line without an offer, and the
	// numbering continues.
	offers := sessB.Stats().OffersSent
	if err := sessB.RemoveRemote("A/cam"); err != nil {
		t.Fatal(err)
	}
	if err := rt.WriteRTP(make([]byte, 20)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after remove: %v", err)
	}
	mu.Lock()
	rtB = nil
	mu.Unlock()
	eventually(t, 5*time.Second, "mapping without A", func() bool { return len(pageB.trackMap()) == 0 })
	time.Sleep(300 * time.Millisecond) // let packets in flight land
	last := pageB.packets(mid)
	lastSeq := last[0].SequenceNumber
	for _, p := range last {
		if d := p.SequenceNumber - lastSeq; d != 0 && d < 32768 {
			lastSeq = p.SequenceNumber
		}
	}
	rtC, err := sessB.AddRemote("C/cam", RemoteInfo{Participant: "C", Stream: "cam", MimeType: webrtc.MimeTypeVP8})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "mapping with C on the same mid", func() bool { return pageB.trackMap()[mid].Participant == "C" })
	n := len(pageB.packets(mid))
	for i := 0; i < 10; i++ {
		p := vp8Packet(uint16(7+i), uint32(i*3000), i == 0)
		p.SSRC = 999
		b, _ := p.Marshal()
		if err := rtC.WriteRTP(b); err != nil {
			t.Fatal(err)
		}
	}
	p0 := sessB.Stats().RemotePackets
	deadline := time.Now().Add(5 * time.Second)
	for len(pageB.packets(mid)) < n+10 {
		if time.Now().After(deadline) {
			ps := pageB.packets(mid)
			var seqs []uint16
			for _, p := range ps[max(0, len(ps)-15):] {
				seqs = append(seqs, p.SequenceNumber)
			}
			t.Fatalf("C's packets: page has %d (had %d), session sent %d (had %d) before; last seqs %v lastSeq %d",
				len(ps), n, sessB.Stats().RemotePackets, p0, seqs, lastSeq)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := pageB.packets(mid)[n]
	if got.SequenceNumber != lastSeq+1 {
		t.Errorf("C's first packet has seq %d, want %d", got.SequenceNumber, lastSeq+1)
	}
	st := sessB.Stats()
	if st.Slots != 1 || st.OffersSent != offers {
		t.Errorf("reuse: slots %d (want 1), offers %d -> %d", st.Slots, offers, st.OffersSent)
	}
	if st.OffersIgnored != 0 || st.NegotiationErrors != 0 {
		t.Errorf("stats %+v", st)
	}

	close(stopSend)
	<-sent
	_ = sessA.Close()
	_ = sessB.Close()
	pageA.close()
	pageB.close()
	checkGoroutines(t, before)
}

// TestGlareImpolite checks that the session ignores an offer that collides
// with its own and still completes its negotiation.
func TestGlareImpolite(t *testing.T) {
	api := testAPI(t)
	page := newFakePage(t)
	sess, err := NewSession(SessionConfig{API: api, ID: "B", Signal: page.signal, FirstOfferWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	page.sess = sess
	page.pause(true)
	if _, err := sess.AddRemote("A/cam", RemoteInfo{Participant: "A", Stream: "cam", MimeType: webrtc.MimeTypeVP8}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "session offer", func() bool { return sess.Stats().OffersSent == 1 })

	// A colliding offer (from another peer connection: pion's rollback is
	// too partial for the fake page to play the polite part itself).
	other := newFakePage(t)
	other.addVideo()
	offer, err := other.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.HandleSignal(proto.MustSignal(proto.TypeOffer, proto.SDP{SDP: offer.SDP})); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "offer ignored", func() bool { return sess.Stats().OffersIgnored == 1 })

	page.pause(false)
	eventually(t, 10*time.Second, "stable and connected", func() bool {
		st := sess.Stats()
		return st.SignalingState == "stable" && st.ConnectionState == "connected"
	})
}

// viewerWithMic starts a viewer session with cfg (API, Role and OnClose
// set here) and one remote audio track; closed receives why it ended.
func viewerWithMic(t *testing.T, cfg SessionConfig) (sess *Session, closed chan error) {
	t.Helper()
	closed = make(chan error, 1)
	cfg.API, cfg.Role = testAPI(t), proto.RoleViewer
	cfg.OnClose = func(err error) { closed <- err }
	sess, err := NewSession(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	if _, err := sess.AddRemote("A/mic", RemoteInfo{Participant: "A", Stream: "mic", MimeType: webrtc.MimeTypeOpus}); err != nil {
		t.Fatal(err)
	}
	return sess, closed
}

// waitClosed waits (at most 5 s) for the session to end with want.
func waitClosed(t *testing.T, closed chan error, want error) {
	t.Helper()
	select {
	case err := <-closed:
		if !errors.Is(err, want) {
			t.Fatalf("closed with %v, want %v", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("session did not end with %v", want)
	}
}

// TestAnswerTimeout checks that a page that never answers ends the session.
func TestAnswerTimeout(t *testing.T) {
	var offers atomic.Int32
	sess, closed := viewerWithMic(t, SessionConfig{
		ID: "mute", AnswerTimeout: 100 * time.Millisecond,
		Signal: func(m proto.Message) {
			if m.Type == proto.TypeOffer {
				offers.Add(1)
			}
		},
	})
	waitClosed(t, closed, ErrNegotiationTimeout)
	if n := offers.Load(); n != 1 {
		t.Errorf("%d offers, want 1", n)
	}
	if !errors.Is(sess.Err(), ErrNegotiationTimeout) {
		t.Errorf("Err() = %v", sess.Err())
	}
	if _, err := sess.AddRemote("B/mic", RemoteInfo{Participant: "B", MimeType: webrtc.MimeTypeOpus}); !errors.Is(err, ErrClosed) {
		t.Errorf("AddRemote after close: %v", err)
	}
}

// TestConnectTimeout checks that a session whose media connection never
// comes up after the first offer and answer ends with ErrConnectTimeout
// (the page then starts over): the page answers, then vanishes.
func TestConnectTimeout(t *testing.T) {
	page, err := webrtc.NewAPI(webrtc.WithSettingEngine(LoopbackSettingEngine())).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close()
	answers := make(chan string, 1)
	sess, closed := viewerWithMic(t, SessionConfig{
		ID: "gone", ConnectTimeout: 200 * time.Millisecond,
		Signal: func(m proto.Message) {
			if m.Type != proto.TypeOffer {
				return
			}
			d, _ := proto.DataAs[proto.SDP](m)
			if err := page.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: d.SDP}); err != nil {
				t.Errorf("page: %v", err)
				return
			}
			a, err := page.CreateAnswer(nil)
			if err == nil {
				err = page.SetLocalDescription(a)
			}
			if err != nil {
				t.Errorf("page: %v", err)
				return
			}
			answers <- a.SDP
		},
	})
	select {
	case a := <-answers:
		page.Close() // no ICE from the page any more
		if err := sess.HandleSignal(proto.MustSignal(proto.TypeAnswer, proto.SDP{SDP: a})); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no offer")
	}
	waitClosed(t, closed, ErrConnectTimeout)
}

func TestAddRemoteErrors(t *testing.T) {
	api := testAPI(t)
	nop := func(proto.Message) {}
	b, err := NewSession(SessionConfig{API: api, Role: proto.RoleBroadcaster, Signal: nop})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.AddRemote("x/cam", RemoteInfo{Participant: "x", MimeType: webrtc.MimeTypeVP8}); !errors.Is(err, ErrRoleNoReceive) {
		t.Errorf("broadcaster: %v", err)
	}
	s, err := NewSession(SessionConfig{API: api, Signal: nop})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.AddRemote("x/cam", RemoteInfo{Participant: "x", MimeType: "video/H265"}); !errors.Is(err, ErrUnsupportedCodec) {
		t.Errorf("codec: %v", err)
	}
	if _, err := s.AddRemote("x/cam", RemoteInfo{Participant: "x", MimeType: "video/vp8"}); err != nil {
		t.Errorf("add: %v", err)
	}
	if _, err := s.AddRemote("x/cam", RemoteInfo{Participant: "x", MimeType: webrtc.MimeTypeVP8}); !errors.Is(err, ErrDuplicateRemote) {
		t.Errorf("duplicate: %v", err)
	}
	if err := s.RemoveRemote("nope"); !errors.Is(err, ErrUnknownRemote) {
		t.Errorf("remove unknown: %v", err)
	}
	if err := s.RequestLocalKeyframe("cam"); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("keyframe of unknown stream: %v", err)
	}
	if err := s.HandleSignal(proto.MustSignal(proto.TypeText, proto.Text{Text: "hi"})); !errors.Is(err, ErrUnexpectedSignal) {
		t.Errorf("text: %v", err)
	}
	if _, err := NewSession(SessionConfig{API: api}); !errors.Is(err, ErrConfig) {
		t.Errorf("no Signal: %v", err)
	}
	if _, err := NewSession(SessionConfig{API: api, Signal: nop, Role: "king"}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad role: %v", err)
	}
}

func TestRewriter(t *testing.T) {
	w := rewriter{clockRate: 90000}
	t0 := time.Unix(0, 0)
	pk := func(ssrc uint32, seq uint16, ts uint32) *rtp.Packet {
		return &rtp.Packet{Header: rtp.Header{SSRC: ssrc, SequenceNumber: seq, Timestamp: ts}}
	}
	// First source passes unchanged, reordering included.
	for _, seq := range []uint16{100, 101, 103, 102, 104} {
		p := pk(1, seq, uint32(seq)*10)
		w.rewrite(p, t0)
		if p.SequenceNumber != seq {
			t.Fatalf("seq %d became %d", seq, p.SequenceNumber)
		}
	}
	// A new SSRC continues after 104, timestamps advanced by 1 s.
	p := pk(2, 5000, 7)
	w.rewrite(p, t0.Add(time.Second))
	if p.SequenceNumber != 105 || p.Timestamp != 1040+90000 {
		t.Fatalf("new source: seq %d ts %d", p.SequenceNumber, p.Timestamp)
	}
	if got, ok := w.sourceSeq(105); got != 5000 || !ok {
		t.Fatalf("sourceSeq = %d %v", got, ok)
	}
	if _, ok := w.sourceSeq(104); ok {
		t.Fatal("sourceSeq maps a number sent for the first source")
	}
	// A jump within the same SSRC is a restart too.
	p = pk(2, 40000, 9)
	w.rewrite(p, t0.Add(2*time.Second))
	if p.SequenceNumber != 106 {
		t.Fatalf("jump: seq %d", p.SequenceNumber)
	}
	// Retransmissions map without moving the state, only for the current
	// source, and never onto a number sent for an earlier one (105 was
	// the previous restart's).
	p = pk(2, 39999, 8)
	if w.mapRetransmit(p) {
		t.Fatalf("retransmit before the source's start mapped to %d", p.SequenceNumber)
	}
	if p = pk(2, 39999, 8); w.rewrite(p, t0.Add(2*time.Second)) {
		t.Fatalf("late packet before the source's start sent as %d", p.SequenceNumber)
	}
	p = pk(2, 40000, 9)
	if !w.mapRetransmit(p) || p.SequenceNumber != 106 || w.lastSeq != 106 {
		t.Fatalf("retransmit: seq %d, lastSeq %d", p.SequenceNumber, w.lastSeq)
	}
	// A retransmission newer than anything sent moves the output on.
	p = pk(2, 40001, 10)
	if !w.mapRetransmit(p) || p.SequenceNumber != 107 || w.lastSeq != 107 {
		t.Fatalf("newer retransmit: seq %d, lastSeq %d", p.SequenceNumber, w.lastSeq)
	}
	if w.mapRetransmit(pk(1, 100, 0)) {
		t.Fatal("retransmit of an old source accepted")
	}
	// Wrap-around of the output.
	w = rewriter{clockRate: 48000}
	for i := 0; i < 5; i++ {
		p := pk(3, uint16(65533+i), 0)
		w.rewrite(p, t0)
		if p.SequenceNumber != uint16(65533+i) {
			t.Fatalf("wrap: %d", p.SequenceNumber)
		}
	}
}

// TestRewriterRenumbers: a switch from one VP8 source to another (two
// simulcast layers, numbered independently) continues the picture IDs and
// TL0PICIDX after the last ones sent, without touching the caller's
// buffer; a retransmission of the new source gets the same numbers as its
// original.
func TestRewriterRenumbers(t *testing.T) {
	w := rewriter{clockRate: 90000, mime: webrtc.MimeTypeVP8}
	t0 := time.Unix(0, 0)
	vp8 := func(ssrc uint32, seq, pid uint16, tl0 uint8) *rtp.Packet {
		pay := []byte{0x90, 0xe0, 0x80 | byte(pid>>8), byte(pid), tl0, 0x40, 0x00}
		return &rtp.Packet{Header: rtp.Header{SSRC: ssrc, SequenceNumber: seq, Timestamp: uint32(seq) * 3000}, Payload: pay}
	}
	read := func(p *rtp.Packet) (uint16, uint8) {
		n, ok := codec.ParseNumbering(codec.MimeTypeVP8, p.Payload)
		if !ok {
			t.Fatalf("unparsable % x", p.Payload)
		}
		return n.PID, n.TL0
	}
	// The first source keeps its numbers (a frame over two packets).
	for i, seq := range []uint16{10, 11, 12} {
		p := vp8(1, seq, 0x7ffe+uint16(i), 200)
		w.rewrite(p, t0)
		if pid, tl0 := read(p); pid != (0x7ffe+uint16(i))&0x7fff || tl0 != 200 {
			t.Fatalf("first source: pid %d tl0 %d", pid, tl0)
		}
	}
	// Another layer, numbered far behind: its keyframe is picture 1 (after
	// 0x7fff+1 wrapped to 0), TL0 201.
	orig := vp8(2, 900, 5000, 17)
	keep := append([]byte(nil), orig.Payload...)
	p := &rtp.Packet{Header: orig.Header, Payload: orig.Payload}
	w.rewrite(p, t0.Add(time.Second))
	if pid, tl0 := read(p); pid != 1 || tl0 != 201 {
		t.Fatalf("switch: pid %d tl0 %d", pid, tl0)
	}
	if string(orig.Payload) != string(keep) {
		t.Fatal("the caller's payload was rewritten")
	}
	p = vp8(2, 901, 5001, 18)
	w.rewrite(p, t0.Add(time.Second))
	if pid, tl0 := read(p); pid != 2 || tl0 != 202 {
		t.Fatalf("after the switch: pid %d tl0 %d", pid, tl0)
	}
	p = vp8(2, 900, 5000, 17)
	if !w.mapRetransmit(p) || p.SequenceNumber != 13 {
		t.Fatalf("retransmit: seq %d", p.SequenceNumber)
	}
	if pid, tl0 := read(p); pid != 1 || tl0 != 201 {
		t.Fatalf("retransmit: pid %d tl0 %d", pid, tl0)
	}
}

// checkGoroutines fails if goroutines started by the test outlive it.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, %d before:\n%s", n, before, buf)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGapCloser(t *testing.T) {
	var g gapCloser
	// 65534, 65535 media; 0, 1 padding; 2 media; 4 padding; 3 late media; 5 media.
	steps := []struct {
		seq  uint16
		drop bool
		want uint16
	}{
		{65534, false, 65534}, {65535, false, 65535}, {0, true, 0}, {1, true, 0},
		{2, false, 0}, {4, true, 0}, {3, false, 1}, {5, false, 2},
		{65535, false, 65535}, // a retransmission maps as before
		{2, false, 0},
	}
	for i, s := range steps {
		if s.drop {
			g.drop(s.seq)
			continue
		}
		if got := g.out(s.seq); got != s.want {
			t.Fatalf("step %d: seq %d -> %d, want %d", i, s.seq, got, s.want)
		}
	}
	// Far ahead, the window forgets old drops but keeps counting them.
	if got := g.out(10000); got != 10000-3 {
		t.Fatalf("far: %d", got)
	}
	if len(g.dropped) != 0 || g.pruned != 3 {
		t.Fatalf("pruning: %v %d", g.dropped, g.pruned)
	}
}

// TestFirstOfferWait checks that a publishing page gets the first offer,
// and that the session offers by itself when the page does not.
func TestFirstOfferWait(t *testing.T) {
	api := testAPI(t)
	page := newFakePage(t)
	sess, err := NewSession(SessionConfig{API: api, ID: "P", Signal: page.signal, FirstOfferWait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	page.sess = sess
	start := time.Now()
	if _, err := sess.AddRemote("A/cam", RemoteInfo{Participant: "A", Stream: "cam", MimeType: webrtc.MimeTypeVP8}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "session offer", func() bool { return sess.Stats().OffersSent == 1 })
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("offered after %v, before the page's turn was over", d)
	}

	// With a page that offers first, the session answers, then offers.
	page2 := newFakePage(t)
	sess2, err := NewSession(SessionConfig{API: api, ID: "Q", Signal: page2.signal, FirstOfferWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sess2.Close()
	page2.sess = sess2
	if _, err := sess2.AddRemote("A/cam", RemoteInfo{Participant: "A", Stream: "cam", MimeType: webrtc.MimeTypeVP8}); err != nil {
		t.Fatal(err)
	}
	page2.addVideo()
	eventually(t, 5*time.Second, "answer, then offer", func() bool {
		st := sess2.Stats()
		return st.AnswersSent == 1 && st.OffersSent == 1 && st.SignalingState == "stable"
	})
}

// TestKeyframeAfterConnect: the keyframe for a remote stream is asked for
// once the page's transport is up, never before (RTP written before SRTP is
// up is dropped, and the publisher may then suppress the page's own PLI as
// too soon after the first request).
func TestKeyframeAfterConnect(t *testing.T) {
	api := testAPI(t)
	page := newFakePage(t)
	defer page.close()
	var reqs, early atomic.Int32
	var sess *Session
	ready := make(chan struct{})
	var err error
	sess, err = NewSession(SessionConfig{
		API: api, ID: "B", Signal: page.signal, FirstOfferWait: -1,
		OnRemoteKeyframeRequest: func(id string) {
			<-ready
			reqs.Add(1)
			if !sess.connected.Load() {
				early.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	page.sess = sess
	close(ready)
	if _, err := sess.AddRemote("A/cam", RemoteInfo{Participant: "A", Stream: "cam", MimeType: webrtc.MimeTypeVP8}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a keyframe request", func() bool { return reqs.Load() > 0 })
	if n := early.Load(); n != 0 {
		t.Fatalf("%d keyframe requests before the transport was up", n)
	}
	if !sess.connected.Load() {
		t.Fatal("not connected")
	}
}

// TestOfferAfterAnswer: the page answers the session's first offer and
// offers its camera at once; both reach the session back to back (a busy
// proxy reads them from its socket together). The session must answer
// with the ICE credentials it offered: pion, given the offer before its
// operations goroutine has handed the ICE agent the answer's credentials,
// takes it for an ICE restart and answers with new ones, which Firefox
// refuses ("Remote description indicates ICE restart but offer did not
// request ICE restart"). On one OS thread, as the proxy runs by default
// (--procs 1), pion's goroutine never gets there first: before the
// session waited for the transport, every run restarted ICE.
func TestOfferAfterAnswer(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	api := testAPI(t)
	const runs = 10
	var delayed uint64
	for i := 0; i < runs; i++ {
		page := newFakePage(t)
		sess, err := NewSession(SessionConfig{API: api, ID: "B", Signal: page.signal, FirstOfferWait: -1})
		if err != nil {
			t.Fatal(err)
		}
		page.sess = sess
		page.holdOutgoing(true)
		if _, err := sess.AddRemote("A/cam", RemoteInfo{Participant: "A", Stream: "cam", MimeType: webrtc.MimeTypeVP8}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 5*time.Second, "the page's answer", func() bool { return slices.Contains(page.heldTypes(), proto.TypeAnswer) })
		// A browser fires negotiationneeded at once; pion waits until its
		// transport is up: the fake page offers by itself.
		page.post(func() { page.addVideo(); page.negotiate() })
		eventually(t, 5*time.Second, "the page's offer", func() bool { return slices.Contains(page.heldTypes(), proto.TypeOffer) })
		page.holdOutgoing(false)
		eventually(t, 10*time.Second, "an answer to the page's offer, and a connection", func() bool {
			st := sess.Stats()
			return st.AnswersSent == 1 && st.SignalingState == "stable" && st.ConnectionState == "connected"
		})
		var ufrags []string
		for _, m := range page.descriptions() {
			d, _ := proto.DataAs[proto.SDP](m)
			u, _ := iceCredentials(d.SDP)
			ufrags = append(ufrags, u)
		}
		st := sess.Stats()
		if len(ufrags) != 2 || ufrags[0] != ufrags[1] || st.ICERestarts != 0 {
			t.Errorf("run %d: the session's offer, then answer, have ICE ufrags %v; ICE restarts %d (nobody asked for one)", i, ufrags, st.ICERestarts)
		}
		if st.NegotiationErrors != 0 {
			t.Errorf("run %d: %d negotiation errors", i, st.NegotiationErrors)
		}
		delayed += st.OffersDelayed
		_ = sess.Close()
		page.close()
	}
	t.Logf("%d of %d offers waited for the ICE transport", delayed, runs)
	if delayed == 0 {
		t.Error("no offer came before pion's transport had the credentials: the test did not test the race")
	}
}

// TestOfferWaitsForICE: while the ICE transport lags (simulated), the
// page's offer and the signals after it wait, in order, and the session
// makes no offer of its own; they go ahead once the transport has caught
// up, or after maxICEWait at the latest.
func TestOfferWaitsForICE(t *testing.T) {
	api := testAPI(t)
	page := newFakePage(t)
	sess, err := NewSession(SessionConfig{API: api, ID: "P", Signal: page.signal, FirstOfferWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	page.sess = sess
	// onLoop runs f on the session goroutine and returns after it, and
	// after the offer the loop then considers.
	onLoop := func(f func()) {
		for i := 0; i < 2; i++ {
			done := make(chan struct{})
			sess.post(func() { f(); close(done) })
			<-done
			f = func() {}
		}
	}
	page.addVideo()
	eventually(t, 10*time.Second, "the page's first offer answered, connected", func() bool {
		st := sess.Stats()
		return st.AnswersSent == 1 && st.ConnectionState == "connected"
	})

	var lag atomic.Bool
	lag.Store(true)
	onLoop(func() { sess.behind, sess.maxICEWait = lag.Load, time.Hour })
	page.post(func() { page.addVideo(); page.negotiate() })
	eventually(t, 5*time.Second, "the page's offer waiting", func() bool { return sess.Stats().OffersDelayed == 1 })
	if err := sess.HandleSignal(proto.MustSignal(proto.TypeCandidate, proto.Candidate{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"})); err != nil {
		t.Fatal(err)
	}
	if _, err := sess.AddRemote("A/cam", RemoteInfo{Participant: "A", Stream: "cam", MimeType: webrtc.MimeTypeVP8}); err != nil {
		t.Fatal(err)
	}
	var waiting int
	onLoop(func() { waiting = len(sess.waiting) })
	if st := sess.Stats(); waiting != 2 || st.AnswersSent != 1 || st.OffersSent != 0 {
		t.Fatalf("while the transport lags: %d signals waiting (want the offer and the candidate), answers %d, offers %d", waiting, st.AnswersSent, st.OffersSent)
	}

	lag.Store(false)
	sess.post(sess.resumeFromPage) // as the ICE state change would
	eventually(t, 5*time.Second, "the offer answered, then the session's own offer", func() bool {
		st := sess.Stats()
		return st.AnswersSent == 2 && st.OffersSent == 1 && st.SignalingState == "stable"
	})

	// A transport that never catches up: the offer goes ahead after the bound.
	lag.Store(true)
	onLoop(func() { sess.maxICEWait = 300 * time.Millisecond })
	start := time.Now()
	page.post(func() { page.addVideo(); page.negotiate() })
	eventually(t, 10*time.Second, "the offer answered after the bound", func() bool { return sess.Stats().AnswersSent == 3 })
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("answered after %v, before the bound", d)
	}
	if st := sess.Stats(); st.OffersDelayed != 2 || st.ICERestarts != 0 || st.NegotiationErrors != 0 {
		t.Errorf("stats %+v", st)
	}
}
