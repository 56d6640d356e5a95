package forwarder

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peets/peets/internal/ratelog"

	fwface "github.com/named-data/ndnd/fw/face"
	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// tlvLpPacket is the TLV type of an NDNLPv2 LpPacket.
const tlvLpPacket = 0x64

// inprocLink is one InternalTransport face of the embedded forwarder plus
// the goroutine that drains it. YaNFD cannot close an internal face cleanly
// (closing races with its sender and leaks its receive goroutine), so links
// are never closed: a released link is scrubbed of its routes and pooled for
// the next user. Its users are the in-process Conns (inprocFace) and the
// local apps on the public socket (appRelay). Their number is bounded by the
// peak number of simultaneous users in the process.
type inprocLink struct {
	link  fwface.LinkService
	tr    *fwface.InternalTransport
	net   *netTransport             // tr told non-local (linkNet only)
	owner atomic.Pointer[ownerSlot] // current user, nil while pooled
	busy  sync.Mutex                // held by drain while handing a packet to the owner
	// sendMu serializes sends (sendAs) with a change of owner (disown), so
	// that once a user let the link go nothing of its goes in: the link
	// may be the next user's by then.
	sendMu sync.Mutex
	// sw, if set, sees every Data that goes in and the forwarder's own Data
	// that come out (sweep.go). Fixed when the link is made.
	sw *sweeper
}

// linkOwner is the current user of an inprocLink: it gets what the
// forwarder sends on the link.
type linkOwner interface {
	// deliver takes one packet; it runs on the link's drain goroutine
	// and may block only as long as its receiver does not read.
	deliver(lp *spec.LpPacket)
	// undecodable counts and logs a packet the link could not decode.
	undecodable(err error)
}

// ownerSlot boxes a linkOwner so that a user can take its link back
// (disown) only if it still holds it.
type ownerSlot struct{ o linkOwner }

// errDisowned: the sender does not own the link (any more).
var errDisowned = errors.New("inproc link: the sender let it go")

// sendAs hands pkt to the forwarder's queue for this link (see send) if s
// still owns the link, else it returns errDisowned.
func (l *inprocLink) sendAs(s *ownerSlot, pkt enc.Wire) error {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	if l.owner.Load() != s {
		return errDisowned
	}
	return l.send(pkt)
}

// disown takes the link from s if s holds it, and reports whether it did:
// only then may the caller give the link back. Once it returns, no send of
// s's goes in; deliveries to s end too (a delivery in flight may finish:
// returnLink waits for it).
func (l *inprocLink) disown(s *ownerSlot) bool {
	l.sendMu.Lock()
	defer l.sendMu.Unlock()
	return l.owner.CompareAndSwap(s, nil)
}

// send hands one packet (a bare Interest or Data, or an LpPacket, as a
// local app writes it) to the forwarder's queue for this link. Users send
// through sendAs.
func (l *inprocLink) send(pkt enc.Wire) error {
	var lp *spec.LpPacket
	if len(pkt) > 0 && len(pkt[0]) > 0 && pkt[0][0] == tlvLpPacket {
		// already an LpPacket (PIT token, NextHopFaceId): unwrap it so the
		// transport does not nest it
		p, _, err := spec.ReadPacket(enc.NewWireView(pkt))
		if err != nil || p.LpPacket == nil {
			return fmt.Errorf("inproc link: bad LpPacket: %v", err)
		}
		lp = p.LpPacket
	} else {
		lp = &spec.LpPacket{Fragment: pkt}
	}
	if l.sw != nil {
		l.sw.observeWire(lp.Fragment)
	}
	l.tr.Send(lp) // encodes into a fresh buffer: pkt may be reused
	return nil
}

// linkKind says who uses an inprocLink; each kind has its own pool, since
// a link's options are fixed when it is made.
type linkKind int

const (
	// linkInproc: an in-process Conn. YaNFD's options for internal faces:
	// local fields (NextHopFaceId, IncomingFaceId) on.
	linkInproc linkKind = iota
	// linkApp: a local app on the public socket (appRelay). The options of
	// YaNFD's unix faces: no local fields, so an app's NextHopFaceId is
	// ignored and no IncomingFaceId is added; no fragmentation or
	// reassembly (whole packets both ways).
	linkApp
	// linkNet: a network link (a UDP peer of the guard, a TCP link): the
	// options of linkApp on a transport YaNFD sees as non-local, with the
	// peer's URIs (face_net.go).
	linkNet
)

