package forwarder

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/named-data/ndnd/fw/defn"
	fwface "github.com/named-data/ndnd/fw/face"
)

// netTransport is YaNFD's unix stream transport over one end of a
// socketpair whose other end this package feeds from the network, after
// validation: a UDP peer of the guard (udpguard.go) or a TCP link
// (tcplink.go). YaNFD would take a socketpair for a local face; this tells
// it the truth, that the face is non-local, so that YaNFD applies the
// scope rules of a network face:
//   - a /localhop Interest that came from it goes on to local faces only,
//     never to another network face (one hop);
//   - an Interest whose HopLimit is 0 is not sent to it;
//   - a /localhost packet from it is dropped (the validation drops it
//     first).
//
// Its URIs are the network peer's, so faces/list shows (and filters on)
// udp4://host:port or tcp4://host:port instead of a socketpair's fd://N.
type netTransport struct {
	*fwface.UnixStreamTransport
	remote, local *defn.URI
}

// Scope reports a network face.
func (t *netTransport) Scope() defn.Scope { return defn.NonLocal }

// RemoteURI is the network peer's URI.
func (t *netTransport) RemoteURI() *defn.URI { return t.remote }

// LocalURI is this end's network URI, or the socketpair's where unknown.
func (t *netTransport) LocalURI() *defn.URI { return t.local }

func (t *netTransport) String() string {
	return fmt.Sprintf("peets-net-transport (faceid=%d remote=%s local=%s)", t.FaceID(), t.remote, t.local)
}

// netFace gives YaNFD a non-local face over conn (our end of the socketpair
// is fed by the caller). remote and local are the network URIs faces/list
// shows; nil keeps the socketpair's.
func (e *embeddedFw) netFace(conn net.Conn, remote, local *defn.URI) (*fwface.NDNLPLinkService, error) {
	e.mu.Lock()
	fd := e.nextFD
	e.nextFD++
	e.mu.Unlock()
	fdURI := defn.MakeFDFaceURI(fd)
	// YaNFD's unix transport wants a unix local URI; only a label, which
	// LocalURI hides.
	tr, err := fwface.MakeUnixStreamTransport(fdURI, defn.MakeUnixFaceURI("/run/peets/network-link.sock"), conn)
	if err != nil {
		return nil, err
	}
	nt := &netTransport{UnixStreamTransport: tr, remote: remote, local: local}
	if nt.remote == nil {
		nt.remote = fdURI
	}
	if nt.local == nil {
		nt.local = fdURI
	}
	opts := fwface.MakeNDNLPLinkServiceOptions()
	opts.IsFragmentationEnabled = false // reliable stream
	opts.IsReassemblyEnabled = false    // the guard and the TCP link deliver whole packets
	ls := fwface.MakeNDNLPLinkService(nt, opts)
	ls.Run(nil)
	return ls, nil
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
