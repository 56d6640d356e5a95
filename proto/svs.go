package proto

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	enc "github.com/named-data/ndnd/std/encoding"
)

// The room's sync group speaks State Vector Sync v3 (docs/protocol.md 6.1).
//
// A sync Interest is G/v=3/<ParametersSha256Digest>; its
// ApplicationParameters hold one Data:
//
//	Data           = 0x06 L Name [MetaInfo] Content SignatureInfo SignatureValue
//	Name           = G/v=3
//	Content        = 0x15 L StateVector
//	StateVector    = 0xC9 L *Entry
//	Entry          = 0xCA L Name 1*SeqNoEntry
//	SeqNoEntry     = 0xD2 L BootstrapTime SeqNo
//	BootstrapTime  = 0xD4 L NonNegativeInteger
//	SeqNo          = 0xD6 L NonNegativeInteger
//	SignatureInfo  = 0x16 L SignatureType(DigestSha256 = 0) SignatureNonce
//	SignatureValue = 0x17 32 SHA-256(Name .. SignatureInfo)
//
// The SignatureNonce (0x26, 8 random octets) makes every sync Interest's
// name (its parameters digest) unique. Without it two members with the
// same vector, or two newcomers with an empty one, would send identical
// names, and forwarders would merge them (PIT) or suppress the second
// (multicast strategies), so the second would reach nobody.
//
// DecodeSyncData is the only parser of these bytes in the daemon: they come
// from anyone in the group, so it walks them with a bounds check at every
// level and never hands them to a generated decoder.

// TLV types of the state vector (SVS v3).
const (
	TTStateVector   = 0xc9
	TTSVEntry       = 0xca
	TTSeqNoEntry    = 0xd2
	TTBootstrapTime = 0xd4
	TTSeqNo         = 0xd6
)

// NDN packet TLV types the sync Data uses.
const (
	ttData           = 0x06
	ttName           = 0x07
	ttMetaInfo       = 0x14
	ttContent        = 0x15
	ttSignatureInfo  = 0x16
	ttSignatureValue = 0x17
	ttContentType    = 0x18
	ttSignatureType  = 0x1b
	ttSignatureNonce = 0x26

	sigDigestSha256 = 0
	sigNull         = 200 // NDNts' default for sync Data (nullSigner)
)

// Limits of a state vector a receiver accepts.
const (
	// MaxSVEntries bounds the entries of a received vector. A vector larger
	// than an NDN packet cannot arrive anyway; the bound keeps the work per
	// packet small whatever it holds.
	MaxSVEntries = 512
	// MaxSVBoots bounds the SeqNoEntries (boots) of one entry.
	MaxSVBoots = 8
	// MaxSVNameSize bounds the encoded name of one entry (TLV value).
	MaxSVNameSize = 512
	// MaxSVNameComponents bounds its components.
	MaxSVNameComponents = 32
)

// ErrBadSync is wrapped by every error of DecodeSyncData.
var ErrBadSync = errors.New("malformed sync Data")

// SVBoot is one boot of a state vector entry: the newest seq of that boot.
type SVBoot struct {
	Boot, Seq uint64
}

// SVEntry is one participant's entry of a state vector.
type SVEntry struct {
	Name  enc.Name
	Boots []SVBoot // ascending boots, each at most once
}

// StateVector is a decoded state vector.
type StateVector []SVEntry

// SyncInterestPrefix is G/v=3, the name of a sync Interest without its
// parameters digest, and the name of the Data it carries.
func SyncInterestPrefix(group enc.Name) enc.Name {
	return group.Append(enc.NewVersionComponent(3))
}

// EncodeStateVector encodes sv in canonical order (names in NDN canonical
// order, boots ascending), as the StateVector TLV.
func EncodeStateVector(sv StateVector) []byte {
	sorted := slices.Clone(sv)
	slices.SortFunc(sorted, func(a, b SVEntry) int { return a.Name.Compare(b.Name) })
	var body []byte
	for _, e := range sorted {
		boots := slices.Clone(e.Boots)
		slices.SortFunc(boots, func(a, b SVBoot) int { return cmp.Compare(a.Boot, b.Boot) })
		name := e.Name.Bytes() // Name TLV, type and length included
		var inner []byte
		for _, b := range boots {
			var sne []byte
			sne = appendNNI(sne, TTBootstrapTime, b.Boot)
			sne = appendNNI(sne, TTSeqNo, b.Seq)
			inner = appendTL(inner, TTSeqNoEntry, len(sne))
			inner = append(inner, sne...)
		}
		body = appendTL(body, TTSVEntry, len(name)+len(inner))
		body = append(body, name...)
		body = append(body, inner...)
	}
	out := appendTL(nil, TTStateVector, len(body))
	return append(out, body...)
}

