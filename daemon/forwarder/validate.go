package forwarder

import (
	"encoding/binary"
	"errors"

	"github.com/named-data/ndnd/std/ndn"
)

// Packet validation.
//
// ndnd v1.5.3 parses packets with generated code that trusts TLV lengths:
// a name component whose length has the top bit set becomes a negative int
// and WireView.ReadBuf panics (in std's spec.ReadPacket and in YaNFD's
// defn.ParseFwPacket alike); ndn_io.ReadTlvStream slices with the same
// negative size; a zero-length HopLimit at the end of an Interest indexes an
// empty slice; byte fields (PitToken, KeyDigest, SignatureNonce,
// FinalBlockId) and names are allocated at their claimed length before any
// bounds check, so a 40-byte packet can ask for a terabyte ("fatal error:
// out of memory", which no recover catches). Nothing in ndnd recovers, so
// one such packet ends the process.
//
// validatePacket is the gate in front of every parser we feed: it walks the
// frame once against the NDN packet schema (Interest, Data, NDNLPv2
// LpPacket, the way ndnd decodes them) with bounds checks at every level and
// rejects anything ndnd would not decode as written:
//
//   - exactly one top-level TLV, type Interest (5), Data (6) or LpPacket
//     (100), at most ndn.MaxNDNPacketSize bytes, nothing after it;
//   - every TLV-TYPE and TLV-LENGTH is a minimally encoded VAR-NUMBER, the
//     length fits in the enclosing TLV, TLV-TYPE is in 1..2^32-1;
//   - the elements ndnd decodes as nested TLVs (Name and its components,
//     ForwardingHint, MetaInfo, FinalBlockId, SignatureInfo, KeyLocator,
//     ValidityPeriod, AdditionalDescription, Nack, CachePolicy, the
//     Fragment, the PrefixAnnouncement) are walked recursively; opaque ones
//     (Content, ApplicationParameters, signature values, PitToken) are only
//     bounds-checked;
//   - known elements appear at most once and in schema order (ndnd's decoder
//     silently stops decoding at an out-of-order element), Name first,
//     unknown elements only if non-critical (ndnd's rule: TLV-TYPE > 31 and
//     even);
//   - fixed-size fields have their size: NonNegativeInteger 1/2/4/8 bytes,
//     Nonce 4, HopLimit 1, digest components 32, flags 0; names of Interest
//     and Data are not empty; an LpPacket carries a whole (unfragmented)
//     Interest or Data, a Nack only an Interest.
//
// With forForwarder set (frames going into the embedded YaNFD) the names of
// Interests and Data have at most maxNameComponents components and
// maxNameBytes bytes: YaNFD's PIT-CS tree spends ~450 bytes per component
// of every name it holds (a node each, and a copy of the name so far), so
// a 8 KB Data of 4000 empty components held ~10 MB while cached, and the
// CS holds 1024; and the sweeper's Interest for a cached Data's exact name
// must fit in a packet (sweep.go). And two rules guard against YaNFD
// crashes that are not parsing bugs: an Interest
// may carry a PIT token only of the 6 bytes YaNFD itself issues (any other
// length panics YaNFD's send path when the Data comes back), and a 6-byte
// PIT token on a Data must name an existing forwarding thread (YaNFD's
// dispatch.GetFWThread is off by one and indexes past its slice); and the
// parts of a management command that YaNFD's management decodes on its own
// (ControlParameters name component, rib/announce PrefixAnnouncement) are
// checked like the packet (checkMgmtCommand).
//
// The walk is a single pass over the headers, never copies or allocates, and
// is bounded in depth by the schema (no recursion on attacker-chosen
// nesting).

// ErrMalformed is wrapped by every validation error: errors.Is(err,
// ErrMalformed) tells a rejected packet.
var ErrMalformed = errors.New("forwarder: malformed packet")

// malformedErr is a validation failure. Its values are constants, so
// returning one never allocates.
type malformedErr string

func (e malformedErr) Error() string        { return "malformed packet: " + string(e) }
func (e malformedErr) Is(target error) bool { return target == ErrMalformed }

