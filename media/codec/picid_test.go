package codec

import (
	"bytes"
	"testing"
)

func TestNumbering(t *testing.T) {
	cases := []struct {
		name   string
		mime   string
		p      []byte
		want   Numbering
		ok     bool
		pid    uint16
		tl0    uint8
		output []byte
	}{
		{name: "vp8 15-bit pid and tl0", mime: MimeTypeVP8,
			p:    []byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0x40, 0x9d},
			want: Numbering{PID: 0x0123, PIDBits: 15, TL0: 7, HasTL0: true}, ok: true,
			pid: 0x8456, tl0: 9, output: []byte{0x90, 0xe0, 0x84, 0x56, 0x09, 0x40, 0x9d}},
		{name: "vp8 7-bit pid", mime: MimeTypeVP8,
			p:    []byte{0x90, 0x80, 0x05, 0x9d},
			want: Numbering{PID: 5, PIDBits: 7}, ok: true,
			pid: 130, tl0: 1, output: []byte{0x90, 0x80, 0x02, 0x9d}},
		{name: "vp8 no extension", mime: MimeTypeVP8, p: []byte{0x10, 0x9d}, ok: true,
			pid: 1, tl0: 1, output: []byte{0x10, 0x9d}},
		{name: "vp8 truncated pid", mime: MimeTypeVP8, p: []byte{0x90, 0x80, 0x81}},
		{name: "vp8 truncated tl0", mime: MimeTypeVP8, p: []byte{0x90, 0xc0, 0x81, 0x00}},
		{name: "vp9 non-flexible with tl0", mime: MimeTypeVP9,
			p:    []byte{0xa8, 0x80, 0x10, 0x00, 0x03, 0xff},
			want: Numbering{PID: 16, PIDBits: 15, TL0: 3, HasTL0: true}, ok: true,
			pid: 17, tl0: 4, output: []byte{0xa8, 0x80, 0x11, 0x00, 0x04, 0xff}},
		{name: "vp9 flexible: no tl0", mime: MimeTypeVP9,
			p:    []byte{0xb8, 0x80, 0x10, 0x00, 0x02},
			want: Numbering{PID: 16, PIDBits: 15}, ok: true,
			pid: 20, tl0: 4, output: []byte{0xb8, 0x80, 0x14, 0x00, 0x02}},
		{name: "h264", mime: MimeTypeH264, p: []byte{0x65, 0x88}},
	}
	for _, c := range cases {
		n, ok := ParseNumbering(c.mime, c.p)
		if ok != c.ok {
			t.Errorf("%s: ok %v", c.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if n.PID != c.want.PID || n.PIDBits != c.want.PIDBits || n.TL0 != c.want.TL0 || n.HasTL0 != c.want.HasTL0 {
			t.Errorf("%s: %+v, want %+v", c.name, n, c.want)
		}
		p := bytes.Clone(c.p)
		n.Rewrite(p, c.pid, c.tl0)
		if !bytes.Equal(p, c.output) {
			t.Errorf("%s: rewritten % x, want % x", c.name, p, c.output)
		}
	}
}

func TestPIDAhead(t *testing.T) {
	for _, c := range []struct {
		a, b uint16
		bits uint8
		want bool
	}{
		{5, 4, 15, true}, {4, 5, 15, false}, {4, 4, 15, false},
		{0, 0x7fff, 15, true}, {0x7fff, 0, 15, false},
		{0, 127, 7, true}, {100, 10, 7, false}, {10, 100, 7, true},
	} {
		if got := PIDAhead(c.a, c.b, c.bits); got != c.want {
			t.Errorf("PIDAhead(%d, %d, %d) = %v", c.a, c.b, c.bits, got)
		}
	}
}

// FuzzNumbering: parsing never panics, and what was parsed can be
// rewritten in place and read back.
func FuzzNumbering(f *testing.F) {
	f.Add(false, []byte{0x90, 0xe0, 0x81, 0x23, 0x07, 0x40})
	f.Add(true, []byte{0xa8, 0x80, 0x10, 0x00, 0x03})
	f.Add(false, []byte{0x90, 0x80})
	f.Fuzz(func(t *testing.T, vp9 bool, p []byte) {
		mime := MimeTypeVP8
		if vp9 {
			mime = MimeTypeVP9
		}
		n, ok := ParseNumbering(mime, p)
		if !ok {
			return
		}
		n.Rewrite(p, n.PID+1, n.TL0+1)
		m, ok := ParseNumbering(mime, p)
		if !ok || m.PIDBits != n.PIDBits || m.HasTL0 != n.HasTL0 {
			t.Fatalf("reparse: %+v %v, was %+v", m, ok, n)
		}
		if n.PIDBits != 0 && m.PID != (n.PID+1)&(1<<n.PIDBits-1) {
			t.Fatalf("pid %d after %d", m.PID, n.PID)
		}
		if n.HasTL0 && m.TL0 != n.TL0+1 {
			t.Fatalf("tl0 %d after %d", m.TL0, n.TL0)
		}
	})
}
