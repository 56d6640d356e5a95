package proto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	enc "github.com/named-data/ndnd/std/encoding"
)

// Room sync publications.
//
// Every participant of a room publishes its heartbeats and its chat messages
// as one sequence of signed Data packets, announced through the room's sync
// group G (SVS v3, state vector entry name = the participant prefix P):
//
//	publication = P/sync/t=<boot>/seq=<n>
//
// <boot> is the SVS bootstrap time of the publisher (seconds since the Unix
// epoch), <n> its SVS sequence number, starting at 1 for every boot. The Data
// is signed with the participant's key (P/KEY/<key-id>), ContentType Blob,
// FreshnessPeriod about one heartbeat interval; receivers fetch it with
// MustBeFresh. A publisher that is asked for a seq it does not hold answers a
// Data of ContentType Nack and FreshnessPeriod 0 under the same name.
//
// The content is one UTF-8 JSON object of at most MaxPubSize bytes, the
// Publication envelope:
//
//	{
//	  "v":    1,            format version; receivers reject any other value
//	  "kind": "hb",         "hb" (heartbeat: body is a RosterEntry) or
//	                        "chat" (body is a ChatMessage); other kinds are
//	                        delivered to the application, which may ignore them
//	  "boot": 1700000000,   = <boot> of the Data name
//	  "seq":  42,           = <n> of the Data name
//	  "time": 1700000000123 publisher's clock at publication, ms since the epoch
//	  "ord":  false,        true for publications of the ordered stream (chat):
//	                        receivers deliver every one of them, in order
//	  "prev": 40,           seq of the publisher's previous ordered publication
//	                        of this boot, 0 if none (omitted when 0)
//	  "soft": 41,           seq of the publisher's newest unordered publication
//	                        (heartbeat) before this one, 0 if none (omitted when 0)
//	  "body": {...}         the kind's JSON object
//	}
//
// Heartbeats are soft state: receivers fetch only the newest seq announced by
// sync. Ordered publications are chained by "prev", which is signed, so a
// receiver that fetched any publication can walk back to every ordered one it
// missed, and a forged state vector entry can never make it skip or invent one.
// When the newest publication is not a heartbeat, its "soft" names the newest
// heartbeat, so a late joiner still needs only two fetches per member.

// Publication kinds.
const (
	PubKindHeartbeat = "hb"
	PubKindChat      = "chat"
)

// Limits of room publications.
const (
	// PubVersion is the envelope format version.
	PubVersion = 1
	// MaxPubSize bounds the content of a publication Data.
	MaxPubSize = 8192
	// MaxDescriptionSize bounds RosterEntry.Description.
	MaxDescriptionSize = 2048
	// MaxRosterStreams bounds RosterEntry.Streams.
	MaxRosterStreams = 16
	// MinIntervalMs and MaxIntervalMs bound RosterEntry.IntervalMs.
	MinIntervalMs = 10
	MaxIntervalMs = 60_000
	// MaxClockRate bounds RosterStream.ClockRate.
	MaxClockRate = 10_000_000
)

// CompSync is the component under P of the room publications.
const CompSync = "sync"

// Sentinel errors of room publication parsing. Every decoding error wraps
// exactly one of them.
var (
	ErrPubTooLarge  = errors.New("content too large")
	ErrPubMalformed = errors.New("malformed JSON")
	ErrPubVersion   = errors.New("unsupported format version")
	ErrPubField     = errors.New("invalid field")
)

// SyncPubPrefix is P/sync: a participant serves its room publications under it.
func SyncPubPrefix(participant enc.Name) enc.Name {
	return participant.Append(enc.NewGenericComponent(CompSync))
}

// SyncBootPrefix is P/sync/t=<boot>: a participant registers this prefix,
// not P/sync, so that another process announcing the same P (a second proxy
// of the same user, an impostor) never gets the Interests for this boot's
// publications, whatever order the forwarder keeps its nexthops in.
func SyncBootPrefix(participant enc.Name, boot uint64) enc.Name {
	return SyncPubPrefix(participant).Append(enc.NewTimestampComponent(boot))
}