const (
	errEmptyFrame     malformedErr = "empty frame"
	errTooLarge       malformedErr = "packet larger than 8800 bytes"
	errTruncated      malformedErr = "truncated TLV header"
	errNonMinimal     malformedErr = "VAR-NUMBER not minimally encoded"
	errBadType        malformedErr = "TLV-TYPE out of range"
	errOverrun        malformedErr = "TLV-LENGTH exceeds the enclosing element"
	errTrailing       malformedErr = "bytes after the packet"
	errPacketType     malformedErr = "not an Interest, Data or LpPacket"
	errCritical       malformedErr = "unrecognized critical element"
	errOrder          malformedErr = "element out of order or repeated"
	errNoName         malformedErr = "name missing or not the first element"
	errEmptyName      malformedErr = "empty name"
	errComponentType  malformedErr = "name component type out of range"
	errDigestLen      malformedErr = "digest component is not 32 bytes"
	errNameContent    malformedErr = "element in a name is not a name component"
	errNatLen         malformedErr = "NonNegativeInteger not 1, 2, 4 or 8 bytes"
	errNonceLen       malformedErr = "Nonce is not 4 bytes"
	errHopLimitLen    malformedErr = "HopLimit is not 1 byte"
	errFlagLen        malformedErr = "flag element is not empty"
	errFinalBlockID   malformedErr = "FinalBlockId is not one name component"
	errNoSignature    malformedErr = "Data without SignatureInfo and SignatureValue"
	errNoSigType      malformedErr = "SignatureInfo without SignatureType"
	errKeyLocator     malformedErr = "KeyLocator is not one Name or KeyDigest"
	errValidity       malformedErr = "ValidityPeriod without NotBefore and NotAfter"
	errDescription    malformedErr = "bad AdditionalDescription"
	errEmptyHint      malformedErr = "ForwardingHint without names"
	errNoFragment     malformedErr = "LpPacket without fragment"
	errFragmented     malformedErr = "fragmented LpPacket (not supported on this face)"
	errFragment       malformedErr = "LpPacket fragment is not one Interest or Data"
	errNackData       malformedErr = "Nack carries a Data"
	errCachePolicy    malformedErr = "CachePolicy without CachePolicyType"
	errPitTokenLen    malformedErr = "Interest PIT token is not 6 bytes (crashes the embedded forwarder)"
	errPitTokenThread malformedErr = "Data PIT token names no forwarding thread"
	errMgmtParams     malformedErr = "management command with malformed parameters"
	errValidatorPanic malformedErr = "validator failure"
	errLocalField     malformedErr = "face-local LP field (IncomingFaceId, NextHopFaceId, CachePolicy) from the network"
	errLocalhost      malformedErr = "/localhost name from the network"
	errNameTooLong    malformedErr = "name of more than 32 components or 8192 bytes (into the forwarder)"
)

// Limits of the names of Interests and Data going into the embedded
// forwarder (see above). NDN names in use are far shorter (Peets' own have
// at most about 12 components, a management command about 10).
const (
	maxNameComponents = 32
	maxNameBytes      = 8192
)

// TLV types the validator knows.
const (
	tInterest       = 0x05
	tData           = 0x06
	tName           = 0x07
	tImplicitDigest = 0x01
	tParamsDigest   = 0x02
	tNonce          = 0x0a
	tLifetime       = 0x0c
	tMustBeFresh    = 0x12
	tMetaInfo       = 0x14
	tContent        = 0x15
	tDataSigInfo    = 0x16
	tDataSigValue   = 0x17
	tContentType    = 0x18
	tFreshness      = 0x19
	tFinalBlockID   = 0x1a
	tSigType        = 0x1b
	tKeyLocator     = 0x1c
	tKeyDigest      = 0x1d
	tFwHint         = 0x1e
	tCanBePrefix    = 0x21
	tHopLimit       = 0x22
	tAppParams      = 0x24
	tSigNonce       = 0x26
	tSigTime        = 0x28
	tSigSeqNum      = 0x2a
	tIntSigInfo     = 0x2c
	tIntSigValue    = 0x2e
	tValidity       = 0xfd
	tNotBefore      = 0xfe
	tNotAfter       = 0xff
	tAddlDesc       = 0x0102
	tDescEntry      = 0x0200
	tDescKey        = 0x0201
	tDescValue      = 0x0202
	tCrossSchema    = 0x0258

	tLpFragment     = 0x50
	tLpSequence     = 0x51
	tLpFragIndex    = 0x52
	tLpFragCount    = 0x53
	tLpPitToken     = 0x62
	tLpPacket       = 0x64
	tLpNack         = 0x0320
	tLpNackReason   = 0x0321
	tLpIncomingFace = 0x032c
	tLpNextHopFace  = 0x0330
	tLpCachePolicy  = 0x0334
	tLpCachePolType = 0x0335
	tLpCongestion   = 0x0340
	tLpAck          = 0x0344
	tLpTxSequence   = 0x0348
	tLpNonDiscovery = 0x034c
	tLpPrefixAnn    = 0x0350
)

