package forwarder

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/object"
	"github.com/named-data/ndnd/std/object/storage"
	sig "github.com/named-data/ndnd/std/security/signer"
	ndnsync "github.com/named-data/ndnd/std/sync"
	"github.com/named-data/ndnd/std/types/optional"
)

// TestHandlerPanicsRecovered: a panic in an Interest handler or an Express
// callback attached through a Conn's engine drops that packet only: it is
// counted, and the engine keeps serving (before, it ended the process).
func TestHandlerPanicsRecovered(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	b := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	ctx := ctxT(t)
	e := a.Engine()
	signer := sig.NewSha256Signer()
	if err := e.AttachHandler(name(t, "/guard"), func(h ndn.InterestHandlerArgs) {
		if strings.Contains(h.Interest.Name().String(), "boom") {
			panicHere() // a runtime panic, as a decoding bug would be
		}
		d, err := e.Spec().MakeData(h.Interest.Name(), &ndn.DataConfig{}, enc.Wire{[]byte("ok")}, signer)
		if err == nil {
			_ = h.Reply(d.Wire)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := a.Register(ctx, name(t, "/guard")); err != nil {
		t.Fatal(err)
	}
	if _, err := fetchAny(b.Engine(), name(t, "/guard/boom/1")); err == nil {
		t.Fatal("the panicking handler answered")
	}
	if got, err := fetchAny(b.Engine(), name(t, "/guard/fine")); err != nil || got != "ok" {
		t.Fatalf("after a handler panic: %q %v", got, err)
	}
	if n := a.Stats().HandlerPanics; n != 1 {
		t.Fatalf("handler panics %d, want 1", n)
	}

	// an Express callback that panics, on the other Conn's engine
	be := b.Engine()
	i, err := be.Spec().MakeInterest(name(t, "/guard/cb"), &ndn.InterestConfig{Lifetime: optional.Some(50 * time.Millisecond)}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	called := make(chan struct{})
	if err := be.Express(i, func(ndn.ExpressCallbackArgs) {
		close(called)
		panic("callback bug")
	}); err != nil {
		t.Fatal(err)
	}
	<-called
	if !eventually(2*time.Second, func() bool { return b.Stats().HandlerPanics == 1 }) {
		t.Fatalf("callback panics %d, want 1", b.Stats().HandlerPanics)
	}
	if got, err := fetchAny(be, name(t, "/guard/after-callback")); err != nil || got != "ok" {
		t.Fatalf("after a callback panic: %q %v", got, err)
	}
	// the engine handed out is the guarded one (under the commands'
	// wrapper), whoever asks
	ce, ok := e.EngineTrait().(cmdEngine)
	if !ok {
		t.Fatalf("EngineTrait is %T", e.EngineTrait())
	}
	if _, ok := ce.Engine.(*guardedEngine); !ok {
		t.Fatalf("under the commands' wrapper: %T", ce.Engine)
	}
}

// TestPanicStack: the logged stack starts at the function that panicked.
func TestPanicStack(t *testing.T) {
	var got string
	func() {
		defer func() {
			if r := recover(); r != nil {
				got = panicStack(3)
			}
		}()
		panicHere()
	}()
	if !strings.HasPrefix(got, "github.com/peets/peets/daemon/forwarder.panicHere (forwarder/guard_test.go:") {
		t.Fatalf("stack %q", got)
	}
}

func panicHere() {
	var s []int
	_ = s[3]
}

// TestOversizedAppPacketsKeepConnection: a local app whose packets grew
// beyond 8800 bytes (a sync Interest carrying a vector strangers inflated)
// loses those packets only: far more of them than maxBadFrames leave its
// connection open, each counted, and its next packet is served.
func TestOversizedAppPacketsKeepConnection(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	serve(t, a.Engine(), name(t, "/big/ok"), "A")
	if err := a.Register(ctxT(t), name(t, "/big/ok")); err != nil {
		t.Fatal(err)
	}
	before := a.Stats()
	c, err := net.Dial("unix", a.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	big := tlv(tInterest, tlv(tName, tlv(8, []byte("big")), tlv(8, []byte("x"))), okNonce,
		tlv(tAppParams, make([]byte, 12000)))
	const n = 3 * maxBadFrames
	if _, err := c.Write(bytes.Repeat(big, n)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(interestFrame(t, "/big/ok/after")); err != nil {
		t.Fatal(err)
	}
	p, _, err := readPacket(c, newFrameReader(c), 3*time.Second)
	if err != nil || p.Data == nil || !p.Data.Name().Equal(name(t, "/big/ok/after")) {
		t.Fatalf("the app's packet after %d oversized ones: %v", n, err)
	}
	st := a.Stats()
	if got := st.AppOversized - before.AppOversized; got != n {
		t.Fatalf("oversized counted %d, want %d", got, n)
	}
	if st.AppConnsClosed != before.AppConnsClosed {
		t.Fatalf("connection closed for oversized packets")
	}
}

// TestOversizedSendRefused: a Conn refuses to send a packet no forwarder
// takes (an external one would drop the connection for it), and stays up.
func TestOversizedSendRefused(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	b := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	big := enc.Wire{tlv(tInterest, okName, okNonce), make([]byte, 9000)}
	for _, c := range []*Conn{a, b} {
		if err := c.face.Send(big); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%s: send of %d bytes: %v", c.Kind(), len(big.Join()), err)
		}
	}
	serve(t, a.Engine(), name(t, "/big/sent"), "A")
	if err := a.Register(ctxT(t), name(t, "/big/sent")); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, b.Engine(), "/big/sent/x", "A")
	if st := b.Stats(); st.Reconnects != 0 || !st.Up {
		t.Fatalf("stats %+v", st)
	}
}

// TestSyncCrashPacketRecovered: issue 14's packet, a sync Interest whose
// ApplicationParameters hold a Data with a name component of length
// 2^63+1, sent by a local app to a member's forwarder. The validator passes
// ApplicationParameters as they are (they are the application's), so the
// Interest reaches ndnd's SvSync, whose decoding panics ("slice bounds out
// of range"); the panic is recovered at the handler's boundary and counted,
// and the group keeps working. (Checking the sync Interest before SvSync is
// the sync group's job; this is the last line.)
func TestSyncCrashPacketRecovered(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	group := name(t, "/peets-test/crash-group")
	cli := object.NewClient(a.Engine(), storage.NewMemoryStore(), nil)
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	defer cli.Stop()
	svs := ndnsync.NewSvSync(ndnsync.SvSyncOpts{Client: cli, GroupPrefix: group, OnUpdate: func(ndnsync.SvSyncUpdate) {}})
	if err := svs.Start(); err != nil {
		t.Fatal(err)
	}
	defer svs.Stop()
	ctx := ctxT(t)
	if err := a.SetStrategy(ctx, group, MulticastStrategy); err != nil {
		t.Fatal(err)
	}
	if err := a.Register(ctx, group); err != nil {
		t.Fatal(err)
	}
	// a name component of length 2^63+1 inside the inner Data's name
	badData := tlv(tData, rawTLV(tName, vn(11), rawTLV(8, b(0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x01)), b(0xaa)))
	params := tlv(tAppParams, badData)
	digest := sha256.Sum256(params)
	syncName := tlv(tName, tlv(8, []byte("peets-test")), tlv(8, []byte("crash-group")), tlv(0x36, b(3)),
		tlv(tParamsDigest, digest[:]))
	crash := tlv(tInterest, syncName, okNonce, tlv(tLifetime, b(100)), params)
	if err := validatePacket(crash, validateOpts{forForwarder: true, fwThreads: 1}); err != nil {
		t.Fatalf("the crash packet no longer passes the validator (%v): the test must be rethought", err)
	}
	c, err := net.Dial("unix", a.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(crash); err != nil {
		t.Fatal(err)
	}
	if !eventually(3*time.Second, func() bool { return a.Stats().HandlerPanics >= 1 }) {
		t.Fatalf("no recovered panic: %+v", a.Stats())
	}
	// the member's engine still serves
	serve(t, a.Engine(), name(t, "/peets-test/after-crash"), "A")
	if err := a.Register(ctx, name(t, "/peets-test/after-crash")); err != nil {
		t.Fatal(err)
	}
	b := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	mustFetch(t, b.Engine(), "/peets-test/after-crash/x", "A")
}
