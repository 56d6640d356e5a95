package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/peets/peets/proto"
)

// Session defaults.
const (
	DefaultAnswerTimeout  = 10 * time.Second
	DefaultMinPLIInterval = 200 * time.Millisecond
	DefaultMaxQueue       = 256
	DefaultFirstOfferWait = 2 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	closeWait             = 5 * time.Second
	maxNegotiationErrors  = 5
)

// SessionConfig configures a Session. API and Signal are required; every
// callback is optional and must not block (each runs on a goroutine that
// also moves media).
type SessionConfig struct {
	// API is the shared pion API (NewAPI).
	API *API
	// ID names the page in logs and stats (its user id).
	ID string
	// Role is proto.RoleParticipant (the default), RoleViewer (publishes
	// nothing) or RoleBroadcaster (receives nothing).
	Role string
	// ICEServers for the PeerConnection; none are needed on loopback.
	ICEServers []webrtc.ICEServer

	// Signal sends a message to the page: offer, answer, candidate,
	// tracks, error. It is called from the session goroutine only, in
	// order, and must not block (queue the message).
	Signal func(proto.Message)

	// OnLocalStream reports a stream the page started sending.
	OnLocalStream func(LocalStream)
	// OnLocalStreamEnd reports that it ended (the connection closed).
	OnLocalStreamEnd func(LocalStream)
	// OnLocalRTP receives every RTP packet of the page's streams, byte for
	// byte as the page sent it, except that padding-only packets (the
	// browser's bandwidth probes) are dropped and the sequence numbers
	// closed up over them.
	// keyframe reports whether it is the first packet of a keyframe
	// (codec.IsKeyframe). pkt is valid only during the call.
	OnLocalRTP func(stream LocalStream, pkt []byte, keyframe bool)
	// OnRemoteKeyframeRequest asks for a keyframe of a remote stream: the
	// page sent a PLI or FIR for it, or just started receiving it.
	OnRemoteKeyframeRequest func(remoteID string)
	// LookupRemote answers the page's NACKs: it returns the remote
	// stream's RTP packet with the given (source) sequence number, or nil.
	// The bridge reads the slice during the call and does not keep it.
	LookupRemote func(remoteID string, seq uint16) []byte
	// OnClose is called once when the session ends, with nil after Close
	// or the reason (ErrConnectionFailed, ErrNegotiationTimeout...).
	OnClose func(err error)

	// AnswerTimeout bounds the wait for the page's answer to an offer
	// (default 10 s); the session fails when it expires.
	AnswerTimeout time.Duration
	// MinPLIInterval rate-limits RequestLocalKeyframe per stream
	// (default 200 ms).
	MinPLIInterval time.Duration
	// FirstOfferWait is how long a publishing page (participant,
	// broadcaster) gets to make the first offer itself, with its camera
	// and microphone, before the session offers remote tracks (default
	// 2 s; negative: no wait; viewers never offer, so the session offers
	// at once). Letting
	// the page go first avoids a collision at the very first negotiation,
	// where Chromium's rollback is weakest.
	FirstOfferWait time.Duration
	// ConnectTimeout bounds the wait for the media connection once the
	// first offer and answer have been exchanged (default 10 s): a
	// connection still not up then ends the session with
	// ErrConnectTimeout, and the page starts over with a new one. The
	// page is next to its proxy, where ICE takes milliseconds; a
	// connection that never comes up was seen about once in fifty calls
	// on a loaded machine, after a collision of the first offers.
	ConnectTimeout time.Duration
	// MaxQueue bounds the signaling messages waiting to be handled
	// (default 256); HandleSignal returns ErrBusy beyond.
	MaxQueue int
	// Logger; slog.Default() if nil.
	Logger *slog.Logger
}