// validateOpts are the face-specific rules of validatePacket.
type validateOpts struct {
	// forForwarder: the frame goes into the embedded YaNFD (see the PIT
	// token rules above); fwThreads is its number of forwarding threads.
	forForwarder bool
	fwThreads    int
	// fromNetwork: the frame comes from another host (a UDP link, which
	// reaches YaNFD as a local face): names under /localhost and the LP
	// fields only a local app may set are refused.
	fromNetwork bool
}

// validatePacket checks that frame is one well-formed NDN packet that ndnd's
// parsers (std's spec.ReadPacket and YaNFD's defn.ParseFwPacket) decode
// without panicking. The error wraps ErrMalformed.
func validatePacket(frame []byte, o validateOpts) (err error) {
	defer func() {
		// The walk indexes only within checked bounds; this is a last line
		// of defence, cheap because it is open-coded.
		if recover() != nil {
			err = errValidatorPanic
		}
	}()
	if len(frame) == 0 {
		return errEmptyFrame
	}
	if len(frame) > ndn.MaxNDNPacketSize {
		return errTooLarge
	}
	typ, val, err := onlyTLV(frame, errTrailing)
	if err != nil {
		return err
	}
	switch typ {
	case tInterest:
		return checkInterest(val, nil, o)
	case tData:
		return checkData(val, nil, o)
	case tLpPacket:
		return checkLp(val, o)
	}
	return errPacketType
}

// readVarNum decodes the VAR-NUMBER at the start of b. n is its size, 0 if
// b is too short; minimal reports the shortest encoding.
func readVarNum(b []byte) (v uint64, n int, minimal bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch x := b[0]; {
	case x < 0xfd:
		return uint64(x), 1, true
	case x == 0xfd:
		if len(b) < 3 {
			return 0, 0, false
		}
		v = uint64(binary.BigEndian.Uint16(b[1:3]))
		return v, 3, v >= 0xfd
	case x == 0xfe:
		if len(b) < 5 {
			return 0, 0, false
		}
		v = uint64(binary.BigEndian.Uint32(b[1:5]))
		return v, 5, v > 0xffff
	default:
		if len(b) < 9 {
			return 0, 0, false
		}
		v = binary.BigEndian.Uint64(b[1:9])
		return v, 9, v > 0xffffffff
	}
}

// nextTLV splits the first TLV element off b.
func nextTLV(b []byte) (typ uint64, val, rest []byte, err error) {
	typ, n, min := readVarNum(b)
	if n == 0 {
		return 0, nil, nil, errTruncated
	}
	if !min {
		return 0, nil, nil, errNonMinimal
	}
	if typ == 0 || typ > 0xffffffff {
		return 0, nil, nil, errBadType
	}
	l, m, min := readVarNum(b[n:])
	if m == 0 {
		return 0, nil, nil, errTruncated
	}
	if !min {
		return 0, nil, nil, errNonMinimal
	}
	b = b[n+m:]
	if l > uint64(len(b)) {
		return 0, nil, nil, errOverrun
	}
	return typ, b[:l], b[l:], nil
}

