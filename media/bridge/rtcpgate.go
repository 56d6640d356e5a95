package bridge

import (
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// rtcpGate stops a session's RTCP before its transport goes away.
//
// pion closes a PeerConnection's transports (DTLS, ICE) first and its
// interceptors last, and the interceptors keep writing meanwhile: the
// transport-cc feedback every 100 ms, receiver and sender reports. A write
// that falls in between fails on the closed SRTCP session, and the TWCC
// interceptor logs it at ERROR level ("io: read/write on closed pipe"),
// which every shutdown with a page open risked. The gate is the first
// interceptor of the session's chain, so every RTCP the others send goes
// through it; the session closes it before it closes the PeerConnection,
// after which nothing is written. When pion closes the PeerConnection by
// itself (the page's DTLS close_notify), the transport is gone before
// anyone can close the gate: a write that fails while the PeerConnection
// is closed is the same late write, and is dropped as such.
type rtcpGate struct {
	interceptor.NoOp

	mu     sync.RWMutex // held shared by writes in flight, exclusive to close
	closed bool
	pc     *webrtc.PeerConnection // set once the PeerConnection exists
}

// close stops RTCP; it returns once no write is in flight.
func (g *rtcpGate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

func (g *rtcpGate) setPC(pc *webrtc.PeerConnection) {
	g.mu.Lock()
	g.pc = pc
	g.mu.Unlock()
}

// BindRTCPWriter implements interceptor.Interceptor.
func (g *rtcpGate) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, attrs interceptor.Attributes) (int, error) {
		g.mu.RLock()
		defer g.mu.RUnlock()
		if g.closed {
			return 0, nil
		}
		n, err := w.Write(pkts, attrs)
		if err != nil && g.pc != nil && g.pc.SignalingState() == webrtc.SignalingStateClosed {
			return 0, nil // closing under us (the page's close_notify): nowhere to send
		}
		return n, err
	})
}

// gateFactory gives a session's chain its gate.
type gateFactory struct{ g *rtcpGate }

func (f gateFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return f.g, nil }
