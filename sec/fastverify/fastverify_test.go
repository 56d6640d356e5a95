package fastverify

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"math/rand/v2"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(1, 2))
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestCurveConstant(t *testing.T) {
	// 2d, big-endian, from RFC 8032's d.
	want, _ := hex.DecodeString("2406d9dc56dffce7198e80f2eef3d13000e0149a8283b156ebd69b9426b2f159")
	got := curveD2().Bytes()
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("2d = %x, want %x", got, want)
	}
}

// TestScalarMult checks [s]B + [c](-A) against the library's
// double-scalar multiplication for random scalars and points.
func TestScalarMult(t *testing.T) {
	r := newRand(t)
	for i := 0; i < 200; i++ {
		a := new(edwards25519.Point).ScalarBaseMult(scalar(r))
		minus := new(edwards25519.Point).Negate(a)
		tb := newTable(minus, keyWindow)
		s, c := scalar(r), scalar(r)
		if i == 0 {
			s = edwards25519.NewScalar() // zero
		}
		if i == 1 {
			c, _ = edwards25519.NewScalar().SetCanonicalBytes(maxScalar())
		}
		var p point
		p.identity()
		p.addMultiple(baseTable(), s)
		p.addMultiple(tb, c)
		var enc [32]byte
		want := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(c, minus, s).Bytes()
		if got := p.encode(&enc); !bytes.Equal(got, want) {
			t.Fatalf("round %d: got %x, want %x", i, got, want)
		}
	}
}

// maxScalar is L-1, the largest canonical scalar.
func maxScalar() []byte {
	l, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	l[0]--
	return l
}

func scalar(r *rand.Rand) *edwards25519.Scalar {
	s, _ := edwards25519.NewScalar().SetUniformBytes(randBytes(r, 64))
	return s
}

// TestSameAsStdlib compares Verify with crypto/ed25519.Verify on valid
// signatures, every one-bit corruption of them, and random signatures.
func TestSameAsStdlib(t *testing.T) {
	r := newRand(t)
	for round := 0; round < 8; round++ {
		pub, priv, _ := ed25519.GenerateKey(bytes.NewReader(randBytes(r, 32)))
		k, err := NewKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k.Public(), pub) {
			t.Fatal("Public differs")
		}
		msg := randBytes(r, r.IntN(1500))
		sig := ed25519.Sign(priv, msg)
		cut := r.IntN(len(msg) + 1)
		if !VerifyParts(k, sig, [][]byte{msg[:cut], msg[cut:]}) {
			t.Fatalf("round %d: valid signature rejected", round)
		}
		for bit := 0; bit < 64*8; bit++ {
			bad := bytes.Clone(sig)
			bad[bit/8] ^= 1 << (bit % 8)
			compare(t, k, pub, bad, msg)
		}
		for bit := 0; bit < 8*min(len(msg), 64); bit++ {
			bad := bytes.Clone(msg)
			bad[bit/8] ^= 1 << (bit % 8)
			compare(t, k, pub, sig, bad)
		}
		for i := 0; i < 64; i++ {
			compare(t, k, pub, randBytes(r, 64), msg)
		}
		compare(t, k, pub, sig[:63], msg)
		compare(t, k, pub, append(bytes.Clone(sig), 0), msg)
		compare(t, k, pub, nil, msg)
	}
}

// TestNonCanonicalS: S + L is rejected by both.
func TestNonCanonicalS(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(bytes.NewReader(make([]byte, 32)))
	k, _ := NewKey(pub)
	msg := []byte("media packet")
	sig := ed25519.Sign(priv, msg)
	l, _ := hex.DecodeString("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
	var carry uint16
	for i := 0; i < 32; i++ { // S += L, little-endian
		v := uint16(sig[32+i]) + uint16(l[i]) + carry
		sig[32+i], carry = byte(v), v>>8
	}
	if carry != 0 || sig[63]&224 != 0 {
		t.Skip("S + L does not fit the encoding for this key")
	}
	compare(t, k, pub, sig, msg)
	if k.Verify(sig, msg) {
		t.Fatal("non-canonical S accepted")
	}
}

// TestSmallOrderKeys: keys of small order (which RFC 8032 leaves to the
// implementation) get the same answers as from crypto/ed25519.
func TestSmallOrderKeys(t *testing.T) {
	r := newRand(t)
	keys := []string{
		"0100000000000000000000000000000000000000000000000000000000000000", // identity
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
		"0000000000000000000000000000000000000000000000000000000000000000", // order 4
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	}
	for _, h := range keys {
		pub, _ := hex.DecodeString(h)
		k, err := NewKey(pub)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		msg := randBytes(r, 100)
		// R = [S]B makes [S]B - [c]A = R whenever [c]A is the identity.
		accepted := 0
		for i := 0; i < 16; i++ {
			s := scalar(r)
			sig := append(new(edwards25519.Point).ScalarBaseMult(s).Bytes(), s.Bytes()...)
			compare(t, k, pub, sig, msg)
			if k.Verify(sig, msg) {
				accepted++
			}
		}
		if h == keys[0] && accepted != 16 {
			t.Fatalf("identity key: %d of 16 forged-by-construction signatures accepted, crypto/ed25519 accepts all", accepted)
		}
	}
}

func TestBadKeys(t *testing.T) {
	if _, err := NewKey(make([]byte, 31)); err == nil {
		t.Fatal("31-byte key accepted")
	}
	// y = 2 is not on the curve.
	bad := make([]byte, 32)
	bad[0] = 2
	if _, err := NewKey(bad); err == nil {
		t.Fatal("off-curve key accepted")
	}
}

func compare(t *testing.T, k *Key, pub ed25519.PublicKey, sig, msg []byte) {
	t.Helper()
	want := ed25519.Verify(pub, msg, sig)
	if got := k.Verify(sig, msg); got != want {
		t.Fatalf("Verify(%x) = %v, crypto/ed25519 says %v", sig, got, want)
	}
}

func BenchmarkVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 1000)
	sig := ed25519.Sign(priv, msg)
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("rejected")
			}
		}
	})
	k, _ := NewKey(pub)
	b.Run("fastverify", func(b *testing.B) {
		for b.Loop() {
			if !k.Verify(sig, msg) {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("NewKey", func(b *testing.B) {
		for b.Loop() {
			_, _ = NewKey(pub)
		}
	})
}

// BenchmarkVerifyCold verifies with the caches cleared before each
// signature, as a proxy at real pace does: between two packets of a
// stream, other work (other processes on the core, the kernel) evicts the
// tables. It reports cold-ns/op, the time of the verifications alone.
func BenchmarkVerifyCold(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := make([]byte, 1000)
	sig := ed25519.Sign(priv, msg)
	k, _ := NewKey(pub)
	junk := make([]byte, 8<<20)
	run := func(b *testing.B, verify func() bool) {
		var spent time.Duration
		n := 0
		for b.Loop() {
			for i := 0; i < len(junk); i += 64 {
				junk[i]++
			}
			t0 := time.Now()
			ok := verify()
			spent += time.Since(t0)
			n++
			if !ok {
				b.Fatal("rejected")
			}
		}
		b.ReportMetric(float64(spent.Nanoseconds())/float64(n), "cold-ns/op")
	}
	b.Run("stdlib", func(b *testing.B) {
		run(b, func() bool { return ed25519.Verify(pub, msg, sig) })
	})
	b.Run("fastverify", func(b *testing.B) {
		run(b, func() bool { return k.Verify(sig, msg) })
	})
}