// Session is one page's peer connection. All negotiation runs on one
// goroutine (run), fed by a queue of operations; media moves on one
// goroutine per track.
type Session struct {
	cfg    SessionConfig
	log    *slog.Logger
	pc     *webrtc.PeerConnection
	gate   *rtcpGate // closed before pc
	ctx    context.Context
	cancel context.CancelFunc

	qmu   sync.Mutex
	queue []func()
	wake  chan struct{}

	// Owned by the run goroutine.
	needOffer      bool
	ignoreOffer    bool
	answerDeadline time.Time
	negErrors      int
	negotiated     bool
	connectBy      time.Time // set at the first negotiation (see ConnectTimeout)
	firstOfferAt   time.Time
	prefsSet       map[*webrtc.RTPTransceiver]bool
	lastUfrag      string // of the last description sent
	// Candidates, for the log of a connection that never came up: sent
	// to the page, added from it, refused (and the last refusal).
	candSent, candAdded, candRefused int
	candErr                          error
	// waiting holds the page's offer and the page's signals after it
	// while the ICE transport catches up (ice.go), since iceWaitSince.
	waiting      []func()
	iceWaitSince time.Time
	nWaiting     atomic.Int32  // len(waiting), for postExternal's bound
	behind       func() bool   // iceBehind (tests simulate a slow transport)
	maxICEWait   time.Duration // maxICEWait (tests shorten it)

	// connected is set once the page's transport first connected: RTP
	// written to the page before that is dropped, so keyframes for the
	// remote tracks are asked for from then on (see keyframesOnConnect).
	connected atomic.Bool

	mu       sync.Mutex // guards the fields below
	closed   bool
	remotes  map[string]*RemoteTrack
	slots    []*slot
	nextSlot int
	locals   map[string]*localStream // by stream id
	midNames map[string]string       // mid -> stream id of the page's streams
	kinds    map[string]int          // streams per kind, for naming

	wg        sync.WaitGroup // run and the per-track goroutines
	closeOnce sync.Once
	done      chan struct{}
	closeErr  error

	st stats
}

type stats struct {
	offersSent, answersSent, offersIgnored, negotiationErrors atomic.Uint64
	offersDelayed, iceRestarts                                atomic.Uint64
	localPackets, localBytes, localKeyframes, localBad        atomic.Uint64
	localPadding, localPaddingBytes                           atomic.Uint64
	remotePackets, remoteBytes, remoteDropped                 atomic.Uint64
	nacks, retransmits, retransmitMisses                      atomic.Uint64
	plisFromPage, plisToPage, keyframeRequests                atomic.Uint64
}

// NewSession makes the PeerConnection of one page and starts its
// negotiation goroutine. Nothing is sent to the page until there is
// something to negotiate: the page offers its camera and microphone, the
// session offers remote tracks added with AddRemote.
func NewSession(cfg SessionConfig) (*Session, error) {
	if cfg.API == nil || cfg.Signal == nil {
		return nil, fmt.Errorf("%w: API and Signal are required", ErrConfig)
	}
	if cfg.Role == "" {
		cfg.Role = proto.RoleParticipant
	}
	if !proto.ValidRole(cfg.Role) {
		return nil, fmt.Errorf("%w: role %q", ErrConfig, cfg.Role)
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = DefaultAnswerTimeout
	}
	if cfg.MinPLIInterval <= 0 {
		cfg.MinPLIInterval = DefaultMinPLIInterval
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.FirstOfferWait == 0 {
		cfg.FirstOfferWait = DefaultFirstOfferWait
	}
	if cfg.Role == proto.RoleViewer || cfg.FirstOfferWait < 0 {
		cfg.FirstOfferWait = 0
	}
	gate := &rtcpGate{}
	pc, err := cfg.API.newPeerConnection(gate, webrtc.Configuration{
		ICEServers:    cfg.ICEServers,
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, fmt.Errorf("bridge: new peer connection: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		cfg:      cfg,
		log:      orDefault(cfg.Logger).With("page", cfg.ID),
		pc:       pc,
		gate:     gate,
		ctx:      ctx,
		cancel:   cancel,
		wake:     make(chan struct{}, 1),
		prefsSet: make(map[*webrtc.RTPTransceiver]bool),
		remotes:  make(map[string]*RemoteTrack),
		locals:   make(map[string]*localStream),
		midNames: make(map[string]string),
		kinds:    make(map[string]int),
		done:     make(chan struct{}),
	}
	s.firstOfferAt = time.Now().Add(cfg.FirstOfferWait)
	s.behind, s.maxICEWait = s.iceBehind, maxICEWait
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		init := c.ToJSON()
		s.post(func() {
			s.candSent++
			s.signal(proto.TypeCandidate, proto.Candidate{
				Candidate:        init.Candidate,
				SDPMid:           init.SDPMid,
				SDPMLineIndex:    init.SDPMLineIndex,
				UsernameFragment: init.UsernameFragment,
			})
		})
	})
	pc.OnTrack(s.onTrack)
	// The ICE transport took the remote credentials ("checking" comes
	// after): a page offer waiting for it may go ahead.
	pc.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		s.log.Debug("ICE connection state", "state", st.String())
		s.post(s.resumeFromPage)
	})
	began := time.Now()
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateFailed:
			s.log.Info("media connection failed")
			go s.close(ErrConnectionFailed)
		case webrtc.PeerConnectionStateConnected:
			if !s.connected.Swap(true) {
				s.log.Info("media connected", "after", time.Since(began).Round(time.Millisecond))
				s.post(s.keyframesOnConnect)
			} else {
				s.log.Info("media connected again")
			}
		case webrtc.PeerConnectionStateDisconnected:
			s.log.Info("media connection interrupted")
		default:
			s.log.Debug("connection state", "state", st.String())
		}
	})
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// ID returns the session's page id.
func (s *Session) ID() string { return s.cfg.ID }

