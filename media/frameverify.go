package media

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sync"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/proto"
)

// frameVerifier checks one stream's media packets under per-frame
// signatures (proto/manifest.go). A signed Data goes to the participant's
// verifier; when it carries a manifest and verifies, the manifest's digests
// vouch for the unsigned packets before it. An unsigned (DigestSha256) Data
// whose digest is right waits for the manifest that lists it (its callback
// runs then), or is believed at once when that manifest came first. A frame
// cannot be decoded before its last packet, the one with the manifest, so
// the wait costs video nothing.
type frameVerifier struct {
	inner Verifier

	mu      sync.Mutex
	waiting map[pktKey][]waiter               // unsigned packets no verified manifest listed yet
	listed  map[pktKey][proto.DigestSize]byte // digests of verified manifests, for packets not seen yet
}

type pktKey struct{ boot, seq uint64 }

type waiter struct {
	digest [proto.DigestSize]byte
	cb     func(error)
}

// maxFrameState bounds the packets a frameVerifier remembers (waiting and
// listed); beyond, the oldest are dropped (a waiting one fails). A packet
// waits with at most maxCopies answers (a repair's answer may come while
// the first one waits); more fail at once.
const (
	maxFrameState = 1024
	maxCopies     = 4
)

func newFrameVerifier(inner Verifier) *frameVerifier {
	return &frameVerifier{inner: inner, waiting: map[pktKey][]waiter{}, listed: map[pktKey][proto.DigestSize]byte{}}
}

// Verify implements Verifier.
func (v *frameVerifier) Verify(owner enc.Name, d ndn.Data, covered enc.Wire, cb func(error)) {
	sig := d.Signature()
	if sig == nil || sig.SigType() != ndn.SignatureDigestSha256 {
		v.verifySigned(owner, d, covered, cb)
		return
	}
	digest, err := checkDigest(d, covered)
	if err != nil {
		cb(err)
		return
	}
	key, ok := keyOf(d)
	if !ok {
		cb(fmt.Errorf("%w: %s is no media packet", ErrVerification, d.Name()))
		return
	}
	v.mu.Lock()
	if want, ok := v.listed[key]; ok {
		delete(v.listed, key)
		v.mu.Unlock()
		cb(listedErr(want, digest))
		return
	}
	if len(v.waiting[key]) >= maxCopies {
		v.mu.Unlock()
		cb(fmt.Errorf("%w: %d answers already wait for their manifest", ErrVerification, maxCopies))
		return
	}
	v.waiting[key] = append(v.waiting[key], waiter{digest: digest, cb: cb})
	dropped := v.boundLocked()
	v.mu.Unlock()
	fail(dropped)
}

// verifySigned verifies a signed Data with the participant's key; a
// manifest it carries then settles the packets it lists.
func (v *frameVerifier) verifySigned(owner enc.Name, d ndn.Data, covered enc.Wire, cb func(error)) {
	if d.ContentType().GetOr(ndn.ContentTypeBlob) != proto.ContentTypeManifest {
		v.inner.Verify(owner, d, covered, cb)
		return
	}
	key, ok := keyOf(d)
	digests, _, err := proto.SplitManifest(d.Content().Join())
	if err == nil && (!ok || uint64(len(digests)/proto.DigestSize) >= key.seq) {
		err = fmt.Errorf("%w: lists packets before seq 1", proto.ErrBadManifest)
	}
	if err != nil {
		cb(fmt.Errorf("%w: %w", ErrVerification, err))
		return
	}
	digests = bytes.Clone(digests)
	v.inner.Verify(owner, d, covered, func(err error) {
		v.settle(key, digests, err)
		cb(err)
	})
}

