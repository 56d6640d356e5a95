package forwarder

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/named-data/ndnd/fw/defn"
	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	sec "github.com/named-data/ndnd/std/security"
	sig "github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
)

// crashFrame is the 15-byte Interest whose name component length has the top
// bit set: it panics ndnd v1.5.3's decoders (std and YaNFD alike).
var crashFrame = mustHex("050d070b08ff8000000000000001aa")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// vn encodes a minimal VAR-NUMBER.
func vn(x uint64) []byte {
	switch {
	case x < 0xfd:
		return []byte{byte(x)}
	case x <= 0xffff:
		return binary.BigEndian.AppendUint16([]byte{0xfd}, uint16(x))
	case x <= 0xffffffff:
		return binary.BigEndian.AppendUint32([]byte{0xfe}, uint32(x))
	}
	return binary.BigEndian.AppendUint64([]byte{0xff}, x)
}

// tlv builds one TLV element from its value parts.
func tlv(typ uint64, parts ...[]byte) []byte {
	v := bytes.Join(parts, nil)
	return append(append(vn(typ), vn(uint64(len(v)))...), v...)
}

// rawTLV builds a TLV with an arbitrary (lying) length field.
func rawTLV(typ uint64, length []byte, val ...[]byte) []byte {
	return append(append(vn(typ), length...), bytes.Join(val, nil)...)
}

func b(x ...byte) []byte { return x }

var (
	okName    = tlv(tName, tlv(8, []byte("peets")), tlv(8, []byte("x")))
	okNonce   = tlv(tNonce, b(1, 2, 3, 4))
	okSigInfo = tlv(tDataSigInfo, tlv(tSigType, b(0)))
	okSigVal  = tlv(tDataSigValue, make([]byte, 32))
)

// okData is a minimal well-formed Data value with the given name element.
func okData(nameTLV []byte, extra ...[]byte) []byte {
	parts := append([][]byte{nameTLV}, extra...)
	parts = append(parts, okSigInfo, okSigVal)
	return tlv(tData, parts...)
}

// lpFrame wraps a packet in an LpPacket with the given header fields.
func lpFrame(fragment []byte, headers ...[]byte) []byte {
	parts := append(headers, tlv(tLpFragment, fragment))
	return tlv(tLpPacket, parts...)
}

func encodeLp(t testing.TB, lp *spec.LpPacket) []byte {
	t.Helper()
	p := &spec.Packet{LpPacket: lp}
	var e spec.PacketEncoder
	e.Init(p)
	return e.Encode(p).Join()
}

type namedFrame struct {
	name  string
	frame []byte
}

