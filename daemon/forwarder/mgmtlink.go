package forwarder

import (
	"context"
	"fmt"
	"time"

	fwface "github.com/named-data/ndnd/fw/face"
	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
)

// A local app (another peets process on this forwarder's socket, or a tool
// like nfdc) may ask for a link with faces/create udp://... or tcp://....
// YaNFD would make a face of its own that reads the network unchecked, so
// the app relay answers those commands itself with a face of the UDP guard
// or a TCP link relay (udpguard.go, tcplink.go), as Link does in the
// forwarder's own process. The links an app made this way are let go when
// its connection closes, or when it destroys them (faces/destroy).
//
// faces/destroy of any in-process face (a network link, an app's or an
// in-process Conn's face) is answered by the relay too, never by YaNFD:
// YaNFD would close the face's InternalTransport, which cannot be reopened,
// and the pooled link would be dead for its next user. An app may destroy
// the links it made (200; the link goes when its last holder lets it go);
// any other in-process face is refused (403).

// Verbs of faceCommand.
const (
	verbCreate  = "create"
	verbDestroy = "destroy"
)

// faceCommand is a faces/create command for a network face or a
// faces/destroy command.
type faceCommand struct {
	verb     string
	name     enc.Name
	pitToken []byte
	target   linkTarget // create
	uri      string     // create
	faceID   uint64     // destroy
}

// parseFaceCommand recognizes, in a validated frame from a local app, a
// faces/create command for a udp or tcp face, or a faces/destroy command.
func parseFaceCommand(frame []byte) (faceCommand, bool) {
	// fast exit: no management command in the frame
	if len(frame) < 40 || !containsLocalhostNfd(frame) {
		return faceCommand{}, false
	}
	pkt, _, err := spec.ReadPacket(enc.NewBufferView(frame))
	if err != nil {
		return faceCommand{}, false
	}
	var tok []byte
	if pkt.LpPacket != nil {
		if pkt.LpPacket.Nack != nil {
			return faceCommand{}, false
		}
		tok = pkt.LpPacket.PitToken
		if pkt, _, err = spec.ReadPacket(enc.NewWireView(pkt.LpPacket.Fragment)); err != nil {
			return faceCommand{}, false
		}
	}
	if pkt.Interest == nil {
		return faceCommand{}, false
	}
	n := pkt.Interest.Name()
	if len(n) < 5 || !n[0].IsGeneric("localhost") || !n[1].IsGeneric("nfd") || !n[2].IsGeneric("faces") ||
		!(n[3].IsGeneric(verbCreate) || n[3].IsGeneric(verbDestroy)) {
		return faceCommand{}, false
	}
	params, err := mgmt.ParseControlParameters(enc.NewBufferView(n[4].Val), false)
	if err != nil || params.Val == nil {
		return faceCommand{}, false
	}
	fc := faceCommand{name: n.Clone(), pitToken: append([]byte(nil), tok...)}
	if n[3].IsGeneric(verbDestroy) {
		if !params.Val.FaceId.IsSet() {
			return faceCommand{}, false // YaNFD refuses it
		}
		fc.verb, fc.faceID = verbDestroy, params.Val.FaceId.Unwrap()
		return fc, true
	}
	if !params.Val.Uri.IsSet() {
		return faceCommand{}, false
	}
	fc.uri = params.Val.Uri.Unwrap()
	if fc.target, err = parseLinkURI(fc.uri); err != nil {
		return faceCommand{}, false // not ours: YaNFD answers (or refuses) it
	}
	fc.verb = verbCreate
	return fc, true
}

// containsLocalhostNfd is a cheap pre-check for a /localhost/nfd name.
func containsLocalhostNfd(b []byte) bool {
	const pat = "\x08\x09localhost\x08\x03nfd"
	for i := 0; i+len(pat) <= len(b) && i < 64; i++ {
		if string(b[i:i+len(pat)]) == pat {
			return true
		}
	}
	return false
}

// createLink makes the link fc asks for and returns the encoded answer, the
// link's face id, and the function that lets the link go (nil if none was
// made).
func (e *embeddedFw) createLink(fc faceCommand) ([]byte, uint64, func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp := &mgmt.ControlResponseVal{StatusCode: 200, StatusText: "OK"}
	var release func()
	var id uint64
	uri, err := fc.target.canonical(ctx)
	if err == nil {
		var existed bool
		id, existed, release, err = e.networkLink(uri)
		if err == nil {
			if existed {
				resp.StatusCode, resp.StatusText = 409, "Conflicts with existing face"
			}
			// NFD's fields (nfdc requires each of them): no local fields,
			// reliability or congestion marking on a link (Flags 0)
			resp.Params = &mgmt.ControlArgs{
				FaceId:          optional.Some(id),
				Uri:             optional.Some(uri),
				LocalUri:        optional.Some("null://"),
				FacePersistency: optional.Some(uint64(mgmt.PersistencyPermanent)),
				Flags:           optional.Some(uint64(0)),
			}
			// the local endpoint, as NFD answers: a TCP link's once it
			// connected (clients poll for it), the guard's UDP port
			if f := fwface.FaceTable.Get(id); f != nil && f.LocalURI() != nil {
				resp.Params.LocalUri = optional.Some(f.LocalURI().String())
			}
		}
	}
	if err != nil {
		resp = &mgmt.ControlResponseVal{StatusCode: 400, StatusText: fmt.Sprintf("link %s: %v", fc.uri, err)}
	}
	wire := fc.answer(resp)
	if wire == nil {
		if release != nil {
			release()
		}
		return nil, 0, nil
	}
	e.log.Info("embedded forwarder: link made for a local app", "uri", fc.uri, "status", resp.StatusCode)
	return wire, id, release
}

// answer encodes the Data answering fc with resp (nil if it cannot).
func (fc faceCommand) answer(resp *mgmt.ControlResponseVal) []byte {
	content := (&mgmt.ControlResponse{Val: resp}).Encode()
	d, err := spec.Spec{}.MakeData(fc.name, &ndn.DataConfig{ContentType: optional.Some(ndn.ContentTypeBlob)},
		content, signer.NewSha256Signer())
	if err != nil {
		return nil
	}
	wire := d.Wire.Join()
	if len(fc.pitToken) > 0 {
		wire = appendTLVs(tLpPacket, tlvBytes(tLpPitToken, fc.pitToken), tlvBytes(tLpFragment, wire))
	}
	return wire
}

// destroyAnswer answers a faces/destroy fc of an in-process face: owned
// tells whether the app let go of a link it made with it.
func destroyAnswer(fc faceCommand, owned bool) []byte {
	resp := &mgmt.ControlResponseVal{StatusCode: 200, StatusText: "OK",
		Params: &mgmt.ControlArgs{FaceId: optional.Some(fc.faceID)}}
	if !owned {
		resp = &mgmt.ControlResponseVal{StatusCode: 403,
			StatusText: fmt.Sprintf("face %d is another user's face of the embedded forwarder", fc.faceID)}
	}
	return fc.answer(resp)
}

// tlvBytes encodes one TLV of a one-byte type.
func tlvBytes(typ byte, v []byte) []byte {
	return append(appendTL(nil, typ, len(v)), v...)
}

// appendTLVs encodes one TLV of a one-byte type whose value is parts.
func appendTLVs(typ byte, parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := appendTL(make([]byte, 0, n+6), typ, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