// settle applies the manifest of the packet key, verified (err nil) or
// not: a packet it lists that waits is believed if its digest is the
// listed one; a manifest that failed fails the packets waiting in its range
// (they are asked again).
func (v *frameVerifier) settle(key pktKey, digests []byte, err error) {
	k := uint64(len(digests) / proto.DigestSize)
	type result struct {
		cb  func(error)
		err error
	}
	var out []result
	v.mu.Lock()
	for i := uint64(0); i < k; i++ {
		pk := pktKey{key.boot, key.seq - k + i}
		var want [proto.DigestSize]byte
		copy(want[:], digests[i*proto.DigestSize:])
		ws, waits := v.waiting[pk]
		delete(v.waiting, pk)
		for _, w := range ws {
			r := result{cb: w.cb, err: listedErr(want, w.digest)}
			if err != nil {
				r.err = fmt.Errorf("%w: its manifest failed: %w", ErrVerification, err)
			}
			out = append(out, r)
		}
		if err == nil && !waits {
			v.listed[pk] = want
		}
	}
	dropped := v.boundLocked()
	v.mu.Unlock()
	for _, r := range out {
		r.cb(r.err)
	}
	fail(dropped)
}

// boundLocked drops old packets while more than maxFrameState are
// remembered, and returns the callbacks of the waiting ones it dropped.
// One pass drops every packet more than maxFrameState/2 behind the newest
// (packets given up, or listed by a manifest and never fetched, pile up
// there over a long call), so passes are rare; then the oldest, one by one.
func (v *frameVerifier) boundLocked() []func(error) {
	if len(v.waiting)+len(v.listed) <= maxFrameState {
		return nil
	}
	var newest pktKey
	for k := range v.waiting {
		newest = newer(newest, k)
	}
	for k := range v.listed {
		newest = newer(newest, k)
	}
	var dropped []func(error)
	old := func(k pktKey) bool { return k.boot < newest.boot || k.seq+maxFrameState/2 < newest.seq }
	for k, ws := range v.waiting {
		if old(k) {
			for _, w := range ws {
				dropped = append(dropped, w.cb)
			}
			delete(v.waiting, k)
		}
	}
	for k := range v.listed {
		if old(k) {
			delete(v.listed, k)
		}
	}
	for len(v.waiting)+len(v.listed) > maxFrameState {
		var oldest pktKey
		first := true
		for k := range v.waiting {
			if first || newer(k, oldest) == oldest {
				oldest, first = k, false
			}
		}
		for k := range v.listed {
			if first || newer(k, oldest) == oldest {
				oldest, first = k, false
			}
		}
		for _, w := range v.waiting[oldest] {
			dropped = append(dropped, w.cb)
		}
		delete(v.waiting, oldest)
		delete(v.listed, oldest)
	}
	return dropped
}

// newer returns the newer of two packets (boot, then seq).
func newer(a, b pktKey) pktKey {
	if b.boot > a.boot || b.boot == a.boot && b.seq > a.seq {
		return b
	}
	return a
}

func fail(cbs []func(error)) {
	for _, cb := range cbs {
		cb(fmt.Errorf("%w: no manifest listed it in time", ErrVerification))
	}
}

func listedErr(want, got [proto.DigestSize]byte) error {
	if want != got {
		return fmt.Errorf("%w: not the packet its manifest lists", ErrVerification)
	}
	return nil
}

// checkDigest checks a DigestSha256 Data (its SignatureValue is the SHA-256
// of its signed portion) and returns its manifest digest.
func checkDigest(d ndn.Data, covered enc.Wire) ([proto.DigestSize]byte, error) {
	h := sha256.New()
	for _, b := range covered {
		h.Write(b)
	}
	sum := h.Sum(nil)
	if !bytes.Equal(sum, d.Signature().SigValue()) {
		return [proto.DigestSize]byte{}, fmt.Errorf("%w: bad DigestSha256", ErrVerification)
	}
	var out [proto.DigestSize]byte
	copy(out[:], sum)
	return out, nil
}

// keyOf reads t=<boot>/seq=<n> at the end of a media packet's name.
func keyOf(d ndn.Data) (pktKey, bool) {
	n := d.Name()
	if len(n) < 2 || n.At(-1).Typ != enc.TypeSequenceNumNameComponent || n.At(-2).Typ != enc.TypeTimestampNameComponent {
		return pktKey{}, false
	}
	return pktKey{boot: n.At(-2).NumberVal(), seq: n.At(-1).NumberVal()}, true
}