// Role returns the session's role.
func (s *Session) Role() string { return s.cfg.Role }

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended (nil while it runs or after Close).
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.closeErr
	default:
		return nil
	}
}

// HandleSignal takes an offer, answer or candidate from the page. It only
// queues the message: errors of the negotiation itself are logged and
// reported to the page with an error message. It returns ErrClosed,
// ErrBusy (queue full), or ErrUnexpectedSignal for other types.
func (s *Session) HandleSignal(m proto.Message) error {
	switch m.Type {
	case proto.TypeOffer, proto.TypeAnswer:
		d, err := proto.DataAs[proto.SDP](m)
		if err != nil || d.SDP == "" {
			return fmt.Errorf("%w: %s without sdp", ErrUnexpectedSignal, m.Type)
		}
		typ := m.Type
		return s.postExternal(func() { s.fromPage(func() { s.handleDescription(typ, d.SDP) }) })
	case proto.TypeCandidate:
		c, err := proto.DataAs[proto.Candidate](m)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrUnexpectedSignal, err)
		}
		return s.postExternal(func() { s.fromPage(func() { s.handleCandidate(c) }) })
	}
	return fmt.Errorf("%w: %q", ErrUnexpectedSignal, m.Type)
}

// Close ends the session: it closes the PeerConnection and waits (at most a
// few seconds) for the session's goroutines. It must not be called from
// one of the session's callbacks.
func (s *Session) Close() error {
	s.close(nil)
	return nil
}

func (s *Session) close(cause error) {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.closed = true
		remotes := s.remotes
		s.remotes = map[string]*RemoteTrack{}
		s.mu.Unlock()
		for _, rt := range remotes {
			rt.closed.Store(true)
		}
		s.cancel()
		s.gate.close() // no RTCP once the transport starts closing
		if err := s.pc.Close(); err != nil {
			s.log.Debug("close peer connection", "err", err)
		}
		waited := make(chan struct{})
		go func() { s.wg.Wait(); close(waited) }()
		select {
		case <-waited:
		case <-time.After(closeWait):
			s.log.Warn("session goroutines still running after close")
		}
		if cause != nil {
			s.log.Info("session ended", "err", cause)
		}
		s.closeErr = cause
		close(s.done)
	})
	if first && s.cfg.OnClose != nil {
		s.cfg.OnClose(cause)
	}
	<-s.done
}

// post queues an internal operation; it never blocks.
func (s *Session) post(op func()) {
	s.qmu.Lock()
	s.queue = append(s.queue, op)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// postExternal queues an operation on behalf of the page, bounded.
func (s *Session) postExternal(op func()) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	s.qmu.Lock()
	if len(s.queue)+int(s.nWaiting.Load()) >= s.cfg.MaxQueue {
		s.qmu.Unlock()
		return ErrBusy
	}
	s.queue = append(s.queue, op)
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

func (s *Session) pop() func() {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if len(s.queue) == 0 {
		return nil
	}
	op := s.queue[0]
	s.queue[0] = nil
	s.queue = s.queue[1:]
	return op
}

// run is the session goroutine: it runs queued operations one at a time,
// then starts an offer when one is needed and the signaling state allows.
func (s *Session) run() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for op := s.pop(); op != nil; op = s.pop() {
			if s.ctx.Err() != nil {
				return
			}
			op()
		}
		if s.ctx.Err() != nil {
			return
		}
		s.maybeOffer()
		s.nWaiting.Store(int32(len(s.waiting)))
		var (
			deadline <-chan time.Time
			next     time.Time
		)
		for _, t := range []time.Time{s.answerDeadline, s.iceWaitDeadline(), s.firstOfferDeadline(), s.connectDeadline()} {
			if !t.IsZero() && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
		if !next.IsZero() {
			timer.Reset(time.Until(next))
			deadline = timer.C
		}
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		case <-deadline:
			if !s.answerDeadline.IsZero() && !time.Now().Before(s.answerDeadline) {
				s.onAnswerTimeout()
			}
			if t := s.connectDeadline(); !t.IsZero() && !time.Now().Before(t) {
				s.onConnectTimeout()
			}
			s.resumeFromPage()
		}
	}
}

