package forwarder

import (
	"bytes"
	"crypto/rand"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/named-data/ndnd/fw/defn"
	fwface "github.com/named-data/ndnd/fw/face"
	"github.com/named-data/ndnd/fw/table"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	"github.com/named-data/ndnd/std/types/optional"
)

var (
	netName     = tlv(tName, tlv(8, []byte("peets")), tlv(8, []byte("x")))
	netInterest = tlv(tInterest, netName, tlv(tNonce, b(1, 2, 3, 4)))
	netData     = tlv(tData, netName, tlv(tContent, bytes.Repeat([]byte("d"), 3000)), okSigInfo, okSigVal)
)

// TestValidateFromNetwork: what only a local app may send is refused when
// it comes from a UDP peer, and accepted from an app.
func TestValidateFromNetwork(t *testing.T) {
	localhost := tlv(tName, tlv(8, []byte("localhost")), tlv(8, []byte("nfd")), tlv(8, []byte("rib")))
	for _, c := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"management Interest", tlv(tInterest, localhost, tlv(tNonce, b(1, 2, 3, 4))), errLocalhost},
		{"/localhost Data", tlv(tData, localhost, tlv(tContent), okSigInfo, okSigVal), errLocalhost},
		{"NextHopFaceId", tlv(tLpPacket, tlv(tLpNextHopFace, b(7)), tlv(tLpFragment, netInterest)), errLocalField},
		{"IncomingFaceId", tlv(tLpPacket, tlv(tLpIncomingFace, b(7)), tlv(tLpFragment, netInterest)), errLocalField},
		{"CachePolicy", tlv(tLpPacket, tlv(tLpCachePolicy, tlv(tLpCachePolType, b(1))), tlv(tLpFragment, netData)), errLocalField},
	} {
		app := validateOpts{forForwarder: true, fwThreads: 1}
		if err := validatePacket(c.frame, app); err != nil {
			t.Errorf("%s from an app: %v", c.name, err)
		}
		net := app
		net.fromNetwork = true
		if err := validatePacket(c.frame, net); !errors.Is(err, c.want) {
			t.Errorf("%s from the network: %v, want %v", c.name, err, c.want)
		}
	}
	net := validateOpts{forForwarder: true, fwThreads: 1, fromNetwork: true}
	for _, f := range [][]byte{netInterest, netData, tlv(tLpPacket, tlv(tLpSequence, make([]byte, 8)), tlv(tLpFragment, netInterest))} {
		if err := validatePacket(f, net); err != nil {
			t.Errorf("ordinary packet from the network refused: %v", err)
		}
	}
}

// fragments splits pkt into NDNLPv2 fragments of at most size payload
// bytes, numbered from seq, with extra LP fields in the first.
func fragments(pkt []byte, size int, seq uint64, extra []byte) [][]byte {
	n := (len(pkt) + size - 1) / size
	var out [][]byte
	for i := 0; i < n; i++ {
		part := pkt[i*size : min(len(pkt), (i+1)*size)]
		s := make([]byte, 8)
		for k := 0; k < 8; k++ {
			s[7-k] = byte((seq + uint64(i)) >> (8 * k))
		}
		fields := [][]byte{tlv(tLpSequence, s), tlv(tLpFragIndex, b(byte(i))), tlv(tLpFragCount, b(byte(n)))}
		if i == 0 && extra != nil {
			fields = append(fields, extra)
		}
		fields = append(fields, tlv(tLpFragment, part))
		out = append(out, tlv(tLpPacket, fields...))
	}
	return out
}

func TestReassembly(t *testing.T) {
	now := time.Now()
	pitToken := tlv(tLpPitToken, b(0, 0, 1, 2, 3, 4))
	frags := fragments(netData, 1000, 1<<40, pitToken)
	if len(frags) != 4 {
		t.Fatalf("%d fragments", len(frags))
	}
	var r reassembler
	// out of order, with a duplicate
	for _, i := range []int{2, 0, 2, 3} {
		if pkt, err := r.add(frags[i], now); pkt != nil || err != nil {
			t.Fatalf("fragment %d: %x, %v", i, pkt, err)
		}
	}
	pkt, err := r.add(frags[1], now)
	if err != nil || pkt == nil {
		t.Fatalf("last fragment: %v", err)
	}
	want := tlv(tLpPacket, pitToken, tlv(tLpFragment, netData))
	if !bytes.Equal(pkt, want) {
		t.Fatalf("reassembled %x\nwant        %x", pkt, want)
	}
	if err := validatePacket(pkt, validateOpts{forForwarder: true, fwThreads: 1, fromNetwork: true}); err != nil {
		t.Fatal(err)
	}
	if len(r.parts) != 0 {
		t.Fatalf("%d partial packets left", len(r.parts))
	}

	// Whole packets pass as they are.
	for _, whole := range [][]byte{netInterest, tlv(tLpPacket, tlv(tLpFragment, netInterest))} {
		if got, err := r.add(whole, now); err != nil || !bytes.Equal(got, whole) {
			t.Fatalf("whole packet: %x, %v", got, err)
		}
	}

	// A packet whose fragments do not all come is forgotten.
	if pkt, err := r.add(frags[0], now); pkt != nil || err != nil {
		t.Fatal(pkt, err)
	}
	r.gc(now.Add(2 * partialLifetime))
	if len(r.parts) != 0 {
		t.Fatal("stale partial packet kept")
	}
}

