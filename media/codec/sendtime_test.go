package codec

import (
	"testing"

	"github.com/pion/rtp"
)

// extPacket is an RTP packet with one-byte header extensions: ids and
// data in turn.
func extPacket(t *testing.T, exts ...any) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 9, SSRC: 1, CSRC: []uint32{5}}, Payload: []byte{1, 2, 3}}
	for i := 0; i+1 < len(exts); i += 2 {
		if err := p.SetExtension(exts[i].(uint8), exts[i+1].([]byte)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAbsSendTime(t *testing.T) {
	b := extPacket(t, uint8(3), []byte{0xaa}, uint8(2), []byte{0x12, 0x34, 0x56})
	if v, ok := AbsSendTime(b, 2); !ok || v != 0x123456 {
		t.Fatalf("got %x %v", v, ok)
	}
	if _, ok := AbsSendTime(b, 4); ok {
		t.Fatal("found an element that is not there")
	}
	if _, ok := AbsSendTime(b, 3); ok {
		t.Fatal("a 1-byte element taken for a send time")
	}
	// Every truncation is refused, never a panic.
	for n := range len(b) {
		AbsSendTime(b[:n], 2)
	}
	plain, _ := (&rtp.Packet{Header: rtp.Header{Version: 2}, Payload: []byte{1}}).Marshal()
	if _, ok := AbsSendTime(plain, 2); ok {
		t.Fatal("no extension, yet a send time")
	}
}

func TestAudioLevel(t *testing.T) {
	b := extPacket(t, uint8(1), []byte{0x80 | 33}, uint8(2), []byte{0x12, 0x34, 0x56})
	if l, v, ok := AudioLevel(b, 1); !ok || l != 33 || !v {
		t.Fatalf("got %d %v %v", l, v, ok)
	}
	if _, _, ok := AudioLevel(b, 5); ok {
		t.Fatal("found an element that is not there")
	}
	for n := range len(b) {
		AudioLevel(b[:n], 1)
	}
}
