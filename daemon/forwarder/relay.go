package forwarder

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// Local apps (other processes on the embedded forwarder's public socket) are
// untrusted input for YaNFD, which panics on some malformed packets and has
// no recover anywhere: one bad frame from any app would end this process.
// Their frames therefore never reach YaNFD directly. Each accepted
// connection gets an in-process link (an InternalTransport face, pooled like
// the in-process Conns' faces: face_inproc.go), and an appRelay moves the
// packets between the app's connection and the link:
//
//   - app -> forwarder: the stream is split into frames by frameReader and
//     each frame must pass validatePacket (with the YaNFD-specific rules)
//     before it goes into the link's queue. A malformed frame is dropped and
//     counted; after maxBadFrames of them, or at once if the stream's
//     framing is lost, the app's connection is closed. A packet larger
//     than 8800 bytes whose framing is intact is dropped and counted, and
//     never closes the connection. Other apps and the forwarder are
//     unaffected.
//   - forwarder -> app: each packet the link delivers is written to the app
//     as one frame (a bare packet unless it carries a PIT token, a Nack or
//     a congestion mark), so the relay's own answers can go in between: a
//     faces/create for a udp or tcp face is answered by the relay with a
//     guarded link (mgmtlink.go), never by YaNFD.
//
// When the app goes away, its link's routes are removed and the link goes
// back to the pool, as YaNFD would clean up a face that went down.
//
// Until session 4 the app's face was YaNFD's own unix stream face over a
// socketpair, the relay copying between the pair and the app: two more
// system calls per packet and direction, and a poller wake-up of the relay,
// which were ~40 % of the forwarder's CPU in the fan-out benchmark.

// maxBadFrames is how many malformed frames one app connection may send
// before it is closed. A correct app sends none.
const maxBadFrames = 16

// relayCounters are process-wide counters of the app relays.
type relayCounters struct {
	malformed   atomic.Uint64 // frames dropped
	oversized   atomic.Uint64 // of which packets above 8800 bytes (skipped, connection kept)
	closedConn  atomic.Uint64 // connections closed for bad input
	undecodable atomic.Uint64 // packets from YaNFD its link could not decode
}

// linkQuiesce is how long a closing relay waits for a delivery in flight
// before it gives up on reusing its link.
const linkQuiesce = 2 * time.Second

// appRelay connects one local app to its link.
type appRelay struct {
	e    *embeddedFw
	app  net.Conn    // the app's connection on the public socket
	link *inprocLink // the app's face in YaNFD
	slot *ownerSlot  // holds the relay while it owns link
	opts validateOpts
	once sync.Once

	appMu   sync.Mutex // serializes writes to app (deliver, answers)
	appW    io.Writer  // app's writer, under appMu
	links   []appLink  // links made for this app (mgmtlink.go), under appMu
	answers sync.WaitGroup
}

// newAppRelay pairs app with a link of the forwarder.
func newAppRelay(e *embeddedFw, app net.Conn) *appRelay {
	r := &appRelay{e: e, app: app, link: e.getLink(linkApp),
		opts: validateOpts{forForwarder: true, fwThreads: e.fwThreads}}
	r.slot = &ownerSlot{o: r}
	return r
}

// start attaches the relay to its link and runs the app's reader;
// e.relays tracks it.
func (r *appRelay) start() {
	r.link.owner.Store(r.slot)
	r.e.relays.Add(1)
	go r.pumpIn()
}

// faceID is the app's face in the forwarder.
func (r *appRelay) faceID() uint64 { return r.link.faceID() }

// close ends both directions: the app sees its connection close, the link
// stops delivering to the relay and, once no delivery is in flight, loses
// its routes and goes back to the pool. The network links made for the app
// are let go.
func (r *appRelay) close() {
	r.once.Do(func() {
		r.link.disown(r.slot)
		r.app.Close() // also ends a delivery blocked on the app
		r.e.forgetRelay(r)
		go func() {
			if !r.e.returnLink(linkApp, r.link, linkQuiesce) {
				r.e.log.Warn("embedded forwarder: app link stuck in a delivery; not reused", "face", r.faceID())
			}
			r.answers.Wait()
			r.appMu.Lock()
			links := r.links
			r.links = nil
			r.appMu.Unlock()
			for _, l := range links {
				l.release()
			}
		}()
	})
}

// writeApp writes one or more whole frames to the app.
func (r *appRelay) writeApp(b []byte) error {
	r.appMu.Lock()
	defer r.appMu.Unlock()
	if r.appW == nil {
		r.appW = writerOf(r.app)
	}
	_, err := r.appW.Write(b)
	return err
}

// appLink is a network link an app made, and the function that lets it go.
type appLink struct {
	faceID  uint64
	release func()
}