// newInprocLink registers a new internal face in the running forwarder;
// sw, if not nil, is the sweeper that sees its Data.
func newInprocLink(kind linkKind, sw *sweeper) *inprocLink {
	l := &inprocLink{sw: sw}
	switch kind {
	case linkApp, linkNet:
		opts := fwface.MakeNDNLPLinkServiceOptions()
		opts.IsFragmentationEnabled = false
		opts.IsReassemblyEnabled = false
		var ls *fwface.NDNLPLinkService
		if kind == linkNet {
			l.net = newNetTransport()
			l.tr = l.net.InternalTransport
			ls = fwface.MakeNDNLPLinkService(l.net, opts)
		} else {
			l.tr = fwface.MakeInternalTransport()
			ls = fwface.MakeNDNLPLinkService(l.tr, opts)
		}
		ls.Run(nil)
		l.link = ls
	default:
		l.link, l.tr = fwface.RegisterInternalTransport()
	}
	go l.drain()
	return l
}

// faceID is the forwarder's id of this face.
func (l *inprocLink) faceID() uint64 { return l.link.FaceID() }

// drain forwards packets from the forwarder to the current owner; packets
// arriving while the link is pooled are dropped. It runs for the life of the
// process (the transport is never closed).
func (l *inprocLink) drain() {
	for l.step() {
	}
}

// step moves one packet. A panic in ndnd's decoding of the forwarder's
// output (which should not happen: the forwarder encoded it) is recovered
// and counted instead of ending the process.
func (l *inprocLink) step() (more bool) {
	locked := false
	defer func() {
		if r := recover(); r != nil {
			if locked {
				l.busy.Unlock()
			}
			if s := l.owner.Load(); s != nil {
				s.o.undecodable(fmt.Errorf("panic in packet decoding: %v", r))
			}
			more = true
		}
	}()
	lp := l.tr.Receive()
	if lp == nil {
		return false
	}
	if l.sw != nil {
		l.sw.observeOut(lp.Fragment)
	}
	l.busy.Lock()
	locked = true
	if s := l.owner.Load(); s != nil {
		s.o.deliver(lp)
	}
	locked = false
	l.busy.Unlock()
	return true
}

// quiesce waits until drain is not inside a delivery (which may block on a
// full engine queue), at most timeout.
func (l *inprocLink) quiesce(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for !l.busy.TryLock() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	l.busy.Unlock()
	return true
}

// inprocFace is an ndn.Face attached to the embedded forwarder through an
// InternalTransport: no socket, no syscall. It is always local and never goes
// down while open.
type inprocFace struct {
	l    *inprocLink
	slot *ownerSlot                            // holds f
	ret  func(*inprocLink, time.Duration) bool // gives the link back (embeddedFw.returnLink)
	cnt  faceCounters

	onPkt   func(frame []byte)
	onLp    func(frame []byte) // an LpPacket frame on its way to the engine (marks.go); set before Open
	running atomic.Bool
	badLog  ratelog.Limiter
	log     *slog.Logger

	mu     sync.Mutex
	closed bool
	onUp   map[int]func()
	nextCB int
}

var _ ndn.Face = (*inprocFace)(nil)

func newInprocFace(l *inprocLink, ret func(*inprocLink, time.Duration) bool, log *slog.Logger) *inprocFace {
	f := &inprocFace{l: l, ret: ret, onUp: map[int]func(){}, log: log, badLog: ratelog.Limiter{Every: badLogEvery}}
	f.slot = &ownerSlot{o: f}
	return f
}

// undecodable implements linkOwner.
func (f *inprocFace) undecodable(err error) {
	f.cnt.malformed.Add(1)
	f.logBad(err, nil)
}

// logBad logs a dropped packet, rate-limited.
func (f *inprocFace) logBad(err error, frame []byte) {
	if ok, more := f.badLog.Allow(); ok && f.log != nil {
		f.log.Warn("dropped malformed packet from the embedded forwarder", "face", f.String(),
			"err", err, "frame", frameSummary(frame), "suppressed_before", more,
			"total", f.cnt.malformed.Load())
	}
}

