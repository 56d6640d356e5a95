package codec

import (
	"testing"

	"github.com/pion/rtp"
)

func TestAbsSendTime(t *testing.T) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: 7, Timestamp: 9, SSRC: 1, CSRC: []uint32{5}}, Payload: []byte{1, 2, 3}}
	if err := p.SetExtension(3, []byte{0xaa}); err != nil {
		t.Fatal(err)
	}
	if err := p.SetExtension(2, []byte{0x12, 0x34, 0x56}); err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
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
