package media

import (
	"bytes"
	"crypto/ed25519"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
)

// TestDataEncoder: the publisher's own encoding of media Data is what
// ndnd's encoder makes (byte for byte when both have the same MetaInfo; Ed25519
// is deterministic), parses back, and verifies.
func TestDataEncoder(t *testing.T) {
	P := proto.ParticipantPrefix(proto.DefaultUserPrefix("alice"), "room")
	S := proto.StreamPrefix(P, "cam")
	k := newTestKey(t, P)
	signers := map[string]ndn.Signer{
		"ed25519":      k.signer,
		"ed25519-nokl": sec.NoKeyLocator(k.signer),
		"sha256":       signer.NewSha256Signer(),
	}
	boots := []uint64{1, 1795241772586534}
	seqs := []uint64{1, 255, 256, 65535, 65536, 1 << 32}
	sizes := []int{12, 100, 245, 246, 252, 253, 254, 1200, 1500, 70000}
	for sname, s := range signers {
		for _, fresh := range []time.Duration{0, time.Second, 1500 * time.Hour} {
			for _, boot := range boots {
				e := newDataEncoder(S, boot, s, fresh, 0)
				for _, seq := range seqs {
					for _, size := range sizes {
						content := rtpPacket(seq, false, size)
						wire, err := e.encode(seq, content)
						if err != nil {
							t.Fatal(err)
						}
						name := proto.MediaName(S, boot, seq)
						cfg := &ndn.DataConfig{}
						if fresh > 0 {
							cfg.Freshness = optional.Some(fresh)
						}
						ref, err := spec.Spec{}.MakeData(name, cfg, enc.Wire{content}, s)
						if err != nil {
							t.Fatal(err)
						}
						refWire := ref.Wire.Join()
						if fresh > 0 {
							if !bytes.Equal(wire, refWire) {
								t.Fatalf("%s fresh %v seq %d size %d: differs from ndnd's encoding\n%x\n%x", sname, fresh, seq, size, wire, refWire)
							}
						} else if len(wire) != len(refWire)-2 { // ndnd writes an empty MetaInfo
							t.Fatalf("%s seq %d size %d: %d bytes, ndnd %d", sname, seq, size, len(wire), len(refWire))
						}
						d, covered, err := spec.Spec{}.ReadData(enc.NewBufferView(wire))
						if err != nil {
							t.Fatalf("%s seq %d size %d: %v", sname, seq, size, err)
						}
						if !d.Name().Equal(name) || !bytes.Equal(d.Content().Join(), content) {
							t.Fatalf("%s: name %s or content differ", sname, d.Name())
						}
						if _, ok := d.ContentType().Get(); ok {
							t.Fatalf("ContentType present")
						}
						if got, ok := d.Freshness().Get(); ok != (fresh > 0) || ok && got != fresh {
							t.Fatalf("freshness %v %v, want %v", got, ok, fresh)
						}
						sig := d.Signature()
						if sig.SigType() != s.Type() || !sig.KeyName().Equal(s.KeyLocator()) {
							t.Fatalf("%s: signature info %v %s", sname, sig.SigType(), sig.KeyName())
						}
						if s.Type() == ndn.SignatureEd25519 && !ed25519.Verify(k.pub, covered.Join(), sig.SigValue()) {
							t.Fatalf("%s: signature does not verify", sname)
						}
					}
				}
			}
		}
	}
}

// TestMediaDataSize: the bytes a media packet adds to its RTP packet.
func TestMediaDataSize(t *testing.T) {
	P := proto.ParticipantPrefix(proto.DefaultUserPrefix("pub"), "bench123456")
	S := proto.StreamPrefix(P, "video")
	k := newTestKey(t, P)
	e := newDataEncoder(S, uint64(time.Now().UnixMicro()), sec.NoKeyLocator(k.signer), 0, 0)
	for _, c := range []struct{ size, over int }{
		// name 61 (/peets/user/pub/bench123456/media/video 45, t= 10,
		// seq= 4 for seq < 65536, TL 2), SignatureInfo 5, SignatureValue
		// 66, Data and Content TLs 2+2 below 253 bytes, 4+4 above.
		{93, 2 + 61 + 2 + 5 + 66},
		{937, 4 + 61 + 4 + 5 + 66},
	} {
		w, err := e.encode(1000, rtpPacket(1, false, c.size))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(w) - c.size; got != c.over {
			t.Errorf("%d-byte RTP packet: %d bytes of overhead, want %d", c.size, got, c.over)
		}
	}
}