func TestReassemblyRejects(t *testing.T) {
	now := time.Now()
	seq := make([]byte, 8)
	for _, c := range []struct {
		name string
		d    []byte
		want error
	}{
		{"index beyond count", tlv(tLpPacket, tlv(tLpSequence, seq), tlv(tLpFragIndex, b(3)), tlv(tLpFragCount, b(2)), tlv(tLpFragment, b(1))), errFragmentation},
		{"no sequence", tlv(tLpPacket, tlv(tLpFragIndex, b(0)), tlv(tLpFragCount, b(2)), tlv(tLpFragment, b(1))), errFragmentation},
		{"too many fragments", tlv(tLpPacket, tlv(tLpSequence, seq), tlv(tLpFragIndex, b(0)), tlv(tLpFragCount, b(200)), tlv(tLpFragment, b(1))), errFragmentation},
		{"zero count", tlv(tLpPacket, tlv(tLpSequence, seq), tlv(tLpFragIndex, b(0)), tlv(tLpFragCount, b(0)), tlv(tLpFragment, b(1))), errFragmentation},
		{"bad TLV", b(0x64, 0x05, 0x51), errOverrun},
		{"trailing bytes", append(netInterest, 0), errTrailing},
	} {
		var r reassembler
		if _, err := r.add(c.d, now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}

	// Bounded: at most maxPartials packets in reassembly.
	var r reassembler
	for i := 0; i < maxPartials; i++ {
		f := fragments(netData, 1000, uint64(i)*100, nil)
		if _, err := r.add(f[0], now); err != nil {
			t.Fatal(err)
		}
	}
	f := fragments(netData, 1000, 1<<50, nil)
	if _, err := r.add(f[0], now); !errors.Is(err, errReassembly) {
		t.Fatalf("partial packet %d accepted: %v", maxPartials+1, err)
	}
	// and a packet cannot grow beyond the largest NDN packet
	var r2 reassembler
	big := bytes.Repeat([]byte{1}, 9000)
	for i, f := range fragments(big, 1000, 0, nil) {
		_, err := r2.add(f, now)
		if err != nil {
			if !errors.Is(err, errReassembly) {
				t.Fatal(err)
			}
			return
		}
		if i == 9 {
			t.Fatal("9000 bytes reassembled")
		}
	}
}

// FuzzReassembly: any sequence of datagrams from the network is taken
// without a panic, and what the reassembler hands on is checked by the
// validator (which must not panic either) before YaNFD would see it.
func FuzzReassembly(f *testing.F) {
	for _, fr := range fragments(netData, 700, 7, tlv(tLpPitToken, b(0, 0, 1, 2, 3, 4))) {
		f.Add(fr, fr)
	}
	f.Add(netInterest, []byte{0x64, 0x05, 0x51})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var r reassembler
		now := time.Now()
		for _, d := range [][]byte{a, b, a} {
			if len(d) > udpRecvBuf {
				d = d[:udpRecvBuf]
			}
			pkt, err := r.add(d, now)
			if err == nil && pkt != nil {
				_ = validatePacket(pkt, validateOpts{forForwarder: true, fwThreads: 1, fromNetwork: true})
			}
		}
		if len(r.parts) > maxPartials {
			t.Fatalf("%d partial packets", len(r.parts))
		}
	})
}

// guardWithProducer opens an embedded forwarder with a producer of prefix
// (answering tag:<name>) on an in-process face, and a UDP guard of it on an
// ephemeral port that accepts new peers, as with --udp-port.
func guardWithProducer(t *testing.T, prefix, tag string) (*Conn, *udpGuard) {
	t.Helper()
	a := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	serve(t, a.Engine(), name(t, prefix), tag)
	if err := a.Register(ctxT(t), name(t, prefix)); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	e := a.emb
	a.mu.Unlock()
	g, err := newUDPGuard(e, 0, true, e.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.close)
	return a, g
}

