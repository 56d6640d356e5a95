package media

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

var fuzzParticipant = proto.ParticipantPrefix(proto.DefaultUserPrefix("fuzz"), "room")

// FuzzPublisherInterest feeds arbitrary Interest names to a publisher's
// handlers (stream and PLI).
func FuzzPublisherInterest(f *testing.F) {
	S := proto.StreamPrefix(fuzzParticipant, "cam")
	for _, n := range []enc.Name{
		proto.MediaName(S, 1, 3), proto.MediaName(S, 1, 0), proto.MediaName(S, 0, 3), proto.MediaName(S, 1, 1<<40),
		proto.MetaInterestName(S), proto.MetaDataName(S, 1, 2),
		proto.PLIName(fuzzParticipant, "cam", 1, 2), proto.PLIName(fuzzParticipant, "x", 1, 2),
		S.Append(enc.NewGenericComponent("zz")), S.Append(enc.NewKeywordComponent("meta"), enc.NewGenericComponent("x")),
	} {
		f.Add(fuzzEncodeName(n))
	}
	e := newFakeEngine()
	prod, err := NewProducer(ProducerConfig{Engine: e, Participant: fuzzParticipant, Logger: testLog})
	if err != nil {
		f.Fatal(err)
	}
	defer prod.Close()
	pub, err := prod.NewPublisher(PublisherConfig{Stream: "cam", Boot: 1, Signer: signer.NewSha256Signer(), RingSize: 8, MaxHeld: 64, OnKeyframeRequest: func() {}})
	if err != nil {
		f.Fatal(err)
	}
	publishN(f, pub, 1, 20, 5, 0)
	reply := func(enc.Wire) error { return nil }
	f.Fuzz(func(t *testing.T, b []byte) {
		name := fuzzName(b)
		args := ndn.InterestHandlerArgs{Interest: fakeInterest{name: name}, Reply: reply, Deadline: time.Now().Add(time.Millisecond)}
		pub.onInterest(args)
		prod.onPLI(args)
	})
}

// FuzzFetcherData feeds arbitrary Data packets, as answers to each kind of
// Interest, to a fetcher in the middle of a stream. One that fails
// verification moves nothing.
func FuzzFetcherData(f *testing.F) {
	S := proto.StreamPrefix(fuzzParticipant, "cam")
	const boot = 9
	mk := func(name enc.Name, ct ndn.ContentType, content []byte) []byte {
		d, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{ContentType: optional.Some(ct)}, enc.Wire{content}, signer.NewSha256Signer())
		if err != nil {
			f.Fatal(err)
		}
		return d.Wire.Join()
	}
	meta := proto.StreamMeta{Boot: boot, Latest: 40, Oldest: 10, KeySeq: 30, MimeType: "video/VP8", ClockRate: 90000}
	newer := meta
	newer.Boot = boot + 1
	f.Add(mk(proto.MediaName(S, boot, 31), ndn.ContentTypeBlob, rtpPacket(31, false, 100)), uint8(0), uint8(31))
	f.Add(mk(proto.MediaName(S, boot, 32), ndn.ContentTypeBlob, rtpPacket(32, false, 1600)), uint8(0), uint8(32))
	f.Add(mk(proto.MediaName(S, boot, 33), ndn.ContentTypeNack, meta.Encode()), uint8(0), uint8(33))
	f.Add(mk(proto.MediaName(S, boot-1, 33), ndn.ContentTypeNack, newer.Encode()), uint8(3), uint8(33))
	f.Add(mk(proto.MetaDataName(S, boot, 40), ndn.ContentTypeBlob, meta.Encode()), uint8(1), uint8(0))
	f.Add(mk(proto.MetaDataName(S, boot+1, 40), ndn.ContentTypeBlob, newer.Encode()), uint8(1), uint8(0))
	f.Add(mk(proto.PLIName(fuzzParticipant, "cam", boot, 30), ndn.ContentTypeBlob, meta.Encode()), uint8(2), uint8(0))
	f.Add([]byte{0x06, 0x00}, uint8(0), uint8(30))

	f.Fuzz(func(t *testing.T, wire []byte, kind, seq uint8) {
		d, covered, err := readDataNoPanic(wire)
		if err != nil {
			return
		}
		fe, err := NewFetcher(FetcherConfig{Engine: newFakeEngine(), Owner: fuzzParticipant, Stream: "cam",
			Verifier: acceptAll{bad: kind&4 != 0}, OnPacket: func([]byte, uint64) {}, Logger: testLog})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		fe.init(now)
		fe.onMeta(meta, now)
		fe.step(now)
		tg := tag{boot: boot, seq: uint64(seq), sent: now}
		switch kind % 4 {
		case 0:
			tg.kind = tagMedia
		case 1:
			tg.kind = tagMeta
		case 2:
			tg.kind = tagPLI
		case 3:
			tg.kind, tg.boot = tagMedia, boot-1
		}
		before := positionOf(fe)
		fe.handle(event{tag: tg, result: ndn.InterestResultData, data: d, covered: covered}, now)
		if after := positionOf(fe); kind&4 != 0 && after != before {
			t.Fatalf("an answer that failed verification moved the fetcher:\n%+v\n%+v", before, after)
		}
		fe.step(now.Add(time.Second))
		if fe.deliverSeq > fe.nextExpress {
			t.Fatalf("deliverSeq %d > nextExpress %d", fe.deliverSeq, fe.nextExpress)
		}
	})
}

