package media

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/proto"
)

// TestSealedStream: a publisher with the room's media key seals every
// packet (the content is not the RTP packet; the metadata says the key
// epoch); a fetcher with the key delivers the RTP packets as published,
// frames with manifests included; one without it, or with another room's
// key, delivers nothing and counts each packet it could not open.
func TestSealedStream(t *testing.T) {
	checkGoroutines(t)
	key := make([]byte, 32)
	other := make([]byte, 32)
	rand.Read(key)
	rand.Read(other)
	pub, k := testPublisher(t, PublisherConfig{MediaKey: key})
	const n = 60
	for i := uint64(1); i <= n; i++ {
		p := rtpPacket(i, i == 1, 400)
		if i%3 != 0 {
			midFrame(p)
		}
		if _, err := pub.Publish(p, i == 1); err != nil {
			t.Fatal(err)
		}
	}
	for seq := uint64(1); seq <= n; seq++ {
		d, _ := published(t, pub, seq)
		content := d.Content().Join()
		if d.ContentType().GetOr(ndn.ContentTypeBlob) == proto.ContentTypeManifest {
			_, content, _ = proto.SplitManifest(content)
		}
		plain := rtpPacket(seq, seq == 1, 400)
		if len(content) != len(plain)+gcmTag || bytes.Contains(content, plain[12:40]) {
			t.Fatalf("seq %d: content of %d bytes is not the sealed packet", seq, len(content))
		}
	}
	pub.mu.Lock()
	m := pub.metaLocked()
	pub.mu.Unlock()
	if m.KeyEpoch != KeyEpoch {
		t.Fatalf("metadata key epoch %d", m.KeyEpoch)
	}
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), k.pub)
	for _, c := range []struct {
		name string
		key  []byte
	}{{"room key", key}, {"no key", nil}, {"another key", other}} {
		col := newCollector()
		f := testFetcher(t, 1, pub, v, col, func(cfg *FetcherConfig) {
			cfg.MediaKey = c.key
			cfg.MaxStartLag = n // from the start
		})
		stop := runFetcher(t, f)
		if c.key != nil && bytes.Equal(c.key, key) {
			waitFor(t, 5*time.Second, "the packets", func() bool { return col.count() >= n-2 })
			pkts, seqs := col.snapshot()
			for i, p := range pkts {
				if !bytes.Equal(p, func() []byte {
					q := rtpPacket(seqs[i], seqs[i] == 1, 400)
					if seqs[i]%3 != 0 {
						midFrame(q)
					}
					return q
				}()) {
					t.Fatalf("%s: seq %d is not the packet published", c.name, seqs[i])
				}
			}
		} else {
			waitFor(t, 5*time.Second, "refusals", func() bool { return f.Stats().VerifyFailures >= 10 })
			if col.count() != 0 {
				t.Fatalf("%s: %d packets delivered", c.name, col.count())
			}
		}
		stop()
	}
}
