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

// fetch expresses one Interest and waits for its result.
func fetch(e ndn.Engine, n enc.Name, lifetime time.Duration) (string, error) {
	i, err := e.Spec().MakeInterest(n, &ndn.InterestConfig{
		Lifetime:    optional.Some(lifetime),
		Nonce:       utils.ConvertNonce(e.Timer().Nonce()),
		MustBeFresh: true,
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

// startTLVPeer runs a minimal NDN peer on a loopback TCP port: it answers
// every Interest with a Data "<tag>:<name>" (echoing the PIT token), which is
// all a forwarder needs from the far end of a link.
func startTLVPeer(t testing.TB, tag string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		<-done
	})
	signer := sig.NewSha256Signer()
	var wg sync.WaitGroup
	go func() {
		defer close(done)
		defer wg.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = ndn_io.ReadTlvStream(c, func(frame []byte) bool {
					pkt, _, err := spec.ReadPacket(enc.NewBufferView(frame))
					if err != nil {
						return true
					}
					var tok []byte
					if pkt.LpPacket != nil {
						tok = pkt.LpPacket.PitToken
						if pkt, _, err = spec.ReadPacket(enc.NewWireView(pkt.LpPacket.Fragment)); err != nil {
							return true
						}
					}
					if pkt.Interest == nil {
						return true
					}
					n := pkt.Interest.Name()
					d, err := spec.Spec{}.MakeData(n, &ndn.DataConfig{}, enc.Wire{[]byte(tag + ":" + n.String())}, signer)
					if err != nil {
						return true
					}
					out := d.Wire
					if tok != nil {
						lp := &spec.Packet{LpPacket: &spec.LpPacket{PitToken: tok, Fragment: d.Wire}}
						var e spec.PacketEncoder
						e.Init(lp)
						out = e.Encode(lp)
					}
					_, err = c.Write(out.Join())
					return err == nil
				}, nil)
			}()
		}
	}()
	return ln.Addr().String()
}

// startUDPPeer is startTLVPeer over UDP: one datagram, one packet.
func startUDPPeer(t testing.TB, tag string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	signer := sig.NewSha256Signer()
	go func() {
		defer close(done)
		buf := make([]byte, 9000)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pkt, _, err := spec.ReadPacket(enc.NewBufferView(append([]byte(nil), buf[:n]...)))
			if err != nil {
				continue
			}
			var tok []byte
			if pkt.LpPacket != nil {
				if pkt.LpPacket.FragCount.GetOr(1) > 1 || len(pkt.LpPacket.Fragment) == 0 {
					continue
				}
				tok = pkt.LpPacket.PitToken
				if pkt, _, err = spec.ReadPacket(enc.NewWireView(pkt.LpPacket.Fragment)); err != nil {
					continue
				}
			}
			if pkt.Interest == nil {
				continue
			}
			nm := pkt.Interest.Name()
			d, err := spec.Spec{}.MakeData(nm, &ndn.DataConfig{}, enc.Wire{[]byte(tag + ":" + nm.String())}, signer)
			if err != nil {
				continue
			}
			out := d.Wire
			if tok != nil {
				lp := &spec.Packet{LpPacket: &spec.LpPacket{PitToken: tok, Fragment: d.Wire}}
				var e spec.PacketEncoder
				e.Init(lp)
				out = e.Encode(lp)
			}
			_, _ = pc.WriteTo(out.Join(), from)
		}
	}()
	return pc.LocalAddr().String()
}