// String implements ndn.Face.
func (f *inprocFace) String() string {
	return fmt.Sprintf("peets-inproc-face (faceid=%d)", f.l.faceID())
}

// IsRunning implements ndn.Face.
func (f *inprocFace) IsRunning() bool { return f.running.Load() }

// IsLocal implements ndn.Face.
func (f *inprocFace) IsLocal() bool { return true }

// OnPacket implements ndn.Face.
func (f *inprocFace) OnPacket(onPkt func(frame []byte)) { f.onPkt = onPkt }

// OnError implements ndn.Face. The in-process face has no failure mode.
func (f *inprocFace) OnError(func(err error)) {}

// OnUp implements ndn.Face; the callbacks run once, at Open.
func (f *inprocFace) OnUp(cb func()) (cancel func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextCB
	f.nextCB++
	f.onUp[id] = cb
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.onUp, id)
	}
}

// OnDown implements ndn.Face; the in-process face never goes down.
func (f *inprocFace) OnDown(func()) (cancel func()) { return func() {} }

// Open implements ndn.Face.
func (f *inprocFace) Open() error {
	if f.onPkt == nil {
		return fmt.Errorf("%v: packet callback not set", f)
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return ErrClosed
	}
	if f.running.Load() {
		f.mu.Unlock()
		return fmt.Errorf("%v: already open", f)
	}
	f.running.Store(true)
	f.l.owner.Store(f.slot)
	cbs := make([]func(), 0, len(f.onUp))
	for _, cb := range f.onUp {
		cbs = append(cbs, cb)
	}
	f.mu.Unlock()
	for _, cb := range cbs {
		cb()
	}
	return nil
}

// Close implements ndn.Face: the face stops sending and receiving.
// Idempotent. The link goes back to the pool in finish.
func (f *inprocFace) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.running.Store(false)
		f.l.disown(f.slot)
	}
	return nil
}

// finish closes the face and gives its link back: the link loses its
// routes and, once no delivery to it is in flight (the engine must still be
// running to drain it), goes back to the pool. A link whose delivery stays
// stuck is abandoned rather than reused; finish then reports false.
func (f *inprocFace) finish(timeout time.Duration) bool {
	f.Close()
	return f.ret(f.l, timeout)
}

// Send implements ndn.Face: the packet goes straight into the forwarder's
// queue for this face. A packet larger than 8800 bytes is refused
// (ErrTooLarge), as the forwarder would drop it.
func (f *inprocFace) Send(pkt enc.Wire) error {
	if !f.running.Load() {
		f.cnt.drops.Add(1)
		return ErrDown
	}
	if err := checkPacketSize(pkt); err != nil {
		f.cnt.drops.Add(1)
		return err
	}
	if err := f.l.sendAs(f.slot, pkt); err != nil {
		f.cnt.drops.Add(1)
		if errors.Is(err, errDisowned) {
			return ErrDown // closed meanwhile
		}
		return err
	}
	f.cnt.out.Add(1)
	return nil
}

// deliver implements linkOwner: it hands one packet from the forwarder to
// the engine.
func (f *inprocFace) deliver(lp *spec.LpPacket) {
	if !f.running.Load() || f.onPkt == nil {
		return
	}
	pkt := &spec.Packet{LpPacket: lp}
	var e spec.PacketEncoder
	e.Init(pkt)
	w := e.Encode(pkt)
	if w == nil {
		f.cnt.drops.Add(1)
		return
	}
	frame := w[0]
	if len(w) != 1 {
		frame = w.Join()
	}
	// The forwarder only parsed what it needed of this packet (name, a few
	// fields): anything it relays from another face may still be malformed
	// deeper inside, where the engine's full decoder would panic.
	if err := validatePacket(frame, validateOpts{}); err != nil {
		f.cnt.malformed.Add(1)
		f.logBad(err, frame)
		return
	}
	f.cnt.in.Add(1)
	if frame[0] == tLpPacket && f.onLp != nil {
		f.onLp(frame)
	}
	f.onPkt(frame)
}