// onlyTLV splits v, which must be exactly one TLV element: errExtra if
// anything follows it.
func onlyTLV(v []byte, errExtra malformedErr) (typ uint64, val []byte, err error) {
	typ, val, rest, err := nextTLV(v)
	if err == nil && len(rest) != 0 {
		err = errExtra
	}
	return typ, val, err
}

// critical follows ndnd's decoder: unknown elements of these types make it
// reject the packet.
func critical(typ uint64) bool { return typ <= 31 || typ&1 == 1 }

// checkUnknown handles an element the schema does not name.
func checkUnknown(typ uint64) error {
	if critical(typ) {
		return errCritical
	}
	return nil
}

// walkSeq calls f on each element of a TLV sequence, with bounds checks.
func walkSeq(v []byte, f func(typ uint64, val []byte) error) error {
	for len(v) > 0 {
		typ, val, rest, err := nextTLV(v)
		if err != nil {
			return err
		}
		if err := f(typ, val); err != nil {
			return err
		}
		v = rest
	}
	return nil
}

// elementCheck checks one element of a sequence that has a schema order.
// rank is the element's place in that order, counting from 1, or 0 if the
// schema does not name it; err is the outcome of the element's own checks.
type elementCheck func(typ uint64, val []byte) (rank int, err error)

// walkOrdered walks a TLV sequence with a schema order: check ranks and
// checks each element; then a known element must rank above every one
// before it (schema order, each at most once) and an unknown one must be
// non-critical. An element's own error wins over its order error.
func walkOrdered(v []byte, check elementCheck) error {
	last := 0
	return walkSeq(v, func(typ uint64, val []byte) error {
		rank, err := check(typ, val)
		switch {
		case err != nil:
			return err
		case rank == 0:
			return checkUnknown(typ)
		case rank <= last:
			return errOrder
		}
		last = rank
		return nil
	})
}

// walkNamed is walkOrdered for the value of an Interest or Data, which must
// start with its Name.
func walkNamed(v []byte, check elementCheck) error {
	if len(v) == 0 {
		return errNoName
	}
	if typ, _, _, err := nextTLV(v); err != nil {
		return err
	} else if typ != tName {
		return errNoName
	}
	return walkOrdered(v, check)
}

func checkNat(v []byte) error {
	switch len(v) {
	case 1, 2, 4, 8:
		return nil
	}
	return errNatLen
}

// checkSize checks a fixed-size field: n bytes, or errSize.
func checkSize(v []byte, n int, errSize malformedErr) error {
	if len(v) != n {
		return errSize
	}
	return nil
}

// checkFlag checks a flag element, which is empty.
func checkFlag(v []byte) error { return checkSize(v, 0, errFlagLen) }

// checkComponent checks one name component TLV value of type typ.
func checkComponent(typ uint64, v []byte) error {
	if typ == 0 || typ > 0xffff {
		return errComponentType
	}
	if (typ == tImplicitDigest || typ == tParamsDigest) && len(v) != 32 {
		return errDigestLen
	}
	return nil
}

// checkName checks a Name TLV value (its components).
// localField refuses a face-local LP field from the network.
func localField(o validateOpts, err error) error {
	if err == nil && o.fromNetwork {
		return errLocalField
	}
	return err
}

// checkScope refuses a /localhost name from the network: on the local face
// a link reaches YaNFD by, it would be a management command or a packet of
// a local app.
func checkScope(name []byte, o validateOpts) error {
	if !o.fromNetwork {
		return nil
	}
	typ, val, _, err := nextTLV(name)
	if err == nil && typ == 8 && string(val) == "localhost" {
		return errLocalhost
	}
	return nil
}

// checkNameLimits applies the limits of names going into the forwarder to
// a checked Name value.
func checkNameLimits(v []byte, o validateOpts) error {
	if !o.forForwarder {
		return nil
	}
	if len(v) > maxNameBytes {
		return errNameTooLong
	}
	n := 0
	for len(v) > 0 {
		_, _, rest, _ := nextTLV(v) // (checked by checkName)
		if n++; n > maxNameComponents {
			return errNameTooLong
		}
		v = rest
	}
	return nil
}

