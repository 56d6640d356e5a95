package media

import (
	"fmt"
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
// Interest, to a fetcher in the middle of a stream.
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
		fe.handle(event{tag: tg, result: ndn.InterestResultData, data: d, covered: covered}, now)
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