// validFrames are packets as ndnd (and other NDN stacks) produce them.
func validFrames(t testing.TB) []namedFrame {
	t.Helper()
	sp := spec.Spec{}
	n := name(t, "/peets/room/alice/v=3/seg=7")
	var out []namedFrame
	add := func(what string, w enc.Wire, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		out = append(out, namedFrame{what, w.Join()})
	}
	hop := byte(5)
	i, err := sp.MakeInterest(n, &ndn.InterestConfig{
		CanBePrefix: true, MustBeFresh: true,
		ForwardingHint: []enc.Name{name(t, "/hint/a"), name(t, "/hint/b")},
		Nonce:          optional.Some(uint32(7)), Lifetime: optional.Some(4 * time.Second), HopLimit: &hop,
	}, nil, nil)
	add("interest all fields", wireOf(i), err)
	i, err = sp.MakeInterest(n, &ndn.InterestConfig{}, nil, nil)
	add("interest bare", wireOf(i), err)
	i, err = sp.MakeInterest(n, &ndn.InterestConfig{Nonce: optional.Some(uint32(1))}, enc.Wire{[]byte("params")}, nil)
	add("interest app params", wireOf(i), err)
	i, err = sp.MakeInterest(n, &ndn.InterestConfig{
		Nonce: optional.Some(uint32(1)), SigNonce: []byte{1, 2, 3, 4, 5, 6, 7, 8},
		SigTime: optional.Some(time.Duration(time.Now().UnixMilli()) * time.Millisecond), SigSeqNo: optional.Some(uint64(9)),
	}, enc.Wire{[]byte("cmd")}, sig.NewSha256Signer())
	add("signed interest", wireOf(i), err)

	payload := bytes.Repeat([]byte{0xab}, 1200)
	d, err := sp.MakeData(n, &ndn.DataConfig{
		ContentType: optional.Some(ndn.ContentTypeBlob), Freshness: optional.Some(time.Second),
		FinalBlockID: optional.Some(enc.NewSegmentComponent(9)),
	}, enc.Wire{payload}, sig.NewSha256Signer())
	add("data sha256 1200B", dataWire(d), err)
	ed, err := sig.KeygenEd25519(sec.MakeKeyName(name(t, "/peets/alice")))
	if err != nil {
		t.Fatal(err)
	}
	d, err = sp.MakeData(n, &ndn.DataConfig{}, enc.Wire{payload[:100]}, ed)
	add("data ed25519 key locator", dataWire(d), err)
	d, err = sp.MakeData(n, &ndn.DataConfig{}, nil, sig.NewSha256Signer())
	add("data empty content", dataWire(d), err)
	cert, err := sec.SelfSign(sec.SignCertArgs{Signer: ed, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)})
	add("certificate (validity period)", cert, err)
	// SignatureInfo with every field, AdditionalDescription included
	out = append(out, namedFrame{"data full signature info", okDataFull()})

	lp := func(what string, l *spec.LpPacket) {
		out = append(out, namedFrame{what, encodeLp(t, l)})
	}
	dw := dataWire(d).Join()
	iw := out[0].frame
	lp("lp pit token + data", &spec.LpPacket{PitToken: []byte{0, 0, 0, 0, 0, 9}, Fragment: enc.Wire{dw}})
	lp("lp nack", &spec.LpPacket{Nack: &spec.NetworkNack{Reason: spec.NackReasonNoRoute}, Fragment: enc.Wire{iw}})
	lp("lp incoming face + congestion", &spec.LpPacket{IncomingFaceId: optional.Some(uint64(300)),
		CongestionMark: optional.Some(uint64(1)), Fragment: enc.Wire{iw}})
	lp("lp sequence frag 0/1", &spec.LpPacket{Sequence: optional.Some(uint64(77)), FragIndex: optional.Some(uint64(0)),
		FragCount: optional.Some(uint64(1)), Fragment: enc.Wire{dw}})
	lp("lp next hop + cache policy", &spec.LpPacket{NextHopFaceId: optional.Some(uint64(3)),
		CachePolicy: &spec.CachePolicy{CachePolicyType: 1}, Fragment: enc.Wire{iw}})
	out = append(out,
		namedFrame{"rib/register command", mgmtInterest(t, "rib", "register",
			tlv(tControlParameters, okName, tlv(0x69, b(1)), tlv(0x6f, b(0)), tlv(0x6a, b(0))), nil)},
		namedFrame{"strategy-choice/set command", mgmtInterest(t, "strategy-choice", "set",
			tlv(tControlParameters, okName, tlv(tStrategy, okName)), nil)},
		namedFrame{"faces/list dataset segment", mgmtInterest(t, "faces", "list", b(0xff, 0x80, 0x01), nil)},
	)
	// unknown non-critical elements are ignored, as the spec says
	out = append(out, namedFrame{"interest unknown non-critical", tlv(tInterest, okName, tlv(0xfd00, b(1)), okNonce)})
	// names at the forwarder's limits (by hand: ndnd v1.5.3 mis-encodes
	// component lengths above 252)
	out = append(out,
		namedFrame{"data name of 32 components", okData(tlv(tName, bytes.Repeat(tlv(8, b('x')), 32)))},
		namedFrame{"interest name of 8192 bytes", tlv(tInterest, tlv(tName, tlv(8, make([]byte, 8188))), okNonce)})
	return out
}