func checkName(v []byte, allowEmpty bool) error {
	if len(v) == 0 && !allowEmpty {
		return errEmptyName
	}
	return walkSeq(v, checkComponent)
}

// checkInterest checks an Interest TLV value. pitToken is the LpPacket's.
func checkInterest(v, pitToken []byte, o validateOpts) error {
	if o.forForwarder && pitToken != nil && len(pitToken) != 6 {
		return errPitTokenLen
	}
	var name, appParams []byte
	err := walkNamed(v, func(typ uint64, val []byte) (int, error) {
		switch typ {
		case tName:
			name = val
			if err := checkName(val, false); err != nil {
				return 1, err
			}
			if err := checkNameLimits(val, o); err != nil {
				return 1, err
			}
			return 1, checkScope(val, o)
		case tCanBePrefix:
			return 2, checkFlag(val)
		case tMustBeFresh:
			return 3, checkFlag(val)
		case tFwHint:
			return 4, checkLinks(val)
		case tNonce:
			return 5, checkSize(val, 4, errNonceLen)
		case tLifetime:
			return 6, checkNat(val)
		case tHopLimit:
			return 7, checkSize(val, 1, errHopLimitLen)
		case tAppParams:
			appParams = val
			return 8, nil
		case tIntSigInfo:
			return 9, checkSigInfo(val)
		case tIntSigValue:
			return 10, nil
		}
		return 0, nil
	})
	if err != nil || !o.forForwarder {
		return err
	}
	return checkMgmtCommand(name, appParams)
}

// Management commands. YaNFD's management decodes more than the packet:
// the ControlParameters in the 5th name component of
// /localhost/nfd/<module>/<verb>/<params> (rib/register, faces/create,
// ...), and the PrefixAnnouncement Data in the ApplicationParameters of
// rib/announce. Its decoders are the same generated code, so a bad Name in
// there panics the management thread.

const (
	tControlParameters = 0x68
	tStrategy          = 0x6b
)

// mgmtDecodes lists the commands (module/verb) whose handler decodes the
// ControlParameters component, and rib/announce.
var mgmtDecodes = map[string]bool{
	"rib/register": true, "rib/unregister": true,
	"fib/add-nexthop": true, "fib/remove-nexthop": true,
	"faces/create": true, "faces/update": true, "faces/destroy": true,
	"strategy-choice/set": true, "strategy-choice/unset": true,
	"cs/config": true, "cs/erase": true,
}

// checkMgmtCommand checks what YaNFD's management would decode beyond the
// packet itself, if name (a checked Name value) is a management command.
func checkMgmtCommand(name, appParams []byte) error {
	// fast exit for everything but /localhost and /localhop (9 or 10 bytes)
	if len(name) < 10 || name[0] != 8 || (name[1] != 9 && name[1] != 8) || name[2] != 'l' {
		return nil
	}
	var comps [5][]byte // component values, all of generic type
	var generic [5]bool
	n := 0
	for rest := name; len(rest) > 0 && n < len(comps); n++ {
		typ, val, r, err := nextTLV(rest)
		if err != nil {
			return err
		}
		comps[n], generic[n] = val, typ == 8
		rest = r
	}
	if n < 4 || !generic[0] || !generic[1] || !generic[2] || !generic[3] ||
		!(string(comps[0]) == "localhost" || string(comps[0]) == "localhop") || string(comps[1]) != "nfd" {
		return nil
	}
	// (management names only: the concatenation stays on the stack)
	cmd := string(comps[2]) + "/" + string(comps[3])
	if cmd == "rib/announce" {
		if len(appParams) > 0 && checkWholeData(appParams, validateOpts{}) != nil {
			return errMgmtParams
		}
		return nil
	}
	if n < 5 || !mgmtDecodes[cmd] {
		return nil
	}
	err := walkSeq(comps[4], func(typ uint64, val []byte) error {
		if typ != tControlParameters {
			return nil
		}
		return walkSeq(val, func(typ uint64, val []byte) error {
			switch typ {
			case tName:
				return checkName(val, true)
			case tStrategy:
				return walkSeq(val, func(typ uint64, val []byte) error {
					if typ == tName {
						return checkName(val, true)
					}
					return nil
				})
			}
			return nil
		})
	})
	if err != nil {
		return errMgmtParams
	}
	return nil
}

