package y4m

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	c := Clip{Width: 64, Height: 48, FPS: 20, Frames: 3, Noise: 2, Seed: 7}
	var a, b bytes.Buffer
	if err := c.Write(&a); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	if int64(a.Len()) != c.Size() {
		t.Fatalf("wrote %d bytes, Size says %d", a.Len(), c.Size())
	}
	if sha256.Sum256(a.Bytes()) != sha256.Sum256(b.Bytes()) {
		t.Fatal("the same clip gave different bytes")
	}
	hdr, rest, _ := strings.Cut(a.String(), "\n")
	if hdr != "YUV4MPEG2 W64 H48 F20:1 Ip A1:1 C420jpeg" {
		t.Fatalf("header %q", hdr)
	}
	frame := 64 * 48 * 3 / 2
	if strings.Count(rest, "FRAME\n") < 3 || !strings.HasPrefix(rest, "FRAME\n") {
		t.Fatal("frames are not marked")
	}
	// Consecutive frames differ (motion and noise), the luma is not flat.
	f0 := rest[6 : 6+frame]
	f1 := rest[12+frame : 12+2*frame]
	if f0 == f1 {
		t.Fatal("frames 0 and 1 are identical")
	}
	lo, hi := byte(255), byte(0)
	for i := range 64 * 48 {
		lo, hi = min(lo, f0[i]), max(hi, f0[i])
	}
	if hi-lo < 64 {
		t.Fatalf("luma spans only %d..%d", lo, hi)
	}
	c.Seed = 8
	var d bytes.Buffer
	_ = c.Write(&d)
	if bytes.Equal(a.Bytes(), d.Bytes()) {
		t.Fatal("another seed gave the same clip")
	}
}

func TestValidate(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Clip{
		{Width: 63, Height: 48, FPS: 20, Frames: 1},
		{Width: 64, Height: 48, FPS: 0, Frames: 1},
		{Width: 64, Height: 48, FPS: 20, Frames: 0},
		{Width: 64, Height: 48, FPS: 20, Frames: 1, Noise: 65},
		{Width: 8000, Height: 48, FPS: 20, Frames: 1},
	} {
		if err := c.Write(&bytes.Buffer{}); !errors.Is(err, ErrBadClip) {
			t.Errorf("%+v: %v, want ErrBadClip", c, err)
		}
	}
}
