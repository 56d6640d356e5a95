package forwarder

import (
	"fmt"
	"net/netip"
	"sync/atomic"

	"github.com/named-data/ndnd/fw/defn"
	fwface "github.com/named-data/ndnd/fw/face"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// netTransport is the transport of a network link's face in YaNFD: a UDP
// peer of the guard (udpguard.go) or a TCP link (tcplink.go). It is an
// in-process InternalTransport, like the faces of local apps
// (face_inproc.go): the guard or the TCP link hands YaNFD each packet it
// validated, and gets what YaNFD sends on the face as a linkOwner, with no
// socket in between. YaNFD would take an internal face for a local one;
// this tells it the truth, that the face is non-local, so that YaNFD
// applies the scope rules of a network face:
//   - a /localhop Interest that came from it goes on to local faces only,
//     never to another network face (one hop);
//   - an Interest whose HopLimit is 0 is not sent to it;
//   - a /localhost packet from it is dropped (the validation drops it
//     first).
//
// Its URIs are the network peer's, so faces/list shows (and filters on)
// udp4://host:port or tcp4://host:port; a pooled link shows null://.
//
// Until session 6 the face was YaNFD's unix stream transport over a
// socketpair, and the guard or the TCP link copied between the pair and
// the network: two more system calls per packet and direction and a
// poller wake-up of the copying goroutine.
type netTransport struct {
	*fwface.InternalTransport
	uris atomic.Pointer[netURIs]
}

// netURIs are the URIs a network face shows.
type netURIs struct{ remote, local *defn.URI }

// pooledURIs are shown by a network link while it is pooled.
var pooledURIs = &netURIs{remote: defn.MakeNullFaceURI(), local: defn.MakeNullFaceURI()}

func newNetTransport() *netTransport {
	t := &netTransport{InternalTransport: fwface.MakeInternalTransport()}
	t.uris.Store(pooledURIs)
	return t
}

// setURIs sets the URIs faces/list shows; nil remote or local shows
// null://.
func (t *netTransport) setURIs(remote, local *defn.URI) {
	u := &netURIs{remote: remote, local: local}
	if u.remote == nil {
		u.remote = pooledURIs.remote
	}
	if u.local == nil {
		u.local = pooledURIs.local
	}
	t.uris.Store(u)
}

// Scope reports a network face.
func (t *netTransport) Scope() defn.Scope { return defn.NonLocal }

// RemoteURI is the network peer's URI.
func (t *netTransport) RemoteURI() *defn.URI { return t.uris.Load().remote }

// LocalURI is this end's network URI, or null:// where unknown.
func (t *netTransport) LocalURI() *defn.URI { return t.uris.Load().local }

func (t *netTransport) String() string {
	u := t.uris.Load()
	return fmt.Sprintf("peets-net-transport (faceid=%d remote=%s local=%s)", t.FaceID(), u.remote, u.local)
}

// netLink takes a network link from the pool (or makes one) showing the
// URIs remote and local. Its owner is set by the caller; it goes back with
// returnNetLink.
func (e *embeddedFw) netLink(remote, local *defn.URI) *inprocLink {
	l := e.getLink(linkNet)
	l.net.setURIs(remote, local)
	return l
}

// returnNetLink gives back a network link its user let go (disown first):
// it loses its routes at once and is pooled once no delivery is in flight.
// It runs in the background, since a delivery may be blocked on the network
// for up to the owner's write limit.
func (e *embeddedFw) returnNetLink(l *inprocLink) {
	l.net.setURIs(nil, nil)
	go func() {
		if !e.returnLink(linkNet, l, linkQuiesce) {
			e.log.Warn("embedded forwarder: network link stuck in a delivery; not reused", "face", l.faceID())
		}
	}()
}

// linkFrame is the frame that carries lp on a link or to an app: the bare
// packet, unless a PIT token, a Nack or a congestion mark goes with it.
// The forwarder's other LP fields are face-local and stay behind.
func linkFrame(lp *spec.LpPacket) []byte {
	if lp.PitToken == nil && lp.Nack == nil && !lp.CongestionMark.IsSet() {
		if len(lp.Fragment) == 1 {
			return lp.Fragment[0] // the link's own copy: no one else holds it
		}
		return lp.Fragment.Join()
	}
	out := spec.LpPacket{Fragment: lp.Fragment, PitToken: lp.PitToken, Nack: lp.Nack,
		CongestionMark: lp.CongestionMark}
	pkt := &spec.Packet{LpPacket: &out}
	var pe spec.PacketEncoder
	pe.Init(pkt)
	return pe.Encode(pkt).Join()
}

// udpURI is the face URI of a UDP endpoint (an IP literal: no DNS lookup).
func udpURI(a netip.AddrPort) *defn.URI {
	return defn.MakeUDPFaceURI(ipVersion(a.Addr()), a.Addr().String(), a.Port())
}

// tcpURI is the face URI of a TCP endpoint host:port, or nil when host is
// not an IP literal (making the URI would look the name up).
func tcpURI(hostport string) *defn.URI {
	a, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return nil
	}
	a = unmap(a)
	return defn.MakeTCPFaceURI(ipVersion(a.Addr()), a.Addr().String(), a.Port())
}

func ipVersion(a netip.Addr) int {
	if a.Unmap().Is4() {
		return 4
	}
	return 6
}