func wireOf(i *ndn.EncodedInterest) enc.Wire {
	if i == nil {
		return nil
	}
	return i.Wire
}

func dataWire(d *ndn.EncodedData) enc.Wire {
	if d == nil {
		return nil
	}
	return d.Wire
}

func okDataFull() []byte {
	si := tlv(tDataSigInfo,
		tlv(tSigType, b(5)),
		tlv(tKeyLocator, tlv(tName, tlv(8, []byte("k")), tlv(8, []byte("KEY")))),
		tlv(tSigNonce, b(1, 2, 3, 4)),
		tlv(tSigTime, b(0, 0, 1, 2, 3, 4, 5, 6)),
		tlv(tSigSeqNum, b(1)),
		tlv(tValidity, tlv(tNotBefore, []byte("20260101T000000")), tlv(tNotAfter, []byte("20270101T000000"))),
		tlv(tAddlDesc, tlv(tDescEntry, tlv(tDescKey, []byte("k")), tlv(tDescValue, []byte("v")))),
	)
	return tlv(tData, okName, tlv(tMetaInfo, tlv(tContentType, b(0)), tlv(tFinalBlockID, tlv(0x32, b(1)))),
		tlv(tContent, []byte("x")), si, okSigVal)
}

// malformed is a frame that must be rejected. framing marks frames a stream
// reader cannot even delimit (the connection must be dropped); a packet
// above 8800 bytes whose length is known is skipped instead.
type malformed struct {
	name       string
	frame      []byte
	framing    bool // (computed)
	streamable bool // (computed) the frame delimits itself in a stream
	fwOnly     bool // rejected only on the way into the embedded forwarder
	// ndnd would allocate gigabytes for it (make(enc.Name, length/2+1),
	// make([]byte, length) before any bounds check): not fed to ndnd by
	// the tests
	hugeAlloc bool
}

