// Package fastverify verifies Ed25519 signatures (RFC 8032, as
// crypto/ed25519.Verify does) several times faster for a public key that
// verifies many signatures, such as a participant's key in a call: every
// media packet of a participant is signed with the same key.
//
// crypto/ed25519 decodes the public key and computes [S]B - [k]A with a
// double-scalar multiplication (~253 point doublings) on every call. A Key
// decodes A once and keeps precomputed multiples of A, and of the base point
// B, for every window of the scalars' signed radix-2^w form, so one
// verification is ~75 point additions and no doubling.
//
// The verification equation, the checks and so the accepted signatures are
// exactly those of crypto/ed25519.Verify (cofactorless, canonical S,
// R compared by encoding): the tests compare both on valid, corrupted and
// random signatures.
package fastverify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"sync"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// ErrBadKey is returned for a public key that is not 32 bytes or not the
// encoding of a curve point.
var ErrBadKey = errors.New("fastverify: invalid Ed25519 public key")

// Window sizes: the base point's table is shared and built once (4096
// points, ~480 KiB); a key's table is 1376 points (~165 KiB).
const (
	baseWindow = 8
	keyWindow  = 6
)

// Key is a public key prepared for fast verification. It is immutable and
// safe for concurrent use.
type Key struct {
	pub   [32]byte
	minus *table // multiples of -A
}

// NewKey prepares pub. It costs about as much as 20 verifications, so it
// pays off from the first few dozen signatures on.
func NewKey(pub ed25519.PublicKey) (*Key, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, ErrBadKey
	}
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil, ErrBadKey
	}
	k := &Key{minus: newTable(new(edwards25519.Point).Negate(a), keyWindow)}
	copy(k.pub[:], pub)
	return k, nil
}

// Public returns the key's encoding.
func (k *Key) Public() ed25519.PublicKey { return bytes.Clone(k.pub[:]) }

// Verify reports whether sig is a valid signature by k of msg.
func (k *Key) Verify(sig, msg []byte) bool {
	return VerifyParts(k, sig, [][]byte{msg})
}

// VerifyParts reports whether sig is a valid signature by k of the
// concatenation of parts (such as the covered parts of an NDN packet).
func VerifyParts[B ~[]byte](k *Key, sig []byte, parts []B) bool {
	if len(sig) != ed25519.SignatureSize || sig[63]&224 != 0 {
		return false
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(k.pub[:])
	for _, m := range parts {
		h.Write(m)
	}
	var digest [sha512.Size]byte
	c, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(digest[:0]))
	if err != nil {
		return false // cannot happen: the digest is 64 bytes
	}
	// R = [S]B + [k](-A), compared with the signature's R by encoding.
	var r point
	r.identity()
	r.addMultiple(baseTable(), s)
	r.addMultiple(k.minus, c)
	var enc [32]byte
	return bytes.Equal(r.encode(&enc), sig[:32])
}

// baseTable is the base point's table, built on first use. It is a
// constant of the curve, like crypto/ed25519's own basepoint table.
var baseTable = sync.OnceValue(func() *table {
	return newTable(edwards25519.NewGeneratorPoint(), baseWindow)
})

// niels is a point (x, y) in affine Niels form: y+x, y-x, 2dxy.
type niels struct {
	ypx, ymx, xy2d field.Element
}

// table holds, for each w-bit window i of a scalar, the multiples
// j * 2^(w*i) * P for j = 1 .. 2^(w-1), at pts[i*half + j-1].
type table struct {
	w    uint
	n    int // windows
	half int // 2^(w-1)
	pts  []niels
}

func newTable(p *edwards25519.Point, w uint) *table {
	t := &table{w: w, n: (256 + int(w) - 1) / int(w), half: 1 << (w - 1)}
	ext := make([]edwards25519.Point, t.n*t.half)
	base := new(edwards25519.Point).Set(p)
	for i := 0; i < t.n; i++ {
		row := ext[i*t.half : (i+1)*t.half]
		row[0].Set(base)
		for j := 1; j < t.half; j++ {
			row[j].Add(&row[j-1], base)
		}
		// The next window's base is 2^w * base = 2 * (2^(w-1) * base).
		base.Add(&row[t.half-1], &row[t.half-1])
	}
	t.pts = toNiels(ext)
	return t
}