// EncodedSVEntrySize is the number of bytes e adds to an encoded vector.
func EncodedSVEntrySize(e SVEntry) int {
	n := len(e.Name.Bytes())
	for _, b := range e.Boots {
		sne := len(appendNNI(nil, TTBootstrapTime, b.Boot)) + len(appendNNI(nil, TTSeqNo, b.Seq))
		n += len(appendTL(nil, TTSeqNoEntry, sne)) + sne
	}
	return len(appendTL(nil, TTSVEntry, n)) + n
}

// EncodeSyncData returns the Data G/v=3 that a sync Interest carries: sv as
// its content, ContentType BLOB, signed DigestSha256, with nonce (8 random
// octets) as its SignatureNonce.
func EncodeSyncData(group enc.Name, sv StateVector, nonce [8]byte) []byte {
	name := SyncInterestPrefix(group).Bytes()
	sv0 := EncodeStateVector(sv)
	var signed []byte
	signed = append(signed, name...)
	signed = appendTL(signed, ttMetaInfo, 3)
	signed = appendNNI(signed, ttContentType, 0)
	signed = appendTL(signed, ttContent, len(sv0))
	signed = append(signed, sv0...)
	signed = appendTL(signed, ttSignatureInfo, 3+2+len(nonce))
	signed = appendNNI(signed, ttSignatureType, sigDigestSha256)
	signed = appendTL(signed, ttSignatureNonce, len(nonce))
	signed = append(signed, nonce[:]...)
	sum := sha256.Sum256(signed)
	body := appendTL(signed, ttSignatureValue, len(sum))
	body = append(body, sum[:]...)
	out := appendTL(make([]byte, 0, len(body)+4), ttData, len(body))
	return append(out, body...)
}

// SyncData is what DecodeSyncData found in a sync Interest's Data.
type SyncData struct {
	Version uint64 // v= of its name: 3, or a timestamp from ndnd v1.5.3
	Vector  StateVector
}

// DecodeSyncData checks and decodes the Data b of a sync Interest for group:
// exactly one Data TLV; name G/v=<n> (SVS v3 says v=3; ndnd v1.5.3 sends
// its clock, which is accepted); ContentType BLOB if given; content exactly
// one StateVector within the limits above; signature DigestSha256 (checked)
// or Null (what NDNts sends by default: the vector is only ever a hint).
func DecodeSyncData(b []byte, group enc.Name) (SyncData, error) {
	var out SyncData
	typ, val, rest, err := nextTLV(b)
	if err != nil {
		return out, err
	}
	if typ != ttData || len(rest) != 0 {
		return out, fmt.Errorf("%w: not one Data", ErrBadSync)
	}
	var (
		name, content []byte
		sigType       = uint64(1 << 63)
		sigVal        []byte
		signedEnd     int // offset in val just after SignatureInfo
		order         int
	)
	for r := val; len(r) > 0; {
		typ, v, next, err := nextTLV(r)
		if err != nil {
			return out, err
		}
		r = next
		rank := dataElementRank(typ)
		if rank == 0 {
			if critical(typ) {
				return out, fmt.Errorf("%w: unknown element 0x%x in Data", ErrBadSync, typ)
			}
			continue
		}
		if rank <= order {
			return out, fmt.Errorf("%w: element 0x%x out of order or repeated", ErrBadSync, typ)
		}
		order = rank
		switch typ {
		case ttName:
			name = v
		case ttMetaInfo:
			if err := checkSyncMeta(v); err != nil {
				return out, err
			}
		case ttContent:
			content = v
		case ttSignatureInfo:
			if sigType, err = syncSigType(v); err != nil {
				return out, err
			}
			signedEnd = len(val) - len(r)
		case ttSignatureValue:
			sigVal = v
		}
	}
	if name == nil || order < 5 {
		return out, fmt.Errorf("%w: Name, SignatureInfo or SignatureValue missing", ErrBadSync)
	}
	switch sigType {
	case sigDigestSha256:
		sum := sha256.Sum256(val[:signedEnd])
		if !bytes.Equal(sigVal, sum[:]) {
			return out, fmt.Errorf("%w: DigestSha256 does not match", ErrBadSync)
		}
	case sigNull:
	default:
		return out, fmt.Errorf("%w: signature type %d (want DigestSha256)", ErrBadSync, sigType)
	}
	n, err := decodeName(name)
	if err != nil {
		return out, err
	}
	if len(n) != len(group)+1 || !group.IsPrefix(n) || !n[len(group)].IsVersion() || !ValidNumberComponent(n[len(group)]) {
		return out, fmt.Errorf("%w: Data name %s is not %s/v=<n>", ErrBadSync, n, group)
	}
	out.Version = n[len(group)].NumberVal()
	typ, sv, rest, err := nextTLV(content)
	if err != nil {
		return out, err
	}
	if typ != TTStateVector {
		return out, fmt.Errorf("%w: content is not a StateVector", ErrBadSync)
	}
	if err := skipNonCritical(rest); err != nil {
		return out, err
	}
	out.Vector, err = decodeStateVector(sv)
	return out, err
}

