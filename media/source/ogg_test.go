package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// oggCRC computes the Ogg page checksum (CRC-32, polynomial 0x04c11db7,
// no reflection, zero init).
func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, v := range b {
		crc ^= uint32(v) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// oggPage builds one page with the given header type, lacing values and
// payload.
func oggPage(headerType byte, seq uint32, lacing, payload []byte) []byte {
	h := make([]byte, oggPageHeaderSize, oggPageHeaderSize+len(lacing)+len(payload))
	copy(h, "OggS")
	h[5] = headerType
	binary.LittleEndian.PutUint32(h[14:], 0x1234) // serial
	binary.LittleEndian.PutUint32(h[18:], seq)
	h[26] = byte(len(lacing))
	h = append(append(h, lacing...), payload...)
	binary.LittleEndian.PutUint32(h[22:], oggCRC(h))
	return h
}

// lacingFor returns the lacing values of one complete packet of n bytes.
func lacingFor(n int) []byte {
	l := bytes.Repeat([]byte{255}, n/255)
	return append(l, byte(n%255))
}

// opusHead is a mono OpusHead packet.
func opusHead() []byte {
	h := []byte("OpusHead")
	h = append(h, 1, 1, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0)
	return h
}

// oggFile makes an Opus Ogg file: the OpusHead page, an OpusTags page and
// the given data pages (built with seq numbers from 2).
func oggFile(t *testing.T, pages [][]byte) []byte {
	t.Helper()
	tags := append([]byte(opusTagsMagic), 0, 0, 0, 0, 0, 0, 0, 0)
	out := oggPage(0x02, 0, lacingFor(len(opusHead())), opusHead())
	out = append(out, oggPage(0, 1, lacingFor(len(tags)), tags)...)
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

// opusPacket is a CELT 20 ms packet of n bytes filled with fill.
func opusPacket(n int, fill byte) []byte {
	p := bytes.Repeat([]byte{fill}, n)
	p[0] = 31 << 3
	return p
}

// TestOggSegments checks splitting pages into packets: several packets per
// page, a packet spanning two pages, and a packet whose length is a multiple
// of 255 (terminated by a 0 lacing value).
func TestOggSegments(t *testing.T) {
	a := opusPacket(3, 0xa)
	b := opusPacket(600, 0xb) // 255+255 on page 2, 90 on page 3
	c := opusPacket(510, 0xc) // 255, 255, 0
	d := opusPacket(40, 0xd)
	page2 := oggPage(0, 2, append(lacingFor(len(a)), 255, 255), append(bytes.Clone(a), b[:510]...))
	lac3 := append([]byte{90}, lacingFor(len(c))...)
	lac3 = append(lac3, lacingFor(len(d))...)
	pay3 := append(append(bytes.Clone(b[510:]), c...), d...)
	page3 := oggPage(oggContinued, 3, lac3, pay3)

	frames, err := loadOgg(oggFile(t, [][]byte{page2, page3}))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{a, b, c, d}
	if len(frames) != len(want) {
		t.Fatalf("%d packets, want %d", len(frames), len(want))
	}
	for i, f := range frames {
		if !bytes.Equal(f.data, want[i]) || f.samples != 960 || !f.key {
			t.Errorf("packet %d: %d bytes, %d samples", i, len(f.data), f.samples)
		}
	}

	// A page that should continue a packet but is not flagged, and one
	// flagged without a packet to continue, are corrupt.
	bad := oggPage(0, 3, lac3, pay3)
	if _, err := loadOgg(oggFile(t, [][]byte{page2, bad})); !errors.Is(err, ErrCorrupt) {
		t.Errorf("missing continuation flag: %v", err)
	}
	if _, err := loadOgg(oggFile(t, [][]byte{page3})); !errors.Is(err, ErrCorrupt) {
		t.Errorf("stray continuation: %v", err)
	}
	// A file ending inside a packet is corrupt.
	if _, err := loadOgg(oggFile(t, [][]byte{page2})); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unterminated packet: %v", err)
	}
	// A malformed Opus packet (code 3 without frame count) is corrupt.
	bad4 := oggPage(0, 2, []byte{1}, []byte{31<<3 | 3})
	if _, err := loadOgg(oggFile(t, [][]byte{bad4})); !errors.Is(err, ErrCorrupt) {
		t.Errorf("bad TOC: %v", err)
	}
}

// TestBotOggPages checks that the committed bot.ogg really has several
// packets per page, so TestOggSegments' path is the one the bot uses.
func TestBotOggPages(t *testing.T) {
	_, ogg := Embedded()
	pages, maxPackets := 0, 0
	for off := 0; off+oggPageHeaderSize <= len(ogg); {
		nseg := int(ogg[off+26])
		lacing := ogg[off+oggPageHeaderSize : off+oggPageHeaderSize+nseg]
		size, packets := 0, 0
		for _, l := range lacing {
			size += int(l)
			if l < 255 {
				packets++
			}
		}
		maxPackets = max(maxPackets, packets)
		pages++
		off += oggPageHeaderSize + nseg + size
	}
	t.Logf("bot.ogg: %d pages, up to %d packets per page", pages, maxPackets)
	if maxPackets < 2 {
		t.Errorf("expected pages with several packets")
	}
}