func (s *Session) signal(typ string, data any) {
	m, err := proto.NewSignal(typ, data)
	if err != nil {
		s.log.Error("encode signal", "type", typ, "err", err)
		return
	}
	s.cfg.Signal(m)
}

// negotiationError reports a failed negotiation step to the log and the
// page; too many in a row end the session.
func (s *Session) negotiationError(step string, err error) {
	s.st.negotiationErrors.Add(1)
	s.negErrors++
	s.log.Warn("negotiation", "step", step, "err", err)
	s.cfg.Signal(proto.ErrorSignal(proto.CodeNegotiation, step+": "+err.Error(), step))
	if s.negErrors >= maxNegotiationErrors {
		go s.close(fmt.Errorf("bridge: %d negotiation errors in a row, last: %w", s.negErrors, err))
	}
}

// maybeOffer starts an offer when tracks changed and the connection is in
// the stable state (perfect negotiation: the bridge is the impolite peer,
// and never offers while an exchange is under way).
func (s *Session) maybeOffer() {
	if !s.needOffer || s.pc.SignalingState() != webrtc.SignalingStateStable || s.waitingFirstOffer() || len(s.waiting) > 0 {
		return
	}
	s.needOffer = false
	offer, err := s.pc.CreateOffer(nil)
	if err == nil {
		err = s.pc.SetLocalDescription(offer)
	}
	if err != nil {
		s.needOffer = true // retried on the next event; errors add up to a failure
		s.negotiationError("offer", err)
		return
	}
	s.sendTracks()
	s.sendDescription(proto.TypeOffer)
	s.st.offersSent.Add(1)
	s.answerDeadline = time.Now().Add(s.cfg.AnswerTimeout)
}

// firstOfferDeadline is when the session offers if the page has not, or
// zero.
func (s *Session) firstOfferDeadline() time.Time {
	if s.waitingFirstOffer() {
		return s.firstOfferAt
	}
	return time.Time{}
}

// waitingFirstOffer reports whether the session leaves the first offer to
// the page for now.
func (s *Session) waitingFirstOffer() bool {
	return s.needOffer && !s.negotiated && time.Now().Before(s.firstOfferAt)
}

// onAnswerTimeout ends a session whose page does not answer: the
// signaling channel is reliable, so the page is broken (and pion cannot
// roll a local offer back to try again).
func (s *Session) onAnswerTimeout() {
	s.answerDeadline = time.Time{}
	if s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return
	}
	s.log.Warn("no answer to offer", "timeout", s.cfg.AnswerTimeout)
	go s.close(ErrNegotiationTimeout)
}

// negotiatedNow records a completed offer/answer exchange; the first one
// starts the wait for the media connection.
func (s *Session) negotiatedNow() {
	s.negotiated = true
	s.negErrors = 0
	if s.connectBy.IsZero() {
		s.connectBy = time.Now().Add(s.cfg.ConnectTimeout)
	}
}

// connectDeadline is when the session gives up on a media connection
// that never came up, or zero.
func (s *Session) connectDeadline() time.Time {
	if s.connected.Load() {
		return time.Time{}
	}
	return s.connectBy
}

// onConnectTimeout ends a session whose media connection did not come up
// within ConnectTimeout of the first negotiation; the page starts over.
func (s *Session) onConnectTimeout() {
	s.connectBy = time.Time{}
	s.log.Warn("media did not connect: ending the session, the page starts over",
		"timeout", s.cfg.ConnectTimeout, "ice", s.pc.ICEConnectionState().String(),
		"connection", s.pc.ConnectionState().String(), "signaling", s.pc.SignalingState().String(),
		"candidates_sent", s.candSent, "candidates_added", s.candAdded, "candidates_refused", s.candRefused,
		"last_refusal", s.candErr, "ufrag", s.lastUfrag)
	go s.close(ErrConnectTimeout)
}

