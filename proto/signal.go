package proto

// Signaling messages between a page and its own proxy, carried as JSON text
// frames over the WebSocket at /ws. docs/protocol.md has the field-by-field
// specification; this file is its implementation.
//
// Every message is an envelope
//
//	{"type": "...", "sender": "...", "receiver": "...", "data": {...}}
//
// where type is required, sender and receiver are optional user ids and data
// is a type-specific object (absent for types without data). Decoding is
// strict: the size is bounded, unknown types and unknown fields are errors,
// and every payload is validated (see DecodeSignal).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// SignalVersion is the version of the signaling protocol, sent in the
// greeting. It changes when a message changes incompatibly.
const SignalVersion = 1

// Size limits of signaling messages and of their fields.
const (
	// MaxSignalSize is the default bound of one encoded message. It is
	// large because an SDP grows by 1-2 KB per m-line and a page receives
	// two m-lines per remote participant.
	MaxSignalSize = 256 << 10
	MaxTextLen    = 4096 // bytes of free text (error messages, bye reasons)
	MaxNameLen    = 64   // bytes of a display name
	MaxSDPLen     = MaxSignalSize - 1024
	MaxIDLen      = 128 // bytes of sender/receiver ids and of short strings
	MaxCandidate  = 1024
	MaxListLen    = 1024 // entries of participants, tracks, ICE servers
)

// Message types.
const (
	TypePing          = "ping"            // either way; data Ping
	TypePong          = "pong"            // either way; data Ping (echoed)
	TypeText          = "text"            // chat; data Text
	TypeGetRoomInfo   = "get-room-info"   // page -> server; no data
	TypeRoomInfo      = "room-info"       // server -> page; data RoomInfo
	TypeProfile       = "profile"         // page -> server; data Profile
	TypeGetICEServers = "get-ice-servers" // page -> server; no data
	TypeICEServers    = "ice-servers"     // server -> page; data ICEServers
	TypeOffer         = "offer"           // either way; data SDP
	TypeAnswer        = "answer"          // either way; data SDP
	TypeCandidate     = "candidate"       // either way; data Candidate
	TypeGreeting      = "greeting"        // server -> page; data Greeting
	TypeBye           = "bye"             // either way; data Bye (optional)
	TypeError         = "error"           // server -> page; data Error
	TypeJoin          = "join"            // server -> page; data Participant
	TypeLeave         = "leave"           // server -> page; data Leave
	TypeUpdate        = "update"          // server -> page; data Participant
	TypeTracks        = "tracks"          // server -> page; data Tracks
)

// Direction says who may send a message type.
type Direction uint8

// Directions of message types.
const (
	FromPage   Direction = 1 << iota // a page may send it
	FromServer                       // the server may send it
	Both       = FromPage | FromServer
)

// typeInfo describes one message type: who may send it and how to check
// its data. newData is nil for types that carry no data.
type typeInfo struct {
	dir     Direction
	newData func() validator
}

type validator interface{ validate() error }

var signalTypes = map[string]typeInfo{
	TypePing:          {Both, func() validator { return new(Ping) }},
	TypePong:          {Both, func() validator { return new(Ping) }},
	TypeText:          {Both, func() validator { return new(Text) }},
	TypeGetRoomInfo:   {FromPage, nil},
	TypeRoomInfo:      {FromServer, func() validator { return new(RoomInfo) }},
	TypeProfile:       {FromPage, func() validator { return new(Profile) }},
	TypeGetICEServers: {FromPage, nil},
	TypeICEServers:    {FromServer, func() validator { return new(ICEServers) }},
	TypeOffer:         {Both, func() validator { return new(SDP) }},
	TypeAnswer:        {Both, func() validator { return new(SDP) }},
	TypeCandidate:     {Both, func() validator { return new(Candidate) }},
	TypeGreeting:      {FromServer, func() validator { return new(Greeting) }},
	TypeBye:           {Both, func() validator { return new(Bye) }},
	TypeError:         {FromServer, func() validator { return new(Error) }},
	TypeJoin:          {FromServer, func() validator { return new(Participant) }},
	TypeLeave:         {FromServer, func() validator { return new(Leave) }},
	TypeUpdate:        {FromServer, func() validator { return new(Participant) }},
	TypeTracks:        {FromServer, func() validator { return new(Tracks) }},
	TypeQuality:       {FromServer, func() validator { return new(Quality) }},
	TypeLayers:        {FromServer, func() validator { return new(Layers) }},
	TypeSpeakers:      {FromServer, func() validator { return new(Speakers) }},
	TypeView:          {FromPage, func() validator { return new(View) }},
}