// TestUDPGuardAcceptsPeers: a guard that accepts peers gives a face to a
// new source only for a valid packet; an Interest from the network reaches
// a local producer through YaNFD and its Data goes back as a datagram.
func TestUDPGuardAcceptsPeers(t *testing.T) {
	_, g := guardWithProducer(t, "/guardtest", "G")

	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: g.Port()}

	// The crash packet and garbage: counted, and no face for the sender.
	crash := tlv(tInterest, rawTLV(tName, vn(11), rawTLV(8, b(0xff, 0x80, 0, 0, 0, 0, 0, 0, 0x01)), b(0xaa)), okNonce)
	for _, d := range [][]byte{crash, b(0x64, 0xfd, 0xff), bytes.Repeat([]byte{0x05}, 100)} {
		if _, err := client.WriteToUDP(d, to); err != nil {
			t.Fatal(err)
		}
	}
	if !eventually(2*time.Second, func() bool { return g.stats().Malformed >= 3 }) {
		t.Fatalf("bad datagrams not counted: %+v", g.stats())
	}
	if st := g.stats(); st.Peers != 0 {
		t.Fatalf("a face was made for garbage: %+v", st)
	}

	// A valid Interest: a face, the producer's Data back.
	nm := tlv(tName, tlv(8, []byte("guardtest")), tlv(8, []byte("x")))
	interest := tlv(tInterest, nm, tlv(tMustBeFresh), freshNonce(), tlv(tLifetime, b(0x03, 0xe8)))
	if _, err := client.WriteToUDP(interest, to); err != nil {
		t.Fatal(err)
	}
	_ = client.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 9000)
	n, _, err := client.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no Data back: %v (guard %+v)", err, g.stats())
	}
	if !bytes.Contains(buf[:n], []byte("G:/guardtest/x")) {
		t.Fatalf("unexpected datagram %x", buf[:n])
	}
	// The guard counts a datagram once it has passed it on, which may be
	// after the client has the Data.
	if !eventually(2*time.Second, func() bool {
		st := g.stats()
		return st.Peers == 1 && st.In >= 1 && st.Out >= 1
	}) {
		t.Fatalf("guard stats %+v", g.stats())
	}
	// The peer's own face counts its packets and bytes (metrics per face).
	f, ok := g.stats().Faces[client.LocalAddr().(*net.UDPAddr).AddrPort().String()]
	if !ok || f.PacketsIn != 1 || f.PacketsOut != 1 || f.BytesIn != uint64(len(interest)) || f.BytesOut != uint64(n) {
		t.Fatalf("face stats %+v (%v)", f, g.stats().Faces)
	}
}

// freshNonce is a Nonce TLV with a random value. YaNFD's dead-nonce list
// is process-wide, so an Interest repeated with a fixed nonce (in a second
// run, go test -count=2) would be dropped as a loop.
func freshNonce() []byte {
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	return tlv(tNonce, nonce)
}

// netInterestTo is an Interest for name (generic components) with a fresh
// nonce and a 1 s lifetime, and optionally a HopLimit.
func netInterestTo(hopLimit int, comps ...string) []byte {
	var nm []byte
	for _, c := range comps {
		nm = append(nm, tlv(8, []byte(c))...)
	}
	parts := [][]byte{tlv(tName, nm), freshNonce(), tlv(tLifetime, b(0x03, 0xe8))}
	if hopLimit >= 0 {
		parts = append(parts, tlv(tHopLimit, b(byte(hopLimit))))
	}
	return tlv(tInterest, parts...)
}

