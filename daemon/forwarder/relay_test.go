package forwarder

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// relays returns the app relays of the running embedded forwarder.
func relays(t *testing.T) []*appRelay {
	t.Helper()
	embMu.Lock()
	e := emb
	embMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	var rs []*appRelay
	for r := range e.accepted {
		rs = append(rs, r)
	}
	return rs
}

// poolHas reports whether the embedded forwarder's pool holds the link of
// face id.
func poolHas(id uint64) bool { return poolOfHas(linkApp, id) }

// poolOfHas reports whether the pool of links of kind has face id.
func poolOfHas(kind linkKind, id uint64) bool {
	embMu.Lock()
	e := emb
	embMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.pool[kind] {
		if l.faceID() == id {
			return true
		}
	}
	return false
}

// embeddedProducer opens an embedded forwarder whose in-process Conn
// serves and registers prefix, tagging its Data "A".
func embeddedProducer(t *testing.T, prefix string) (a *Conn, dir string) {
	t.Helper()
	dir = t.TempDir()
	a = openT(t, Options{URI: URIEmbedded, StateDir: dir})
	serve(t, a.Engine(), name(t, prefix), "A")
	if err := a.Register(ctxT(t), name(t, prefix)); err != nil {
		t.Fatal(err)
	}
	return a, dir
}

// TestAppLinkReuse: an app's face is an in-process link; when the app goes
// away its routes go with it and the link is pooled, and the next app that
// gets it receives nothing meant for the one before.
func TestAppLinkReuse(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	ctx := ctxT(t)

	b := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	serve(t, b.Engine(), name(t, "/reuse/b"), "B")
	if err := b.Register(ctx, name(t, "/reuse/b")); err != nil {
		t.Fatal(err)
	}
	mustFetch(t, a.Engine(), "/reuse/b/1", "B")
	rs := relays(t)
	if len(rs) != 1 {
		t.Fatalf("relays: %d, want 1", len(rs))
	}
	id := rs[0].faceID()

	b.Close()
	if !eventually(3*time.Second, func() bool { return poolHas(id) && len(relays(t)) == 0 }) {
		t.Fatalf("link of the closed app (face %d) not pooled", id)
	}

	// The next app takes the pooled link (same face id) but not the route.
	c := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	var stray atomic.Int32
	if err := c.Engine().AttachHandler(name(t, "/reuse/b"), func(ndn.InterestHandlerArgs) { stray.Add(1) }); err != nil {
		t.Fatal(err)
	}
	serve(t, c.Engine(), name(t, "/reuse/c"), "C")
	if err := c.Register(ctx, name(t, "/reuse/c")); err != nil {
		t.Fatal(err)
	}
	if rs := relays(t); len(rs) != 1 || rs[0].faceID() != id {
		t.Fatalf("new app did not get the pooled link %d", id)
	}
	if _, err := fetch(a.Engine(), name(t, "/reuse/b/2"), 200*time.Millisecond); err == nil {
		t.Fatal("the closed app's prefix is still answered")
	}
	mustFetch(t, a.Engine(), "/reuse/c/1", "C")
	if n := stray.Load(); n != 0 {
		t.Fatalf("the new app got %d Interests meant for the closed one", n)
	}
}