// fuzzName decodes a name from a compact fuzz format: a sequence of
// (type, length, value) with one-byte type and length. (enc.NameFromBytes
// panics on some inputs: ndnd v1.5.3's WireView.ReadBuf does not check a
// huge length. Packets from the network are parsed by spec.ReadPacket,
// which does.)
func fuzzName(b []byte) enc.Name {
	var n enc.Name
	for len(b) >= 2 {
		typ, l := enc.TLNum(b[0]), int(b[1])
		b = b[2:]
		if l > len(b) {
			l = len(b)
		}
		n = append(n, enc.NewBytesComponent(typ, append([]byte(nil), b[:l]...)))
		b = b[l:]
	}
	return n
}

func fuzzEncodeName(n enc.Name) []byte {
	var b []byte
	for _, c := range n {
		b = append(b, byte(c.Typ), byte(len(c.Val)))
		b = append(b, c.Val...)
	}
	return b
}

// readDataNoPanic is spec.ReadData, but a panic is an error: ndnd v1.5.3's
// TLV reader panics on a length with the top bit set (WireView.ReadBuf
// converts it to a negative int), in spec.ReadPacket and YaNFD's
// defn.ParseFwPacket alike. That happens before any Data reaches this
// package (the engine parses it), so it is not this package's to fix: it is
// reported to the forwarder and engine owners.
func readDataNoPanic(wire []byte) (d ndn.Data, covered enc.Wire, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ndnd parser panic: %v", r)
		}
	}()
	return spec.Spec{}.ReadData(enc.NewBufferView(wire))
}

// FuzzFetcherEvents drives a fetcher through a sequence of events decoded
// from the input, three bytes each (kind, index, variant): answers to the
// Interests it expressed (media packets, "gone" answers, metadata and
// keyframe-request answers; well or badly signed; well-formed or not;
// verified at once or later), Nacks, timeouts, time passing, Refresh and
// keyframe and metadata requests. After every event: an answer that fails
// verification moved nothing; the fetcher never asks beyond the newest
// position a well-signed Data vouched for plus its window; it delivers only
// well-signed packets, of the seq they were asked for.
func FuzzFetcherEvents(f *testing.F) {
	// Discovery, then packets, then an impostor's answers, time passing.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 5, 10, 0, 1, 0, 1, 2, 0, 3, 5, 100, 0, 0, 2, 0x80, 7, 0, 0})
	f.Add([]byte{0, 0, 0x20, 0, 0, 2, 1, 3, 1, 5, 200, 0, 0, 0, 0x18, 6, 0, 0, 5, 255, 0, 3, 0, 0, 4, 1, 0})
	f.Add([]byte{0, 0, 0xe0, 0, 0, 0, 0, 5, 0x0a, 5, 50, 0, 0, 0, 0x06, 6, 1, 1, 6, 2, 2, 0, 0, 0x89})
	good, bad := signer.NewSha256Signer(), signer.NewHmacSigner([]byte("impostor"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		d := newEventDriver(t, good, bad)
		defer d.f.mu.Unlock()
		for ; len(ops) >= 3; ops = ops[3:] {
			d.op(ops[0], ops[1], ops[2])
		}
	})
}

