package proto

import (
	"bytes"
	"errors"
	"testing"

	enc "github.com/named-data/ndnd/std/encoding"
)

func testRekey(t testing.TB) *Rekey {
	n := func(s string) enc.Name {
		x, err := enc.NameFromStr(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	return &Rekey{
		Epoch: 3, Ephemeral: bytes.Repeat([]byte{7}, RekeyEphemeralSize),
		Removed: []enc.Name{n("/peets/user/bob/lab/KEY/%01%02")},
		Recipients: []RekeyRecipient{
			{KeyName: n("/peets/user/ann/lab/KEY/%03"), Wrapped: bytes.Repeat([]byte{1}, RekeyWrappedSize)},
			{KeyName: n("/peets/user/dan/lab/KEY/%04"), Wrapped: bytes.Repeat([]byte{2}, RekeyWrappedSize)},
		},
	}
}

// TestRekeyRoundTrip: a rekey's content decodes to what was encoded; each
// malformed variant is refused with ErrBadRekey; a content over the limit
// is not encoded.
func TestRekeyRoundTrip(t *testing.T) {
	r := testRekey(t)
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRekey(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != 3 || !bytes.Equal(got.Ephemeral, r.Ephemeral) || len(got.Removed) != 1 || !got.Removed[0].Equal(r.Removed[0]) ||
		len(got.Recipients) != 2 || !got.Recipients[1].KeyName.Equal(r.Recipients[1].KeyName) || !bytes.Equal(got.Recipients[1].Wrapped, r.Recipients[1].Wrapped) {
		t.Fatalf("decoded %+v", got)
	}
	short := *r
	short.Ephemeral = short.Ephemeral[:31]
	sb, _ := short.Encode()
	noEpoch := *r
	noEpoch.Epoch = 0
	nb, _ := noEpoch.Encode()
	for name, c := range map[string][]byte{
		"truncated":        b[:len(b)-1],
		"short ephemeral":  sb,
		"epoch 0":          nb,
		"unknown critical": append(bytes.Clone(b), 0xE1, 0),
		"empty":            nil,
	} {
		if _, err := DecodeRekey(c); !errors.Is(err, ErrBadRekey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := DecodeRekey(append(bytes.Clone(b), 0xF0, 0)); err != nil {
		t.Errorf("an unknown non-critical element: %v", err)
	}
	big := *r
	for range 200 {
		big.Recipients = append(big.Recipients, r.Recipients[0])
	}
	if _, err := big.Encode(); !errors.Is(err, ErrBadRekey) {
		t.Errorf("oversized rekey: %v", err)
	}
	g, _ := enc.NameFromStr("/peets/room/lab")
	if e, err := ParseRekeyName(g, RekeyName(g, 9)); e != 9 || err != nil {
		t.Errorf("name: %d %v", e, err)
	}
	if _, err := ParseRekeyName(g, g.Append(enc.NewGenericComponent("rekey"))); err == nil {
		t.Error("a name without epoch")
	}
}

func FuzzDecodeRekey(f *testing.F) {
	b, _ := testRekey(f).Encode()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRekey(b)
		if err != nil {
			return
		}
		if _, err := r.Encode(); err != nil && len(b) <= MaxRekeySize {
			t.Fatalf("decoded content does not encode: %v", err)
		}
	})
}