// dataElementRank is the place of a Data's element in schema order, 0 for
// an unknown element.
func dataElementRank(typ uint64) int {
	switch typ {
	case ttName:
		return 1
	case ttMetaInfo:
		return 2
	case ttContent:
		return 3
	case ttSignatureInfo:
		return 4
	case ttSignatureValue:
		return 5
	}
	return 0
}

// decodeStateVector decodes the value of a StateVector TLV.
func decodeStateVector(b []byte) (StateVector, error) {
	var sv StateVector
	for len(b) > 0 {
		typ, v, rest, err := nextTLV(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if typ != TTSVEntry {
			if critical(typ) {
				return nil, fmt.Errorf("%w: unknown element 0x%x in StateVector", ErrBadSync, typ)
			}
			continue
		}
		if len(sv) == MaxSVEntries {
			return nil, fmt.Errorf("%w: more than %d entries", ErrBadSync, MaxSVEntries)
		}
		e, err := decodeSVEntry(v)
		if err != nil {
			return nil, err
		}
		sv = append(sv, e)
	}
	return sv, nil
}

func decodeSVEntry(b []byte) (SVEntry, error) {
	var e SVEntry
	typ, v, b, err := nextTLV(b)
	if err != nil {
		return e, err
	}
	if typ != ttName {
		return e, fmt.Errorf("%w: entry without a Name", ErrBadSync)
	}
	if len(v) > MaxSVNameSize {
		return e, fmt.Errorf("%w: entry name of %d bytes", ErrBadSync, len(v))
	}
	if e.Name, err = decodeName(v); err != nil {
		return e, err
	}
	if len(e.Name) == 0 {
		return e, fmt.Errorf("%w: empty entry name", ErrBadSync)
	}
	for len(b) > 0 {
		typ, v, rest, err := nextTLV(b)
		if err != nil {
			return e, err
		}
		b = rest
		if typ != TTSeqNoEntry {
			if critical(typ) {
				return e, fmt.Errorf("%w: unknown element 0x%x in entry", ErrBadSync, typ)
			}
			continue
		}
		if len(e.Boots) == MaxSVBoots {
			return e, fmt.Errorf("%w: more than %d boots in an entry", ErrBadSync, MaxSVBoots)
		}
		var sb SVBoot
		var seen int
		for len(v) > 0 {
			typ, x, r, err := nextTLV(v)
			if err != nil {
				return e, err
			}
			v = r
			var dst *uint64
			switch {
			case typ == TTBootstrapTime && seen == 0:
				dst = &sb.Boot
			case typ == TTSeqNo && seen == 1:
				dst = &sb.Seq
			case critical(typ):
				return e, fmt.Errorf("%w: element 0x%x in SeqNoEntry", ErrBadSync, typ)
			default:
				continue
			}
			if !ValidNumberComponent(enc.Component{Val: x}) {
				return e, fmt.Errorf("%w: bad number in SeqNoEntry", ErrBadSync)
			}
			*dst, _ = parseNNI(x)
			seen++
		}
		if seen != 2 {
			return e, fmt.Errorf("%w: SeqNoEntry without BootstrapTime and SeqNo", ErrBadSync)
		}
		if i := slices.IndexFunc(e.Boots, func(x SVBoot) bool { return x.Boot == sb.Boot }); i >= 0 {
			e.Boots[i].Seq = max(e.Boots[i].Seq, sb.Seq)
			continue
		}
		e.Boots = append(e.Boots, sb)
	}
	if len(e.Boots) == 0 {
		return e, fmt.Errorf("%w: entry %s without SeqNoEntry", ErrBadSync, e.Name)
	}
	slices.SortFunc(e.Boots, func(a, b SVBoot) int { return cmp.Compare(a.Boot, b.Boot) })
	return e, nil
}

// decodeName decodes the value of a Name TLV: components of type 1..65535,
// at most MaxSVNameComponents.
func decodeName(b []byte) (enc.Name, error) {
	var n enc.Name
	for len(b) > 0 {
		typ, v, rest, err := nextTLV(b)
		if err != nil {
			return nil, err
		}
		if typ == 0 || typ > 0xffff {
			return nil, fmt.Errorf("%w: name component type %d", ErrBadSync, typ)
		}
		if len(n) == MaxSVNameComponents {
			return nil, fmt.Errorf("%w: more than %d name components", ErrBadSync, MaxSVNameComponents)
		}
		n = append(n, enc.Component{Typ: enc.TLNum(typ), Val: bytes.Clone(v)})
		b = rest
	}
	return n, nil
}

func checkSyncMeta(b []byte) error {
	for len(b) > 0 {
		typ, v, rest, err := nextTLV(b)
		if err != nil {
			return err
		}
		b = rest
		if typ == ttContentType {
			if ct, ok := parseNNI(v); !ok || ct != 0 {
				return fmt.Errorf("%w: ContentType is not BLOB", ErrBadSync)
			}
		}
		// FreshnessPeriod, FinalBlockId and non-critical elements: ignored.
	}
	return nil
}

func syncSigType(b []byte) (uint64, error) {
	typ, v, rest, err := nextTLV(b)
	if err != nil {
		return 0, err
	}
	if typ != ttSignatureType {
		return 0, fmt.Errorf("%w: SignatureInfo without SignatureType", ErrBadSync)
	}
	st, ok := parseNNI(v)
	if !ok {
		return 0, fmt.Errorf("%w: bad SignatureType", ErrBadSync)
	}
	// KeyLocator and others are walked for their framing only.
	for len(rest) > 0 {
		if _, _, rest, err = nextTLV(rest); err != nil {
			return 0, err
		}
	}
	return st, nil
}

func skipNonCritical(b []byte) error {
	for len(b) > 0 {
		typ, _, rest, err := nextTLV(b)
		if err != nil {
			return err
		}
		if critical(typ) {
			return fmt.Errorf("%w: unexpected element 0x%x", ErrBadSync, typ)
		}
		b = rest
	}
	return nil
}

// critical follows the NDN evolvability rule: an unknown element whose
// TLV-TYPE is below 32 or odd must not be ignored.
func critical(typ uint64) bool { return typ < 32 || typ%2 == 1 }

// NextTLV splits the first TLV element off b: its type, its value and what
// follows. TLV-TYPE and TLV-LENGTH must be minimally encoded and the value
// must fit in b.
func NextTLV(b []byte) (typ uint64, val, rest []byte, err error) { return nextTLV(b) }

// nextTLV is NextTLV.
func nextTLV(b []byte) (typ uint64, val, rest []byte, err error) {
	typ, n, ok := readMinimalVarNum(b)
	if !ok || typ == 0 {
		return 0, nil, nil, fmt.Errorf("%w: bad TLV-TYPE", ErrBadSync)
	}
	b = b[n:]
	l, n, ok := readMinimalVarNum(b)
	if !ok || l > uint64(len(b)-n) {
		return 0, nil, nil, fmt.Errorf("%w: bad TLV-LENGTH of element 0x%x", ErrBadSync, typ)
	}
	b = b[n:]
	return typ, b[:l], b[l:], nil
}

// readMinimalVarNum is readVarNum that also requires the shortest encoding.
func readMinimalVarNum(b []byte) (v uint64, n int, ok bool) {
	v, n = readVarNum(b)
	switch n {
	case 0:
		return 0, 0, false
	case 3:
		ok = v > 0xfc
	case 5:
		ok = v > 0xffff
	case 9:
		ok = v > 0xffffffff
	default:
		ok = true
	}
	return v, n, ok
}

// A member asked for a publication it does not hold answers an application
// Nack (docs/protocol.md 6.1). When the seq asked for is an older one of
// its current boot, the Nack's content is SeqNo (0xD6) = its newest seq:
// the publication was superseded, and that one is worth fetching instead.

// EncodeSyncNack is the content of such a Nack (empty if newest is 0).
func EncodeSyncNack(newest uint64) []byte {
	if newest == 0 {
		return nil
	}
	return appendNNI(nil, TTSeqNo, newest)
}

// DecodeSyncNack reads a Nack's content: the newest seq it names, 0 if it
// names none (empty or anything else: the Nack is a hint either way).
func DecodeSyncNack(b []byte) uint64 {
	typ, v, rest, err := nextTLV(b)
	if err != nil || typ != TTSeqNo || len(rest) != 0 {
		return 0
	}
	n, _ := parseNNI(v)
	return n
}
