package linktap

import (
	"encoding/binary"
	"testing"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"

	"github.com/peets/peets/proto"
)

const port = 6363

// ipUDP wraps payload in IPv4 + UDP headers (one datagram, not fragmented).
func ipUDP(src, dst uint16, id uint16, payload []byte) []byte {
	b := make([]byte, 28+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	binary.BigEndian.PutUint16(b[4:], id)
	b[8], b[9] = 64, 17
	copy(b[12:], []byte{10, 0, 0, 1})
	copy(b[16:], []byte{10, 0, 0, 2})
	binary.BigEndian.PutUint16(b[20:], src)
	binary.BigEndian.PutUint16(b[22:], dst)
	binary.BigEndian.PutUint16(b[24:], uint16(8+len(payload)))
	copy(b[28:], payload)
	return b
}

// fragments splits an IPv4 datagram into two fragments at off (a multiple
// of 8 bytes of payload).
func fragments(d []byte, off int) (first, second []byte) {
	first = append([]byte(nil), d[:20+off]...)
	binary.BigEndian.PutUint16(first[2:], uint16(len(first)))
	binary.BigEndian.PutUint16(first[6:], 0x2000)
	second = append(append([]byte(nil), d[:20]...), d[20+off:]...)
	binary.BigEndian.PutUint16(second[2:], uint16(len(second)))
	binary.BigEndian.PutUint16(second[6:], uint16(off/8))
	return first, second
}

func lp(wire []byte) []byte {
	frag := append([]byte{tLpFragment, 0xfd, 0, 0}, wire...)
	binary.BigEndian.PutUint16(frag[2:], uint16(len(wire)))
	out := append([]byte{tLpPacket, 0xfd, 0, 0}, frag...)
	binary.BigEndian.PutUint16(out[2:], uint16(len(frag)))
	return out
}

func name(t *testing.T, s string) enc.Name {
	t.Helper()
	n, err := enc.NameFromStr(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func interest(t *testing.T, n enc.Name) []byte {
	t.Helper()
	i, err := spec.Spec{}.MakeInterest(n, &ndn.InterestConfig{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return i.Wire.Join()
}

func data(t *testing.T, n enc.Name, size int) []byte {
	t.Helper()
	d, err := spec.Spec{}.MakeData(n, &ndn.DataConfig{}, enc.Wire{make([]byte, size)}, signer.NewSha256Signer())
	if err != nil {
		t.Fatal(err)
	}
	return d.Wire.Join()
}

func TestCounter(t *testing.T) {
	stream := name(t, "/peets/user/alice/lab/media/cam")
	m5, m6 := proto.MediaName(stream, 1_700_000_000_000_000, 5), proto.MediaName(stream, 1_700_000_000_000_000, 6)
	hb := name(t, "/peets/user/alice/lab/sync/t=17/seq=3")
	c := NewCounter(port)

	in5 := ipUDP(port, port, 1, lp(interest(t, m5)))
	if p := c.Add(in5); p.Kind != KindInterest || p.Data {
		t.Fatalf("interest: %+v", p)
	}
	c.Add(ipUDP(port, port, 2, lp(interest(t, m5)))) // a repair
	c.Add(ipUDP(port, port, 3, interest(t, m6)))     // bare, no LpPacket
	d5 := ipUDP(port, port, 4, lp(data(t, m5, 900)))
	if p := c.Add(d5); p.Kind != KindMediaData || !p.Data || p.Dup {
		t.Fatalf("data: %+v", p)
	}
	if p := c.Add(ipUDP(port, port, 5, lp(data(t, m5, 900)))); !p.Dup {
		t.Fatalf("second copy not a duplicate: %+v", p)
	}
	// A large Data in two IP fragments: one packet, both fragments' bytes.
	big := ipUDP(port, port, 6, lp(data(t, m6, 2000)))
	f1, f2 := fragments(big, 1480)
	c.Add(f1)
	if p := c.Add(f2); p.Kind != KindMediaData || !p.Cont || p.Dup {
		t.Fatalf("second fragment: %+v", p)
	}
	c.Add(ipUDP(port, port, 7, lp(data(t, hb, 100))))       // a heartbeat: not media
	c.Add(ipUDP(50000, 40000, 8, []byte("srtp packet..."))) // WebRTC
	c.Add([]byte{0x60, 0, 0, 0})                            // not IPv4

	got := c.Counts()
	wire := func(b []byte) uint64 { return uint64(len(b) + l2Header) }
	want := Counts{
		Packets:             10,
		Interests:           3,
		InterestRepeats:     1,
		InterestRepeatBytes: wire(in5),
		MediaData:           3,
		DupData:             1,
		DupDataBytes:        wire(d5),
		MediaDataBytes:      2*wire(d5) + wire(f1) + wire(f2),
	}
	if got.Interests != want.Interests || got.InterestRepeats != want.InterestRepeats || got.InterestRepeatBytes != want.InterestRepeatBytes ||
		got.MediaData != want.MediaData || got.DupData != want.DupData || got.DupDataBytes != want.DupDataBytes ||
		got.MediaDataBytes != want.MediaDataBytes || got.Packets != want.Packets {
		t.Fatalf("counts\n got %+v\nwant %+v", got, want)
	}
	if got.OtherNDNBytes == 0 || got.UDPBytes != wire(ipUDP(1, 2, 0, []byte("srtp packet..."))) || got.OtherBytes != 4+l2Header {
		t.Fatalf("other kinds: %+v", got)
	}
	sum := got.InterestBytes + got.MediaDataBytes + got.OtherNDNBytes + got.UDPBytes + got.OtherBytes
	if sum != got.Bytes {
		t.Fatalf("kinds add up to %d of %d bytes", sum, got.Bytes)
	}
	if d := got.Sub(got); d != (Counts{}) {
		t.Fatalf("Sub: %+v", d)
	}
	// Per stream: the three media Data (the repeat too; the fragmented one
	// once), under the stream's id.
	if s := c.Streams(); len(s) != 1 || s["cam"] != 3 {
		t.Fatalf("streams: %v", s)
	}
}

// TestCounterGarbage: cut and malformed packets are counted, never panic.
func TestCounterGarbage(t *testing.T) {
	c := NewCounter(port)
	stream := name(t, "/a/media/cam")
	good := ipUDP(port, port, 1, lp(data(t, proto.MediaName(stream, 1, 1), 200)))
	for i := range len(good) {
		c.Add(good[:i])
	}
	for _, b := range [][]byte{
		ipUDP(port, port, 2, []byte{0x64, 0xff}),
		ipUDP(port, port, 3, []byte{0x64, 0x05, 0x50, 0x20, 0x06}),
		ipUDP(port, port, 4, []byte{0x06, 0xfe, 0xff, 0xff, 0xff, 0xff, 0x07}),
		{0x4f, 0, 0, 0, 0, 0, 0x20, 0, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		c.Add(b)
	}
	if c.Counts().Packets != uint64(len(good)+4) {
		t.Fatalf("%+v", c.Counts())
	}
}
