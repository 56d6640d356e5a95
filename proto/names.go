// Package proto holds every name builder and parser of Peets, the wire formats
// of its Data contents and its signaling messages. It does no I/O.
//
// The naming scheme (docs/protocol.md is the normative text):
//
//	user prefix     U  = --prefix, default /peets/user/<user>
//	participant     P  = U/<room>
//	stream          S  = P/media/<stream>
//	media packet       = S/t=<boot>/seq=<n>          content: one RTP packet
//	stream metadata    = S/32=meta/t=<boot>/v=<seq>  answer to Interest S/32=meta (CanBePrefix, MustBeFresh)
//	keyframe request   = P/ctrl/pli/<stream>/t=<boot>/seq=<k>  k = newest keyframe seq the requester knows
//	room sync group  G = --group, default /peets/room/<room>
package proto

import (
	"errors"
	"fmt"
	"regexp"

	enc "github.com/named-data/ndnd/std/encoding"
)

// Sentinel errors of name parsing.
var (
	ErrNotUnder   = errors.New("name is not under the expected prefix")
	ErrBadName    = errors.New("malformed name")
	ErrBadSeq     = errors.New("bad sequence number component")
	ErrBadBoot    = errors.New("bad boot (t=) component")
	ErrBadIdent   = errors.New("bad identifier")
	ErrUnknownKey = errors.New("unknown keyword component")
)

// Keyword components.
var (
	KwMeta = enc.NewKeywordComponent("meta")
)

// Generic components.
const (
	CompMedia = "media"
	CompCtrl  = "ctrl"
	CompPLI   = "pli"
)

var identRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidIdent reports whether s may be used as a user, room or stream id: 1-64
// characters of [A-Za-z0-9._-], not starting with a punctuation character.
func ValidIdent(s string) error {
	if !identRe.MatchString(s) {
		return fmt.Errorf("%w %q: want 1 to 64 characters of [A-Za-z0-9._-], the first a letter or digit", ErrBadIdent, s)
	}
	return nil
}

// clamp returns n with no spare capacity: ndnd's Name.Append writes into
// spare capacity, so two Appends to one shared name could corrupt each other.
// Every builder here returns clamped names.
func clamp(n enc.Name) enc.Name { return n[:len(n):len(n)] }

// DefaultUserPrefix is /peets/user/<user>.
func DefaultUserPrefix(user string) enc.Name {
	return clamp(enc.Name{
		enc.NewGenericComponent("peets"),
		enc.NewGenericComponent("user"),
		enc.NewGenericComponent(user),
	})
}

// DefaultGroupPrefix is /peets/room/<room>, the room's sync group.
func DefaultGroupPrefix(room string) enc.Name {
	return clamp(enc.Name{
		enc.NewGenericComponent("peets"),
		enc.NewGenericComponent("room"),
		enc.NewGenericComponent(room),
	})
}

// ParticipantPrefix is <user-prefix>/<room>: everything a participant
// publishes in a room lives under it, and it is the prefix its proxy
// registers.
func ParticipantPrefix(userPrefix enc.Name, room string) enc.Name {
	return clamp(userPrefix.Append(enc.NewGenericComponent(room)))
}

// StreamPrefix is <participant>/media/<stream>.
func StreamPrefix(participant enc.Name, stream string) enc.Name {
	return clamp(participant.Append(enc.NewGenericComponent(CompMedia), enc.NewGenericComponent(stream)))
}

// MediaName is <stream>/t=<boot>/seq=<n>.
func MediaName(stream enc.Name, boot, seq uint64) enc.Name {
	return clamp(stream.Append(enc.NewTimestampComponent(boot), enc.NewSequenceNumComponent(seq)))
}

// MetaInterestName is <stream>/32=meta, expressed with CanBePrefix and
// MustBeFresh to learn a stream's current boot, latest and keyframe seq.
func MetaInterestName(stream enc.Name) enc.Name {
	return clamp(stream.Append(KwMeta))
}

// MetaDataName is <stream>/32=meta/t=<boot>/v=<latest seq>.
func MetaDataName(stream enc.Name, boot, latest uint64) enc.Name {
	return clamp(stream.Append(KwMeta, enc.NewTimestampComponent(boot), enc.NewVersionComponent(latest)))
}

