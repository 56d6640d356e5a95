package proto

import (
	"bytes"
	"errors"
	"testing"

	enc "github.com/named-data/ndnd/std/encoding"
)

func TestStreamMetaRoundTrip(t *testing.T) {
	for _, m := range []StreamMeta{
		{Boot: 1, Latest: 0},
		{Boot: 1 << 40, Latest: 70000, Oldest: 69000, KeySeq: 69990, MimeType: "video/VP8", ClockRate: 90000, Rate: 250},
		{Boot: ^uint64(0), Latest: ^uint64(0), KeySeq: 1},
	} {
		b := m.Encode()
		got, err := DecodeStreamMeta(b)
		if err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
		if got != m {
			t.Fatalf("round trip: got %+v want %+v", got, m)
		}
	}
}

func TestStreamMetaBad(t *testing.T) {
	good := (&StreamMeta{Boot: 5, Latest: 7, MimeType: "audio/opus"}).Encode()
	cases := map[string][]byte{
		"empty":        {},
		"no latest":    {TTMetaBoot, 1, 5},
		"truncated":    good[:len(good)-1],
		"bad nni":      {TTMetaBoot, 3, 0, 0, 1, TTMetaLatest, 1, 1},
		"duplicate":    append(append([]byte{}, good...), TTMetaBoot, 1, 1),
		"critical":     append(append([]byte{}, good...), 0x81, 0),
		"low critical": append(append([]byte{}, good...), 0x07, 0),
		"huge length":  {TTMetaBoot, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"oversized":    bytes.Repeat([]byte{0x90, 0}, MaxMetaSize),
	}
	for name, b := range cases {
		if _, err := DecodeStreamMeta(b); !errors.Is(err, ErrBadMeta) {
			t.Errorf("%s: got %v, want ErrBadMeta", name, err)
		}
	}
	// Unknown non-critical element is skipped.
	if _, err := DecodeStreamMeta(append(append([]byte{}, good...), 0x90, 2, 1, 2)); err != nil {
		t.Errorf("non-critical element: %v", err)
	}
}

func TestParseMediaNameStrict(t *testing.T) {
	s := StreamPrefix(ParticipantPrefix(DefaultUserPrefix("alice"), "room"), "cam")
	if sn, err := ParseMediaName(s, MediaName(s, 17, 42)); err != nil || sn.Seq != 42 || sn.Boot != 17 {
		t.Fatalf("good name: %+v %v", sn, err)
	}
	bad := s.Append(enc.NewTimestampComponent(1), enc.NewBytesComponent(enc.TypeSequenceNumNameComponent, []byte{1, 2, 3}))
	if _, err := ParseMediaName(s, bad); !errors.Is(err, ErrBadSeq) {
		t.Fatalf("3-byte seq: %v", err)
	}
	p := ParticipantPrefix(DefaultUserPrefix("alice"), "room")
	if r, err := ParsePLINameStrict(p, PLIName(p, "cam", 3, 9)); err != nil || r.Stream != "cam" || r.KnownKey != 9 {
		t.Fatalf("good pli: %+v %v", r, err)
	}
	if _, err := ParsePLINameStrict(p, PLIName(p, "../x", 3, 9)); err == nil {
		t.Fatal("bad stream id accepted")
	}
}

func FuzzDecodeStreamMeta(f *testing.F) {
	f.Add((&StreamMeta{Boot: 1, Latest: 2, KeySeq: 1, MimeType: "video/VP8", ClockRate: 90000}).Encode())
	f.Add([]byte{TTMetaBoot, 0xfd, 0, 1, 1})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeStreamMeta(b)
		if err != nil {
			return
		}
		m2, err := DecodeStreamMeta(m.Encode())
		if err != nil || m2 != m {
			t.Fatalf("re-encode mismatch: %+v %+v %v", m, m2, err)
		}
	})
}
