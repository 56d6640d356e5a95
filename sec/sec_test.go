package sec

import (
	"errors"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/types/optional"
)

func mustName(t testing.TB, s string) enc.Name {
	t.Helper()
	n, err := enc.NameFromStr(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func makeData(t testing.TB, name enc.Name, s ndn.Signer) (ndn.Data, enc.Wire) {
	t.Helper()
	ed, err := spec.Spec{}.MakeData(name, &ndn.DataConfig{Freshness: optional.Some(time.Second)}, enc.Wire{[]byte("hello")}, s)
	if err != nil {
		t.Fatal(err)
	}
	d, covered, err := spec.Spec{}.ReadData(enc.NewWireView(ed.Wire))
	if err != nil {
		t.Fatal(err)
	}
	return d, covered
}

func verifySync(t *testing.T, v *Verifier, owner enc.Name, d ndn.Data, c enc.Wire) error {
	t.Helper()
	var got error
	called := false
	v.Verify(owner, d, c, func(err error) { got, called = err, true })
	if !called {
		t.Fatal("callback not called synchronously for a pinned owner")
	}
	return got
}

func TestVerifyPinned(t *testing.T) {
	alice := mustName(t, "/peets/user/alice/room1")
	mallory := mustName(t, "/peets/user/mallory/room1")
	a, err := NewEphemeral(alice)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := NewEphemeral(mallory)
	m2, _ := NewEphemeral(alice) // a second key claiming alice's identity
	v := NewVerifier(nil, nil)
	if err := v.Pin(alice, a.KeyName(), a.PublicKey()); err != nil {
		t.Fatal(err)
	}
	good := alice.Append(enc.NewGenericComponent("media"), enc.NewSequenceNumComponent(1))

	d, c := makeData(t, good, a.Signer())
	if err := verifySync(t, v, alice, d, c); err != nil {
		t.Fatalf("good data: %v", err)
	}
	// Signed by mallory's own key: wrong signer.
	d, c = makeData(t, good, m.Signer())
	if err := verifySync(t, v, alice, d, c); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("mallory key: got %v", err)
	}
	// Signed by another key under alice's name: conflict with the pin.
	d, c = makeData(t, good, m2.Signer())
	if err := verifySync(t, v, alice, d, c); !errors.Is(err, ErrKeyConflict) {
		t.Fatalf("second key: got %v", err)
	}
	// Data not under the owner.
	d, c = makeData(t, mallory.Append(enc.NewGenericComponent("x")), a.Signer())
	if err := verifySync(t, v, alice, d, c); !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("foreign name: got %v", err)
	}
	// Tampered content: bad signature.
	d, c = makeData(t, good, a.Signer())
	tampered := enc.Wire{append([]byte(nil), c.Join()...)}
	tampered[0][len(tampered[0])-1] ^= 0xff
	if err := verifySync(t, v, alice, d, tampered); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered: got %v", err)
	}
	// Unsigned (digest) data.
	ed, _ := spec.Spec{}.MakeData(good, &ndn.DataConfig{}, enc.Wire{[]byte("x")}, nil)
	d, c, _ = spec.Spec{}.ReadData(enc.NewWireView(ed.Wire))
	if err := verifySync(t, v, alice, d, c); !errors.Is(err, ErrUnsigned) && !errors.Is(err, ErrBadSigType) {
		t.Fatalf("unsigned: got %v", err)
	}
	if err := v.Pin(alice, m2.KeyName(), m2.PublicKey()); !errors.Is(err, ErrKeyConflict) {
		t.Fatalf("re-pin: got %v", err)
	}
	st := v.Stats()
	if st.OK != 1 || st.WrongSigner != 2 || st.BadSignature != 1 || st.KeyConflict < 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestSelfSignedCert(t *testing.T) {
	id, err := NewEphemeral(mustName(t, "/peets/user/bob/r"))
	if err != nil {
		t.Fatal(err)
	}
	d, c, err := ParseData(id.CertWire().Join())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := parseSelfSigned(d, c, id.KeyName())
	if err != nil {
		t.Fatal(err)
	}
	if !sameKey(pub, id.PublicKey()) {
		t.Fatal("public key mismatch")
	}
	other, _ := NewEphemeral(mustName(t, "/peets/user/eve/r"))
	if _, err := parseSelfSigned(d, c, other.KeyName()); !errors.Is(err, ErrBadCert) {
		t.Fatalf("wrong key name: %v", err)
	}
}

func TestLoadOrCreateStable(t *testing.T) {
	dir := t.TempDir()
	n := mustName(t, "/peets/user/carol/room")
	a, err := LoadOrCreate(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreate(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	if !a.KeyName().Equal(b.KeyName()) || !sameKey(a.PublicKey(), b.PublicKey()) {
		t.Fatal("reloaded key differs")
	}
}

func BenchmarkVerify(b *testing.B) {
	alice := mustName(b, "/peets/user/alice/room1")
	a, _ := NewEphemeral(alice)
	v := NewVerifier(nil, nil)
	_ = v.Pin(alice, a.KeyName(), a.PublicKey())
	d, c := makeData(b, alice.Append(enc.NewSequenceNumComponent(7)), a.Signer())
	b.ReportAllocs()
	for b.Loop() {
		v.Verify(alice, d, c, func(err error) {
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