// answerLink makes the link a faces/create command asks for and answers
// the app (mgmtlink.go).
func (r *appRelay) answerLink(fc faceCommand) {
	defer r.answers.Done()
	wire, id, release := r.e.createLink(fc)
	if release != nil {
		// One hold per link and app: asking again (a 409 answer, which
		// clients also use to poll a face's state) changes nothing.
		r.appMu.Lock()
		held := false
		for _, l := range r.links {
			held = held || l.faceID == id
		}
		if !held {
			r.links = append(r.links, appLink{faceID: id, release: release})
		}
		r.appMu.Unlock()
		if held {
			release()
		}
	}
	if wire != nil {
		_ = r.writeApp(wire)
	}
}

// answerDestroy answers a faces/destroy of an in-process face: the app
// lets go of one hold on a link it made, or is refused (mgmtlink.go).
func (r *appRelay) answerDestroy(fc faceCommand) {
	var release func()
	r.appMu.Lock()
	for i, l := range r.links {
		if l.faceID == fc.faceID {
			release = l.release
			r.links = append(r.links[:i], r.links[i+1:]...)
			break
		}
	}
	r.appMu.Unlock()
	if release != nil {
		release()
	}
	if wire := destroyAnswer(fc, release != nil); wire != nil {
		_ = r.writeApp(wire)
	}
}

// pumpIn validates the app's frames and passes the good ones to YaNFD.
func (r *appRelay) pumpIn() {
	defer r.e.relays.Done()
	defer r.close()
	fr := newFrameReader(readerOf(r.app))
	bad := 0
	for {
		if err := fr.fill(); err != nil {
			return // app gone (or relay closed)
		}
		for {
			frame, err := fr.next()
			if errors.Is(err, errOversize) {
				// Well framed, but larger than any forwarder takes: dropped,
				// and the connection stays. It does not count towards
				// maxBadFrames: an app's packet can outgrow the limit
				// because of what others announce (a sync vector), and its
				// link to the forwarder must not depend on them.
				r.e.relayCnt.malformed.Add(1)
				r.e.relayCnt.oversized.Add(1)
				r.e.logBadApp(err, nil, false)
				continue
			}
			if err != nil {
				r.e.relayCnt.malformed.Add(1)
				r.e.relayCnt.closedConn.Add(1)
				r.e.logBadApp(err, nil, true)
				return
			}
			if frame == nil {
				break
			}
			if r.appFrame(frame, &bad) {
				return
			}
		}
	}
}

// appFrame handles one frame of the app; it reports whether the relay must
// stop (the app sent too many bad frames, or the relay closed). A panic is
// recovered (guard.go): the frame is dropped, the app is not blamed.
func (r *appRelay) appFrame(frame []byte, bad *int) (stop bool) {
	defer r.e.framePanics.recoverFrame(r.e.log, "app relay", frame)
	err := validatePacket(frame, r.opts)
	if err == nil {
		// (only a validated frame may reach ndnd's parsers)
		if fc, ok := parseFaceCommand(frame); ok {
			switch {
			case fc.verb == verbCreate:
				// answered here, not by YaNFD
				r.answers.Add(1)
				go r.answerLink(fc)
				return false
			case r.e.isLink(fc.faceID):
				r.answerDestroy(fc)
				return false
			}
		}
		err = r.link.sendAs(r.slot, enc.Wire{frame})
		if errors.Is(err, errDisowned) {
			return true // the relay closed meanwhile
		}
	}
	if err != nil {
		r.e.relayCnt.malformed.Add(1)
		*bad++
		closing := *bad >= maxBadFrames
		if closing {
			r.e.relayCnt.closedConn.Add(1)
		}
		r.e.logBadApp(err, frame, closing)
		return closing
	}
	return false
}

// deliver implements linkOwner: one packet from the forwarder to the app:
// the bare packet, or an LpPacket when a PIT token, a Nack or a congestion
// mark goes with it (an app link adds no IncomingFaceId).
func (r *appRelay) deliver(lp *spec.LpPacket) {
	frame := linkFrame(lp)
	if len(frame) == 0 {
		return
	}
	if err := r.writeApp(frame); err != nil {
		r.close()
	}
}

// undecodable implements linkOwner.
func (r *appRelay) undecodable(err error) {
	r.e.relayCnt.undecodable.Add(1)
	r.e.log.Warn("embedded forwarder: undecodable packet for a local app", "err", err, "face", r.faceID())
}

// logBadApp logs a frame dropped from a local app, rate-limited.
func (e *embeddedFw) logBadApp(err error, frame []byte, closing bool) {
	if ok, more := e.badLog.Allow(); ok {
		args := []any{"err", err, "closing_connection", closing, "suppressed_before", more,
			"total", e.relayCnt.malformed.Load()}
		if frame != nil {
			args = append(args, "frame", frameSummary(frame))
		}
		e.log.Warn("embedded forwarder: dropped malformed packet from a local app", args...)
	}
}