// checkLinks checks a ForwardingHint value: one or more names.
func checkLinks(v []byte) error {
	names := 0
	err := walkSeq(v, func(typ uint64, val []byte) error {
		if typ != tName {
			return checkUnknown(typ)
		}
		names++
		return checkName(val, false)
	})
	if err == nil && names == 0 {
		return errEmptyHint
	}
	return err
}

// checkData checks a Data TLV value. pitToken is the LpPacket's.
func checkData(v, pitToken []byte, o validateOpts) error {
	if o.forForwarder && len(pitToken) == 6 && int(binary.BigEndian.Uint16(pitToken)) >= o.fwThreads {
		return errPitTokenThread
	}
	hasSigInfo, hasSigValue := false, false
	err := walkNamed(v, func(typ uint64, val []byte) (int, error) {
		switch typ {
		case tName:
			if err := checkName(val, false); err != nil {
				return 1, err
			}
			if err := checkNameLimits(val, o); err != nil {
				return 1, err
			}
			return 1, checkScope(val, o)
		case tMetaInfo:
			return 2, checkMetaInfo(val)
		case tContent:
			return 3, nil
		case tDataSigInfo:
			hasSigInfo = true
			return 4, checkSigInfo(val)
		case tDataSigValue:
			hasSigValue = true
			return 5, nil
		case tCrossSchema:
			return 6, nil
		}
		return 0, nil
	})
	if err == nil && (!hasSigInfo || !hasSigValue) {
		return errNoSignature
	}
	return err
}

func checkMetaInfo(v []byte) error {
	return walkOrdered(v, func(typ uint64, val []byte) (int, error) {
		switch typ {
		case tContentType:
			return 1, checkNat(val)
		case tFreshness:
			return 2, checkNat(val)
		case tFinalBlockID:
			return 3, checkFinalBlockID(val)
		}
		return 0, nil
	})
}

// checkFinalBlockID: exactly one name component.
func checkFinalBlockID(v []byte) error {
	typ, val, err := onlyTLV(v, errFinalBlockID)
	if err != nil {
		return err
	}
	return checkComponent(typ, val)
}

// checkSigInfo checks a SignatureInfo value (of a Data or an Interest),
// which starts with the SignatureType.
func checkSigInfo(v []byte) error {
	hasType := false
	err := walkOrdered(v, func(typ uint64, val []byte) (rank int, err error) {
		switch typ {
		case tSigType:
			rank, err = 1, checkNat(val)
			hasType = true
		case tKeyLocator:
			rank, err = 2, checkKeyLocator(val)
		case tSigNonce:
			rank = 3
		case tSigTime:
			rank, err = 4, checkNat(val)
		case tSigSeqNum:
			rank, err = 5, checkNat(val)
		case tValidity:
			rank, err = 6, checkValidity(val)
		case tAddlDesc:
			rank, err = 7, checkDescription(val)
		}
		if err == nil && rank > 1 && !hasType {
			err = errNoSigType
		}
		return rank, err
	})
	if err == nil && !hasType {
		return errNoSigType
	}
	return err
}

// checkKeyLocator: exactly one Name or KeyDigest.
func checkKeyLocator(v []byte) error {
	typ, val, err := onlyTLV(v, errKeyLocator)
	if err != nil {
		return err
	}
	switch typ {
	case tName:
		return checkName(val, true)
	case tKeyDigest:
		return nil
	}
	return errKeyLocator
}

// checkValidity: NotBefore then NotAfter.
func checkValidity(v []byte) error {
	return checkPair(v, tNotBefore, tNotAfter, errValidity)
}