// SyncPubName is P/sync/t=<boot>/seq=<n>.
func SyncPubName(participant enc.Name, boot, seq uint64) enc.Name {
	return SyncPubPrefix(participant).Append(enc.NewTimestampComponent(boot), enc.NewSequenceNumComponent(seq))
}

// ParseSyncPubName parses a name below SyncPubPrefix(participant) and returns
// its boot and seq.
func ParseSyncPubName(participant, name enc.Name) (boot, seq uint64, err error) {
	pre := SyncPubPrefix(participant)
	if !pre.IsPrefix(name) {
		return 0, 0, ErrNotUnder
	}
	rest := name[len(pre):]
	if len(rest) != 2 {
		return 0, 0, fmt.Errorf("%w: want t=<boot>/seq=<n>, got %s", ErrBadName, rest)
	}
	if !rest[0].IsTimestamp() || !ValidNumberComponent(rest[0]) {
		return 0, 0, fmt.Errorf("%w: %s", ErrBadBoot, rest[0])
	}
	if !rest[1].IsSequenceNum() || !ValidNumberComponent(rest[1]) {
		return 0, 0, fmt.Errorf("%w: %s", ErrBadSeq, rest[1])
	}
	return rest[0].NumberVal(), rest[1].NumberVal(), nil
}

// Publication is the envelope of every room publication (see the package
// text above for the field by field description).
type Publication struct {
	V    int             `json:"v"`
	Kind string          `json:"kind"`
	Boot uint64          `json:"boot"`
	Seq  uint64          `json:"seq"`
	Time int64           `json:"time"`
	Ord  bool            `json:"ord,omitempty"`
	Prev uint64          `json:"prev,omitempty"`
	Soft uint64          `json:"soft,omitempty"`
	Body json.RawMessage `json:"body"`
}