// TestAppGetsBarePackets: what the forwarder sends an app is the packet
// itself when no link-layer field goes with it (no IncomingFaceId from the
// internal face), as YaNFD's own unix faces would send it.
func TestAppGetsBarePackets(t *testing.T) {
	a, _ := embeddedProducer(t, "/bare/a")
	c, err := net.Dial("unix", a.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fr := newFrameReader(c)
	for i := range 3 {
		n := "/bare/a/" + itoa(i)
		if _, err := c.Write(interestFrame(t, n)); err != nil {
			t.Fatal(err)
		}
		frame, err := readFrame(c, fr, 3*time.Second)
		if err != nil {
			t.Fatalf("%s: no answer: %v", n, err)
		}
		if frame[0] != 0x06 {
			t.Fatalf("%s: frame type %#x, want a bare Data (0x06)", n, frame[0])
		}
		p, _, err := spec.ReadPacket(enc.NewBufferView(frame))
		if err != nil || p.Data == nil || p.Data.Name().String() != name(t, n).String() {
			t.Fatalf("%s: not the Data asked for: %v", n, err)
		}
	}
}

// TestAppNotReadingCostsOthersNothing: an app that asks for much and never
// reads blocks only its own link: the others keep being served, and when it
// goes away its link is pooled.
func TestAppNotReadingCostsOthersNothing(t *testing.T) {
	a, dir := embeddedProducer(t, "/slow/a")
	b := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	mustFetch(t, b.Engine(), "/slow/a/warm", "A")

	before := map[*appRelay]bool{}
	for _, r := range relays(t) {
		before[r] = true
	}
	x, err := net.Dial("unix", a.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var xr *appRelay
	if !eventually(3*time.Second, func() bool {
		for _, r := range relays(t) {
			if !before[r] {
				xr = r
			}
		}
		return xr != nil
	}) {
		t.Fatal("no relay for the new app")
	}
	var burst []byte
	for i := range 6000 { // ~0.5 MB of Data back: more than the socket buffers hold
		burst = append(burst, interestFrame(t, "/slow/a/x/"+itoa(i))...)
	}
	if _, err := x.Write(burst); err != nil {
		t.Fatal(err)
	}
	if !eventually(3*time.Second, func() bool {
		if xr.link.busy.TryLock() {
			xr.link.busy.Unlock()
			return false
		}
		return true // stuck in a delivery to x
	}) {
		t.Fatal("the app that does not read never filled its connection")
	}
	// While the burst goes through, the producer's face queue overflows
	// and drops Interests, anyone's (a forwarder's congestion, not the
	// relay's); once it is through (a probe is answered: how long that
	// takes depends on the machine, ~0.3 s, several under -race), x's
	// stuck link must cost B nothing.
	probe := 0
	if !eventually(20*time.Second, func() bool {
		probe++
		_, err := fetch(b.Engine(), name(t, "/slow/a/probe/"+itoa(probe)), 200*time.Millisecond)
		return err == nil
	}) {
		t.Fatal("the producer never answered again after the burst")
	}
	for i := range 20 {
		mustFetch(t, b.Engine(), "/slow/a/b/"+itoa(i), "A")
	}
	id := xr.faceID()
	x.Close()
	if !eventually(3*time.Second, func() bool { return poolHas(id) }) {
		t.Fatalf("the link of the app that did not read (face %d) not pooled after it left", id)
	}
}

// TestAppNextHopIgnored: an app's face has the options of YaNFD's unix
// faces: a NextHopFaceId it sends does not steer its Interest to a face
// that has no route for it.
func TestAppNextHopIgnored(t *testing.T) {
	dir := t.TempDir()
	a := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	c := openT(t, Options{URI: "unix://" + a.SocketPath(), StateDir: dir})
	var got atomic.Int32
	if err := c.Engine().AttachHandler(name(t, "/nexthop"), func(ndn.InterestHandlerArgs) { got.Add(1) }); err != nil {
		t.Fatal(err)
	}
	var rs []*appRelay
	if !eventually(2*time.Second, func() bool { rs = relays(t); return len(rs) == 1 }) {
		t.Fatalf("relays: %d, want 1", len(rs))
	}
	id := rs[0].faceID()

	x, err := net.Dial("unix", a.SocketPath())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var hop [8]byte
	binary.BigEndian.PutUint64(hop[:], id)
	// unique names: the forwarder is the process's, and the Interests of
	// an earlier run (-count) may still be pending
	run := itoa(int(time.Now().UnixNano() % 1e9))
	if _, err := x.Write(lpFrame(interestFrame(t, "/nexthop/x/"+run), tlv(tLpNextHopFace, hop[:]))); err != nil {
		t.Fatal(err)
	}
	// the same Interest without the field, through a route: delivered, so
	// the wait below is long enough
	ctx := ctxT(t)
	if err := c.Register(ctx, name(t, "/nexthop/routed")); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Write(interestFrame(t, "/nexthop/routed/y/"+run)); err != nil {
		t.Fatal(err)
	}
	if !eventually(2*time.Second, func() bool { return got.Load() >= 1 }) {
		t.Fatal("the routed Interest did not arrive")
	}
	time.Sleep(100 * time.Millisecond)
	if n := got.Load(); n != 1 {
		t.Fatalf("%d Interests reached the app, want 1 (the NextHopFaceId one was followed)", n)
	}
}
