package forwarder

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// fakeTCPForwarder answers every Interest it gets on a TCP connection with
// a Data of the same name and content "remote", or, when evil, with a Data
// that would crash ndnd's parser.
type fakeTCPForwarder struct {
	ln    net.Listener
	evil  atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func newFakeTCPForwarder(t *testing.T) *fakeTCPForwarder {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTCPForwarder{ln: ln}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		f.dropAll()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
	return f
}

// dropAll closes every connection, as a restarting forwarder would.
func (f *fakeTCPForwarder) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *fakeTCPForwarder) serve(c net.Conn) {
	badName := rawTLV(tName, vn(11), rawTLV(8, b(0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x01)), b(0xaa))
	_ = newFrameReader(c).each(func(frame []byte) error {
		p, _, err := spec.ReadPacket(enc.NewBufferView(append([]byte(nil), frame...)))
		if err != nil {
			return nil
		}
		var tok []byte
		inner := p
		if p.LpPacket != nil {
			tok = p.LpPacket.PitToken
			if inner, _, err = spec.ReadPacket(enc.NewWireView(p.LpPacket.Fragment)); err != nil {
				return nil
			}
		}
		if inner.Interest == nil {
			return nil
		}
		nm := tlv(tName, inner.Interest.Name().BytesInner())
		var d []byte
		if f.evil.Load() {
			d = tlv(tData, nm, tlv(tContent, b(1)),
				tlv(tDataSigInfo, tlv(tSigType, b(3)), tlv(tKeyLocator, badName)), okSigVal)
		} else {
			d = tlv(tData, nm, tlv(tContent, []byte("remote")), okSigInfo, okSigVal)
		}
		if tok != nil {
			d = tlv(tLpPacket, tlv(tLpPitToken, tok), tlv(tLpFragment, d))
		}
		_, err = c.Write(d)
		return err
	})
}

// TestTCPLink: a tcp:// link of the embedded forwarder is relayed by this
// package: Data from the remote arrive; a malformed one is dropped and
// counted before YaNFD; after the remote drops the connection the link
// redials and works again, on the same face.
func TestTCPLink(t *testing.T) {
	remote := newFakeTCPForwarder(t)
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	if err := a.Link(ctxT(t), "tcp://"+remote.ln.Addr().String(), []enc.Name{name(t, "/remote")}); err != nil {
		t.Fatal(err)
	}
	if got, err := fetch(a.Engine(), name(t, "/remote/1"), time.Second); err != nil || got != "remote" {
		t.Fatalf("fetch over the link: %q, %v", got, err)
	}

	remote.evil.Store(true)
	if _, err := fetch(a.Engine(), name(t, "/remote/2"), 300*time.Millisecond); err == nil {
		t.Fatal("malformed Data reached the consumer")
	}
	if st := a.Stats(); st.TCP == nil || st.TCP.Malformed < 1 {
		t.Fatalf("malformed Data not counted by the link: %+v", st.TCP)
	}

	remote.evil.Store(false)
	remote.dropAll()
	ok := eventually(5*time.Second, func() bool {
		got, err := fetch(a.Engine(), name(t, fmt.Sprintf("/remote/3/%d", time.Now().UnixNano())), 200*time.Millisecond)
		return err == nil && got == "remote"
	})
	if !ok {
		t.Fatalf("no Data after the remote dropped the connection: %+v", a.Stats().TCP)
	}
	if st := a.Stats(); st.TCP.Redials < 1 || st.TCP.Links != 1 {
		t.Fatalf("link stats %+v", st.TCP)
	}

	// Closing the Conn that made the link closes it: no redialing after.
	a.Close()
	b := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	if st := b.Stats(); st.TCP != nil {
		t.Fatalf("link still open after its Conn closed: %+v", st.TCP)
	}
}

// TestLinkAskedByAnApp: another process on the forwarder's socket (here a
// second Conn) asks for a tcp link with faces/create. The app relay
// answers it with a relayed, validated link, not a YaNFD face: the link
// works, a malformed Data from the remote is dropped by the relay, and the
// link is let go when the app's connection closes.
func TestLinkAskedByAnApp(t *testing.T) {
	remote := newFakeTCPForwarder(t)
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	b := openT(t, Options{URI: "unix://" + a.SocketPath()})
	if b.Kind() != KindExternal {
		t.Fatalf("second Conn is %s", b.Kind())
	}
	if err := b.Link(ctxT(t), "tcp://"+remote.ln.Addr().String(), []enc.Name{name(t, "/remote2")}); err != nil {
		t.Fatal(err)
	}
	if got, err := fetch(b.Engine(), name(t, "/remote2/1"), time.Second); err != nil || got != "remote" {
		t.Fatalf("fetch over the app's link: %q, %v", got, err)
	}
	if st := a.Stats(); st.TCP == nil || st.TCP.Links != 1 {
		t.Fatalf("the link is not the relay's: %+v", st.TCP)
	}
	remote.evil.Store(true)
	if _, err := fetch(b.Engine(), name(t, "/remote2/2"), 300*time.Millisecond); err == nil {
		t.Fatal("malformed Data reached the app")
	}
	if st := a.Stats(); st.TCP.Malformed < 1 {
		t.Fatalf("malformed Data not counted: %+v", st.TCP)
	}
	b.Close()
	if !eventually(3*time.Second, func() bool { return a.Stats().TCP == nil }) {
		t.Fatalf("link kept after the app left: %+v", a.Stats().TCP)
	}
}