// eventDriver runs a fetcher on a fake engine, in simulated time, under
// its lock (events queue up; the driver handles them).
type eventDriver struct {
	t         *testing.T
	f         *Fetcher
	S         enc.Name
	now       time.Time
	pending   []simInterest
	deferred  []func() // verifications not done yet
	deferNext bool     // the next verification is deferred
	top       map[uint64]uint64
	good, bad ndn.Signer
}

const driverBoot = 1000

func newEventDriver(t *testing.T, good, bad ndn.Signer) *eventDriver {
	d := &eventDriver{t: t, S: proto.StreamPrefix(fuzzParticipant, "cam"), now: time.Unix(1e9, 0), top: map[uint64]uint64{}, good: good, bad: bad}
	e := newFakeEngine()
	e.onExpress = func(i *ndn.EncodedInterest, cb ndn.ExpressCallbackFunc) {
		d.pending = append(d.pending, simInterest{name: i.FinalName, cfg: i.Config, sent: d.now, cb: cb})
	}
	fe, err := NewFetcher(FetcherConfig{Engine: e, Owner: fuzzParticipant, Stream: "cam", Verifier: driverVerifier{d},
		MaxWindow: 64, Logger: testLog,
		OnPacket: func(pkt []byte, seq uint64) {
			if len(pkt) < 20 || rtpIndex(pkt) != seq {
				t.Fatalf("delivered a packet that is not seq %d's", seq)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	d.f = fe
	fe.mu.Lock()
	fe.init(d.now)
	fe.step(d.now)
	return d
}

// driverVerifier accepts Data signed with DigestSha256 (the driver's good
// signer), at once or, if the driver says so, when the driver fires it.
type driverVerifier struct{ d *eventDriver }

func (v driverVerifier) Verify(_ enc.Name, data ndn.Data, _ enc.Wire, cb func(error)) {
	var err error
	if data.Signature() == nil || data.Signature().SigType() != ndn.SignatureDigestSha256 {
		err = ErrVerification
	}
	if v.d.deferNext {
		v.d.deferred = append(v.d.deferred, func() { cb(err) })
		return
	}
	cb(err)
}

func (d *eventDriver) take(idx byte) (simInterest, bool) {
	if len(d.pending) == 0 {
		return simInterest{}, false
	}
	i := int(idx) % len(d.pending)
	in := d.pending[i]
	d.pending = append(d.pending[:i], d.pending[i+1:]...)
	return in, true
}

func (d *eventDriver) op(kind, idx, v byte) {
	switch kind % 8 {
	case 0, 1, 2:
		if in, ok := d.take(idx); ok {
			d.answer(in, v)
		}
	case 3:
		if in, ok := d.take(idx); ok {
			in.cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultNack})
		}
	case 4:
		if in, ok := d.take(idx); ok {
			in.cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultTimeout})
		}
	case 5:
		d.now = d.now.Add(time.Duration(idx+1) * 5 * time.Millisecond)
	case 6:
		switch v % 3 {
		case 0:
			d.f.refreshNow(d.now)
		case 1:
			d.f.pliWanted = true
		case 2:
			d.f.probeWanted = true
		}
	case 7:
		if len(d.deferred) > 0 {
			cb := d.deferred[0]
			d.deferred = d.deferred[1:]
			cb()
		}
	}
	d.drain()
	d.f.step(d.now)
	d.check()
}

// drain handles the queued events.
func (d *eventDriver) drain() {
	for len(d.f.events) > 0 {
		d.handle(<-d.f.events)
	}
}

// position is what no bad answer may change.
type position struct {
	boot, deliverSeq, nextExpress, highest uint64
	meta                                   proto.StreamMeta
	srtt, rttvar                           time.Duration
	lastData                               time.Time
	delivered, lost, received, gone        uint64
}

func positionOf(f *Fetcher) position {
	return position{f.boot, f.deliverSeq, f.nextExpress, f.highest, f.meta, f.srtt, f.rttvar, f.lastData,
		f.st.Delivered, f.st.Lost, f.st.Received, f.st.Gone}
}

