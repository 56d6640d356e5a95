package proto

import (
	"errors"
	"fmt"

	enc "github.com/named-data/ndnd/std/encoding"
)

// Media key rotation (docs/protocol.md 4.9). When the room's owner removes a
// member, it draws a new media key, epoch n, and publishes it wrapped for
// every remaining member's key in one Data signed by the room's anchor:
//
//	name    = G/rekey/v=<n>
//	content = RekeyEpoch [RekeyEphemeral] [RekeyEphemeralP256] *RekeyRemoved *RekeyRecipient
//
//	RekeyEpoch         = 0xE0 TLV-LENGTH NonNegativeInteger   n, = the name's version
//	RekeyEphemeral     = 0xE2 TLV-LENGTH 32OCTET              an X25519 public key (for Ed25519 members)
//	RekeyEphemeralP256 = 0xEA TLV-LENGTH 65OCTET              a P-256 public key, uncompressed (for ECDSA members)
//	RekeyRemoved   = 0xE4 TLV-LENGTH Name                 a removed member key, P/KEY/<kid>
//	RekeyRecipient = 0xE6 TLV-LENGTH Name RekeyWrapped    a remaining member key
//	RekeyWrapped   = 0xE8 TLV-LENGTH 48OCTET              the key, sealed for it
//
// RekeyRemoved lists every key removed from the room so far, so one rekey
// Data tells a member who came back after several rotations all it needs.

// TLV types of a rekey Data's content.
const (
	TTRekeyEpoch         = 0xE0
	TTRekeyEphemeral     = 0xE2
	TTRekeyRemoved       = 0xE4
	TTRekeyRecipient     = 0xE6
	TTRekeyWrapped       = 0xE8
	TTRekeyEphemeralP256 = 0xEA
)

// Sizes in a rekey.
const (
	RekeyEphemeralSize     = 32
	RekeyEphemeralP256Size = 65
	RekeyWrappedSize       = 48 // a 32-octet key and its 16-octet AES-GCM tag
	// MaxRekeySize bounds a rekey's content: one Data, well under the
	// forwarders' packet limit (about 60 members with long names, 90 with
	// short ones).
	MaxRekeySize = 7000
)

// CompRekey is the component under G of rekey Data.
const CompRekey = "rekey"

// ErrBadRekey wraps every reason a rekey Data's content is refused.
var ErrBadRekey = errors.New("malformed rekey")

// Rekey is a rekey Data's content.
type Rekey struct {
	Epoch         uint64
	Ephemeral     []byte // X25519; nil when no member key is Ed25519
	EphemeralP256 []byte // P-256; nil when no member key is ECDSA
	Removed       []enc.Name
	Recipients    []RekeyRecipient
}

// RekeyRecipient is one remaining member key and the new media key sealed
// for it.
type RekeyRecipient struct {
	KeyName enc.Name
	Wrapped []byte
}

// RekeyPrefix is G/rekey.
func RekeyPrefix(group enc.Name) enc.Name {
	return group.Append(enc.NewGenericComponent(CompRekey))
}

// RekeyName is G/rekey/v=<epoch>.
func RekeyName(group enc.Name, epoch uint64) enc.Name {
	return RekeyPrefix(group).Append(enc.NewVersionComponent(epoch))
}

// ParseRekeyName returns the epoch of a rekey Data name of group.
func ParseRekeyName(group, n enc.Name) (uint64, error) {
	if len(n) != len(group)+2 || !RekeyPrefix(group).IsPrefix(n) || n.At(-1).Typ != enc.TypeVersionNameComponent {
		return 0, fmt.Errorf("%w: %s is not a rekey name of %s", ErrBadRekey, n, group)
	}
	return n.At(-1).NumberVal(), nil
}

