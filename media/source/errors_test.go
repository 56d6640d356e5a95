package source

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// ivfWithoutFirstFrame drops frame 0 (the first key frame) from an IVF file.
func ivfWithoutFirstFrame(ivf []byte) []byte {
	size := int(binary.LittleEndian.Uint32(ivf[ivfFileHeaderSize:]))
	return append(bytes.Clone(ivf[:ivfFileHeaderSize]), ivf[ivfFileHeaderSize+ivfFrameHeaderSize+size:]...)
}

func TestOpenErrors(t *testing.T) {
	ivf, ogg := Embedded()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vp9 := bytes.Clone(ivf)
	copy(vp9[8:12], "VP90")
	badCRC := bytes.Clone(ogg)
	badCRC[len(badCRC)-10] ^= 0xff
	// A truncated final Ogg page; cut inside the last page's payload.
	truncOgg := ogg[:len(ogg)-7]
	// Exactly the headers of the last IVF frame, without its data.
	tests := []struct {
		name string
		o    Options
		want error
	}{
		{"nothing", Options{}, ErrNoMedia},
		{"missing video", Options{VideoPath: filepath.Join(dir, "nope.ivf")}, fs.ErrNotExist},
		{"missing audio", Options{AudioPath: filepath.Join(dir, "nope.ogg")}, fs.ErrNotExist},
		{"empty ivf", Options{VideoPath: write("empty.ivf", nil)}, ErrCorrupt},
		{"garbage ivf", Options{VideoPath: write("garbage.ivf", bytes.Repeat([]byte("x"), 100))}, ErrCorrupt},
		{"truncated ivf", Options{VideoPath: write("trunc.ivf", ivf[:len(ivf)/2])}, ErrCorrupt},
		{"ivf header only", Options{VideoPath: write("hdr.ivf", ivf[:ivfFileHeaderSize])}, ErrCorrupt},
		{"ivf cut after frame header", Options{VideoPath: write("fh.ivf", ivf[:ivfFileHeaderSize+ivfFrameHeaderSize])}, ErrCorrupt},
		{"ivf starts with delta frame", Options{VideoPath: write("delta.ivf", ivfWithoutFirstFrame(ivf))}, ErrCorrupt},
		{"vp9 ivf", Options{VideoPath: write("vp9.ivf", vp9)}, ErrUnsupported},
		{"ogg as video", Options{VideoPath: write("ogg.ivf", ogg)}, ErrCorrupt},
		{"ivf as audio", Options{AudioPath: write("ivf.ogg", ivf)}, ErrCorrupt},
		{"empty ogg", Options{AudioPath: write("empty.ogg", nil)}, ErrCorrupt},
		{"ogg bad crc", Options{AudioPath: write("crc.ogg", badCRC)}, ErrCorrupt},
		{"ogg truncated", Options{AudioPath: write("trunc.ogg", truncOgg)}, ErrCorrupt},
		{"ogg headers only", Options{AudioPath: write("head.ogg", oggFile(t, nil))}, ErrCorrupt},
		{"bad MTU", Options{VideoPath: write("ok.ivf", ivf), MTU: 20}, ErrInvalidOptions},
		{"huge MTU", Options{VideoPath: write("ok2.ivf", ivf), MTU: 1 << 20}, ErrInvalidOptions},
		{"negative speed", Options{VideoPath: write("ok3.ivf", ivf), Speed: -1}, ErrInvalidOptions},
		{"NaN speed", Options{VideoPath: write("ok4.ivf", ivf), Speed: math.NaN()}, ErrInvalidOptions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(tc.o)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open = %v, %v; want %v", s, err, tc.want)
			}
			t.Logf("%v", err)
		})
	}
	if _, err := OpenDefault(Options{AudioPath: filepath.Join(dir, "nope.ogg")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenDefault(missing audio) = %v", err)
	}
}

func TestOpenSingleStream(t *testing.T) {
	s, err := Open(Options{AudioPath: "../../testdata/bot.ogg", Speed: math.Inf(1)})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Streams(); len(st) != 1 || st[0].ID != StreamAudio {
		t.Fatalf("streams %+v", st)
	}
	s.RequestKeyframe() // no video: no effect
	r, err := runUntil(t, s, nil)
	if err != nil || len(r.video) != 0 || len(r.audio) != botOpusPackets {
		t.Fatalf("Run = %v: %d video, %d audio packets", err, len(r.video), len(r.audio))
	}
}
