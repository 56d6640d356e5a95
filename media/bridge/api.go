// Package bridge is the browser-facing side of a Peets proxy: one pion
// PeerConnection per page (the page's "virtual peer connection").
//
// The page sends its camera and microphone; the bridge hands every packet to
// OnLocalRTP (the publisher), and sends the page every remote participant's
// streams on tracks added with AddRemote. RTCP ends here: the page's NACKs
// for remote tracks are answered from the fetcher's buffer (LookupRemote),
// its PLIs and FIRs become OnRemoteKeyframeRequest, and keyframe requests
// from the network reach the page's camera through RequestLocalKeyframe.
//
// Negotiation is "perfect negotiation" with the page polite and the bridge
// impolite: both sides may offer at any time; on glare the bridge ignores the
// page's offer and the page rolls its own back. Every operation on the
// PeerConnection runs on one goroutine per session, one at a time.
package bridge

import (
	"cmp"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/logging"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// APIConfig configures the pion API shared by every session of a proxy.
type APIConfig struct {
	// SettingEngine; nil means LoopbackSettingEngine().
	SettingEngine *webrtc.SettingEngine
	// Codecs the bridge negotiates, in order of preference: the first
	// codec of each kind that the page supports is what the page sends.
	// Nil means DefaultCodecs().
	Codecs []webrtc.RTPCodecParameters
	// LoggerFactory receives the logs of pion (the PeerConnection and the
	// interceptors); nil: pion's default (stderr, errors only, PION_LOG_*
	// variables).
	LoggerFactory logging.LoggerFactory

	twccInterval time.Duration // transport-cc feedback interval (tests; default 100 ms)
}

// API is a configured pion API. It is safe for concurrent use by many
// sessions.
type API struct {
	media  *webrtc.MediaEngine // copied by pion into each PeerConnection
	se     webrtc.SettingEngine
	chain  []interceptor.Factory // after each session's rtcpGate
	codecs []webrtc.RTPCodecParameters
}

// NewAPI builds the media engine (cfg.Codecs with NACK, PLI, FIR and
// transport-cc feedback), the interceptors (NACK generator and receiver
// reports towards the page for its own streams, sender reports for remote
// tracks, transport-wide congestion control feedback; deliberately no NACK
// responder: the bridge answers NACKs from the fetcher's buffer) and the
// setting engine.
func NewAPI(cfg APIConfig) (*API, error) {
	codecs := cfg.Codecs
	if codecs == nil {
		codecs = DefaultCodecs()
	}
	m := &webrtc.MediaEngine{}
	for _, c := range codecs {
		typ := codecKind(c.MimeType)
		if typ == 0 {
			return nil, fmt.Errorf("%w: %q", ErrUnsupportedCodec, c.MimeType)
		}
		if err := m.RegisterCodec(c, typ); err != nil {
			return nil, fmt.Errorf("bridge: register %s: %w", c.MimeType, err)
		}
	}
	for _, fb := range []webrtc.RTCPFeedback{
		{Type: webrtc.TypeRTCPFBNACK},
		{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
		{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
	} {
		m.RegisterFeedback(fb, webrtc.RTPCodecTypeVideo)
	}

	// Header extensions get the ids Chromium uses by default (ids follow
	// the order of registration): 1 audio level, 2 abs-send-time,
	// 3 transport-cc, 4 mid. When the bridge offers first and the page
	// then rolls its own first offer back (glare), Chromium keeps the ids
	// it had picked for its own m-lines, and different ids in the BUNDLE
	// would make its next offer fail ("codec collision for header
	// extension id").
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("bridge: header extension: %w", err)
	}
	for _, typ := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.ABSSendTimeURI}, typ); err != nil {
			return nil, fmt.Errorf("bridge: header extension: %w", err)
		}
	}

	var se webrtc.SettingEngine
	if cfg.SettingEngine != nil {
		se = *cfg.SettingEngine
	} else {
		se = LoopbackSettingEngine()
	}
	lf := cmp.Or[logging.LoggerFactory](cfg.LoggerFactory, se.LoggerFactory, logging.NewDefaultLoggerFactory())
	gen, err := nack.NewGeneratorInterceptor(nack.WithGeneratorLoggerFactory(lf))
	if err != nil {
		return nil, fmt.Errorf("bridge: nack generator: %w", err)
	}
	rr, err := report.NewReceiverInterceptor(report.WithReceiverLoggerFactory(lf))
	if err != nil {
		return nil, fmt.Errorf("bridge: receiver reports: %w", err)
	}
	sr, err := report.NewSenderInterceptor(report.WithSenderLoggerFactory(lf))
	if err != nil {
		return nil, fmt.Errorf("bridge: sender reports: %w", err)
	}
	// transport-cc feedback lets the page's congestion controller ramp its
	// bitrate up (the page caps it with the greeting's videoBitrate).
	tw, err := twcc.NewSenderInterceptor(twcc.SendInterval(cmp.Or(cfg.twccInterval, 100*time.Millisecond)), twcc.WithLoggerFactory(lf))
	if err != nil {
		return nil, fmt.Errorf("bridge: twcc: %w", err)
	}
	for _, typ := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, typ)
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, typ); err != nil {
			return nil, fmt.Errorf("bridge: header extension: %w", err)
		}
	}
	for _, typ := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.SDESMidURI}, typ); err != nil {
			return nil, fmt.Errorf("bridge: header extension: %w", err)
		}
	}
	// Simulcast from the page: each encoding's packets carry its rid
	// (rtp-stream-id, repaired-rtp-stream-id). They must be negotiated
	// from the first exchange: when the bridge offers first, Chromium
	// accepts no simulcast later on an extension its first answer did not
	// take ("negotiates simulcast but does not negotiate the RID RTP
	// header extension"). And with Chromium's ids, 10 and 11, for the
	// reason above. pion gives each registration the lowest free id, so
	// ids 5-9 (Chromium's playout-delay ... video-layers-allocation,
	// which the bridge has no use for) are taken by placeholders nobody
	// knows, never offered (receive only) nor accepted.
	for i := 5; i <= 9; i++ {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: fmt.Sprintf("urn:peets:reserved:%d", i)},
			webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverDirectionRecvonly); err != nil {
			return nil, fmt.Errorf("bridge: header extension: %w", err)
		}
	}
	for _, uri := range []string{sdp.SDESRTPStreamIDURI, sdp.SDESRepairRTPStreamIDURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("bridge: header extension: %w", err)
		}
	}

	// The bridge is always the DTLS server. pion picks its answering
	// role without looking at the role already established, so when the
	// page (DTLS client after answering the bridge's first offer) later
	// offers, pion's default answer "active" would ask for a role change
	// that browsers refuse ("Failed to set SSL role for the transport").
	// Browsers answer an actpass offer with "active", so "passive" when
	// answering keeps the roles the same whoever offers first.
	if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		return nil, fmt.Errorf("bridge: DTLS role: %w", err)
	}
	se.LoggerFactory = lf
	return &API{media: m, se: se, chain: []interceptor.Factory{gen, rr, sr, tw},
		codecs: append([]webrtc.RTPCodecParameters(nil), codecs...)}, nil
}

