package forwarder

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	sig "github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"
	ndn_io "github.com/named-data/ndnd/std/utils/io"
)

// testLog goes to stderr, not t.Log: the embedded forwarder keeps the logger
// of the first Open for the life of the test binary.
var testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func name(t testing.TB, s string) enc.Name {
	t.Helper()
	n, err := enc.NameFromStr(s)
	if err != nil {
		t.Fatalf("name %q: %v", s, err)
	}
	return n
}

// serve answers every Interest under prefix with a Data carrying
// "<tag>:<name>". It runs on the engine goroutine and never blocks.
func serve(t testing.TB, e ndn.Engine, prefix enc.Name, tag string) {
	t.Helper()
	signer := sig.NewSha256Signer()
	err := e.AttachHandler(prefix, func(a ndn.InterestHandlerArgs) {
		d, err := e.Spec().MakeData(a.Interest.Name(), &ndn.DataConfig{
			Freshness: optional.Some(10 * time.Millisecond),
		}, enc.Wire{[]byte(tag + ":" + a.Interest.Name().String())}, signer)
		if err != nil {
			return
		}
		_ = a.Reply(d.Wire)
	})
	if err != nil {
		t.Fatalf("attach %v: %v", prefix, err)
	}
}

// fetch expresses one Interest (MustBeFresh) and waits for its result.
func fetch(e ndn.Engine, n enc.Name, lifetime time.Duration) (string, error) {
	return express(e, n, lifetime, true)
}

// fetchAny expresses one Interest for exactly n, which cached Data of any
// freshness answer, and waits for its result.
func fetchAny(e ndn.Engine, n enc.Name) (string, error) {
	return express(e, n, 200*time.Millisecond, false)
}

// express expresses one Interest and waits for its result: the content of
// the Data.
func express(e ndn.Engine, n enc.Name, lifetime time.Duration, mustBeFresh bool) (string, error) {
	i, err := e.Spec().MakeInterest(n, &ndn.InterestConfig{
		Lifetime:    optional.Some(lifetime),
		Nonce:       utils.ConvertNonce(e.Timer().Nonce()),
		MustBeFresh: mustBeFresh,
	}, nil, nil)
	if err != nil {
		return "", err
	}
	ch := make(chan ndn.ExpressCallbackArgs, 1)
	if err := e.Express(i, func(a ndn.ExpressCallbackArgs) { ch <- a }); err != nil {
		return "", err
	}
	select {
	case a := <-ch:
		if a.Result != ndn.InterestResultData {
			return "", fmt.Errorf("result %v (nack %d)", a.Result, a.NackReason)
		}
		return string(a.Data.Content().Join()), nil
	case <-time.After(lifetime + time.Second):
		return "", fmt.Errorf("no callback")
	}
}

// mustFetch fetches and checks the producer tag.
func mustFetch(t testing.TB, e ndn.Engine, n, tag string) {
	t.Helper()
	got, err := fetch(e, name(t, n), time.Second)
	if err != nil {
		t.Fatalf("fetch %s: %v", n, err)
	}
	if want := tag + ":" + name(t, n).String(); got != want {
		t.Fatalf("fetch %s: got %q want %q", n, got, want)
	}
}

// eventually polls cond every 5 ms up to d.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// goroutinesSettle waits until the goroutine count is at most base.
func goroutinesSettle(t testing.TB, base int) {
	t.Helper()
	if !eventually(3*time.Second, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("goroutine leak: %d > %d\n%s", runtime.NumGoroutine(), base, buf)
	}
}

// openT opens a Conn and registers its Close.
func openT(t testing.TB, o Options) *Conn {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLog
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open(%+v): %v", o, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// respond answers an Interest frame (bare, or in an unfragmented LpPacket)
// with the Data wire that reply makes for its name, in an LpPacket with the
// Interest's PIT token if it had one. It returns nil for anything else.
func respond(frame []byte, reply func(enc.Name) []byte) []byte {
	return respondInterest(frame, func(i *spec.Interest) []byte { return reply(i.Name()) })
}

// respondInterest is respond with the whole Interest given to reply.
func respondInterest(frame []byte, reply func(*spec.Interest) []byte) []byte {
	pkt, _, err := spec.ReadPacket(enc.NewBufferView(append([]byte(nil), frame...)))
	if err != nil {
		return nil
	}
	var tok []byte
	if pkt.LpPacket != nil {
		if pkt.LpPacket.FragCount.GetOr(1) > 1 || len(pkt.LpPacket.Fragment) == 0 {
			return nil
		}
		tok = pkt.LpPacket.PitToken
		if pkt, _, err = spec.ReadPacket(enc.NewWireView(pkt.LpPacket.Fragment)); err != nil {
			return nil
		}
	}
	if pkt.Interest == nil {
		return nil
	}
	d := reply(pkt.Interest)
	if d == nil || tok == nil {
		return d
	}
	return tlv(tLpPacket, tlv(tLpPitToken, tok), tlv(tLpFragment, d))
}

// tagged replies with a Data whose content is "<tag>:<name>".
func tagged(tag string) func(enc.Name) []byte {
	signer := sig.NewSha256Signer()
	return func(n enc.Name) []byte {
		d, err := spec.Spec{}.MakeData(n, &ndn.DataConfig{}, enc.Wire{[]byte(tag + ":" + n.String())}, signer)
		if err != nil {
			return nil
		}
		return d.Wire.Join()
	}
}

// tcpResponder is a TCP "forwarder" that answers every Interest with reply.
type tcpResponder struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

// startTCPResponder serves reply on 127.0.0.1 until the test ends.
func startTCPResponder(t testing.TB, reply func(enc.Name) []byte) *tcpResponder {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpResponder{ln: ln}
	done := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		r.dropAll()
		<-done
	})
	go func() {
		defer close(done)
		defer wg.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = ndn_io.ReadTlvStream(c, func(frame []byte) bool {
					if out := respond(frame, reply); out != nil {
						if _, err := c.Write(out); err != nil {
							return false
						}
					}
					return true
				}, nil)
			}()
		}
	}()
	return r
}

// Addr is the responder's host:port.
func (r *tcpResponder) Addr() string { return r.ln.Addr().String() }

// dropAll closes every connection, as a restarting forwarder would.
func (r *tcpResponder) dropAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// startTLVPeer is a TCP peer forwarder that answers every Interest with
// "<tag>:<name>"; it returns its host:port.
func startTLVPeer(t testing.TB, tag string) string {
	t.Helper()
	return startTCPResponder(t, tagged(tag)).Addr()
}

// startUDPResponder is startTCPResponder over UDP: one datagram, one
// packet. It returns its host:port.
func startUDPResponder(t testing.TB, reply func(enc.Name) []byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 9000)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := respond(buf[:n], reply); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// startUDPPeer is startTLVPeer over UDP.
func startUDPPeer(t testing.TB, tag string) string {
	t.Helper()
	return startUDPResponder(t, tagged(tag))
}