// PLIPrefix is <participant>/ctrl/pli: the publisher's control handler
// listens under it.
func PLIPrefix(participant enc.Name) enc.Name {
	return clamp(participant.Append(enc.NewGenericComponent(CompCtrl), enc.NewGenericComponent(CompPLI)))
}

// PLIName is <participant>/ctrl/pli/<stream>/t=<boot>/seq=<k>, where k is the
// newest keyframe seq the requester knows of. Requests from several
// subscribers for the same (stream, boot, k) carry the same name, so
// forwarders merge them into one.
func PLIName(participant enc.Name, stream string, boot, knownKey uint64) enc.Name {
	return clamp(PLIPrefix(participant).Append(enc.NewGenericComponent(stream),
		enc.NewTimestampComponent(boot), enc.NewSequenceNumComponent(knownKey)))
}

// MediaKind tells what a name under a stream prefix is.
type MediaKind int

const (
	KindMedia MediaKind = iota + 1 // S/t=<boot>/seq=<n>
	KindMeta                       // S/32=meta[/t=<boot>/v=<n>]
)

// StreamName is a parsed name under a stream prefix.
type StreamName struct {
	Kind MediaKind
	Boot uint64 // 0 for a meta Interest
	Seq  uint64 // seq of a media packet, or latest seq in a meta Data name
}

// ParseStreamName parses a name below the stream prefix stream.
func ParseStreamName(stream, name enc.Name) (StreamName, error) {
	if len(name) <= len(stream) || !stream.IsPrefix(name) {
		return StreamName{}, ErrNotUnder
	}
	rest := name[len(stream):]
	switch {
	case rest[0].IsTimestamp():
		if len(rest) != 2 {
			return StreamName{}, fmt.Errorf("%w: want t=<boot>/seq=<n>, got %s", ErrBadName, rest)
		}
		if !rest[1].IsSequenceNum() {
			return StreamName{}, fmt.Errorf("%w: %s", ErrBadSeq, rest[1])
		}
		return StreamName{Kind: KindMedia, Boot: rest[0].NumberVal(), Seq: rest[1].NumberVal()}, nil
	case rest[0].Equal(KwMeta):
		if len(rest) == 1 {
			return StreamName{Kind: KindMeta}, nil
		}
		if len(rest) != 3 || !rest[1].IsTimestamp() || !rest[2].IsVersion() {
			return StreamName{}, fmt.Errorf("%w: want 32=meta/t=<boot>/v=<n>, got %s", ErrBadName, rest)
		}
		return StreamName{Kind: KindMeta, Boot: rest[1].NumberVal(), Seq: rest[2].NumberVal()}, nil
	case rest[0].Typ == enc.TypeKeywordNameComponent:
		return StreamName{}, fmt.Errorf("%w: %s", ErrUnknownKey, rest[0])
	default:
		return StreamName{}, fmt.Errorf("%w: %s", ErrBadName, rest)
	}
}

// PLIRequest is a parsed keyframe request name.
type PLIRequest struct {
	Stream   string
	Boot     uint64
	KnownKey uint64
}

// ParsePLIName parses a name below PLIPrefix(participant).
func ParsePLIName(participant, name enc.Name) (PLIRequest, error) {
	pre := PLIPrefix(participant)
	if !pre.IsPrefix(name) {
		return PLIRequest{}, ErrNotUnder
	}
	rest := name[len(pre):]
	if len(rest) != 3 || rest[0].Typ != enc.TypeGenericNameComponent {
		return PLIRequest{}, fmt.Errorf("%w: want <stream>/t=<boot>/seq=<k>, got %s", ErrBadName, rest)
	}
	if !rest[1].IsTimestamp() {
		return PLIRequest{}, fmt.Errorf("%w: %s", ErrBadBoot, rest[1])
	}
	if !rest[2].IsSequenceNum() {
		return PLIRequest{}, fmt.Errorf("%w: %s", ErrBadSeq, rest[2])
	}
	return PLIRequest{Stream: string(rest[0].Val), Boot: rest[1].NumberVal(), KnownKey: rest[2].NumberVal()}, nil
}