// sendDescription sends the local description (an offer or an answer).
// New ICE credentials in it are an ICE restart: counted and logged (the
// page restarted ICE, or pion did on its own).
func (s *Session) sendDescription(typ string) {
	sdpText := withAudioPtime(s.pc.LocalDescription().SDP, AudioPtime)
	ufrag, _ := iceCredentials(sdpText)
	if s.lastUfrag != "" && ufrag != s.lastUfrag {
		s.st.iceRestarts.Add(1)
		s.log.Info("ICE restart", "type", typ)
	}
	s.lastUfrag = ufrag
	s.log.Debug("signal to page", "type", typ, "ice-ufrag", ufrag)
	s.signal(typ, proto.SDP{SDP: sdpText})
}

func (s *Session) handleDescription(typ, sdpText string) {
	if s.log.Enabled(s.ctx, slog.LevelDebug) {
		ufrag, _ := iceCredentials(sdpText)
		s.log.Debug("signal from page", "type", typ, "ice-ufrag", ufrag, "state", s.pc.SignalingState().String())
	}
	switch typ {
	case proto.TypeOffer:
		// Impolite: an offer that collides with ours is ignored; the
		// polite page rolls its offer back and answers ours.
		if s.pc.SignalingState() != webrtc.SignalingStateStable {
			s.ignoreOffer = true
			s.st.offersIgnored.Add(1)
			s.log.Debug("glare: ignoring the page's offer")
			return
		}
		s.ignoreOffer = false
		if s.waitForICE(func() { s.handleDescription(typ, sdpText) }) {
			return
		}
		if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdpText}); err != nil {
			s.negotiationError(proto.TypeOffer, err)
			return
		}
		s.preferPublishCodecs()
		// pion cannot roll a remote offer back: failing to answer one
		// leaves the connection stuck, so it ends the session (the page
		// reconnects).
		answer, err := s.pc.CreateAnswer(nil)
		if err != nil {
			s.negotiationError("create-answer", err)
			go s.close(fmt.Errorf("bridge: create answer: %w", err))
			return
		}
		if err := s.pc.SetLocalDescription(answer); err != nil {
			s.negotiationError("set-local-answer", err)
			go s.close(fmt.Errorf("bridge: set local answer: %w", err))
			return
		}
		s.negotiatedNow()
		s.sendDescription(proto.TypeAnswer)
		s.st.answersSent.Add(1)
	case proto.TypeAnswer:
		if s.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			s.log.Debug("answer without an offer: ignored")
			return
		}
		if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdpText}); err != nil {
			// The offer stays pending; the answer timeout ends the
			// session unless a good answer follows.
			s.negotiationError(proto.TypeAnswer, err)
			return
		}
		s.negotiatedNow()
		s.answerDeadline = time.Time{}
	}
}

func (s *Session) handleCandidate(c proto.Candidate) {
	if c.Candidate == "" {
		return // end of candidates
	}
	err := s.pc.AddICECandidate(webrtc.ICECandidateInit{
		Candidate:        c.Candidate,
		SDPMid:           c.SDPMid,
		SDPMLineIndex:    c.SDPMLineIndex,
		UsernameFragment: c.UsernameFragment,
	})
	if err != nil {
		s.candRefused++
		s.candErr = err
		if !s.ignoreOffer {
			s.log.Debug("add ICE candidate", "err", err)
		}
		return
	}
	s.candAdded++
}

// preferPublishCodecs orders the codecs of the page's new upstream m-lines
// by the API's preference, so that the page sends the first one it
// supports (pion would otherwise keep the page's order).
func (s *Session) preferPublishCodecs() {
	for _, t := range s.pc.GetTransceivers() {
		if s.prefsSet[t] || t.Sender() != nil || t.Direction() != webrtc.RTPTransceiverDirectionRecvonly {
			continue
		}
		s.prefsSet[t] = true
		var prefs []webrtc.RTPCodecParameters
		for _, c := range s.cfg.API.codecs {
			if codecKind(c.MimeType) == t.Kind() {
				c.PayloadType = 0 // take the negotiated one
				prefs = append(prefs, c)
			}
		}
		if err := t.SetCodecPreferences(prefs); err != nil {
			s.log.Debug("codec preferences", "err", err)
		}
	}
}

