package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/peets/peets/proto"
)

// newSimulcastPage is a fake page that can send simulcast.
func newSimulcastPage(t testing.TB) *fakePage { return newFakePageWith(t, false, true) }

// simulcastVideo is a page's camera sent as one VP8 m-line with one
// encoding per rid, as a browser's addTransceiver(track, {direction:
// 'sendonly', sendEncodings: [{rid}, ...]}) does.
type simulcastVideo struct {
	x      *webrtc.RTPTransceiver
	tracks []*webrtc.TrackLocalStaticRTP // one per rid, in order

	mu   sync.Mutex
	plis map[string]int // PLIs received, by rid
}

func addSimulcastVideo(t testing.TB, p *fakePage, rids ...string) *simulcastVideo {
	t.Helper()
	v := &simulcastVideo{plis: map[string]int{}}
	for _, rid := range rids {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"v", "page", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		v.tracks = append(v.tracks, tr)
	}
	x, err := p.pc.AddTransceiverFromTrack(v.tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	v.x = x
	for _, tr := range v.tracks[1:] {
		if err := x.Sender().AddEncoding(tr); err != nil {
			t.Fatalf("AddEncoding(%s): %v", tr.RID(), err)
		}
	}
	for _, rid := range rids {
		go func() {
			for {
				pkts, _, err := x.Sender().ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				for _, k := range pkts {
					if _, ok := k.(*rtcp.PictureLossIndication); ok {
						v.mu.Lock()
						v.plis[rid]++
						v.mu.Unlock()
					}
				}
			}
		}()
	}
	return v
}

func (v *simulcastVideo) pliCount(rid string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.plis[rid]
}

// capturedLog is a log record of the session.
type capturedLog struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

type logStore struct {
	mu   sync.Mutex
	recs []capturedLog
}

func (s *logStore) find(level slog.Level, msg string) []capturedLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []capturedLog
	for _, r := range s.recs {
		if r.level == level && r.msg == msg {
			out = append(out, r)
		}
	}
	return out
}

// captureHandler records every log record of a session (never to the
// test's log: the session may log after the test returned).
type captureHandler struct {
	store *logStore
	attrs []slog.Attr
}

func (h captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h captureHandler) Handle(_ context.Context, r slog.Record) error {
	c := capturedLog{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		c.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		c.attrs[a.Key] = a.Value.String()
		return true
	})
	h.store.mu.Lock()
	h.store.recs = append(h.store.recs, c)
	h.store.mu.Unlock()
	return nil
}