// toNiels converts extended points to affine Niels form with one field
// inversion in all (Montgomery's trick).
func toNiels(ps []edwards25519.Point) []niels {
	xs := make([]field.Element, len(ps))
	ys := make([]field.Element, len(ps))
	zs := make([]field.Element, len(ps))
	prefix := make([]field.Element, len(ps)) // z0 * ... * zi
	for i := range ps {
		x, y, z, _ := ps[i].ExtendedCoordinates()
		xs[i], ys[i], zs[i] = *x, *y, *z
		if i == 0 {
			prefix[i].Set(z)
		} else {
			prefix[i].Multiply(&prefix[i-1], z)
		}
	}
	var inv field.Element // 1 / (z0 * ... * zi), walking i down
	inv.Invert(&prefix[len(ps)-1])
	out := make([]niels, len(ps))
	for i := len(ps) - 1; i >= 0; i-- {
		var zinv, x, y field.Element
		if i == 0 {
			zinv.Set(&inv)
		} else {
			zinv.Multiply(&inv, &prefix[i-1])
			inv.Multiply(&inv, &zs[i])
		}
		x.Multiply(&xs[i], &zinv)
		y.Multiply(&ys[i], &zinv)
		out[i].ypx.Add(&y, &x)
		out[i].ymx.Subtract(&y, &x)
		out[i].xy2d.Multiply(&x, &y)
		out[i].xy2d.Multiply(&out[i].xy2d, curveD2())
	}
	return out
}

// curveD2 is 2d, d = -121665/121666 the curve constant.
var curveD2 = sync.OnceValue(func() *field.Element {
	var num, den [32]byte
	num[0], num[1], num[2] = 0x41, 0xdb, 0x01 // 121665
	den[0], den[1], den[2] = 0x42, 0xdb, 0x01 // 121666
	n, _ := new(field.Element).SetBytes(num[:])
	d, _ := new(field.Element).SetBytes(den[:])
	d.Invert(d)
	d.Multiply(d, n)
	d.Negate(d)
	return d.Add(d, d)
})

// point is a point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z,
// xy = T/Z.
type point struct {
	x, y, z, t field.Element
}

func (p *point) identity() {
	p.x.Zero()
	p.y.One()
	p.z.One()
	p.t.Zero()
}

// addMultiple adds [s]P, P the point of t: one mixed addition per nonzero
// signed window digit of s.
func (p *point) addMultiple(t *table, s *edwards25519.Scalar) {
	var b [32]byte
	copy(b[:], s.Bytes())
	carry := 0
	full := 1 << t.w
	for i := 0; i < t.n; i++ {
		d := window(&b, uint(i)*t.w, t.w) + carry
		carry = 0
		if d >= t.half {
			d -= full
			carry = 1
		}
		switch {
		case d > 0:
			p.add(&t.pts[i*t.half+d-1], false)
		case d < 0:
			p.add(&t.pts[i*t.half-d-1], true)
		}
	}
	// A canonical scalar is below 2^253, so the last window absorbs the
	// carry: the tables have a window beyond bit 253 for that.
}

// window returns the w bits of the little-endian b starting at bit pos.
func window(b *[32]byte, pos, w uint) int {
	i := pos / 8
	var x uint32
	for k := uint(0); k < 3 && i+k < 32; k++ {
		x |= uint32(b[i+k]) << (8 * k)
	}
	return int(x >> (pos % 8) & (1<<w - 1))
}

// add sets p = p + q (p - q when neg), q in affine Niels form: the mixed
// addition of "Twisted Edwards Curves Revisited" (Hisil et al.), 7
// multiplications.
func (p *point) add(q *niels, neg bool) {
	var ypx, ymx, pp, mm, tt2d, z2 field.Element
	ypx.Add(&p.y, &p.x)
	ymx.Subtract(&p.y, &p.x)
	if neg { // -q = (-x, y): y+x and y-x swap, 2dxy changes sign
		pp.Multiply(&ypx, &q.ymx)
		mm.Multiply(&ymx, &q.ypx)
	} else {
		pp.Multiply(&ypx, &q.ypx)
		mm.Multiply(&ymx, &q.ymx)
	}
	tt2d.Multiply(&p.t, &q.xy2d)
	z2.Add(&p.z, &p.z)
	var e, h, f, g field.Element // the completed point ((E:H), (F:G))
	e.Subtract(&pp, &mm)
	h.Add(&pp, &mm)
	if neg {
		f.Subtract(&z2, &tt2d)
		g.Add(&z2, &tt2d)
	} else {
		f.Add(&z2, &tt2d)
		g.Subtract(&z2, &tt2d)
	}
	p.x.Multiply(&e, &g)
	p.y.Multiply(&h, &f)
	p.z.Multiply(&f, &g)
	p.t.Multiply(&e, &h)
}

// encode writes p's RFC 8032 encoding (y, and x's sign in the top bit).
func (p *point) encode(out *[32]byte) []byte {
	var zinv, x, y field.Element
	zinv.Invert(&p.z)
	x.Multiply(&p.x, &zinv)
	y.Multiply(&p.y, &zinv)
	copy(out[:], y.Bytes())
	out[31] |= byte(x.IsNegative() << 7)
	return out[:]
}