// malformedCorpus covers the classes of the brief: truncated, huge lengths,
// top-bit lengths, nested garbage, zero-length, wrong types, bad LpPackets,
// and the packets that crash YaNFD past its decoder.
func malformedCorpus(t testing.TB) []malformed {
	comp := func(c []byte) []byte { return tlv(tInterest, tlv(tName, c), okNonce) }
	badName := rawTLV(tName, vn(11), rawTLV(8, b(0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x01)), b(0xaa))
	goodData := okData(okName)
	goodInterest := tlv(tInterest, okName, okNonce)
	corpus := []malformed{
		{name: "crash packet (top-bit component length)", frame: crashFrame},
		{name: "top-bit length in Data name", frame: okData(badName)},
		{name: "top-bit length in KeyLocator name", frame: tlv(tData, okName,
			tlv(tDataSigInfo, tlv(tSigType, b(3)), tlv(tKeyLocator, badName)), okSigVal)},
		{name: "top-bit length in forwarding hint", frame: tlv(tInterest, okName, tlv(tFwHint, badName), okNonce)},
		{name: "top-bit outer length", frame: rawTLV(tInterest, append(b(0xff), 0x80, 0, 0, 0, 0, 0, 0, 0), okName)},
		{name: "huge outer length", frame: rawTLV(tData, b(0xfe, 0x7f, 0xff, 0xff, 0xff), okName)},
		{name: "huge name length (ndnd allocates ~17 GB)", hugeAlloc: true, frame: tlv(tInterest, rawTLV(tName, b(0xfe, 0x40, 0, 0, 0), tlv(8, b(1))))},
		{name: "huge component length", frame: comp(rawTLV(8, b(0xfe, 0x7f, 0xff, 0xff, 0xff), b(1)))},
		{name: "truncated component", frame: comp(rawTLV(8, vn(5), b('a', 'b')))},
		{name: "truncated header in name", frame: comp(b(8, 0xfd, 0x01))},
		{name: "truncated element after name", frame: tlv(tInterest, okName, b(0x0a, 0x04, 1))},
		{name: "zero-length interest", frame: tlv(tInterest)},
		{name: "zero-length data", frame: tlv(tData)},
		{name: "zero-length lp packet", frame: tlv(tLpPacket)},
		{name: "empty interest name", frame: tlv(tInterest, tlv(tName), okNonce)},
		{name: "interest without name", frame: tlv(tInterest, okNonce)},
		{name: "zero-length hop limit at the end", frame: tlv(tInterest, okName, okNonce, tlv(tHopLimit))},
		{name: "2-byte hop limit", frame: tlv(tInterest, okName, okNonce, tlv(tHopLimit, b(1, 2)))},
		{name: "5-byte nonce", frame: tlv(tInterest, okName, tlv(tNonce, b(1, 2, 3, 4, 5)))},
		{name: "9-byte lifetime", frame: tlv(tInterest, okName, okNonce, tlv(tLifetime, make([]byte, 9)))},
		{name: "component type 0", frame: comp(tlv(0, b(1)))},
		{name: "component type > 65535", frame: comp(tlv(0x10000, b(1)))},
		{name: "short digest component", frame: comp(tlv(1, b(1, 2, 3)))},
		{name: "non-minimal outer length", frame: append(b(tInterest, 0xfd, 0, byte(len(okName)+len(okNonce))), append(append([]byte{}, okName...), okNonce...)...)},
		{name: "non-minimal component type", frame: comp(b(0xfd, 0, 8, 1, 'a'))},
		{name: "nested garbage in MetaInfo", frame: okData(okName, tlv(tMetaInfo, b(0xff, 0xff, 0xff)))},
		{name: "nested garbage in SignatureInfo", frame: tlv(tData, okName, tlv(tDataSigInfo, b(0x1b, 0x09, 1)), okSigVal)},
		{name: "garbage KeyLocator", frame: tlv(tData, okName, tlv(tDataSigInfo, tlv(tSigType, b(3)), tlv(tKeyLocator, b(0xfe))), okSigVal)},
		{name: "FinalBlockId not a component", frame: okData(okName, tlv(tMetaInfo, tlv(tFinalBlockID, b(8, 9))))},
		{name: "data without signature", frame: tlv(tData, okName, tlv(tContent, b(1)))},
		{name: "unknown critical element", frame: tlv(tInterest, okName, tlv(0x0b, b(1)), okNonce)},
		{name: "elements out of order", frame: tlv(tInterest, okName, okNonce, tlv(tCanBePrefix))},
		{name: "name repeated", frame: tlv(tInterest, okName, okName, okNonce)},
		{name: "trailing bytes in frame", frame: append(append([]byte{}, goodInterest...), 0)[:len(goodInterest)+1]},
		{name: "non-packet type (name)", frame: okName},
		{name: "non-packet type (component)", frame: tlv(8, []byte("abc"))},
		{name: "non-packet type (non-critical 0x300)", frame: tlv(0x300)},
		{name: "non-packet type (0xff80)", frame: tlv(0xff80, b(1, 2))},
		{name: "lp fragment is garbage", frame: lpFrame(b(0xff, 0xff, 0xff))},
		{name: "lp fragment is crash packet", frame: lpFrame(crashFrame)},
		{name: "lp fragment is two packets", frame: lpFrame(append(append([]byte{}, goodInterest...), goodInterest...))},
		{name: "lp fragment is an lp packet", frame: lpFrame(lpFrame(goodInterest))},
		{name: "lp without fragment (idle)", frame: tlv(tLpPacket, tlv(tLpSequence, b(1)))},
		{name: "lp fragmented 0/2", frame: lpFrame(goodInterest[:5], tlv(tLpSequence, b(1)), tlv(tLpFragIndex, b(0)), tlv(tLpFragCount, b(2)))},
		{name: "lp fragmented 1/2 garbage", frame: lpFrame(b(0xff, 0x80), tlv(tLpSequence, b(2)), tlv(tLpFragIndex, b(1)), tlv(tLpFragCount, b(2)))},
		{name: "lp nack carrying data", frame: lpFrame(goodData, tlv(tLpNack, tlv(tLpNackReason, b(150))))},
		{name: "lp header garbage (ndnd allocates a 2 GB PIT token)", hugeAlloc: true, frame: lpFrame(goodInterest, b(0x62, 0xfe, 0x7f))},
		{name: "1 TB KeyDigest length (ndnd: fatal out of memory, not recoverable)", hugeAlloc: true,
			frame: tlv(tData, okName, tlv(tDataSigInfo, tlv(tSigType, b(3)), tlv(tKeyLocator, rawTLV(tKeyDigest, b(0xff, 0, 0, 1, 0, 0, 0, 0, 0)))), okSigVal)},
		{name: "lp headers out of order", frame: lpFrame(goodInterest, tlv(tLpPitToken, b(1)), tlv(tLpSequence, b(1)))},
		{name: "lp 9-byte sequence", frame: lpFrame(goodInterest, tlv(tLpSequence, make([]byte, 9)))},
		{name: "lp bad prefix announcement", frame: lpFrame(goodInterest, tlv(tLpPrefixAnn, crashFrame))},
		{name: "lp interest with 3-byte pit token (crashes YaNFD's send path)", frame: lpFrame(goodInterest, tlv(tLpPitToken, b(1, 2, 3))), fwOnly: true},
		{name: "lp data with pit token of thread 1 (crashes YaNFD's dispatch)", frame: lpFrame(goodData, tlv(tLpPitToken, b(0, 1, 0, 0, 0, 1))), fwOnly: true},
		{name: "oversized packet", frame: okData(okName, tlv(tContent, make([]byte, 8800)))},
		{name: "oversized interest (20 kB of parameters)", frame: tlv(tInterest, okName, okNonce, tlv(tAppParams, make([]byte, 20000)))},
		{name: "rib/register with a bad Name in ControlParameters (crashes YaNFD management)", fwOnly: true,
			frame: mgmtInterest(t, "rib", "register", tlv(tControlParameters, badName), nil)},
		{name: "strategy-choice/set with a bad Strategy name", fwOnly: true,
			frame: mgmtInterest(t, "strategy-choice", "set", tlv(tControlParameters, okName, tlv(tStrategy, badName)), nil)},
		{name: "faces/create with garbage then ControlParameters", fwOnly: true,
			frame: mgmtInterest(t, "faces", "create", append(rawTLV(0x80, b(0xff, 0x80, 0, 0, 0, 0, 0, 0, 0)), tlv(tControlParameters, badName)...), nil)},
		{name: "Data name of 33 components (into the forwarder)", fwOnly: true,
			frame: okData(tlv(tName, bytes.Repeat(tlv(8, b('x')), 33)))},
		{name: "Interest name of 8193 bytes (into the forwarder)", fwOnly: true,
			frame: tlv(tInterest, tlv(tName, tlv(8, make([]byte, 8189))), okNonce)},
		{name: "rib/announce with a malformed PrefixAnnouncement", fwOnly: true,
			frame: mgmtInterest(t, "rib", "announce", nil, okData(badName))},
	}
	for i, m := range corpus {
		// a stream reader must drop the connection on lengths no packet
		// can have; frames whose outer TLV is not exactly the frame would
		// swallow or leave bytes of the next frame in a stream
		typ, n, _ := readVarNum(m.frame)
		l, k, _ := readVarNum(m.frame[n:])
		corpus[i].framing = l > ndn.MaxNDNPacketSize &&
			(l > maxSkipFrame || (typ != tInterest && typ != tData && typ != tLpPacket))
		corpus[i].streamable = corpus[i].framing || n+k+int(l) == len(m.frame)
	}
	return corpus
}

