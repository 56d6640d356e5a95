package forwarder

import (
	"testing"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	sig "github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
)

// lpFrameOf wraps pkt in an LpPacket with the given congestion mark (none
// if mark < 0).
func lpFrameOf(t *testing.T, pkt enc.Wire, mark int) []byte {
	t.Helper()
	lp := spec.LpPacket{Fragment: pkt}
	if mark >= 0 {
		lp.CongestionMark = optional.Some(uint64(mark))
	}
	p := &spec.Packet{LpPacket: &lp}
	var pe spec.PacketEncoder
	pe.Init(p)
	frame := pe.Encode(p).Join()
	if err := validatePacket(frame, validateOpts{}); err != nil {
		t.Fatalf("test frame invalid: %v", err)
	}
	return frame
}

func TestMarkedData(t *testing.T) {
	name, _ := enc.NameFromStr("/peets/user/alice/lab/media/cam.h/t=1796622786/seq=42")
	d, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{}, enc.Wire{[]byte("rtp")}, sig.NewSha256Signer())
	if err != nil {
		t.Fatal(err)
	}
	i, err := spec.Spec{}.MakeInterest(name, &ndn.InterestConfig{Nonce: optional.Some(uint32(7))}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	c := &Conn{}
	remove := c.OnCongestionMark(func(n enc.Name) { got = append(got, n.String()) })
	for _, tc := range []struct {
		what  string
		frame []byte
		want  bool
	}{
		{"marked Data", lpFrameOf(t, d.Wire, 1), true},
		{"Data with a zero mark", lpFrameOf(t, d.Wire, 0), false},
		{"Data without a mark", lpFrameOf(t, d.Wire, -1), false},
		{"marked Interest", lpFrameOf(t, i.Wire, 1), false},
		{"bare Data", d.Wire.Join(), false},
	} {
		n, ok := markedData(tc.frame)
		if ok != tc.want || ok && !n.Equal(name) {
			t.Errorf("%s: %v %v", tc.what, n, ok)
		}
		c.lpFrame(tc.frame)
	}
	if len(got) != 1 || got[0] != name.String() || c.marks.Load() != 1 {
		t.Errorf("marks told %v, counted %d", got, c.marks.Load())
	}
	remove()
	c.lpFrame(lpFrameOf(t, d.Wire, 1))
	if len(got) != 1 || c.marks.Load() != 2 {
		t.Errorf("after removal: told %v, counted %d", got, c.marks.Load())
	}
}

// FuzzMarkedData: whatever passes the validator, markedData never panics.
func FuzzMarkedData(f *testing.F) {
	f.Add([]byte{0x64, 0x0b, 0xfd, 0x03, 0x40, 0x01, 0x01, 0x50, 0x04, 0x06, 0x02, 0x07, 0x00})
	f.Fuzz(func(t *testing.T, frame []byte) {
		if validatePacket(frame, validateOpts{}) != nil {
			return
		}
		markedData(frame)
	})
}
