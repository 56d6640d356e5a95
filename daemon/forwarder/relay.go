package forwarder

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Local apps (other processes on the embedded forwarder's public socket) are
// untrusted input for YaNFD, which panics on some malformed packets and has
// no recover anywhere: one bad frame from any app would end this process.
// Their frames therefore never reach YaNFD directly. Each accepted
// connection is paired with a unix socketpair: YaNFD serves one end as an
// ordinary unix stream face (same scope, same face semantics as before, so
// it still sees the app go away), and an appRelay copies between the app and
// the other end:
//
//   - app -> forwarder: the stream is split into frames by frameReader and
//     each frame must pass validatePacket (with the YaNFD-specific rules);
//     runs of valid frames are written with one syscall. A malformed frame
//     is dropped and counted; after maxBadFrames of them, or at once if the
//     stream's framing is lost, the app's connection is closed. Other apps
//     and the forwarder are unaffected.
//   - forwarder -> app: whole frames (YaNFD's output is well-formed), so
//     that the relay's own answers can go in between: a faces/create for a
//     udp or tcp face is answered by the relay with a guarded link
//     (mgmtlink.go), never by YaNFD.
//
// The cost is one extra copy and socket hop per direction, amortized over
// the packets a single read brings under load.

// maxBadFrames is how many malformed frames one app connection may send
// before it is closed. A correct app sends none.
const maxBadFrames = 16

// relayCounters are process-wide counters of the app relays.
type relayCounters struct {
	malformed  atomic.Uint64 // frames dropped
	closedConn atomic.Uint64 // connections closed for bad input
}

// appRelay connects one local app to its YaNFD face.
type appRelay struct {
	e    *embeddedFw
	app  net.Conn      // the app's connection on the public socket
	fw   *net.UnixConn // our end of the socketpair (YaNFD has the other)
	opts validateOpts
	once sync.Once

	appMu   sync.Mutex // serializes writes to app (pumpOut, answers)
	appW    io.Writer  // app's writer, under appMu
	links   []func()   // links made for this app (mgmtlink.go), under appMu
	answers sync.WaitGroup
}

// start runs the two copy goroutines; e.relays tracks them.
func (r *appRelay) start() {
	r.e.relays.Add(2)
	go r.pumpIn()
	go r.pumpOut()
}

// close ends both directions: YaNFD sees its end of the pair close (face
// down, routes cleaned) and the app sees its connection close. The links
// made for the app are let go.
func (r *appRelay) close() {
	r.once.Do(func() {
		r.app.Close()
		r.fw.Close()
		go func() {
			r.answers.Wait()
			r.appMu.Lock()
			links := r.links
			r.links = nil
			r.appMu.Unlock()
			for _, release := range links {
				release()
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

// answerLink makes the link a faces/create command asks for and answers
// the app (mgmtlink.go).
func (r *appRelay) answerLink(fc faceCreate) {
	defer r.answers.Done()
	wire, release := r.e.createLink(fc)
	if release != nil {
		r.appMu.Lock()
		r.links = append(r.links, release)
		r.appMu.Unlock()
	}
	if wire != nil {
		_ = r.writeApp(wire)
	}
}

// pumpIn validates the app's frames and passes the good ones to YaNFD.
func (r *appRelay) pumpIn() {
	defer r.e.relays.Done()
	defer r.close()
	fr := newFrameReader(readerOf(r.app))
	fw := writerOf(r.fw)
	bad := 0
	for {
		if err := fr.fill(); err != nil {
			return // app gone (or relay closed)
		}
		run := -1 // start in fr.buf of valid frames not yet written
		for {
			frame, err := fr.next()
			if err != nil {
				if run >= 0 { // the good frames before it still count
					_, _ = fw.Write(fr.buf[run:fr.off])
				}
				r.e.relayCnt.malformed.Add(1)
				r.e.relayCnt.closedConn.Add(1)
				r.e.logBadApp(err, nil, true)
				return
			}
			if frame == nil {
				break
			}
			start := fr.off - len(frame)
			err = validatePacket(frame, r.opts)
			if err == nil {
				// (only a validated frame may reach ndnd's parsers)
				if fc, ok := networkFaceCreate(frame); ok {
					// answered here, not by YaNFD: flush the frames before it
					if run >= 0 {
						if _, err := fw.Write(fr.buf[run:start]); err != nil {
							return
						}
						run = -1
					}
					r.answers.Add(1)
					go r.answerLink(fc)
					continue
				}
			}
			if err != nil {
				r.e.relayCnt.malformed.Add(1)
				if run >= 0 {
					if _, err := fw.Write(fr.buf[run:start]); err != nil {
						return
					}
					run = -1
				}
				bad++
				closing := bad >= maxBadFrames
				if closing {
					r.e.relayCnt.closedConn.Add(1)
				}
				r.e.logBadApp(err, frame, closing)
				if closing {
					return
				}
				continue
			}
			if run < 0 {
				run = start
			}
		}
		if run >= 0 {
			if _, err := fw.Write(fr.buf[run:fr.off]); err != nil {
				return
			}
		}
	}
}

// pumpOut copies YaNFD's output to the app.
func (r *appRelay) pumpOut() {
	defer r.e.relays.Done()
	defer r.close()
	// Whole frames only: the relay's own answers (answerLink) go in between.
	fr := newFrameReader(readerOf(r.fw))
	for {
		if err := fr.fill(); err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.e.log.Debug("embedded forwarder: app relay read", "err", err)
			}
			return
		}
		start := fr.off
		for {
			frame, err := fr.next()
			if err != nil {
				return // YaNFD's output is framed: cannot happen
			}
			if frame == nil {
				break
			}
		}
		if fr.off > start {
			if err := r.writeApp(fr.buf[start:fr.off]); err != nil {
				return
			}
		}
	}
}

// logBadApp logs a frame dropped from a local app, rate-limited.
func (e *embeddedFw) logBadApp(err error, frame []byte, closing bool) {
	if ok, more := e.badLog.allow(); ok {
		args := []any{"err", err, "closing_connection", closing, "suppressed_before", more,
			"total", e.relayCnt.malformed.Load()}
		if frame != nil {
			args = append(args, "frame", frameSummary(frame))
		}
		e.log.Warn("embedded forwarder: dropped malformed packet from a local app", args...)
	}
}