func (h captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return captureHandler{store: h.store, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h captureHandler) WithGroup(string) slog.Handler { return h }

// layerRTP is what OnLocalRTP saw of one stream.
type layerRTP struct {
	packets   int
	ssrcs     map[uint32]bool
	badSSRC   int      // packets whose SSRC is not the stream's
	badRID    []string // rid header extensions that are not the stream's
	keyframes int
}

// TestSimulcastRIDs: a page sends its camera as simulcast with three
// encodings, "l" and "h" (valid rids) and "h_1" (valid in SDP's rid
// grammar, not in ours). The session publishes the two valid layers as
// streams cam.l and cam.h with their packets, ignores h_1 (reported
// nowhere, logged), and keeps working: packets keep flowing, keyframe
// requests reach the right encoding, and a later renegotiation (the session
// adds a remote track) succeeds.
func TestSimulcastRIDs(t *testing.T) {
	before := runtime.NumGoroutine()
	const badRID = "h_1"
	if validRID(badRID) {
		t.Fatalf("%q is a valid rid: the test needs one the session refuses", badRID)
	}
	api := testAPI(t)
	page := newSimulcastPage(t)
	logs := &logStore{}

	var (
		mu      sync.Mutex
		streams []LocalStream            // OnLocalStream, in order
		ended   []LocalStream            // OnLocalStreamEnd
		rtpSeen = map[string]*layerRTP{} // OnLocalRTP, by stream id
		ridExt  atomic.Uint32            // the rid header extension's id
	)
	sess, err := NewSession(SessionConfig{
		API: api, ID: "S", Signal: page.signal,
		Logger: slog.New(captureHandler{store: logs}),
		OnLocalStream: func(ls LocalStream) {
			mu.Lock()
			streams = append(streams, ls)
			mu.Unlock()
		},
		OnLocalStreamEnd: func(ls LocalStream) {
			mu.Lock()
			ended = append(ended, ls)
			mu.Unlock()
		},
		OnLocalRTP: func(ls LocalStream, pkt []byte, key bool) {
			var h rtp.Header
			_, herr := h.Unmarshal(pkt)
			mu.Lock()
			defer mu.Unlock()
			l := rtpSeen[ls.ID]
			if l == nil {
				l = &layerRTP{ssrcs: map[uint32]bool{}}
				rtpSeen[ls.ID] = l
			}
			l.packets++
			if key {
				l.keyframes++
			}
			if herr != nil {
				l.badRID = append(l.badRID, "unparsable packet")
				return
			}
			l.ssrcs[h.SSRC] = true
			if h.SSRC != ls.SSRC {
				l.badSSRC++
			}
			if id := ridExt.Load(); id != 0 {
				if rid := string(h.GetExtension(uint8(id))); rid != ls.RID {
					l.badRID = append(l.badRID, rid)
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	page.sess = sess

	video := addSimulcastVideo(t, page, "l", "h", badRID)
	eventually(t, 10*time.Second, "page connected", func() bool {
		return page.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})

	// What the page negotiated: the m-line's mid, the ids of the mid and
	// rid header extensions (a browser puts both in every packet of a
	// simulcast encoding), each encoding's SSRC.
	mid := video.x.Mid()
	params := video.x.Sender().GetParameters()
	var midID, ridID uint8
	for _, e := range params.HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	if mid == "" || midID == 0 || ridID == 0 {
		t.Fatalf("page negotiated mid %q, mid extension %d, rid extension %d", mid, midID, ridID)
	}
	pageSSRC := map[string]uint32{}
	for _, e := range params.Encodings {
		pageSSRC[e.RID] = uint32(e.SSRC)
	}
	if len(pageSSRC) != 3 {
		t.Fatalf("page encodings %+v", params.Encodings)
	}
	ridExt.Store(uint32(ridID))

	// ~50 packets a second on each encoding, a keyframe every half second.
	stopSend := make(chan struct{})
	sent := make(chan struct{})
	var writeErrs atomic.Int32
	go func() {
		defer close(sent)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		seq, ts := uint16(1), uint32(0)
		for i := 0; ; i++ {
			select {
			case <-stopSend:
				return
			case <-tick.C:
			}
			for _, tr := range video.tracks {
				p := vp8Packet(seq, ts, i%25 == 0)
				if p.Header.SetExtension(midID, []byte(mid)) != nil || p.Header.SetExtension(ridID, []byte(tr.RID())) != nil {
					writeErrs.Add(1)
					continue
				}
				if err := tr.WriteRTP(p); err != nil {
					writeErrs.Add(1)
				}
			}
			seq++
			ts += 1800
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(stopSend)
			<-sent
		}
	}
	defer stop()

	count := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		if l := rtpSeen[id]; l != nil {
			return l.packets
		}
		return 0
	}
	idL, idH := proto.LayerID(StreamCam, "l"), proto.LayerID(StreamCam, "h")
	refused := func() []capturedLog {
		var out []capturedLog
		for _, r := range logs.find(slog.LevelWarn, "page stream with a bad rid: ignored") {
			if r.attrs["rid"] == badRID {
				out = append(out, r)
			}
		}
		return out
	}
	// state describes what the session reported so far, for failures.
	state := func() string {
		mu.Lock()
		defer mu.Unlock()
		var ids []string
		for _, ls := range streams {
			ids = append(ids, ls.ID)
		}
		counts := map[string]int{}
		for id, l := range rtpSeen {
			counts[id] = l.packets
		}
		return fmt.Sprintf("OnLocalStream %q, OnLocalRTP packets %v, %s refused %d times",
			ids, counts, badRID, len(refused()))
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out after 10s waiting for %s: %s", what, state())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// The session got all three encodings: packets of both valid layers,
	// and the bad one (pion handed it over as a track: it did reach the
	// session, which refused it, or reported it).
	waitFor("packets of both valid layers", func() bool { return count(idL) >= 10 && count(idH) >= 10 })
	waitFor("the session to see "+badRID, func() bool {
		if len(refused()) > 0 {
			return true
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ls := range streams {
			if ls.RID == badRID {
				return true
			}
		}
		return false
	})

	// The rest keeps working: more packets of both layers after h_1 was
	// refused.
	nL, nH := count(idL), count(idH)
	waitFor("more packets of both layers", func() bool {
		return count(idL) >= nL+20 && count(idH) >= nH+20
	})

	// Keyframe requests reach the encoding of the layer asked for.
	if err := sess.RequestLocalKeyframe(idH); err != nil {
		t.Fatalf("RequestLocalKeyframe(%s): %v", idH, err)
	}
	eventually(t, 10*time.Second, "PLI on the page's h encoding", func() bool { return video.pliCount("h") > 0 })
	if err := sess.RequestLocalKeyframe(idL); err != nil {
		t.Fatalf("RequestLocalKeyframe(%s): %v", idL, err)
	}
	eventually(t, 10*time.Second, "PLI on the page's l encoding", func() bool { return video.pliCount("l") > 0 })
	if err := sess.RequestLocalKeyframe(proto.LayerID(StreamCam, badRID)); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("RequestLocalKeyframe(%s): %v, want ErrUnknownStream", proto.LayerID(StreamCam, badRID), err)
	}

	// A renegotiation after the refusal: the session offers a remote
	// track, the page answers, and the layers keep flowing.
	if _, err := sess.AddRemote("A/cam", RemoteInfo{Participant: "A", Stream: "cam", MimeType: webrtc.MimeTypeVP8}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "renegotiation for a remote track", func() bool {
		st := sess.Stats()
		if st.OffersSent < 1 || st.SignalingState != webrtc.SignalingStateStable.String() {
			return false
		}
		for _, tr := range page.trackMap() {
			if tr.Participant == "A" && tr.Stream == "cam" {
				return true
			}
		}
		return false
	})
	nL, nH = count(idL), count(idH)
	waitFor("packets of both layers after the renegotiation", func() bool {
		return count(idL) >= nL+20 && count(idH) >= nH+20
	})

	// The session is alive and well.
	select {
	case <-sess.Done():
		t.Fatalf("session ended: %v", sess.Err())
	default:
	}
	if err := sess.Err(); err != nil {
		t.Fatalf("session error: %v", err)
	}
	st := sess.Stats()
	if st.NegotiationErrors != 0 || st.ConnectionState != webrtc.PeerConnectionStateConnected.String() {
		t.Errorf("stats: negotiation errors %d, connection %s", st.NegotiationErrors, st.ConnectionState)
	}
	var ids []string
	for _, ls := range sess.LocalStreams() {
		ids = append(ids, ls.ID)
	}
	if want := []string{idH, idL}; !slices.Equal(ids, want) {
		t.Errorf("LocalStreams %v, want %v", ids, want)
	}
	if n := writeErrs.Load(); n != 0 {
		t.Errorf("%d packets the page could not write", n)
	}

	// Exactly the two valid layers were reported, each once, as layers of
	// one group, with the page's SSRC for that rid.
	mu.Lock()
	got := append([]LocalStream(nil), streams...)
	mu.Unlock()
	if len(got) != 2 {
		t.Errorf("OnLocalStream reported %d streams, want 2: %+v", len(got), got)
	}
	byRID := map[string]LocalStream{}
	for _, ls := range got {
		byRID[ls.RID] = ls
	}
	for _, rid := range []string{"l", "h"} {
		ls, ok := byRID[rid]
		if !ok {
			t.Errorf("no stream reported for rid %q: %+v", rid, got)
			continue
		}
		if want := proto.LayerID(ls.Group, rid); ls.ID != want {
			t.Errorf("rid %s: id %q, want %q", rid, ls.ID, want)
		}
		if ls.Group != StreamCam || ls.Kind != proto.KindVideo || ls.Mid != mid || ls.MimeType != webrtc.MimeTypeVP8 {
			t.Errorf("rid %s: %+v (want group %s, kind video, mid %s, VP8)", rid, ls, StreamCam, mid)
		}
		if ls.SSRC != pageSSRC[rid] {
			t.Errorf("rid %s: SSRC %d, the page's encoding has %d", rid, ls.SSRC, pageSSRC[rid])
		}
	}
	if byRID["l"].Group != byRID["h"].Group {
		t.Errorf("groups differ: %q, %q", byRID["l"].Group, byRID["h"].Group)
	}

	// The packets of each layer are that layer's: its SSRC and its rid in
	// every packet, keyframes seen.
	mu.Lock()
	for id, l := range rtpSeen {
		if id != idL && id != idH {
			t.Errorf("OnLocalRTP got %d packets of stream %q", l.packets, id)
			continue
		}
		if l.badSSRC != 0 || len(l.badRID) != 0 || len(l.ssrcs) != 1 {
			t.Errorf("stream %s: %d packets with another SSRC (SSRCs %v), other rids %q", id, l.badSSRC, l.ssrcs, l.badRID[:min(len(l.badRID), 5)])
		}
		if l.ssrcs[pageSSRC[badRID]] {
			t.Errorf("stream %s carries the refused encoding's packets", id)
		}
		if l.keyframes == 0 {
			t.Errorf("stream %s: no keyframe among %d packets", id, l.packets)
		}
	}
	mu.Unlock()

	// h_1 was refused once, and is nowhere else.
	if n := video.pliCount(badRID); n != 0 {
		t.Errorf("%d PLIs for the refused encoding", n)
	}
	if r := refused(); len(r) != 1 || r[0].attrs["mid"] != mid {
		t.Errorf("refusal logs for %s: %+v, want one with mid %s", badRID, r, mid)
	}

	stop()
	_ = sess.Close()
	page.close()
	if r := logs.find(slog.LevelWarn, "session goroutines still running after close"); len(r) != 0 {
		t.Errorf("session goroutines outlived Close")
	}
	mu.Lock()
	var endedIDs []string
	for _, ls := range ended {
		endedIDs = append(endedIDs, ls.ID)
	}
	mu.Unlock()
	slices.Sort(endedIDs)
	if want := []string{idH, idL}; !slices.Equal(endedIDs, want) {
		t.Errorf("OnLocalStreamEnd for %v, want %v", endedIDs, want)
	}
	checkGoroutines(t, before)
}
