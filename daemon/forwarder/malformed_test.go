package forwarder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	sig "github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
)

// exchanger keeps two engines fetching from each other until stopped and
// counts the failures: the "other participants" that malformed input must
// not cost anything.
type exchanger struct {
	ok, failed atomic.Int64
	lastErr    atomic.Value
	stop       chan struct{}
	wg         sync.WaitGroup
}

func startExchange(t *testing.T, pairs ...struct {
	e      ndn.Engine
	prefix string
	tag    string
}) *exchanger {
	x := &exchanger{stop: make(chan struct{})}
	for _, p := range pairs {
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-x.stop:
					return
				default:
				}
				n := fmt.Sprintf("%s/%d", p.prefix, i)
				got, err := fetch(p.e, name(t, n), 2*time.Second)
				if err == nil && got != p.tag+":"+name(t, n).String() {
					err = fmt.Errorf("got %q", got)
				}
				if err != nil {
					x.failed.Add(1)
					x.lastErr.Store(fmt.Sprintf("%s: %v", n, err))
				} else {
					x.ok.Add(1)
				}
			}
		}()
	}
	return x
}

func (x *exchanger) finish(t *testing.T) {
	t.Helper()
	close(x.stop)
	x.wg.Wait()
	if x.failed.Load() > 0 || x.ok.Load() == 0 {
		t.Fatalf("healthy exchange: %d ok, %d failed (last: %v)", x.ok.Load(), x.failed.Load(), x.lastErr.Load())
	}
	t.Logf("healthy exchange meanwhile: %d Interest/Data, 0 failed", x.ok.Load())
}

type pair = struct {
	e      ndn.Engine
	prefix string
	tag    string
}