// SignalTypes lists every known message type with the directions it may
// travel in.
func SignalTypes() map[string]Direction {
	m := make(map[string]Direction, len(signalTypes))
	for k, v := range signalTypes {
		m[k] = v.dir
	}
	return m
}

// Message is one signaling message. Data holds the type's payload as raw
// JSON; use DataAs to decode it or NewSignal to build a message.
type Message struct {
	Type     string          `json:"type"`
	Sender   string          `json:"sender,omitempty"`
	Receiver string          `json:"receiver,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// Error codes, sent in Error.Code.
const (
	CodeTooLarge    = "too-large"    // message over the size limit
	CodeBadJSON     = "bad-json"     // not a JSON object, or a binary frame
	CodeUnknownType = "unknown-type" // type missing or unknown
	CodeBadData     = "bad-data"     // data missing, malformed or invalid for the type
	CodeNotAllowed  = "not-allowed"  // type may not be sent in this direction or role
	CodeRateLimited = "rate-limited" // messages dropped by the rate limit
	CodeBusy        = "busy"         // server could not queue the message
	CodeNotJoined   = "not-joined"   // the backend refused the page
	CodeNegotiation = "negotiation"  // a WebRTC negotiation step failed
	CodeUserTaken   = "user-taken"   // another participant claims this page's user id (not a reply to a message)
	CodeRemoved     = "removed"      // the room's owner removed this participant (not a reply to a message)
	CodeInternal    = "internal"     // anything else
)

// Sentinel errors of signaling decoding; a *SignalError wraps one of them.
var (
	ErrSignalTooLarge    = errors.New("signal: message too large")
	ErrSignalBadJSON     = errors.New("signal: bad JSON")
	ErrSignalUnknownType = errors.New("signal: unknown message type")
	ErrSignalBadData     = errors.New("signal: bad data")
	ErrSignalNotAllowed  = errors.New("signal: message type not allowed in this direction")
)

// SignalError is a decoding error with its wire error code.
type SignalError struct {
	Code string // one of the Code constants
	Type string // the message's type, if it was readable
	Err  error  // wraps one of the ErrSignal sentinels
}

func (e *SignalError) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("%v (type %q)", e.Err, e.Type)
	}
	return e.Err.Error()
}

func (e *SignalError) Unwrap() error { return e.Err }

// Payload returns the Error payload to send back to the peer.
func (e *SignalError) Payload() Error {
	msg := e.Err.Error()
	if len(msg) > MaxTextLen {
		msg = msg[:MaxTextLen]
	}
	return Error{Code: e.Code, Message: msg, Ref: truncate(e.Type, MaxIDLen)}
}

func sigErr(code, typ string, sentinel error, format string, args ...any) *SignalError {
	err := sentinel
	if format != "" {
		err = fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
	}
	return &SignalError{Code: code, Type: typ, Err: err}
}

// DecodeSignal decodes and validates one message that travelled in
// direction dir (FromPage for messages read from a page). max bounds the
// encoded size; max <= 0 means MaxSignalSize. Unknown fields, an unknown
// type, data of the wrong shape and a type not allowed in dir are errors.
// Every error is a *SignalError.
func DecodeSignal(b []byte, dir Direction, max int) (Message, error) {
	if max <= 0 {
		max = MaxSignalSize
	}
	if len(b) > max {
		return Message{}, sigErr(CodeTooLarge, "", ErrSignalTooLarge, "%d bytes, limit %d", len(b), max)
	}
	if !utf8.Valid(b) {
		return Message{}, sigErr(CodeBadJSON, "", ErrSignalBadJSON, "not UTF-8")
	}
	var m Message
	if err := strictUnmarshal(b, &m); err != nil {
		return Message{}, sigErr(CodeBadJSON, "", ErrSignalBadJSON, "%v", err)
	}
	if m.Type == "" {
		return Message{}, sigErr(CodeUnknownType, "", ErrSignalUnknownType, "type missing")
	}
	info, ok := signalTypes[m.Type]
	if !ok {
		return Message{}, sigErr(CodeUnknownType, truncate(m.Type, MaxIDLen), ErrSignalUnknownType, "")
	}
	if info.dir&dir != dir {
		return Message{}, sigErr(CodeNotAllowed, m.Type, ErrSignalNotAllowed, "")
	}
	if len(m.Sender) > MaxIDLen || len(m.Receiver) > MaxIDLen {
		return Message{}, sigErr(CodeBadData, m.Type, ErrSignalBadData, "sender or receiver too long")
	}
	if isNull(m.Data) {
		m.Data = nil
	}
	if info.newData == nil {
		if m.Data != nil {
			return Message{}, sigErr(CodeBadData, m.Type, ErrSignalBadData, "type carries no data")
		}
		return m, nil
	}
	v := info.newData()
	if m.Data != nil {
		if err := strictUnmarshal(m.Data, v); err != nil {
			return Message{}, sigErr(CodeBadData, m.Type, ErrSignalBadData, "%v", err)
		}
	} else if _, optional := v.(interface{ optionalData() }); !optional {
		return Message{}, sigErr(CodeBadData, m.Type, ErrSignalBadData, "data missing")
	}
	if err := v.validate(); err != nil {
		return Message{}, sigErr(CodeBadData, m.Type, ErrSignalBadData, "%v", err)
	}
	return m, nil
}

// strictUnmarshal decodes exactly one JSON value with no unknown fields.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func isNull(b json.RawMessage) bool {
	return len(bytes.TrimSpace(b)) == 0 || string(bytes.TrimSpace(b)) == "null"
}

// DataAs decodes m.Data into a T. Messages returned by DecodeSignal have
// already been validated, so for them this fails only on a type mismatch.
func DataAs[T any](m Message) (T, error) {
	var v T
	if isNull(m.Data) {
		return v, nil
	}
	if err := json.Unmarshal(m.Data, &v); err != nil {
		return v, fmt.Errorf("%w: %v", ErrSignalBadData, err)
	}
	return v, nil
}

// NewSignal builds a message of type typ carrying data (nil for none).
func NewSignal(typ string, data any) (Message, error) {
	m := Message{Type: typ}
	if data == nil {
		return m, nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Message{}, fmt.Errorf("signal %s: %w", typ, err)
	}
	m.Data = b
	return m, nil
}

// MustSignal is NewSignal for data that always marshals (the payload types
// of this file); it panics otherwise.
func MustSignal(typ string, data any) Message {
	m, err := NewSignal(typ, data)
	if err != nil {
		panic(err)
	}
	return m
}

// ErrorSignal builds an error message.
func ErrorSignal(code, message, ref string) Message {
	return MustSignal(TypeError, Error{Code: code, Message: truncate(message, MaxTextLen), Ref: truncate(ref, MaxIDLen)})
}

// Encode marshals m.
func (m Message) Encode() ([]byte, error) { return json.Marshal(m) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Roles of a participant.
const (
	RoleParticipant = "participant" // publishes and receives
	RoleViewer      = "viewer"      // publishes nothing, receives everything
	RoleBroadcaster = "broadcaster" // publishes, receives nothing
)

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool {
	return r == RoleParticipant || r == RoleViewer || r == RoleBroadcaster
}

// Media kinds.
const (
	KindAudio = "audio"
	KindVideo = "video"
)

func checkLen(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s longer than %d bytes", field, max)
	}
	return nil
}

// Ping is the data of ping and pong; pong echoes the ping's data.
type Ping struct {
	TS int64 `json:"ts,omitempty"` // sender's clock, ms; opaque to the peer
}

func (*Ping) optionalData()     {}
func (p *Ping) validate() error { return nil }

// Text is a chat message. From a page only Text is set; the server fills
// Name and Time and puts the author's id in the envelope's sender. An empty
// envelope receiver means everyone in the room.
type Text struct {
	Text string `json:"text"`
	Name string `json:"name,omitempty"` // author's display name (server -> page)
	Time int64  `json:"time,omitempty"` // unix ms when sent (server -> page)
}

func (t *Text) validate() error {
	cm := ChatMessage{Text: t.Text}
	if err := cm.Validate(); err != nil {
		return err
	}
	return checkLen("name", t.Name, MaxNameLen)
}

// PageStream describes one stream a participant publishes, as pages see it.
type PageStream struct {
	ID       string `json:"id"`       // stream name, e.g. "video"
	Kind     string `json:"kind"`     // "audio" or "video"
	MimeType string `json:"mimeType"` // e.g. "video/VP8"
}

// Participant is one roster entry, the data of join and update.
type Participant struct {
	ID         string       `json:"id"`
	Name       string       `json:"name,omitempty"`
	Role       string       `json:"role,omitempty"`
	AudioMuted bool         `json:"audioMuted,omitempty"`
	VideoMuted bool         `json:"videoMuted,omitempty"`
	Streams    []PageStream `json:"streams,omitempty"`
}

func (p *Participant) validate() error {
	if p.ID == "" {
		return errors.New("participant id missing")
	}
	if err := checkLen("id", p.ID, MaxIDLen); err != nil {
		return err
	}
	if err := checkLen("name", p.Name, MaxNameLen); err != nil {
		return err
	}
	if p.Role != "" && !ValidRole(p.Role) {
		return fmt.Errorf("unknown role %q", truncate(p.Role, MaxIDLen))
	}
	if len(p.Streams) > MaxListLen {
		return errors.New("too many streams")
	}
	for _, s := range p.Streams {
		if s.ID == "" || len(s.ID) > MaxIDLen || len(s.MimeType) > MaxIDLen {
			return errors.New("bad stream entry")
		}
		if s.Kind != KindAudio && s.Kind != KindVideo {
			return fmt.Errorf("bad stream kind %q", truncate(s.Kind, MaxIDLen))
		}
	}
	return nil
}

// Leave is the data of leave.
type Leave struct {
	ID string `json:"id"`
}

func (l *Leave) validate() error {
	if l.ID == "" {
		return errors.New("id missing")
	}
	return checkLen("id", l.ID, MaxIDLen)
}

// RoomInfo is the data of room-info and the body of GET /api/roster.
type RoomInfo struct {
	Room         string        `json:"room"`
	Self         string        `json:"self,omitempty"` // the receiving page's user id
	Participants []Participant `json:"participants"`
}

func (r *RoomInfo) validate() error {
	if len(r.Participants) > MaxListLen {
		return errors.New("too many participants")
	}
	for i := range r.Participants {
		if err := r.Participants[i].validate(); err != nil {
			return err
		}
	}
	return checkLen("room", r.Room, MaxIDLen)
}

// Profile changes the page's own roster entry. Absent fields are left as
// they are.
type Profile struct {
	Name       *string `json:"name,omitempty"`
	AudioMuted *bool   `json:"audioMuted,omitempty"`
	VideoMuted *bool   `json:"videoMuted,omitempty"`
}

func (p *Profile) validate() error {
	if p.Name == nil && p.AudioMuted == nil && p.VideoMuted == nil {
		return errors.New("empty profile")
	}
	if p.Name != nil {
		return ValidDisplayName(*p.Name)
	}
	return nil
}

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// ICEServers is the data of ice-servers.
type ICEServers struct {
	ICEServers []ICEServer `json:"iceServers"`
}

func (s *ICEServers) validate() error { return validateICEServers(s.ICEServers) }

func validateICEServers(l []ICEServer) error {
	if len(l) > MaxListLen {
		return errors.New("too many ICE servers")
	}
	for _, s := range l {
		if len(s.URLs) == 0 || len(s.URLs) > 16 {
			return errors.New("ICE server needs 1-16 urls")
		}
		for _, u := range s.URLs {
			if err := checkLen("url", u, MaxCandidate); err != nil {
				return err
			}
		}
	}
	return nil
}

// SDP is the data of offer and answer: the session description's text.
type SDP struct {
	SDP string `json:"sdp"`
}

func (s *SDP) validate() error {
	if s.SDP == "" {
		return errors.New("empty sdp")
	}
	return checkLen("sdp", s.SDP, MaxSDPLen)
}

// Candidate is the data of candidate, shaped as RTCIceCandidateInit. An
// empty Candidate string marks the end of candidates.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

func (c *Candidate) validate() error {
	if err := checkLen("candidate", c.Candidate, MaxCandidate); err != nil {
		return err
	}
	if c.SDPMid != nil {
		if err := checkLen("sdpMid", *c.SDPMid, MaxIDLen); err != nil {
			return err
		}
	}
	if c.UsernameFragment != nil {
		return checkLen("usernameFragment", *c.UsernameFragment, MaxIDLen)
	}
	return nil
}

// Greeting is the first message the server sends on a new connection.
type Greeting struct {
	Version      int           `json:"version"`                // SignalVersion
	ID           string        `json:"id"`                     // the page's user id
	Name         string        `json:"name,omitempty"`         // its display name
	Room         string        `json:"room"`                   // room name
	Role         string        `json:"role"`                   // participant, viewer or broadcaster
	ICEServers   []ICEServer   `json:"iceServers"`             // for RTCConfiguration; empty on loopback
	Participants []Participant `json:"participants"`           // the roster, self included
	VideoBitrate int           `json:"videoBitrate,omitempty"` // cap of the camera's bitrate, bit/s; 0: browser default
	// Simulcast: the camera's encodings, lowest first (RTCRtpEncodingParameters
	// of sendEncodings); absent: one encoding capped at VideoBitrate.
	Simulcast []SimulcastLayer `json:"simulcast,omitempty"`
	Polite    bool             `json:"polite"` // the page's part in perfect negotiation (always true)
	// Anchor is the fingerprint of the room's trust anchor, for people to
	// compare (docs/protocol.md 3.2); Owner: this machine holds it.
	Anchor string `json:"anchor,omitempty"`
	Owner  bool   `json:"owner,omitempty"`
}

// SimulcastLayer is one encoding of a simulcast camera.
type SimulcastLayer struct {
	RID        string  `json:"rid"`                   // [A-Za-z0-9]{1,16}
	ScaleDown  float64 `json:"scaleResolutionDownBy"` // 1 (full) .. 16
	MaxBitrate int     `json:"maxBitrate"`            // bit/s
}

// MaxSimulcastLayers bounds Greeting.Simulcast.
const MaxSimulcastLayers = 4

func validateSimulcast(ls []SimulcastLayer) error {
	if len(ls) > MaxSimulcastLayers {
		return fmt.Errorf("%d simulcast layers (max %d)", len(ls), MaxSimulcastLayers)
	}
	seen := map[string]bool{}
	for _, l := range ls {
		switch {
		case !ridRe.MatchString(l.RID) || seen[l.RID]:
			return fmt.Errorf("simulcast rid %q", truncate(l.RID, MaxIDLen))
		case l.ScaleDown < 1 || l.ScaleDown > 16:
			return fmt.Errorf("simulcast layer %s: scaleResolutionDownBy %v", l.RID, l.ScaleDown)
		case l.MaxBitrate <= 0 || l.MaxBitrate > MaxLayerBitrate:
			return fmt.Errorf("simulcast layer %s: maxBitrate %d", l.RID, l.MaxBitrate)
		}
		seen[l.RID] = true
	}
	return nil
}

func (g *Greeting) validate() error {
	if g.ID == "" {
		return errors.New("id missing")
	}
	if !ValidRole(g.Role) {
		return fmt.Errorf("unknown role %q", truncate(g.Role, MaxIDLen))
	}
	if len(g.Participants) > MaxListLen {
		return errors.New("too many participants")
	}
	for i := range g.Participants {
		if err := g.Participants[i].validate(); err != nil {
			return err
		}
	}
	if g.VideoBitrate < 0 {
		return errors.New("negative videoBitrate")
	}
	if err := validateSimulcast(g.Simulcast); err != nil {
		return err
	}
	return validateICEServers(g.ICEServers)
}

// Bye ends a session, from either side.
type Bye struct {
	Reason string `json:"reason,omitempty"`
}

func (*Bye) optionalData() {}
func (b *Bye) validate() error {
	return checkLen("reason", b.Reason, MaxTextLen)
}

// Error reports a problem to the page. Ref is the type of the message that
// caused it, if any.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
	Ref     string `json:"ref,omitempty"`
}

func (e *Error) validate() error {
	if e.Code == "" {
		return errors.New("code missing")
	}
	return checkLen("message", e.Message, MaxTextLen)
}

// Track maps one m-line of the page's peer connection to the remote
// participant and stream it carries.
type Track struct {
	Mid         string `json:"mid"`         // transceiver mid in the SDP
	StreamID    string `json:"streamId"`    // msid stream id (one per participant)
	TrackID     string `json:"trackId"`     // msid track id
	Participant string `json:"participant"` // user id
	Stream      string `json:"stream"`      // stream name, e.g. "video"
	Kind        string `json:"kind"`        // "audio" or "video"
}

// Tracks is the data of tracks: the complete current mapping, sent before
// every offer from the server. M-lines not listed carry nothing.
type Tracks struct {
	Tracks []Track `json:"tracks"`
}

func (t *Tracks) validate() error {
	if len(t.Tracks) > MaxListLen {
		return errors.New("too many tracks")
	}
	for _, tr := range t.Tracks {
		if tr.Mid == "" || tr.Participant == "" {
			return errors.New("track needs mid and participant")
		}
		if tr.Kind != KindAudio && tr.Kind != KindVideo {
			return fmt.Errorf("bad track kind %q", truncate(tr.Kind, MaxIDLen))
		}
		for _, s := range []string{tr.Mid, tr.StreamID, tr.TrackID, tr.Participant, tr.Stream} {
			if len(s) > MaxIDLen {
				return errors.New("track field too long")
			}
		}
	}
	return nil
}