// checkPair checks that v is two elements, of types first and second (their
// values are opaque), or fails with errShape.
func checkPair(v []byte, first, second uint64, errShape malformedErr) error {
	t1, _, rest, err := nextTLV(v)
	if err != nil {
		return err
	}
	t2, _, rest, err := nextTLV(rest)
	if err != nil {
		return err
	}
	if t1 != first || t2 != second || len(rest) != 0 {
		return errShape
	}
	return nil
}

// checkDescription: DescriptionEntry+, each DescriptionKey DescriptionValue.
func checkDescription(v []byte) error {
	if len(v) == 0 {
		return errDescription
	}
	return walkSeq(v, checkDescEntry)
}

func checkDescEntry(typ uint64, v []byte) error {
	if typ != tDescEntry {
		return errDescription
	}
	return checkPair(v, tDescKey, tDescValue, errDescription)
}

// checkLp checks an LpPacket value: header fields in order, then one whole
// Interest or Data as fragment.
func checkLp(v []byte, o validateOpts) error {
	var pitToken, fragment []byte
	hasFragment, nack := false, false
	fragIndex, fragCount := uint64(0), uint64(1)
	err := walkOrdered(v, func(typ uint64, val []byte) (int, error) {
		switch typ {
		case tLpSequence:
			return 1, checkNat(val)
		case tLpFragIndex:
			return 2, readNat(val, &fragIndex)
		case tLpFragCount:
			return 3, readNat(val, &fragCount)
		case tLpPitToken:
			pitToken = val
			return 4, nil
		case tLpNack:
			nack = true
			return 5, checkNack(val)
		case tLpIncomingFace:
			return 6, localField(o, checkNat(val))
		case tLpNextHopFace:
			return 7, localField(o, checkNat(val))
		case tLpCachePolicy:
			return 8, localField(o, checkCachePolicy(val))
		case tLpCongestion:
			return 9, checkNat(val)
		case tLpAck:
			return 10, checkNat(val)
		case tLpTxSequence:
			return 11, checkNat(val)
		case tLpNonDiscovery:
			return 12, checkFlag(val)
		case tLpPrefixAnn:
			return 13, checkWholeData(val, o)
		case tLpFragment:
			fragment, hasFragment = val, true
			return 14, nil
		}
		return 0, nil
	})
	switch {
	case err != nil:
		return err
	case !hasFragment || len(fragment) == 0:
		return errNoFragment
	case fragIndex != 0 || fragCount != 1:
		return errFragmented
	}
	return checkFragment(fragment, pitToken, nack, o)
}

// checkFragment checks the fragment of an unfragmented LpPacket: one
// Interest, or one Data if the LpPacket is not a Nack.
func checkFragment(v, pitToken []byte, nack bool, o validateOpts) error {
	typ, val, err := onlyTLV(v, errFragment)
	if err != nil {
		return err
	}
	switch typ {
	case tInterest:
		return checkInterest(val, pitToken, o)
	case tData:
		if nack {
			return errNackData
		}
		return checkData(val, pitToken, o)
	}
	return errFragment
}

// checkWholeData checks a complete Data TLV (PrefixAnnouncement).
func checkWholeData(v []byte, o validateOpts) error {
	typ, val, err := onlyTLV(v, errPacketType)
	if err != nil {
		return err
	}
	if typ != tData {
		return errPacketType
	}
	return checkData(val, nil, validateOpts{})
}

func checkNack(v []byte) error {
	return walkSeq(v, func(typ uint64, val []byte) error {
		if typ == tLpNackReason {
			return checkNat(val)
		}
		return checkUnknown(typ)
	})
}

func checkCachePolicy(v []byte) error {
	typ, val, err := onlyTLV(v, errCachePolicy)
	if err != nil {
		return err
	}
	if typ != tLpCachePolType {
		return errCachePolicy
	}
	return checkNat(val)
}

// readNat checks a NonNegativeInteger and decodes it into x.
func readNat(v []byte, x *uint64) error {
	if err := checkNat(v); err != nil {
		return err
	}
	*x = natValue(v)
	return nil
}

// natValue decodes a NonNegativeInteger already checked by checkNat.
func natValue(v []byte) uint64 {
	var x uint64
	for _, b := range v {
		x = x<<8 | uint64(b)
	}
	return x
}