func (d *eventDriver) handle(ev event) {
	before := positionOf(d.f)
	d.f.handle(ev, d.now)
	badSig := ev.data != nil && (ev.data.Signature() == nil || ev.data.Signature().SigType() != ndn.SignatureDigestSha256)
	if after := positionOf(d.f); (badSig || ev.verified && ev.verr != nil) && after != before {
		d.t.Fatalf("a bad answer (%v) moved the fetcher:\n%+v\n%+v", ev.data.Name(), before, after)
	}
}

func (d *eventDriver) check() {
	f := d.f
	if f.deliverSeq > f.nextExpress {
		d.t.Fatalf("deliverSeq %d > nextExpress %d", f.deliverSeq, f.nextExpress)
	}
	if f.boot == 0 {
		return
	}
	top := d.top[f.boot]
	if top > math.MaxUint64/2 {
		return // absurd, but signed by the publisher: its own stream's business
	}
	if limit := top + 1 + uint64(f.cfg.MaxWindow+f.cfg.InterestBatch); f.nextExpress > limit {
		d.t.Fatalf("asks up to seq %d; the newest vouched for is %d", f.nextExpress-1, top)
	}
}

// answer answers in with a Data chosen by v: bit 0 badly signed, bits 1-2
// the kind of content (for media: a packet, "gone", garbage, a longer
// name), bits 3-4 the boot, bits 5-7 where the metadata says the stream
// is; bit 7 also defers the verification.
func (d *eventDriver) answer(in simInterest, v byte) {
	sig := d.good
	if v&1 != 0 {
		sig = d.bad
	}
	name, ct := in.name, ndn.ContentTypeBlob
	var content []byte
	sn, err := proto.ParseStreamName(d.S, in.name)
	switch {
	case err != nil: // a keyframe request's answer
		m := d.meta(max(d.f.boot, driverBoot), v)
		content = m.Encode()
		d.vouch(sig, m.Boot, m.Latest)
	case sn.Kind == proto.KindMeta:
		m := d.meta(driverBoot+uint64(v>>3&3), v)
		name, content = proto.MetaDataName(d.S, m.Boot, m.Latest), m.Encode()
		d.vouch(sig, m.Boot, m.Latest)
	default:
		switch v >> 1 & 3 {
		case 0:
			content = rtpPacket(sn.Seq, v&8 != 0, 100)
			if sig == d.bad {
				content = rtpPacket(sn.Seq|1<<40, true, 100)
			}
			d.vouch(sig, sn.Boot, sn.Seq)
		case 1:
			m := d.meta(sn.Boot+uint64(v>>3&1), v)
			ct, content = ndn.ContentTypeNack, m.Encode()
			d.vouch(sig, m.Boot, m.Latest)
		case 2:
			content = bytes.Repeat([]byte{v & 0x3f}, int(v)) // RTP version 0: not a packet
		case 3:
			name = name.Clone().Append(enc.NewGenericComponent("x"))
			content = rtpPacket(sn.Seq|1<<41, true, 100)
		}
	}
	data, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{ContentType: optional.Some(ct)}, enc.Wire{content}, sig)
	if err != nil {
		d.t.Fatal(err)
	}
	pd, covered, err := spec.Spec{}.ReadData(enc.NewWireView(data.Wire))
	if err != nil {
		d.t.Fatal(err)
	}
	in.cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultData, Data: pd, RawData: data.Wire, SigCovered: covered})
	d.deferNext = v&0x80 != 0 // verified when the event is handled
	d.drain()
	d.deferNext = false
}

// meta is stream metadata of boot whose Latest is chosen by v's top bits:
// near what was vouched for, far ahead, or absurd.
func (d *eventDriver) meta(boot uint64, v byte) proto.StreamMeta {
	base := max(d.top[boot], 100)
	latest := base + []uint64{0, 1, 8, 40, 200, 600, 1 << 20, math.MaxUint64 - base - 3}[v>>5]
	return proto.StreamMeta{Boot: boot, Latest: latest, KeySeq: latest - uint64(v&7), Oldest: latest / 2, MimeType: "video/vp8", ClockRate: 90000, Rate: uint64(v)}
}

func (d *eventDriver) vouch(sig ndn.Signer, boot, pos uint64) {
	if sig == d.good {
		d.top[boot] = max(d.top[boot], pos)
	}
}