// mgmtInterest encodes /localhost/nfd/<module>/<verb>[/<params>] with
// optional ApplicationParameters, as a local app could send it.
func mgmtInterest(t testing.TB, module, verb string, params, appParams []byte) []byte {
	t.Helper()
	n := enc.Name{enc.NewGenericComponent("localhost"), enc.NewGenericComponent("nfd"),
		enc.NewGenericComponent(module), enc.NewGenericComponent(verb)}
	if params != nil {
		n = append(n, enc.NewGenericBytesComponent(params))
	}
	var ap enc.Wire
	if appParams != nil {
		ap = enc.Wire{appParams}
	}
	i, err := spec.Spec{}.MakeInterest(n, &ndn.InterestConfig{Nonce: optional.Some(uint32(5))}, ap, nil)
	if err != nil {
		t.Fatal(err)
	}
	return i.Wire.Join()
}

// ndndPanics reports whether ndnd's decoders panic on frame (std's
// ReadPacket and YaNFD's ParseFwPacket, LpPacket fragment included).
func ndndPanics(frame []byte) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	parseAll(frame)
	parseMgmt(frame)
	return ""
}

// parseAll runs every ndnd decoder the packet can meet, as the engine and
// YaNFD would; it must not panic on anything validatePacket accepts.
func parseAll(frame []byte) {
	if p, _, err := spec.ReadPacket(enc.NewBufferView(frame)); err == nil {
		if p.LpPacket != nil {
			if ip, _, err := spec.ReadPacket(enc.NewWireView(p.LpPacket.Fragment)); err == nil {
				touch(ip)
			}
		}
		touch(p)
	}
	_, _, _ = spec.Spec{}.ReadData(enc.NewBufferView(frame))
	_, _, _ = spec.Spec{}.ReadInterest(enc.NewBufferView(frame))
	if fp, err := defn.ParseFwPacket(enc.NewWireView(enc.Wire{frame}), false); err == nil && fp.LpPacket != nil {
		if ip, err := defn.ParseFwPacket(enc.NewWireView(fp.LpPacket.Fragment), false); err == nil && ip.Interest != nil {
			_ = ip.Interest.NameV.String()
		}
	}
}

