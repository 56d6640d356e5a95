package bridge

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/peets/peets/proto"
)

// fakePage is a pion PeerConnection playing the browser: the polite peer
// of perfect negotiation, on loopback, with no interceptors (so that the
// test sees the raw RTCP it sends and receives; newFakePageWith can add
// the one that numbers packets for transport-cc).
type fakePage struct {
	t    testing.TB
	pc   *webrtc.PeerConnection
	sess *Session

	in   chan proto.Message // from the session
	ops  chan func()
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	paused   bool
	held     []proto.Message
	holdOut  bool                   // hold what the page sends (holdOutgoing)
	out      []proto.Message        // held outgoing messages
	descs    []proto.Message        // offers and answers from the session, in order
	tracks   map[string]proto.Track // by mid
	errors   []proto.Error
	received map[string][]*rtp.Packet // by mid
	remote   map[string]*webrtc.TrackRemote
	plis     int
	twccs    int // transport-cc feedback packets received
	nTracks  int
}

func newFakePage(t testing.TB) *fakePage { return newFakePageWith(t, false, false) }

// newFakePageWith: with twcc, the page's packets carry transport-wide
// sequence numbers (as a browser's do), so the session sends transport-cc
// feedback; with simulcast, it negotiates the header extensions a browser
// sends simulcast with: mid, rtp-stream-id (rid) and
// repaired-rtp-stream-id, for video.
func newFakePageWith(t testing.TB, twcc, simulcast bool) *fakePage {
	t.Helper()
	m := &webrtc.MediaEngine{}
	for _, c := range DefaultCodecs() {
		if err := m.RegisterCodec(c, codecKind(c.MimeType)); err != nil {
			t.Fatal(err)
		}
	}
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	m.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	if simulcast {
		for _, uri := range []string{sdp.SDESMidURI, sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
				t.Fatal(err)
			}
		}
	}
	ir := &interceptor.Registry{}
	if twcc {
		if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, ir); err != nil {
			t.Fatal(err)
		}
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(LoopbackSettingEngine()))
	pc, err := api.NewPeerConnection(webrtc.Configuration{BundlePolicy: webrtc.BundlePolicyMaxBundle})
	if err != nil {
		t.Fatal(err)
	}
	p := &fakePage{
		t: t, pc: pc,
		in:       make(chan proto.Message, 1024),
		ops:      make(chan func(), 1024),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		tracks:   map[string]proto.Track{},
		received: map[string][]*rtp.Packet{},
		remote:   map[string]*webrtc.TrackRemote{},
	}
	pc.OnNegotiationNeeded(func() { p.post(p.negotiate) })
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		p.post(func() {
			p.send(proto.MustSignal(proto.TypeCandidate, proto.Candidate{
				Candidate: init.Candidate, SDPMid: init.SDPMid, SDPMLineIndex: init.SDPMLineIndex,
			}))
		})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
		mid := ""
		for _, x := range pc.GetTransceivers() {
			if x.Receiver() == r {
				mid = x.Mid()
			}
		}
		p.mu.Lock()
		p.remote[mid] = tr
		p.nTracks++
		p.mu.Unlock()
		go func() {
			for {
				pkt, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				p.mu.Lock()
				p.received[mid] = append(p.received[mid], pkt)
				p.mu.Unlock()
			}
		}()
	})
	go p.loop()
	t.Cleanup(p.close)
	return p
}

func (p *fakePage) post(op func()) {
	select {
	case p.ops <- op:
	case <-p.stop:
	}
}

// signal is the session's SessionConfig.Signal.
func (p *fakePage) signal(m proto.Message) {
	select {
	case p.in <- m:
	default:
		p.t.Errorf("fake page: inbound queue full")
	}
}

func (p *fakePage) send(m proto.Message) {
	p.mu.Lock()
	if p.holdOut {
		p.out = append(p.out, m)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if p.sess == nil {
		return
	}
	if err := p.sess.HandleSignal(m); err != nil {
		p.t.Logf("fake page: HandleSignal: %v", err)
	}
}

// pause stops (on) or resumes the handling of the session's messages; it
// returns once the loop has done so.
func (p *fakePage) pause(on bool) {
	done := make(chan struct{})
	defer func() {
		select {
		case <-done:
		case <-p.stop:
		}
	}()
	p.post(func() {
		defer close(done)
		p.paused = on
		if !on {
			held := p.held
			p.held = nil
			for _, m := range held {
				p.handle(m)
			}
		}
	})
}

func (p *fakePage) loop() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case op := <-p.ops:
			op()
		case m := <-p.in:
			if p.paused {
				p.held = append(p.held, m)
				continue
			}
			p.handle(m)
		}
	}
}

