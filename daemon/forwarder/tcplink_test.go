package forwarder

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	"github.com/named-data/ndnd/std/types/optional"
)

// fakeTCPForwarder answers every Interest on TCP with a Data of content
// "remote", or, when evil, with one that would crash ndnd's parser.
type fakeTCPForwarder struct {
	*tcpResponder
	evil atomic.Bool
}

func newFakeTCPForwarder(t *testing.T) *fakeTCPForwarder {
	f := &fakeTCPForwarder{}
	f.tcpResponder = startTCPResponder(t, func(n enc.Name) []byte {
		if f.evil.Load() {
			return evilData(n)
		}
		return tlv(tData, tlv(tName, n.BytesInner()), tlv(tContent, []byte("remote")), okSigInfo, okSigVal)
	})
	return f
}

// TestTCPLink: a tcp:// link of the embedded forwarder is relayed by this
// package: Data from the remote arrive; a malformed one is dropped and
// counted before YaNFD; after the remote drops the connection the link
// redials and works again, on the same face.
func TestTCPLink(t *testing.T) {
	remote := newFakeTCPForwarder(t)
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	if err := a.Link(ctxT(t), "tcp://"+remote.Addr(), []enc.Name{name(t, "/remote")}); err != nil {
		t.Fatal(err)
	}
	if got, err := fetch(a.Engine(), name(t, "/remote/1"), time.Second); err != nil || got != "remote" {
		t.Fatalf("fetch over the link: %q, %v", got, err)
	}

	remote.evil.Store(true)
	if _, err := fetch(a.Engine(), name(t, "/remote/2"), 300*time.Millisecond); err == nil {
		t.Fatal("malformed Data reached the consumer")
	}
	// Counted when the relay has read it, which may be after the fetch
	// gave up.
	if !eventually(2*time.Second, func() bool { st := a.Stats(); return st.TCP != nil && st.TCP.Malformed >= 1 }) {
		t.Fatalf("malformed Data not counted by the link: %+v", a.Stats().TCP)
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
	// The link's own face counts its packets and bytes (metrics per face).
	// (What crossed depends on timing: the malformed answer is not
	// counted, and an Interest may go out on the old connection too.)
	if f, ok := a.Stats().TCP.Faces[remote.Addr()]; !ok || f.PacketsIn < 1 || f.PacketsOut < 2 || f.BytesIn < f.PacketsIn*20 ||
		f.BytesOut < f.PacketsOut*20 || f.Redials < 1 {
		t.Fatalf("face stats %+v (%v)", f, a.Stats().TCP.Faces)
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
	if err := b.Link(ctxT(t), "tcp://"+remote.Addr(), []enc.Name{name(t, "/remote2")}); err != nil {
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

// TestAppDestroysFaces: faces/destroy from a local app never reaches YaNFD
// for an in-process face (YaNFD would close its transport for good, and the
// pooled link would be dead for its next user):
//   - another app's link and the forwarder process's own face are refused
//     (403) and keep working;
//   - an app destroying the link it made lets it go (200), and the link,
//     pooled, works for the next link made.
func TestAppDestroysFaces(t *testing.T) {
	remote := newFakeTCPForwarder(t)
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	b := openT(t, Options{URI: "unix://" + a.SocketPath()})
	c := openT(t, Options{URI: "unix://" + a.SocketPath()})
	if err := b.Link(ctxT(t), "tcp://"+remote.Addr(), []enc.Name{name(t, "/destroy/remote")}); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	var linkID uint64
	for _, l := range b.links {
		linkID = l.faceID
	}
	b.mu.Unlock()
	serve(t, b.Engine(), name(t, "/destroy/b"), "B")
	if err := b.Register(ctxT(t), name(t, "/destroy/b")); err != nil {
		t.Fatal(err)
	}
	destroy := func(by *Conn, id uint64) uint64 {
		t.Helper()
		resp, _ := by.exec(ctxT(t), "faces", "destroy", &mgmt.ControlArgs{FaceId: optional.Some(id)})
		if resp == nil || resp.Val == nil {
			t.Fatalf("faces/destroy %d: no answer", id)
		}
		return resp.Val.StatusCode
	}

	if code := destroy(c, linkID); code != 403 {
		t.Fatalf("destroying another app's link: status %d, want 403", code)
	}
	if code := destroy(c, a.inproc.l.faceID()); code != 403 {
		t.Fatalf("destroying the process's own face: status %d, want 403", code)
	}
	if got, err := fetch(b.Engine(), name(t, "/destroy/remote/1"), time.Second); err != nil || got != "remote" {
		t.Fatalf("the link after a refused destroy: %q, %v", got, err)
	}
	mustFetch(t, a.Engine(), "/destroy/b/1", "B")

	if code := destroy(b, linkID); code != 200 {
		t.Fatalf("destroying its own link: status %d, want 200", code)
	}
	if !eventually(3*time.Second, func() bool { return a.Stats().TCP == nil }) {
		t.Fatalf("link kept after its maker destroyed it: %+v", a.Stats().TCP)
	}
	a.mu.Lock()
	e := a.emb
	a.mu.Unlock()
	if !eventually(3*time.Second, func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.pool[linkNet]) > 0
	}) {
		t.Fatal("the destroyed link was not pooled")
	}
	// The next link reuses a pooled one, and works.
	if err := a.Link(ctxT(t), "tcp://"+remote.Addr(), []enc.Name{name(t, "/destroy/again")}); err != nil {
		t.Fatal(err)
	}
	if got, err := fetch(a.Engine(), name(t, "/destroy/again/1"), time.Second); err != nil || got != "remote" {
		t.Fatalf("a pooled link: %q, %v", got, err)
	}
}