// parseMgmt decodes what YaNFD's management decodes of a command Interest:
// the ControlParameters component and a PrefixAnnouncement.
func parseMgmt(frame []byte) {
	p, _, err := spec.ReadPacket(enc.NewBufferView(frame))
	if err != nil {
		return
	}
	if p.LpPacket != nil {
		if p, _, err = spec.ReadPacket(enc.NewWireView(p.LpPacket.Fragment)); err != nil {
			return
		}
	}
	if p.Interest == nil {
		return
	}
	// as YaNFD dispatches: /localhost/nfd or /localhop/nfd, then the
	// module and verb by their String()
	n := p.Interest.Name()
	if len(n) < 4 || !(defn.LOCAL_PREFIX.IsPrefix(n) || defn.NON_LOCAL_PREFIX.IsPrefix(n)) {
		return
	}
	cmd := n[2].String() + "/" + n[3].String()
	if cmd == "rib/announce" {
		if ap := p.Interest.AppParam(); ap.Length() > 0 {
			_, _, _ = spec.Spec{}.ReadData(enc.NewWireView(ap))
		}
	}
	if len(n) >= 5 && mgmtDecodes[cmd] {
		_, _ = mgmt.ParseControlParameters(enc.NewBufferView(n[4].Val), true)
	}
}

// touch uses the decoded fields the way the engine and applications do.
func touch(p *spec.Packet) {
	if p.Interest != nil {
		_ = p.Interest.Name().String()
		_ = p.Interest.Name().Hash()
		_ = p.Interest.Lifetime()
		_ = p.Interest.HopLimit()
		_ = p.Interest.ForwardingHint()
		if s := p.Interest.Signature(); s != nil {
			_ = s.KeyName()
			_, _ = s.Validity()
		}
	}
	if p.Data != nil {
		_ = p.Data.Name().String()
		_ = p.Data.FinalBlockID()
		_ = p.Data.Freshness()
		_ = p.Data.ContentType()
		if s := p.Data.Signature(); s != nil {
			_ = s.KeyName()
			_, _ = s.Validity()
		}
	}
}

