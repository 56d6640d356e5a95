package media

import (
	"errors"
	"testing"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"

	"github.com/peets/peets/proto"
)

// published is the Data a publisher made for seq, decoded.
func published(t *testing.T, p *Publisher, seq uint64) (ndn.Data, enc.Wire) {
	t.Helper()
	p.mu.Lock()
	e, ok := p.ring.get(seq)
	p.mu.Unlock()
	if !ok {
		t.Fatalf("seq %d not in the ring", seq)
	}
	d, cov, err := spec.Spec{}.ReadData(enc.NewBufferView(e.buf))
	if err != nil {
		t.Fatal(err)
	}
	return d, cov
}

// TestPerFrameSigning: on a video stream, the packets inside a frame are
// signed DigestSha256 and the frame's last one Ed25519 with their
// manifest; a run without a frame end is cut at proto.MaxUnsigned; an
// audio stream signs every packet.
func TestPerFrameSigning(t *testing.T) {
	pub, _ := testPublisher(t, PublisherConfig{})
	for i := uint64(1); i <= 4+20; i++ {
		pkt := rtpPacket(i, i == 1, 300)
		if i != 4 {
			midFrame(pkt)
		}
		if _, err := pub.Publish(pkt, i == 1); err != nil {
			t.Fatal(err)
		}
	}
	signedAt := map[uint64]int{4: 3, 4 + proto.MaxUnsigned + 1: proto.MaxUnsigned} // seq: digests listed
	for seq := uint64(1); seq <= 24; seq++ {
		d, _ := published(t, pub, seq)
		k, signed := signedAt[seq]
		switch st := d.Signature().SigType(); {
		case signed && st != ndn.SignatureEd25519, !signed && st != ndn.SignatureDigestSha256:
			t.Fatalf("seq %d signed %v (want Ed25519: %v)", seq, st, signed)
		}
		if !signed {
			continue
		}
		if ct := d.ContentType().GetOr(ndn.ContentTypeBlob); ct != proto.ContentTypeManifest {
			t.Fatalf("seq %d content type %d", seq, ct)
		}
		digests, rtp, err := proto.SplitManifest(d.Content().Join())
		if err != nil || len(digests) != k*proto.DigestSize || rtpIndex(rtp) != seq {
			t.Fatalf("seq %d: manifest of %d octets, RTP %d, %v", seq, len(digests), len(rtp), err)
		}
		// Each digest is the one of the packet it stands for.
		for i := range k {
			u, cov := published(t, pub, seq-uint64(k)+uint64(i))
			if got, _ := checkDigest(u, cov); string(got[:]) != string(digests[i*proto.DigestSize:(i+1)*proto.DigestSize]) {
				t.Fatalf("seq %d: digest %d is not seq %d's", seq, i, seq-uint64(k)+uint64(i))
			}
		}
	}
	audio, _ := testPublisher(t, PublisherConfig{Stream: "mic", MimeType: "audio/opus", ClockRate: 48000})
	if _, err := audio.Publish(midFrame(rtpPacket(1, false, 100)), false); err != nil {
		t.Fatal(err)
	}
	if d, _ := published(t, audio, 1); d.Signature().SigType() != ndn.SignatureEd25519 {
		t.Fatal("an audio packet is not signed")
	}
}

// TestFrameVerifier: an unsigned packet is believed when the verified
// manifest of its frame lists it, whichever comes first; a packet that is
// not the one listed, and the packets of a manifest that fails, are
// refused; the packets remembered are bounded.
func TestFrameVerifier(t *testing.T) {
	pub, key := testPublisher(t, PublisherConfig{})
	const frames = 3
	for i := uint64(1); i <= 4*frames; i++ {
		pkt := rtpPacket(i, i == 1, 300)
		if i%4 != 0 {
			midFrame(pkt)
		}
		if _, err := pub.Publish(pkt, i == 1); err != nil {
			t.Fatal(err)
		}
	}
	owner := pub.producer.Participant()
	kv := newKeyVerifier()
	kv.pin(owner, key.pub)
	fv := newFrameVerifier(kv)
	results := map[uint64]error{}
	verify := func(seq uint64) {
		d, cov := published(t, pub, seq)
		fv.Verify(owner, d, cov, func(err error) { results[seq] = err })
	}
	// Frame 1: unsigned first, then the manifest.
	verify(1)
	verify(2)
	if len(results) != 0 {
		t.Fatalf("believed before the manifest: %v", results)
	}
	verify(4)
	verify(3) // after its manifest: at once
	for seq := uint64(1); seq <= 4; seq++ {
		if err, ok := results[seq]; !ok || err != nil {
			t.Fatalf("frame 1, seq %d: %v %v", seq, ok, err)
		}
	}
	// Frame 2: a forged packet 5 (a valid DigestSha256 over other bytes).
	forged, err := spec.Spec{}.MakeData(proto.MediaName(pub.Prefix(), pub.Boot(), 5), &ndn.DataConfig{},
		enc.Wire{rtpPacket(99, false, 300)}, signer.NewSha256Signer())
	if err != nil {
		t.Fatal(err)
	}
	fd, fcov, _ := spec.Spec{}.ReadData(enc.NewWireView(forged.Wire))
	fv.Verify(owner, fd, fcov, func(err error) { results[5] = err })
	verify(8)
	if err := results[5]; !errors.Is(err, ErrVerification) {
		t.Fatalf("forged packet: %v", err)
	}
	// Frame 3: its manifest verifies with no key: the waiting packets fail.
	fv2 := newFrameVerifier(newKeyVerifier())
	for _, seq := range []uint64{9, 10, 12} {
		d, cov := published(t, pub, seq)
		fv2.Verify(owner, d, cov, func(err error) { results[seq] = err })
	}
	if !errors.Is(results[9], ErrVerification) || !errors.Is(results[10], ErrVerification) || results[12] == nil {
		t.Fatalf("frame 3 under a bad manifest: %v %v %v", results[9], results[10], results[12])
	}
	// Bounded: copies of one packet, and packets whose manifest never
	// comes (the oldest fail).
	fv3 := newFrameVerifier(kv)
	d, cov := published(t, pub, 1)
	var copyErrs []error
	for range maxCopies + 2 {
		fv3.Verify(owner, d, cov, func(err error) { copyErrs = append(copyErrs, err) })
	}
	if len(copyErrs) != 2 || !errors.Is(copyErrs[0], ErrVerification) {
		t.Fatalf("copies beyond %d: %v", maxCopies, copyErrs)
	}
	big, _ := testPublisher(t, PublisherConfig{RingSize: 2048})
	failed := 0
	for i := uint64(1); i <= maxFrameState+200; i++ {
		if _, err := big.Publish(midFrame(rtpPacket(i, false, 100)), false); err != nil {
			t.Fatal(err)
		}
		if d, cov := published(t, big, i); d.Signature().SigType() == ndn.SignatureDigestSha256 {
			fv3.Verify(owner, d, cov, func(err error) {
				if err != nil {
					failed++
				}
			})
		}
	}
	fv3.mu.Lock()
	n := len(fv3.waiting) + len(fv3.listed)
	fv3.mu.Unlock()
	if n > maxFrameState || failed == 0 {
		t.Fatalf("%d remembered, %d failed", n, failed)
	}
}