// interestFrame encodes an Interest for n with a fresh nonce.
func interestFrame(t testing.TB, n string) []byte {
	t.Helper()
	i, err := spec.Spec{}.MakeInterest(name(t, n), &ndn.InterestConfig{
		Lifetime: optional.Some(2 * time.Second), Nonce: ndnNonce(), MustBeFresh: true,
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return i.Wire.Join()
}

var nonceCtr atomic.Uint32

func ndnNonce() optional.Optional[uint32] {
	return optional.Some(uint32(time.Now().UnixNano()) ^ nonceCtr.Add(0x9e3779b9))
}

// readPacket reads frames from c until one decodes (LpPacket unwrapped) or
// the deadline passes.
func readPacket(c net.Conn, fr *frameReader, d time.Duration) (*spec.Packet, []byte, error) {
	f, err := readFrame(c, fr, d)
	if err != nil {
		return nil, nil, err
	}
	p, _, err := spec.ReadPacket(enc.NewBufferView(f))
	if err != nil {
		return nil, nil, err
	}
	var tok []byte
	if p.LpPacket != nil {
		tok = p.LpPacket.PitToken
		if p, _, err = spec.ReadPacket(enc.NewWireView(p.LpPacket.Fragment)); err != nil {
			return nil, nil, err
		}
	}
	return p, tok, nil
}

// readFrame reads the next TLV frame from c, as it came, waiting at most d.
func readFrame(c net.Conn, fr *frameReader, d time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	for {
		f, err := fr.next()
		if err != nil {
			return nil, err
		}
		if f != nil {
			return f, nil
		}
		if err := fr.fill(); err != nil {
			return nil, err
		}
	}
}

// TestEmbeddedSurvivesMalformedApps: raw connections to the embedded
// forwarder's socket send every malformed frame of the corpus (the crash
// packet first) while a producer and a consumer, one in-process and one on
// the socket, keep exchanging Interest/Data. The forwarder drops and counts
// the frames, closes the offending connections, keeps serving the same
// connection's good frames until then, and the healthy exchange sees no
// failure. (Before the relay, the first frame ended the test binary.)
func TestEmbeddedSurvivesMalformedApps(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	cons := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	ctx := ctxT(t)
	serve(t, a.Engine(), name(t, "/healthy/a"), "A")
	serve(t, cons.Engine(), name(t, "/healthy/b"), "B")
	if err := a.Register(ctx, name(t, "/healthy/a")); err != nil {
		t.Fatal(err)
	}
	if err := cons.Register(ctx, name(t, "/healthy/b")); err != nil {
		t.Fatal(err)
	}
	before := a.Stats()
	x := startExchange(t, pair{cons.Engine(), "/healthy/a", "A"}, pair{a.Engine(), "/healthy/b", "B"})

	dial := func() net.Conn {
		c, err := net.Dial("unix", a.SocketPath())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	corpus := malformedCorpus(t)
	// the YaNFD crashes past the decoder, aimed at a prefix that answers
	corpus = append(corpus,
		malformed{name: "interest for a served prefix with a 3-byte PIT token", streamable: true,
			frame: lpFrame(interestFrame(t, "/healthy/a/pit"), tlv(tLpPitToken, b(1, 2, 3)))},
		malformed{name: "data with a PIT token of thread 1", streamable: true,
			frame: lpFrame(okData(tlv(tName, tlv(8, []byte("healthy")), tlv(8, []byte("b")), tlv(8, []byte("x")))),
				tlv(tLpPitToken, b(0, 1, 0, 0, 0, 1)))},
	)
	bad := 0
	// One frame per connection, each followed by a good Interest that must
	// still be answered on that connection.
	for i, m := range corpus {
		if !m.streamable {
			continue
		}
		c := dial()
		fr := newFrameReader(c)
		probe := fmt.Sprintf("/healthy/a/probe%d", i)
		if _, err := c.Write(append(append([]byte{}, m.frame...), interestFrame(t, probe)...)); err != nil {
			t.Fatalf("%s: write: %v", m.name, err)
		}
		bad++
		p, _, err := readPacket(c, fr, 3*time.Second)
		if m.framing {
			// the stream cannot be delimited any more: connection closed
			if err == nil {
				t.Fatalf("%s: connection still served after a framing error", m.name)
			}
			continue
		}
		if err != nil || p.Data == nil || p.Data.Name().String() != name(t, probe).String() {
			t.Fatalf("%s: good Interest after the bad frame not answered: %v", m.name, err)
		}
		c.Close()
	}
	// A burst of garbage on one connection: closed after maxBadFrames.
	c := dial()
	var burst []byte
	n := 0
	for _, m := range corpus {
		if !m.framing && m.streamable {
			burst = append(burst, m.frame...)
			n++
		}
	}
	if n <= maxBadFrames {
		t.Fatalf("corpus too small for the burst test")
	}
	_, _ = c.Write(burst) // may fail once the relay closes the connection
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	// closed: EOF, or a reset when the relay closed it with some of the
	// burst unread
	if _, err := io.ReadAll(c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("connection sending garbage not closed: %v", err)
	}
	bad += maxBadFrames

	// the crash packet, a thousand times, on fresh connections
	for range 50 {
		c := dial()
		_, _ = c.Write(bytes.Repeat(crashFrame, 20))
		c.Close()
	}
	bad += 50 * maxBadFrames

	if !eventually(3*time.Second, func() bool { return a.Stats().AppMalformedIn-before.AppMalformedIn >= uint64(bad) }) {
		t.Fatalf("malformed frames counted: %d, want >= %d", a.Stats().AppMalformedIn-before.AppMalformedIn, bad)
	}
	// the forwarder still serves new apps
	mustFetch(t, cons.Engine(), "/healthy/a/after", "A")
	x.finish(t)
	st := a.Stats()
	t.Logf("embedded forwarder: %d malformed app frames dropped, %d app connections closed",
		st.AppMalformedIn-before.AppMalformedIn, st.AppConnsClosed-before.AppConnsClosed)
	if st.AppConnsClosed-before.AppConnsClosed < 51 {
		t.Fatalf("connections closed: %d", st.AppConnsClosed-before.AppConnsClosed)
	}
}

// fakeForwarder is a unix listener the test controls: it hands out the
// server side of each connection.
type fakeForwarder struct {
	sock  string
	ln    net.Listener
	conns chan net.Conn
}

func newFakeForwarder(t *testing.T) *fakeForwarder {
	f := &fakeForwarder{sock: filepath.Join(t.TempDir(), "fake.sock"), conns: make(chan net.Conn, 4)}
	var err error
	if f.ln, err = net.Listen("unix", f.sock); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := f.ln.Accept()
			if err != nil {
				return
			}
			f.conns <- c
		}
	}()
	t.Cleanup(func() { f.ln.Close() })
	return f
}

func (f *fakeForwarder) accept(t *testing.T) net.Conn {
	t.Helper()
	select {
	case c := <-f.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(3 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

// TestExternalConnSurvivesMalformedForwarder: a "forwarder" writes the
// malformed corpus into an external Conn's face. The engine never sees the
// bad frames (no panic), keeps answering good Interests between them, counts
// them in Stats.MalformedIn, and a framing error only costs a reconnect.
func TestExternalConnSurvivesMalformedForwarder(t *testing.T) {
	ff := newFakeForwarder(t)
	c := openT(t, Options{URI: "unix://" + ff.sock, StateDir: t.TempDir()})
	srv := ff.accept(t)
	var served atomic.Int64
	signer := sig.NewSha256Signer()
	e := c.Engine()
	if err := e.AttachHandler(name(t, "/fake"), func(a ndn.InterestHandlerArgs) {
		served.Add(1)
		d, err := e.Spec().MakeData(a.Interest.Name(), &ndn.DataConfig{}, enc.Wire{[]byte("ok")}, signer)
		if err == nil {
			_ = a.Reply(d.Wire)
		}
	}); err != nil {
		t.Fatal(err)
	}
	fr := newFrameReader(srv)
	ask := func(i int) {
		t.Helper()
		n := fmt.Sprintf("/fake/%d", i)
		lp := encodeLp(t, &spec.LpPacket{PitToken: []byte{9, 9, 9}, Fragment: enc.Wire{interestFrame(t, n)}})
		if _, err := srv.Write(lp); err != nil {
			t.Fatal(err)
		}
		p, tok, err := readPacket(srv, fr, 3*time.Second)
		if err != nil || p.Data == nil || p.Data.Name().String() != name(t, n).String() || !bytes.Equal(tok, []byte{9, 9, 9}) {
			t.Fatalf("good Interest %s not answered: %v", n, err)
		}
	}
	ask(-1)
	bad := 0
	for i, m := range malformedCorpus(t) {
		if m.framing || m.fwOnly || !m.streamable {
			continue // fwOnly frames are fine for an engine
		}
		if _, err := srv.Write(m.frame); err != nil {
			t.Fatal(err)
		}
		bad++
		ask(i)
	}
	st := c.Stats()
	if st.MalformedIn != uint64(bad) || st.Reconnects != 0 || !st.Up {
		t.Fatalf("stats after %d bad frames: %+v", bad, st)
	}
	t.Logf("%d malformed frames dropped, %d good Interests answered in between", bad, served.Load())

	// A frame length no packet can have: the face drops the connection and
	// redials; the Conn works again on the new one.
	ups := make(chan struct{}, 1)
	defer c.OnUp(func() { ups <- struct{}{} })()
	if _, err := srv.Write(append(b(tData, 0xfe, 0x7f, 0xff, 0xff, 0xff), 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	srv2 := ff.accept(t)
	// The Conn re-applies nothing (no routes) and fires OnUp.
	select {
	case <-ups:
	case <-time.After(3 * time.Second):
		t.Fatalf("no OnUp after the framing error")
	}
	srv, fr = srv2, newFrameReader(srv2)
	ask(1000)
	if st := c.Stats(); st.Reconnects != 1 || st.MalformedIn != uint64(bad+1) {
		t.Fatalf("stats after the framing error: %+v", st)
	}
}

// TestInprocDropsMalformedFromLink: a remote peer behind a UDP link answers
// with Data whose name YaNFD accepts but whose SignatureInfo holds the
// top-bit-length crash (YaNFD does not decode it, the engine would). The
// UDP guard drops it before YaNFD (the in-process face would too): the
// consumer sees a timeout, not a crash.
func TestInprocDropsMalformedFromLink(t *testing.T) {
	peer := startUDPResponder(t, evilData)
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	if err := a.Link(ctxT(t), "udp://"+peer, []enc.Name{name(t, "/evil")}); err != nil {
		t.Fatal(err)
	}
	dropped := func() uint64 {
		st := a.Stats()
		if st.UDP == nil {
			return st.MalformedIn
		}
		return st.MalformedIn + st.UDP.Malformed
	}
	before := dropped()
	for i := range 5 {
		if _, err := fetch(a.Engine(), name(t, fmt.Sprintf("/evil/%d", i)), 300*time.Millisecond); err == nil {
			t.Fatalf("malformed Data reached the consumer")
		}
	}
	if !eventually(2*time.Second, func() bool { return dropped()-before >= 5 }) {
		t.Fatalf("malformed Data not counted: %+v", a.Stats())
	}
	if st := a.Stats(); st.UDP == nil || st.UDP.Malformed < 5 {
		t.Fatalf("the UDP guard did not drop it: %+v", st.UDP)
	}
}

// evilData replies with a Data whose name YaNFD accepts but whose
// KeyLocator holds the top-bit-length name that crashes ndnd's parser.
func evilData(n enc.Name) []byte {
	badName := rawTLV(tName, vn(11), rawTLV(8, b(0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x01)), b(0xaa))
	return tlv(tData, tlv(tName, n.BytesInner()), tlv(tContent, b(1)),
		tlv(tDataSigInfo, tlv(tSigType, b(3)), tlv(tKeyLocator, badName)), okSigVal)
}