// Encode encodes the content. It fails when it would exceed MaxRekeySize.
func (r *Rekey) Encode() ([]byte, error) {
	b := appendNNI(nil, TTRekeyEpoch, r.Epoch)
	if r.Ephemeral != nil {
		b = appendTL(b, TTRekeyEphemeral, len(r.Ephemeral))
		b = append(b, r.Ephemeral...)
	}
	if r.EphemeralP256 != nil {
		b = appendTL(b, TTRekeyEphemeralP256, len(r.EphemeralP256))
		b = append(b, r.EphemeralP256...)
	}
	for _, k := range r.Removed {
		nb := k.Bytes()
		b = appendTL(b, TTRekeyRemoved, len(nb))
		b = append(b, nb...)
	}
	for _, rc := range r.Recipients {
		nb := rc.KeyName.Bytes()
		b = appendTL(b, TTRekeyRecipient, len(nb)+2+len(rc.Wrapped))
		b = append(b, nb...)
		b = appendTL(b, TTRekeyWrapped, len(rc.Wrapped))
		b = append(b, rc.Wrapped...)
	}
	if len(b) > MaxRekeySize {
		return nil, fmt.Errorf("%w: %d bytes for %d members and %d removed keys (max %d): too many for one rekey",
			ErrBadRekey, len(b), len(r.Recipients), len(r.Removed), MaxRekeySize)
	}
	return b, nil
}

// DecodeRekey decodes and checks a rekey Data's content.
func DecodeRekey(b []byte) (*Rekey, error) {
	if len(b) > MaxRekeySize {
		return nil, fmt.Errorf("%w: %d bytes", ErrBadRekey, len(b))
	}
	var r Rekey
	seen := 0
	for len(b) > 0 {
		typ, val, rest, err := nextTLV(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRekey, err)
		}
		b = rest
		switch typ {
		case TTRekeyEpoch:
			n, _, err := enc.ParseNat(val)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("%w: epoch", ErrBadRekey)
			}
			r.Epoch, seen = uint64(n), seen|1
		case TTRekeyEphemeral:
			if len(val) != RekeyEphemeralSize {
				return nil, fmt.Errorf("%w: ephemeral key of %d octets", ErrBadRekey, len(val))
			}
			r.Ephemeral, seen = val, seen|2
		case TTRekeyEphemeralP256:
			if len(val) != RekeyEphemeralP256Size {
				return nil, fmt.Errorf("%w: P-256 ephemeral key of %d octets", ErrBadRekey, len(val))
			}
			r.EphemeralP256, seen = val, seen|2
		case TTRekeyRemoved:
			n, rest, err := nameTLV(val)
			if err != nil || len(rest) != 0 {
				return nil, fmt.Errorf("%w: removed key name", ErrBadRekey)
			}
			r.Removed = append(r.Removed, n)
		case TTRekeyRecipient:
			rc, err := decodeRecipient(val)
			if err != nil {
				return nil, err
			}
			r.Recipients = append(r.Recipients, rc)
		default:
			if critical(typ) {
				return nil, fmt.Errorf("%w: unexpected element 0x%x", ErrBadRekey, typ)
			}
		}
	}
	if seen != 3 {
		return nil, fmt.Errorf("%w: no epoch, or no ephemeral key", ErrBadRekey)
	}
	return &r, nil
}

func decodeRecipient(b []byte) (RekeyRecipient, error) {
	n, rest, err := nameTLV(b)
	if err != nil {
		return RekeyRecipient{}, fmt.Errorf("%w: recipient key name", ErrBadRekey)
	}
	typ, val, rest, err := nextTLV(rest)
	if err != nil || typ != TTRekeyWrapped || len(val) != RekeyWrappedSize || len(rest) != 0 {
		return RekeyRecipient{}, fmt.Errorf("%w: wrapped key of %s", ErrBadRekey, n)
	}
	return RekeyRecipient{KeyName: n, Wrapped: val}, nil
}

// nameTLV splits a non-empty Name TLV off b.
func nameTLV(b []byte) (enc.Name, []byte, error) {
	typ, val, rest, err := nextTLV(b)
	if err != nil || typ != uint64(enc.TypeName) {
		return nil, nil, fmt.Errorf("%w: not a name", ErrBadRekey)
	}
	n, err := decodeName(val)
	if err != nil || len(n) == 0 {
		return nil, nil, fmt.Errorf("%w: name: %v", ErrBadRekey, err)
	}
	return n, rest, nil
}