// newPeerConnection makes a session's PeerConnection, its interceptor
// chain starting with gate (so that all RTCP passes through it).
func (a *API) newPeerConnection(gate *rtcpGate, cfg webrtc.Configuration) (*webrtc.PeerConnection, error) {
	ir := &interceptor.Registry{}
	ir.Add(gateFactory{gate})
	for _, f := range a.chain {
		ir.Add(f)
	}
	api := webrtc.NewAPI(webrtc.WithMediaEngine(a.media), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(a.se))
	pc, err := api.NewPeerConnection(cfg)
	if err == nil {
		gate.setPC(pc)
	}
	return pc, err
}

// Codecs returns the negotiated codec list, in order of preference.
func (a *API) Codecs() []webrtc.RTPCodecParameters {
	return append([]webrtc.RTPCodecParameters(nil), a.codecs...)
}

// codec finds the registered codec for a mime type (case-insensitive) and
// clock rate (0: any).
func (a *API) codec(mime string, clockRate uint32) (webrtc.RTPCodecParameters, bool) {
	for _, c := range a.codecs {
		if strings.EqualFold(c.MimeType, mime) && (clockRate == 0 || c.ClockRate == clockRate) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

// LoopbackSettingEngine keeps every ICE candidate on the loopback interface:
// UDP4 host candidates on lo (127.0.0.1), no mDNS, short ICE timeouts. The
// page must be a browser on the same machine (Chromium needs
// --allow-loopback-in-peer-connection to offer its own loopback candidate;
// without it, it still connects to ours).
func LoopbackSettingEngine() webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(isLoopbackInterface)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	se.SetLite(false)
	return se
}

// isLoopbackInterface keeps the loopback interface ("lo" on Linux, "lo0"
// elsewhere).
func isLoopbackInterface(name string) bool {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return name == "lo" || name == "lo0"
	}
	return ifi.Flags&net.FlagLoopback != 0
}

// DefaultCodecs are VP8 (preferred), VP9, H264 (constrained baseline,
// packetization mode 1), AV1 and Opus, with the payload types Chromium uses.
// No RTX, RED or FEC: retransmissions travel on the media SSRC.
func DefaultCodecs() []webrtc.RTPCodecParameters {
	v := func(mime string, pt uint8, fmtp string) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp},
			PayloadType:        webrtc.PayloadType(pt),
		}
	}
	return []webrtc.RTPCodecParameters{
		v(webrtc.MimeTypeVP8, 96, ""),
		v(webrtc.MimeTypeVP9, 98, "profile-id=0"),
		v(webrtc.MimeTypeH264, 102, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"),
		v(webrtc.MimeTypeAV1, 45, ""),
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
			},
			PayloadType: 111,
		},
	}
}

func codecKind(mime string) webrtc.RTPCodecType {
	switch {
	case strings.HasPrefix(strings.ToLower(mime), "audio/"):
		return webrtc.RTPCodecTypeAudio
	case strings.HasPrefix(strings.ToLower(mime), "video/"):
		return webrtc.RTPCodecTypeVideo
	}
	return 0
}

func kindName(t webrtc.RTPCodecType) string {
	if t == webrtc.RTPCodecTypeAudio {
		return "audio"
	}
	return "video"
}

func orDefault(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}