var kindRe = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,15}$`)

// Validate checks the envelope's fields (not its body).
func (p *Publication) Validate() error {
	if p.V != PubVersion {
		return fmt.Errorf("%w: v=%d", ErrPubVersion, p.V)
	}
	if !kindRe.MatchString(p.Kind) {
		return fmt.Errorf("%w: kind %q", ErrPubField, p.Kind)
	}
	if p.Seq == 0 {
		return fmt.Errorf("%w: seq 0", ErrPubField)
	}
	if p.Prev >= p.Seq {
		return fmt.Errorf("%w: prev %d >= seq %d", ErrPubField, p.Prev, p.Seq)
	}
	if p.Soft >= p.Seq {
		return fmt.Errorf("%w: soft %d >= seq %d", ErrPubField, p.Soft, p.Seq)
	}
	if p.Time < 0 {
		return fmt.Errorf("%w: negative time", ErrPubField)
	}
	if err := checkObject("body", p.Body); err != nil {
		return err
	}
	return nil
}

// Encode validates and marshals the envelope.
func (p *Publication) Encode() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := marshal(p)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxPubSize {
		return nil, fmt.Errorf("%w: %d bytes (max %d)", ErrPubTooLarge, len(b), MaxPubSize)
	}
	return b, nil
}

// DecodePublication parses and validates an envelope. Unknown fields are
// ignored (newer minor revisions may add some).
func DecodePublication(b []byte) (Publication, error) {
	var p Publication
	if len(b) > MaxPubSize {
		return p, fmt.Errorf("%w: %d bytes (max %d)", ErrPubTooLarge, len(b), MaxPubSize)
	}
	if err := unmarshal(b, &p); err != nil {
		return Publication{}, err
	}
	if err := p.Validate(); err != nil {
		return Publication{}, err
	}
	return p, nil
}

// RosterStream describes one media stream of a participant, as its heartbeat
// announces it.
//
//	{
//	  "id":           "cam",        stream id (identifier rules); S = P/media/<id>
//	  "kind":         "video",      "audio" or "video"
//	  "codec":        "video/VP8",  MIME type, its top-level type = kind
//	  "clock_rate":   90000,        RTP clock rate, Hz, 1..10^7
//	  "latest_seq":   1234,         newest media seq at heartbeat time, 0 = none
//	  "keyframe_seq": 1200,         seq of the newest keyframe start, 0 = none
//	  "boot":         1700000000    the stream's <boot> (t= of its media names)
//	}
type RosterStream struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Codec       string `json:"codec"`
	ClockRate   uint32 `json:"clock_rate"`
	LatestSeq   uint64 `json:"latest_seq"`
	KeyframeSeq uint64 `json:"keyframe_seq"`
	Boot        uint64 `json:"boot"`
	// A simulcast layer (optional, video only): Group is the stream id the
	// layers are alternatives of (the camera, e.g. "cam"; each layer's ID
	// is Group.RID), RID the encoding's id in the page ([A-Za-z0-9]{1,16}),
	// Bitrate its target in bits/s (the sender's cap; the publisher's
	// measured rate is in the stream metadata). A receiver pulls one layer
	// of a group at a time (docs/protocol.md 4.7).
	Group   string `json:"group,omitempty"`
	RID     string `json:"rid,omitempty"`
	Bitrate uint64 `json:"bitrate,omitempty"`
	// AbsSendTime (optional): the id (1..14) of the RTP header extension
	// that carries the sender's abs-send-time in the stream's packets;
	// subscribers measure queueing delay with it (docs/protocol.md 4.7).
	AbsSendTime uint8 `json:"abs_send_time,omitempty"`
	// AudioLevel (optional, audio): the id (1..14) of the RTP header
	// extension that carries the sender's audio level (RFC 6464) in the
	// stream's packets; receivers tell who is speaking from it.
	AudioLevel uint8 `json:"audio_level,omitempty"`
}

// MaxLayerBitrate bounds a layer's announced bitrate (bits/s).
const MaxLayerBitrate = 100_000_000

var ridRe = regexp.MustCompile(`^[A-Za-z0-9]{1,16}$`)

// LayerID is the stream id of layer rid of group.
func LayerID(group, rid string) string { return group + "." + rid }

var codecRe = regexp.MustCompile(`^(audio|video)/[A-Za-z0-9][A-Za-z0-9.+_-]{0,62}$`)

// Validate checks a stream description.
func (s *RosterStream) Validate() error {
	if err := ValidIdent(s.ID); err != nil {
		return fmt.Errorf("%w: stream id: %v", ErrPubField, err)
	}
	if s.Kind != KindAudio && s.Kind != KindVideo {
		return fmt.Errorf("%w: stream %s: kind %q (want audio or video)", ErrPubField, s.ID, s.Kind)
	}
	if !codecRe.MatchString(s.Codec) || s.Codec[:len(s.Kind)] != s.Kind {
		return fmt.Errorf("%w: stream %s: codec %q (want %s/<subtype>)", ErrPubField, s.ID, s.Codec, s.Kind)
	}
	if s.ClockRate == 0 || s.ClockRate > MaxClockRate {
		return fmt.Errorf("%w: stream %s: clock_rate %d", ErrPubField, s.ID, s.ClockRate)
	}
	if s.KeyframeSeq > s.LatestSeq {
		return fmt.Errorf("%w: stream %s: keyframe_seq %d > latest_seq %d", ErrPubField, s.ID, s.KeyframeSeq, s.LatestSeq)
	}
	if s.AudioLevel > 14 || (s.AudioLevel != 0 && s.Kind != KindAudio) {
		return fmt.Errorf("%w: stream %s: audio_level extension id %d", ErrPubField, s.ID, s.AudioLevel)
	}
	if s.AbsSendTime > 14 {
		return fmt.Errorf("%w: stream %s: abs_send_time extension id %d", ErrPubField, s.ID, s.AbsSendTime)
	}
	if s.Group == "" && s.RID == "" && s.Bitrate == 0 {
		return nil
	}
	switch {
	case s.Kind != KindVideo:
		return fmt.Errorf("%w: stream %s: a layer must be video", ErrPubField, s.ID)
	case ValidIdent(s.Group) != nil:
		return fmt.Errorf("%w: stream %s: layer group %q", ErrPubField, s.ID, s.Group)
	case !ridRe.MatchString(s.RID):
		return fmt.Errorf("%w: stream %s: rid %q", ErrPubField, s.ID, s.RID)
	case s.ID != LayerID(s.Group, s.RID):
		return fmt.Errorf("%w: stream %s: a layer's id is <group>.<rid> (%s)", ErrPubField, s.ID, LayerID(s.Group, s.RID))
	case s.Bitrate == 0 || s.Bitrate > MaxLayerBitrate:
		return fmt.Errorf("%w: stream %s: layer bitrate %d", ErrPubField, s.ID, s.Bitrate)
	}
	return nil
}

// RosterEntry is the body of a heartbeat ("kind": "hb"): who the participant
// is and what it publishes. The envelope adds boot, seq and time.
//
//	{
//	  "user":        "alice",              user id (identifier rules)
//	  "name":        "Alice",              display name, 1..64 bytes of UTF-8
//	  "prefix":      "/peets/user/alice",  user prefix U; the publication must
//	                                       be under U/<room>
//	  "role":        "participant",        participant | broadcaster | viewer
//	  "streams":     [RosterStream...],      at most 16, ids unique
//	  "description": {...},                optional JSON object, at most 2048
//	                                       bytes, set only by the daemon's own
//	                                       configuration (never by a browser)
//	  "interval_ms": 1000,                 the sender's mean heartbeat interval;
//	                                       receivers expire it after K of them
//	  "leave":       true                  present and true only in a "bye":
//	                                       sent on a clean shutdown, or when
//	                                       the participant goes away (its page
//	                                       closed) while its proxy stays
//	}
//
// A bye removes the member at once. A later heartbeat of the same boot (a
// higher seq) brings it back; a heartbeat or bye that is not newer than the
// member's latest one, or than its bye, is stale and ignored.
type RosterEntry struct {
	User        string          `json:"user"`
	Name        string          `json:"name"`
	Prefix      string          `json:"prefix"`
	Role        string          `json:"role"`
	Streams     []RosterStream  `json:"streams"`
	Description json.RawMessage `json:"description,omitempty"`
	// AudioMuted and VideoMuted: the participant turned its microphone or
	// camera off (its streams stay announced, and silent or black).
	AudioMuted bool `json:"audio_muted,omitempty"`
	VideoMuted bool `json:"video_muted,omitempty"`
	// UplinkLimited: the participant's own uplink limits the layer others
	// pull of its camera, so it pulls remote video within a budget
	// (docs/protocol.md 4.7); a publisher then knows that this member's
	// lower layer of its camera says nothing of its own uplink.
	UplinkLimited bool `json:"uplink_limited,omitempty"`
	IntervalMs    int  `json:"interval_ms"`
	Leave         bool `json:"leave,omitempty"`
	// KeyEpoch is the newest media key epoch the participant holds
	// (docs/protocol.md 4.9); omitted when 0.
	KeyEpoch uint64 `json:"key_epoch,omitempty"`
}

// Validate checks an entry's fields. It does not check that the entry matches
// the publication's name: see CheckOwner.
func (e *RosterEntry) Validate() error {
	if err := ValidIdent(e.User); err != nil {
		return fmt.Errorf("%w: user: %v", ErrPubField, err)
	}
	if err := ValidDisplayName(e.Name); err != nil {
		return err
	}
	u, err := enc.NameFromStr(e.Prefix)
	if err != nil || len(u) == 0 {
		return fmt.Errorf("%w: prefix %q is not an NDN name", ErrPubField, e.Prefix)
	}
	if !ValidRole(e.Role) {
		return fmt.Errorf("%w: role %q", ErrPubField, e.Role)
	}
	if len(e.Streams) > MaxRosterStreams {
		return fmt.Errorf("%w: %d streams (max %d)", ErrPubField, len(e.Streams), MaxRosterStreams)
	}
	seen := make(map[string]bool, len(e.Streams))
	for i := range e.Streams {
		if err := e.Streams[i].Validate(); err != nil {
			return err
		}
		if seen[e.Streams[i].ID] {
			return fmt.Errorf("%w: duplicate stream id %q", ErrPubField, e.Streams[i].ID)
		}
		seen[e.Streams[i].ID] = true
	}
	// The layers of a group share a codec, and a group is not also a
	// plain stream.
	codecs := map[string]string{}
	for _, st := range e.Streams {
		if st.Group == "" {
			continue
		}
		if seen[st.Group] {
			return fmt.Errorf("%w: layer group %q is also a stream id", ErrPubField, st.Group)
		}
		if c, ok := codecs[st.Group]; ok && !strings.EqualFold(c, st.Codec) {
			return fmt.Errorf("%w: layers of group %q have codecs %s and %s", ErrPubField, st.Group, c, st.Codec)
		}
		codecs[st.Group] = st.Codec
	}
	if len(e.Description) > 0 {
		if len(e.Description) > MaxDescriptionSize {
			return fmt.Errorf("%w: description is %d bytes (max %d)", ErrPubField, len(e.Description), MaxDescriptionSize)
		}
		if err := checkObject("description", e.Description); err != nil {
			return err
		}
	}
	if e.IntervalMs < MinIntervalMs || e.IntervalMs > MaxIntervalMs {
		return fmt.Errorf("%w: interval_ms %d out of [%d, %d]", ErrPubField, e.IntervalMs, MinIntervalMs, MaxIntervalMs)
	}
	return nil
}

// UserPrefix returns the parsed Prefix.
func (e *RosterEntry) UserPrefix() (enc.Name, error) {
	u, err := enc.NameFromStr(e.Prefix)
	if err != nil || len(u) == 0 {
		return nil, fmt.Errorf("%w: prefix %q is not an NDN name", ErrPubField, e.Prefix)
	}
	return u, nil
}

// CheckOwner checks that an entry published by participant P in room is about
// P itself: P = <prefix>/<room>.
func (e *RosterEntry) CheckOwner(participant enc.Name, room string) error {
	u, err := e.UserPrefix()
	if err != nil {
		return err
	}
	if !ParticipantPrefix(u, room).Equal(participant) {
		return fmt.Errorf("%w: entry about %s/%s published by %s", ErrPubField, e.Prefix, room, participant)
	}
	return nil
}

// Encode validates and marshals an entry.
func (e *RosterEntry) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return marshal(e)
}

// DecodeRosterEntry parses and validates a heartbeat body.
func DecodeRosterEntry(b []byte) (RosterEntry, error) {
	var e RosterEntry
	if len(b) > MaxPubSize {
		return e, fmt.Errorf("%w: %d bytes", ErrPubTooLarge, len(b))
	}
	if err := unmarshal(b, &e); err != nil {
		return RosterEntry{}, err
	}
	if err := e.Validate(); err != nil {
		return RosterEntry{}, err
	}
	return e, nil
}

// ValidDisplayName checks a display name: 1..64 bytes of UTF-8 without
// control characters.
func ValidDisplayName(s string) error {
	if s == "" || len(s) > MaxNameLen {
		return fmt.Errorf("%w: name must be 1..%d bytes", ErrPubField, MaxNameLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: name is not UTF-8", ErrPubField)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: name has control characters", ErrPubField)
		}
	}
	return nil
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	je := json.NewEncoder(&buf)
	je.SetEscapeHTML(false)
	if err := je.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPubMalformed, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// unmarshal decodes one JSON value into v and maps errors to the sentinels.
func unmarshal(b []byte, v any) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: not UTF-8", ErrPubMalformed)
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%w: field %q: %s where %s is expected", ErrPubField, te.Field, te.Value, te.Type)
		}
		return fmt.Errorf("%w: %v", ErrPubMalformed, err)
	}
	return nil
}

// checkObject requires raw to be a JSON object.
func checkObject(what string, raw json.RawMessage) error {
	t := bytes.TrimLeft(raw, " \t\r\n")
	if len(t) == 0 || t[0] != '{' || !json.Valid(raw) {
		return fmt.Errorf("%w: %s must be a JSON object", ErrPubField, what)
	}
	return nil
}