func TestValidateAcceptsValid(t *testing.T) {
	for _, f := range validFrames(t) {
		if err := validatePacket(f.frame, validateOpts{}); err != nil {
			t.Errorf("%s: rejected: %v (%x)", f.name, err, f.frame)
		}
		if err := validatePacket(f.frame, validateOpts{forForwarder: true, fwThreads: 1}); err != nil {
			t.Errorf("%s: rejected for the forwarder: %v", f.name, err)
		}
		if _, _, err := spec.ReadPacket(enc.NewBufferView(f.frame)); err != nil {
			t.Errorf("%s: ndnd rejects a frame of the valid corpus: %v", f.name, err)
		}
	}
}

func TestValidateRejectsMalformed(t *testing.T) {
	crashers := 0
	for _, m := range malformedCorpus(t) {
		p := ""
		if !m.hugeAlloc {
			p = ndndPanics(m.frame)
		}
		if p != "" {
			crashers++
		}
		err := validatePacket(m.frame, validateOpts{forForwarder: true, fwThreads: 1})
		if err == nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: accepted (%v) %x", m.name, err, m.frame)
			continue
		}
		errEngine := validatePacket(m.frame, validateOpts{})
		if m.fwOnly != (errEngine == nil) {
			t.Errorf("%s: engine-side verdict %v", m.name, errEngine)
		}
		t.Logf("%-62s -> %v%s", m.name, err, map[bool]string{true: "   [ndnd panics: " + p + "]"}[p != ""])
	}
	if ndndPanics(crashFrame) == "" {
		t.Logf("NOTE: ndnd no longer panics on the crash packet")
	}
	t.Logf("%d frames of the corpus panic ndnd's decoders", crashers)
}

