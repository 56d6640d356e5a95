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
//   - forwarder -> app: plain byte copy (YaNFD's output is well-formed).
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
}

// start runs the two copy goroutines; e.relays tracks them.
func (r *appRelay) start() {
	r.e.relays.Add(2)
	go r.pumpIn()
	go r.pumpOut()
}

// close ends both directions: YaNFD sees its end of the pair close (face
// down, routes cleaned) and the app sees its connection close.
func (r *appRelay) close() {
	r.once.Do(func() {
		r.app.Close()
		r.fw.Close()
	})
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
			if err := validatePacket(frame, r.opts); err != nil {
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
	buf := make([]byte, 64<<10)
	in, app := readerOf(r.fw), writerOf(r.app)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := app.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				r.e.log.Debug("embedded forwarder: app relay read", "err", err)
			}
			return
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