func (p *fakePage) negotiate() {
	if p.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	offer, err := p.pc.CreateOffer(nil)
	if err != nil {
		p.failed("create offer", err)
		return
	}
	if err := p.pc.SetLocalDescription(offer); err != nil {
		p.failed("set local offer", err)
		return
	}
	p.send(proto.MustSignal(proto.TypeOffer, proto.SDP{SDP: p.pc.LocalDescription().SDP}))
}

// holdOutgoing holds (on) what the page sends to its session, or sends
// what it held, back to back, and stops holding.
func (p *fakePage) holdOutgoing(on bool) {
	p.mu.Lock()
	p.holdOut = on
	out := p.out
	p.out = nil
	p.mu.Unlock()
	for _, m := range out {
		p.send(m)
	}
}

// heldTypes returns the types of the messages held by holdOutgoing.
func (p *fakePage) heldTypes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var l []string
	for _, m := range p.out {
		l = append(l, m.Type)
	}
	return l
}

// descriptions returns the offers and answers the session sent so far.
func (p *fakePage) descriptions() []proto.Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]proto.Message(nil), p.descs...)
}

// failed reports an error of the page's PeerConnection to the test, unless
// the connection is closed: pion closes it when the session's DTLS says
// goodbye (a test that ends closes its session before its page), and a
// description still queued then fails for that reason alone.
func (p *fakePage) failed(what string, err error) {
	if errors.Is(err, webrtc.ErrConnectionClosed) {
		p.t.Logf("fake page: %s after the connection closed: %v", what, err)
		return
	}
	p.t.Errorf("fake page: %s: %v", what, err)
}

func (p *fakePage) handle(m proto.Message) {
	if m.Type == proto.TypeOffer || m.Type == proto.TypeAnswer {
		p.mu.Lock()
		p.descs = append(p.descs, m)
		p.mu.Unlock()
	}
	switch m.Type {
	case proto.TypeOffer:
		d, _ := proto.DataAs[proto.SDP](m)
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: d.SDP}); err != nil {
			p.failed("set remote offer", err)
			return
		}
		answer, err := p.pc.CreateAnswer(nil)
		if err != nil {
			p.failed("create answer", err)
			return
		}
		if err := p.pc.SetLocalDescription(answer); err != nil {
			p.failed("set local answer", err)
			return
		}
		p.send(proto.MustSignal(proto.TypeAnswer, proto.SDP{SDP: p.pc.LocalDescription().SDP}))
	case proto.TypeAnswer:
		d, _ := proto.DataAs[proto.SDP](m)
		if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: d.SDP}); err != nil {
			p.failed("set remote answer", err)
		}
	case proto.TypeCandidate:
		c, _ := proto.DataAs[proto.Candidate](m)
		_ = p.pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
	case proto.TypeTracks:
		tr, _ := proto.DataAs[proto.Tracks](m)
		p.mu.Lock()
		p.tracks = map[string]proto.Track{}
		for _, x := range tr.Tracks {
			p.tracks[x.Mid] = x
		}
		p.mu.Unlock()
	case proto.TypeError:
		e, _ := proto.DataAs[proto.Error](m)
		p.mu.Lock()
		p.errors = append(p.errors, e)
		p.mu.Unlock()
	}
}

// addVideo adds a sendonly VP8 track and counts the PLIs the session sends
// about it.
func (p *fakePage) addVideo() *webrtc.TrackLocalStaticRTP {
	p.t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "v", "page")
	if err != nil {
		p.t.Fatal(err)
	}
	x, err := p.pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		p.t.Fatal(err)
	}
	go func() {
		for {
			pkts, _, err := x.Sender().ReadRTCP()
			if err != nil {
				return
			}
			for _, k := range pkts {
				p.mu.Lock()
				switch k.(type) {
				case *rtcp.PictureLossIndication:
					p.plis++
				case *rtcp.TransportLayerCC:
					p.twccs++
				}
				p.mu.Unlock()
			}
		}
	}()
	return tr
}

// writeRTCP sends RTCP about the remote track on mid.
func (p *fakePage) remoteSSRC(mid string) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if tr := p.remote[mid]; tr != nil {
		return uint32(tr.SSRC())
	}
	return 0
}

func (p *fakePage) packets(mid string) []*rtp.Packet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*rtp.Packet(nil), p.received[mid]...)
}

func (p *fakePage) trackMap() map[string]proto.Track {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]proto.Track, len(p.tracks))
	for k, v := range p.tracks {
		m[k] = v
	}
	return m
}

func (p *fakePage) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	<-p.done
	_ = p.pc.Close()
}

// vp8Packet is a minimal VP8 RTP packet; key makes it a keyframe start.
func vp8Packet(seq uint16, ts uint32, key bool) *rtp.Packet {
	payload := []byte{0x10, 0x11, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 0, 0, 0, 0}
	if key {
		payload[1] = 0x10
	}
	return &rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 1234, Marker: true},
		Payload: payload,
	}
}

// eventually polls cond every 20 ms for at most d.
func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
