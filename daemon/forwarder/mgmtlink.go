package forwarder

import (
	"context"
	"fmt"
	"time"

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
// its connection closes.

// faceCreate is a faces/create command for a network face.
type faceCreate struct {
	name     enc.Name
	pitToken []byte
	target   linkTarget
	uri      string
}

// networkFaceCreate recognizes, in a validated frame from a local app, a
// faces/create command for a udp or tcp face.
func networkFaceCreate(frame []byte) (faceCreate, bool) {
	// fast exit: no management command in the frame
	if len(frame) < 40 || !containsLocalhostNfd(frame) {
		return faceCreate{}, false
	}
	pkt, _, err := spec.ReadPacket(enc.NewBufferView(frame))
	if err != nil {
		return faceCreate{}, false
	}
	var tok []byte
	if pkt.LpPacket != nil {
		if pkt.LpPacket.Nack != nil {
			return faceCreate{}, false
		}
		tok = pkt.LpPacket.PitToken
		if pkt, _, err = spec.ReadPacket(enc.NewWireView(pkt.LpPacket.Fragment)); err != nil {
			return faceCreate{}, false
		}
	}
	if pkt.Interest == nil {
		return faceCreate{}, false
	}
	n := pkt.Interest.Name()
	if len(n) < 5 || !n[0].IsGeneric("localhost") || !n[1].IsGeneric("nfd") ||
		!n[2].IsGeneric("faces") || !n[3].IsGeneric("create") {
		return faceCreate{}, false
	}
	params, err := mgmt.ParseControlParameters(enc.NewBufferView(n[4].Val), false)
	if err != nil || params.Val == nil || !params.Val.Uri.IsSet() {
		return faceCreate{}, false
	}
	uri := params.Val.Uri.Unwrap()
	lt, err := parseLinkURI(uri)
	if err != nil {
		return faceCreate{}, false // not ours: YaNFD answers (or refuses) it
	}
	return faceCreate{name: n.Clone(), pitToken: append([]byte(nil), tok...), target: lt, uri: uri}, true
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

// createLink makes the link fc asks for and returns the encoded answer, and
// the function that lets the link go (nil if none was made).
func (e *embeddedFw) createLink(fc faceCreate) ([]byte, func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp := &mgmt.ControlResponseVal{StatusCode: 200, StatusText: "OK"}
	var release func()
	uri, err := fc.target.canonical(ctx)
	if err == nil {
		var id uint64
		var existed bool
		id, existed, release, err = e.networkLink(uri)
		if err == nil {
			if existed {
				resp.StatusCode, resp.StatusText = 409, "Conflicts with existing face"
			}
			resp.Params = &mgmt.ControlArgs{
				FaceId:          optional.Some(id),
				Uri:             optional.Some(uri),
				FacePersistency: optional.Some(uint64(mgmt.PersistencyPermanent)),
			}
		}
	}
	if err != nil {
		resp = &mgmt.ControlResponseVal{StatusCode: 400, StatusText: fmt.Sprintf("link %s: %v", fc.uri, err)}
	}
	content := (&mgmt.ControlResponse{Val: resp}).Encode()
	d, err := spec.Spec{}.MakeData(fc.name, &ndn.DataConfig{ContentType: optional.Some(ndn.ContentTypeBlob)},
		content, signer.NewSha256Signer())
	if err != nil {
		if release != nil {
			release()
		}
		return nil, nil
	}
	wire := d.Wire.Join()
	if len(fc.pitToken) > 0 {
		wire = appendTLVs(tLpPacket, tlvBytes(tLpPitToken, fc.pitToken), tlvBytes(tLpFragment, wire))
	}
	e.log.Info("embedded forwarder: link made for a local app", "uri", fc.uri, "status", resp.StatusCode)
	return wire, release
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