// udpPeerConn is a UDP socket on 127.0.0.1 standing for a network peer,
// closed when the test ends.
func udpPeerConn(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestNetworkFacesAreNonLocal: YaNFD sees a network peer's face as what it
// is, a non-local face, so NDN's scope rules hold across links:
//   - a /localhop Interest from one peer reaches a local producer but is not
//     forwarded to another peer (one hop only);
//   - an Interest whose HopLimit is 0 is not sent to a peer;
//   - faces/list shows the peer's udp4:// URI and non-local scope.
//
// Until session 5 these faces were local unix faces to YaNFD, and a
// /localhop Interest went on from one link to the next.
func TestNetworkFacesAreNonLocal(t *testing.T) {
	a, g := guardWithProducer(t, "/localhop/hoplocal", "L")
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: g.Port()}
	p1, p2 := udpPeerConn(t), udpPeerConn(t)

	// p2 is a link with routes for a /localhop prefix and a plain one.
	id2, _, release, err := g.link(p2.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, r := range []string{"/localhop/hoptest", "/hoptest"} {
		if _, err := a.exec(ctxT(t), "rib", "register", &mgmt.ControlArgs{
			Name: name(t, r), FaceId: optional.Some(id2),
		}); err != nil {
			t.Fatal(err)
		}
	}
	f := fwface.FaceTable.Get(id2)
	if f == nil {
		t.Fatal("no face for the link")
	}
	if want := "udp4://" + p2.LocalAddr().String(); f.RemoteURI().String() != want || f.Scope() != defn.NonLocal {
		t.Fatalf("link face: remote %s scope %v, want %s non-local", f.RemoteURI(), f.Scope(), want)
	}

	send := func(pkt []byte) {
		t.Helper()
		if _, err := p1.WriteToUDP(pkt, to); err != nil {
			t.Fatal(err)
		}
	}
	// recv reads p's datagrams until one contains marker; it fails on one
	// that contains any of bad first.
	recv := func(p *net.UDPConn, marker string, bad ...string) {
		t.Helper()
		_ = p.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 9000)
		for {
			n, _, err := p.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("waiting for %q: %v (guard %+v)", marker, err, g.stats())
			}
			for _, s := range bad {
				if bytes.Contains(buf[:n], []byte(s)) {
					t.Fatalf("got %q before %q: %x", s, marker, buf[:n])
				}
			}
			if bytes.Contains(buf[:n], []byte(marker)) {
				return
			}
		}
	}

	// A /localhop Interest from p1 reaches the local producer.
	send(netInterestTo(-1, "localhop", "hoplocal", "x"))
	recv(p1, "L:/localhop/hoplocal/x")
	// One that only p2 could answer is not forwarded, nor is an Interest
	// with HopLimit 0; the plain Interest sent after them is, in order,
	// by YaNFD's one forwarding thread.
	send(netInterestTo(-1, "localhop", "hoptest", "x"))
	send(netInterestTo(0, "hoptest", "spent"))
	send(netInterestTo(-1, "hoptest", "y"))
	recv(p2, "hoptest\x08\x01y", "hoptest\x08\x01x", "spent")
}

// TestUDPPeerLinkReuse: a UDP peer that goes away gives its face back: it
// loses its routes and is pooled, shows null://, and the next peer's face
// is that link, showing the new peer's URI, and carries its traffic.
func TestUDPPeerLinkReuse(t *testing.T) {
	a, g := guardWithProducer(t, "/reusetest", "R")
	p1, p2 := udpPeerConn(t), udpPeerConn(t)
	id1, _, release, err := g.link(p1.LocalAddr().(*net.UDPAddr).AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.exec(ctxT(t), "rib", "register", &mgmt.ControlArgs{
		Name: name(t, "/reusetest/via-p1"), FaceId: optional.Some(id1),
	}); err != nil {
		t.Fatal(err)
	}
	release()
	if !eventually(3*time.Second, func() bool { return poolOfHas(linkNet, id1) }) {
		t.Fatalf("the link of a peer let go (face %d) was not pooled", id1)
	}
	f := fwface.FaceTable.Get(id1)
	if f == nil || f.RemoteURI().Scheme() != "null" {
		t.Fatalf("a pooled link's face: %v", f)
	}
	for _, r := range table.Rib.GetAllEntries() {
		for _, rt := range r.GetRoutes() {
			if rt.FaceID == id1 {
				t.Fatalf("a pooled link kept the route %s", r.Name)
			}
		}
	}

	// p2 is new: its face is the pooled link (the pool gives back the
	// link returned last).
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: g.Port()}
	if _, err := p2.WriteToUDP(netInterestTo(-1, "reusetest", "x"), to); err != nil {
		t.Fatal(err)
	}
	_ = p2.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 9000)
	n, _, err := p2.ReadFromUDP(buf)
	if err != nil || !bytes.Contains(buf[:n], []byte("R:/reusetest/x")) {
		t.Fatalf("the new peer's Data: %q, %v (guard %+v)", buf[:n], err, g.stats())
	}
	if want := "udp4://" + p2.LocalAddr().String(); f.RemoteURI().String() != want {
		t.Fatalf("the reused link shows %s, want %s", f.RemoteURI(), want)
	}
}