func TestFrameReader(t *testing.T) {
	good := tlv(tInterest, okName, okNonce)
	stream := bytes.Join([][]byte{good, crashFrame, good}, nil)
	// deliver it one byte at a time: frames must come out whole
	fr := newFrameReader(&oneByteReader{b: stream})
	var got [][]byte
	for len(got) < 3 {
		if err := fr.fill(); err != nil {
			t.Fatal(err)
		}
		for {
			f, err := fr.next()
			if err != nil {
				t.Fatal(err)
			}
			if f == nil {
				break
			}
			got = append(got, append([]byte(nil), f...))
		}
	}
	if !bytes.Equal(got[0], good) || !bytes.Equal(got[1], crashFrame) || !bytes.Equal(got[2], good) {
		t.Fatalf("frames: %x", got)
	}
	// Oversized packets (their length is known) are skipped, one byte at a
	// time too, each reported once; the frames around them come out whole.
	big := tlv(tData, okName, tlv(tContent, make([]byte, 3*frameBufSize)))
	bigLp := tlv(tLpPacket, tlv(tLpFragment, tlv(tInterest, okName, okNonce, tlv(tAppParams, make([]byte, 9000)))))
	stream = bytes.Join([][]byte{good, big, good, bigLp, bigLp, good}, nil)
	for _, r := range []io.Reader{&oneByteReader{b: stream}, bytes.NewReader(stream)} {
		fr := newFrameReader(r)
		got, skipped := 0, 0
		for got < 3 {
			if err := fr.fill(); err != nil {
				t.Fatalf("after %d frames, %d skipped: %v", got, skipped, err)
			}
			for {
				f, err := fr.next()
				if errors.Is(err, errOversize) {
					skipped++
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if f == nil {
					break
				}
				if !bytes.Equal(f, good) {
					t.Fatalf("frame %d: %x", got, f)
				}
				got++
			}
		}
		if skipped != 3 {
			t.Fatalf("%d oversized frames reported, want 3", skipped)
		}
	}
	// beyond 1 MiB, or a type no packet has: lost framing
	for _, f := range [][]byte{rawTLV(tData, b(0xfe, 0, 0x10, 0, 1)), rawTLV(tName, b(0xfd, 0x30, 0))} {
		fr := newFrameReader(bytes.NewReader(append(f, make([]byte, 64)...)))
		_ = fr.fill()
		if _, err := fr.next(); !errors.Is(err, errFraming) {
			t.Errorf("%x: want errFraming, got %v", f[:5], err)
		}
	}
	// a length that cannot be a packet is a framing error, never a panic
	for _, m := range malformedCorpus(t) {
		if !m.framing {
			continue
		}
		fr := newFrameReader(bytes.NewReader(append(m.frame, make([]byte, 64)...)))
		if err := fr.fill(); err != nil {
			t.Fatal(err)
		}
		if _, err := fr.next(); !errors.Is(err, errFraming) {
			t.Errorf("%s: want errFraming, got %v", m.name, err)
		}
	}
}

type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, errors.New("eof")
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

// FuzzValidatePacket: whatever validatePacket accepts, ndnd's decoders must
// not panic on, and YaNFD's stream framing must delimit exactly as we did.
//
//	go test -run XXX -fuzz FuzzValidatePacket -fuzztime 60s ./daemon/forwarder/
func FuzzValidatePacket(f *testing.F) {
	for _, v := range validFrames(f) {
		f.Add(v.frame)
	}
	for _, m := range malformedCorpus(f) {
		f.Add(m.frame)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		errEngine := validatePacket(frame, validateOpts{})
		errFw := validatePacket(frame, validateOpts{forForwarder: true, fwThreads: 1})
		if errors.Is(errEngine, errValidatorPanic) || errors.Is(errFw, errValidatorPanic) {
			t.Fatalf("validator panicked on %x", frame)
		}
		if errFw == nil && errEngine != nil {
			t.Fatalf("forwarder rules are looser than the engine's: %v", errEngine)
		}
		if errEngine != nil {
			return
		}
		parseAll(frame) // a panic fails the fuzz run
		if errFw == nil {
			parseMgmt(frame)
		}
		// the frame boundary as ndn_io.ReadTlvStream computes it
		r := enc.NewBufferView(frame)
		typ, err1 := r.ReadTLNum()
		l, err2 := r.ReadTLNum()
		if err1 != nil || err2 != nil || typ.EncodingLength()+l.EncodingLength()+int(l) != len(frame) {
			t.Fatalf("ndnd would frame %x differently", frame)
		}
	})
}

// BenchmarkValidatePacket: the per-packet cost of the gate on a 1.3 KB Data
// (1200-byte content, SHA-256 signature) and a typical Interest.
func BenchmarkValidatePacket(b *testing.B) {
	sp := spec.Spec{}
	n := name(b, "/peets/room/alice/media/v=1700000000000/seg=123456")
	d, err := sp.MakeData(n, &ndn.DataConfig{Freshness: optional.Some(time.Second)},
		enc.Wire{bytes.Repeat([]byte{1}, 1200)}, sig.NewSha256Signer())
	if err != nil {
		b.Fatal(err)
	}
	data := d.Wire.Join()
	lpData := encodeLp(b, &spec.LpPacket{PitToken: []byte{0, 0, 0, 0, 0, 1}, Fragment: enc.Wire{data}})
	i, err := sp.MakeInterest(n, &ndn.InterestConfig{Nonce: optional.Some(uint32(1)),
		Lifetime: optional.Some(time.Second), MustBeFresh: true}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	interest := i.Wire.Join()
	for _, c := range []struct {
		name  string
		frame []byte
	}{{"data-1.3KB", data}, {"lp-data-1.3KB", lpData}, {"interest", interest}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.frame)))
			for range b.N {
				if err := validatePacket(c.frame, validateOpts{forForwarder: true, fwThreads: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("ndnd-ReadPacket-data-1.3KB", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, _, err := spec.ReadPacket(enc.NewBufferView(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
