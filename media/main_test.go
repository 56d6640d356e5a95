package media

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	ndnlog "github.com/named-data/ndnd/std/log"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/security/signer"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/proto"
)

// The package's tests share ONE in-process forwarder (ndnd's forwarder is
// process-global) and a fixed set of engines connected to it: conns[0]
// publishes, conns[1:] subscribe. Each test uses its own participant prefix.
const numConns = 10

var (
	conns   []*forwarder.Conn
	testLog = slog.New(slog.NewTextHandler(io.Discard, nil))
	seqUser atomic.Int64
)

func TestMain(m *testing.M) {
	if os.Getenv("PEETS_TEST_LOG") != "" {
		testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		ndnlog.Default().SetLevel(ndnlog.LevelError)
	}
	dir, err := os.MkdirTemp("", "peets-media-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	for range numConns {
		c, err := forwarder.Open(ctx, forwarder.Options{URI: "embedded", StateDir: dir, Logger: testLog, ForwarderLogLevel: "ERROR"})
		if err != nil {
			fmt.Fprintln(os.Stderr, "forwarder:", err)
			os.Exit(1)
		}
		conns = append(conns, c)
	}
	cancel()
	code := m.Run()
	for _, c := range conns {
		c.Close()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// participant returns a fresh participant prefix for a test.
func participant(t testing.TB) enc.Name {
	return proto.ParticipantPrefix(proto.DefaultUserPrefix(fmt.Sprintf("u%d", seqUser.Add(1))), "room")
}

// register routes prefix to conns[i].
func register(t testing.TB, i int, prefix enc.Name) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conns[i].Register(ctx, prefix); err != nil {
		t.Fatalf("register %s: %v", prefix, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conns[i].Unregister(ctx, prefix)
	})
}

// testKey is an Ed25519 key of a participant, with the verifier side.
type testKey struct {
	signer ndn.Signer
	pub    ed25519.PublicKey
}

func newTestKey(t testing.TB, owner enc.Name) testKey {
	t.Helper()
	s, err := signer.KeygenEd25519(owner.Append(enc.NewGenericComponent("KEY"), enc.NewGenericComponent("k1")))
	if err != nil {
		t.Fatal(err)
	}
	der, err := s.Public()
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{signer: s, pub: pk.(ed25519.PublicKey)}
}

// keyVerifier is a Verifier with pinned keys: a stand-in for sec.Verifier.
type keyVerifier struct {
	mu    sync.Mutex
	keys  map[string]ed25519.PublicKey
	async bool // call cb from another goroutine
	calls atomic.Uint64
}

func newKeyVerifier() *keyVerifier { return &keyVerifier{keys: map[string]ed25519.PublicKey{}} }

func (v *keyVerifier) pin(owner enc.Name, pub ed25519.PublicKey) {
	v.mu.Lock()
	v.keys[owner.String()] = pub
	v.mu.Unlock()
}

func (v *keyVerifier) Verify(owner enc.Name, d ndn.Data, covered enc.Wire, cb func(error)) {
	v.calls.Add(1)
	v.mu.Lock()
	pub := v.keys[owner.String()]
	v.mu.Unlock()
	var err error
	switch {
	case pub == nil:
		err = fmt.Errorf("%w: no key for %s", ErrVerification, owner)
	case !owner.IsPrefix(d.Name()):
		err = fmt.Errorf("%w: not under owner", ErrVerification)
	case d.Signature() == nil || d.Signature().SigType() != ndn.SignatureEd25519:
		err = fmt.Errorf("%w: not ed25519", ErrVerification)
	case !ed25519.Verify(pub, covered.Join(), d.Signature().SigValue()):
		err = fmt.Errorf("%w: bad signature", ErrVerification)
	}
	if v.async {
		go cb(err)
		return
	}
	cb(err)
}

// rtpPacket builds a synthetic RTP packet: version 2, payload type 96, the
// marker bit set (a packet that ends a frame: signed, on a video stream),
// the given RTP seq and timestamp; the payload starts with idx (8 bytes)
// and a keyframe flag, then filler bytes up to size.
func rtpPacket(idx uint64, key bool, size int) []byte {
	size = max(size, 21)
	b := make([]byte, size)
	b[0] = 0x80
	b[1] = 0x80 | 96
	binary.BigEndian.PutUint16(b[2:], uint16(idx))
	binary.BigEndian.PutUint32(b[4:], uint32(idx*3000))
	binary.BigEndian.PutUint32(b[8:], 0x1234abcd)
	binary.BigEndian.PutUint64(b[12:], idx)
	if key {
		b[20] = 1
	}
	for i := 21; i < size; i++ {
		b[i] = byte(idx*7 + uint64(i))
	}
	return b
}

// midFrame clears the marker bit of an rtpPacket: a packet that does not
// end its frame (unsigned, on a video stream, until the frame's last).
func midFrame(b []byte) []byte { b[1] &^= 0x80; return b }

func rtpIndex(b []byte) uint64 { return binary.BigEndian.Uint64(b[12:20]) }
func rtpIsKey(b []byte) bool   { return len(b) > 20 && b[20] == 1 }

// collector records what a fetcher delivers.
type collector struct {
	mu    sync.Mutex
	pkts  [][]byte
	seqs  []uint64
	first time.Time
	ch    chan struct{} // signalled on each packet
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1)} }

func (c *collector) onPacket(pkt []byte, seq uint64) {
	c.mu.Lock()
	if c.first.IsZero() {
		c.first = time.Now()
	}
	c.pkts = append(c.pkts, pkt)
	c.seqs = append(c.seqs, seq)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pkts)
}

func (c *collector) snapshot() ([][]byte, []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.pkts...), append([]uint64(nil), c.seqs...)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkGoroutines fails the test if the goroutine count has not come back
// to what it was when checkGoroutines was called, once the test ends.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// runFetcher starts f.Run and returns a stop function that cancels and waits.
func runFetcher(t testing.TB, f *Fetcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run did not return")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// testPublisher makes a publisher on conns[0] for a new participant.
func testPublisher(t testing.TB, cfg PublisherConfig) (*Publisher, testKey) {
	t.Helper()
	if len(cfg.Participant) == 0 {
		cfg.Participant = participant(t)
	}
	key := newTestKey(t, cfg.Participant)
	cfg.Engine = conns[0].Engine()
	if cfg.Signer == nil {
		cfg.Signer = key.signer
	}
	if cfg.Stream == "" {
		cfg.Stream = "cam"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLog
	}
	if cfg.MimeType == "" {
		cfg.MimeType = "video/VP8"
		cfg.ClockRate = 90000
	}
	p, err := NewPublisher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	register(t, 0, cfg.Participant)
	return p, key
}

func testFetcher(t testing.TB, conn int, pub *Publisher, v Verifier, col *collector, mod func(*FetcherConfig)) *Fetcher {
	t.Helper()
	cfg := FetcherConfig{
		Engine:   conns[conn].Engine(),
		Owner:    pub.producer.Participant(),
		Stream:   pub.stream,
		Verifier: v,
		OnPacket: col.onPacket,
		RateHint: 200,
		Logger:   testLog,
	}
	// The tests assert zero loss: give holes a playout budget that survives
	// a loaded 2-core machine (and the race detector's slowdown). Tests of
	// the skip behaviour set their own.
	cfg.ReorderWait, cfg.MaxReorderWait = 300*time.Millisecond, 500*time.Millisecond
	if raceEnabled {
		cfg.ReorderWait, cfg.MaxReorderWait = time.Second, time.Second
	}
	if mod != nil {
		mod(&cfg)
	}
	f, err := NewFetcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
