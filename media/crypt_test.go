package media

import (
	"bytes"
	"crypto/rand"
	"sync"
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
	pub, k := testPublisher(t, PublisherConfig{MediaKeys: StaticKey(key)})
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
	if m.KeyEpoch != 1 {
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
			if c.key != nil {
				cfg.MediaKeys = StaticKey(c.key)
			}
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

// epochKeys is a room's keyring that a test rotates.
type epochKeys struct {
	mu    sync.Mutex
	epoch uint64
	keys  map[uint64][]byte
}

func (k *epochKeys) Epoch() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.epoch
}

func (k *epochKeys) Key(e uint64) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys[e]
}

func (k *epochKeys) rotate(e uint64, key []byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[e], k.epoch = key, e
}

// TestRotatedStream: the room's key rotates in the middle of a stream
// (a member removed). The publisher seals from the next packet on with the
// new epoch's key, in the same boot, and its metadata names the new epoch;
// a member that got the new key delivers every packet, before and after;
// the removed member, who has only the old key, delivers those before and
// none after.
func TestRotatedStream(t *testing.T) {
	checkGoroutines(t)
	k1, k2 := make([]byte, 32), make([]byte, 32)
	rand.Read(k1)
	rand.Read(k2)
	keys := &epochKeys{epoch: 1, keys: map[uint64][]byte{1: k1}}
	pub, k := testPublisher(t, PublisherConfig{MediaKeys: keys})
	const n, switchAt = 60, 31
	for i := uint64(1); i <= n; i++ {
		if i == switchAt {
			keys.rotate(2, k2)
		}
		if _, err := pub.Publish(rtpPacket(i, i == 1, 300), i == 1); err != nil {
			t.Fatal(err)
		}
	}
	pub.mu.Lock()
	m := pub.metaLocked()
	pub.mu.Unlock()
	if m.KeyEpoch != 2 {
		t.Fatalf("metadata key epoch %d after the rotation", m.KeyEpoch)
	}
	v := newKeyVerifier()
	v.pin(pub.producer.Participant(), k.pub)
	member := &epochKeys{epoch: 2, keys: map[uint64][]byte{1: k1, 2: k2}}
	removed := StaticKey(k1)
	for _, c := range []struct {
		name string
		keys MediaKeys
		want int
	}{{"member", member, n}, {"removed", removed, switchAt - 1}} {
		col := newCollector()
		f := testFetcher(t, 1, pub, v, col, func(cfg *FetcherConfig) {
			cfg.MediaKeys = c.keys
			cfg.MaxStartLag = n
		})
		stop := runFetcher(t, f)
		waitFor(t, 5*time.Second, c.name+"'s packets", func() bool {
			return col.count() >= c.want && (c.want == n || f.Stats().VerifyFailures >= 10)
		})
		stop()
		_, seqs := col.snapshot()
		for _, s := range seqs {
			if c.want < n && s >= switchAt {
				t.Fatalf("%s: delivered seq %d, sealed after the rotation", c.name, s)
			}
		}
		if len(seqs) != c.want {
			t.Fatalf("%s: %d packets delivered, want %d", c.name, len(seqs), c.want)
		}
	}
}