// sendTracks tells the page which remote participant each m-line carries.
func (s *Session) sendTracks() {
	s.mu.Lock()
	var tracks []proto.Track
	for _, sl := range s.slots {
		mid := sl.tr.Mid()
		sl.mu.Lock()
		rt := sl.rt
		sl.mu.Unlock()
		if rt == nil || mid == "" {
			continue
		}
		tracks = append(tracks, proto.Track{
			Mid: mid, StreamID: sl.streamID, TrackID: sl.trackID,
			Participant: rt.info.Participant, Stream: rt.info.Stream, Kind: kindName(sl.kind),
		})
	}
	s.mu.Unlock()
	if tracks == nil {
		tracks = []proto.Track{}
	}
	s.signal(proto.TypeTracks, proto.Tracks{Tracks: tracks})
}

// tracksChanged publishes a new mapping now, unless an offer will carry
// one anyway.
func (s *Session) tracksChanged() {
	if s.needOffer || !s.negotiated {
		return
	}
	s.sendTracks()
}

// SessionStats is a snapshot of a session's counters.
type SessionStats struct {
	ID                string        `json:"id"`
	Role              string        `json:"role"`
	ConnectionState   string        `json:"connection_state"`
	SignalingState    string        `json:"signaling_state"`
	OffersSent        uint64        `json:"offers_sent"`
	AnswersSent       uint64        `json:"answers_sent"`
	OffersIgnored     uint64        `json:"offers_ignored"`
	OffersDelayed     uint64        `json:"offers_delayed"`
	ICERestarts       uint64        `json:"ice_restarts"`
	NegotiationErrors uint64        `json:"negotiation_errors"`
	LocalPackets      uint64        `json:"local_packets"`
	LocalBytes        uint64        `json:"local_bytes"`
	LocalKeyframes    uint64        `json:"local_keyframes"`
	LocalBad          uint64        `json:"local_bad"`
	LocalPadding      uint64        `json:"local_padding"`
	LocalPaddingBytes uint64        `json:"local_padding_bytes"`
	RemotePackets     uint64        `json:"remote_packets"`
	RemoteBytes       uint64        `json:"remote_bytes"`
	RemoteDropped     uint64        `json:"remote_dropped"`
	NACKs             uint64        `json:"nacks"`
	Retransmits       uint64        `json:"retransmits"`
	RetransmitMisses  uint64        `json:"retransmit_misses"`
	PLIsFromPage      uint64        `json:"plis_from_page"`
	PLIsToPage        uint64        `json:"plis_to_page"`
	KeyframeRequests  uint64        `json:"keyframe_requests"`
	Remotes           int           `json:"remotes"`
	Slots             int           `json:"slots"`
	LocalStreams      []LocalStream `json:"local_streams"`
}

// Stats returns the session's counters.
func (s *Session) Stats() SessionStats {
	s.mu.Lock()
	nRemotes, nSlots := len(s.remotes), len(s.slots)
	s.mu.Unlock()
	return SessionStats{
		ID: s.cfg.ID, Role: s.cfg.Role,
		ConnectionState:   s.pc.ConnectionState().String(),
		SignalingState:    s.pc.SignalingState().String(),
		OffersSent:        s.st.offersSent.Load(),
		AnswersSent:       s.st.answersSent.Load(),
		OffersIgnored:     s.st.offersIgnored.Load(),
		OffersDelayed:     s.st.offersDelayed.Load(),
		ICERestarts:       s.st.iceRestarts.Load(),
		NegotiationErrors: s.st.negotiationErrors.Load(),
		LocalPackets:      s.st.localPackets.Load(),
		LocalBytes:        s.st.localBytes.Load(),
		LocalKeyframes:    s.st.localKeyframes.Load(),
		LocalBad:          s.st.localBad.Load(),
		LocalPadding:      s.st.localPadding.Load(),
		LocalPaddingBytes: s.st.localPaddingBytes.Load(),
		RemotePackets:     s.st.remotePackets.Load(),
		RemoteBytes:       s.st.remoteBytes.Load(),
		RemoteDropped:     s.st.remoteDropped.Load(),
		NACKs:             s.st.nacks.Load(),
		Retransmits:       s.st.retransmits.Load(),
		RetransmitMisses:  s.st.retransmitMisses.Load(),
		PLIsFromPage:      s.st.plisFromPage.Load(),
		PLIsToPage:        s.st.plisToPage.Load(),
		KeyframeRequests:  s.st.keyframeRequests.Load(),
		Remotes:           nRemotes,
		Slots:             nSlots,
		LocalStreams:      s.LocalStreams(),
	}
}
