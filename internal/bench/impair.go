package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Impairment is what a benchmark's link between two forwarders does to the
// datagrams on it, in each direction independently (Interests one way, Data
// the other): drop some, delay all. It stands in for the wide-area path
// between two hosts of a testbed, on loopback and without root (netem is a
// kernel module that is not always there).
type Impairment struct {
	// Loss is the fraction of datagrams dropped, in [0, 0.5].
	Loss float64
	// Burst is the mean length of a run of drops, in datagrams (Gilbert
	// model: a "bad" state that drops everything, entered and left at
	// random so that the long-run loss is Loss). 1 or less: each datagram
	// is dropped independently.
	Burst float64
	// Delay is added to every datagram, one way; Jitter adds a uniform
	// random extra in [0, Jitter), so datagrams may overtake each other.
	Delay, Jitter time.Duration
	// Seed makes the drops and the jitter repeatable (0 is a seed too).
	Seed uint64
}

// Active reports whether the impairment changes anything.
func (m Impairment) Active() bool { return m.Loss > 0 || m.Delay > 0 || m.Jitter > 0 }

// Validate checks the ranges.
func (m Impairment) Validate() error {
	switch {
	case m.Loss < 0 || m.Loss > 0.5:
		return fmt.Errorf("loss %v out of [0, 0.5]", m.Loss)
	case m.Burst < 0 || m.Burst > 100:
		return fmt.Errorf("loss burst %v out of [0, 100]", m.Burst)
	case m.Delay < 0 || m.Delay > time.Second:
		return fmt.Errorf("delay %v out of [0, 1s]", m.Delay)
	case m.Jitter < 0 || m.Jitter > time.Second:
		return fmt.Errorf("jitter %v out of [0, 1s]", m.Jitter)
	}
	return nil
}

// LinkResult is what the impaired link did over a run (both directions).
type LinkResult struct {
	Loss         float64 `json:"loss"`
	Burst        float64 `json:"loss_burst"`
	DelayMs      float64 `json:"delay_ms"`
	JitterMs     float64 `json:"jitter_ms"`
	Seed         uint64  `json:"seed"`
	Datagrams    uint64  `json:"datagrams"` // received from either forwarder
	Dropped      uint64  `json:"dropped"`   // by the loss model
	DroppedRatio float64 `json:"dropped_ratio"`
	Overflow     uint64  `json:"overflow"` // dropped: too many datagrams in flight
	Stray        uint64  `json:"stray"`    // from an address that is neither forwarder
}

// maxInFlight bounds the datagrams an impaired link holds for their delay,
// per direction (at 1 s of delay, ~4000 datagrams/s).
const maxInFlight = 4096

// impairedLink relays UDP datagrams between two forwarders on loopback and
// impairs them. Each forwarder links to one of its two sockets and sees the
// other forwarder's traffic come from that socket, as if it were the peer:
// forwarder A links to a, B links to b; what a gets from A goes out of b to
// B, and what b gets from B goes out of a to A.
type impairedLink struct {
	m    Impairment
	a, b *net.UDPConn
	wg   sync.WaitGroup
	once sync.Once

	datagrams, dropped, overflow, stray atomic.Uint64
}

// newImpairedLink binds the link's two sockets on 127.0.0.1; peerA and
// peerB (the forwarders' UDP ports) are set with start once known.
func newImpairedLink(m Impairment) (*impairedLink, error) {
	listen := func() (*net.UDPConn, error) { return net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) }
	return newImpairedLinkOn(m, listen, listen)
}

// newImpairedLinkOn makes the link's two sockets with listenA and listenB
// (e.g. in a network namespace, on the address a remote forwarder
// reaches); the forwarders are set with startTo.
func newImpairedLinkOn(m Impairment, listenA, listenB func() (*net.UDPConn, error)) (*impairedLink, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	l := &impairedLink{m: m}
	var err error
	if l.a, err = listenA(); err != nil {
		return nil, err
	}
	if l.b, err = listenB(); err != nil {
		l.a.Close()
		return nil, err
	}
	return l, nil
}

// Ports are the ports of the link's sockets: A links to the first, B to
// the second.
func (l *impairedLink) Ports() (int, int) {
	return l.a.LocalAddr().(*net.UDPAddr).Port, l.b.LocalAddr().(*net.UDPAddr).Port
}

// start relays between the forwarders on portA and portB (127.0.0.1) until
// Close.
func (l *impairedLink) start(portA, portB int) {
	lo := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	l.startTo(netip.AddrPortFrom(lo, uint16(portA)), netip.AddrPortFrom(lo, uint16(portB)))
}

// startTo relays between forwarder A (heard on and written to from the
// first socket) and forwarder B (the second) until Close.
func (l *impairedLink) startTo(fwA, fwB netip.AddrPort) {
	l.wg.Add(2)
	go l.relay(l.a, fwA, l.b, fwB, 1)
	go l.relay(l.b, fwB, l.a, fwA, 2)
}

// relay reads datagrams from in (only those from src count) and writes what
// the loss model keeps to dst through out, after the delay. Runs until in
// is closed.
func (l *impairedLink) relay(in *net.UDPConn, src netip.AddrPort, out *net.UDPConn, dst netip.AddrPort, stream uint64) {
	defer l.wg.Done()
	rng := rand.New(rand.NewPCG(l.m.Seed, stream))
	loss := newGilbert(l.m.Loss, l.m.Burst)
	var inFlight atomic.Int64
	buf := make([]byte, 65536)
	for {
		n, from, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP port unreachable while a forwarder restarts
		}
		if from != src {
			l.stray.Add(1)
			continue
		}
		l.datagrams.Add(1)
		if loss.drop(rng) {
			l.dropped.Add(1)
			continue
		}
		d := l.m.Delay
		if l.m.Jitter > 0 {
			d += time.Duration(rng.Int64N(int64(l.m.Jitter)))
		}
		if d <= 0 {
			_, _ = out.WriteToUDPAddrPort(buf[:n], dst)
			continue
		}
		if inFlight.Add(1) > maxInFlight {
			inFlight.Add(-1)
			l.overflow.Add(1)
			continue
		}
		pkt := append([]byte(nil), buf[:n]...)
		time.AfterFunc(d, func() {
			defer inFlight.Add(-1)
			_, _ = out.WriteToUDPAddrPort(pkt, dst) // fails once closed: dropped
		})
	}
}

// Close stops the relay; datagrams still delayed are dropped. It may be
// called more than once.
func (l *impairedLink) Close() {
	l.once.Do(func() {
		l.a.Close()
		l.b.Close()
	})
	l.wg.Wait()
}

// Result is the link's figures so far.
func (l *impairedLink) Result() LinkResult {
	r := LinkResult{
		Loss: l.m.Loss, Burst: max(l.m.Burst, 1), Seed: l.m.Seed,
		DelayMs: float64(l.m.Delay) / 1e6, JitterMs: float64(l.m.Jitter) / 1e6,
		Datagrams: l.datagrams.Load(), Dropped: l.dropped.Load(),
		Overflow: l.overflow.Load(), Stray: l.stray.Load(),
	}
	if r.Datagrams > 0 {
		r.DroppedRatio = float64(r.Dropped) / float64(r.Datagrams)
	}
	return r
}

// gilbert is a two-state loss model: the bad state drops every datagram,
// the good state none. Leaving the bad state has probability 1/burst per
// datagram (mean run of drops: burst); entering it is set so that the
// long-run fraction of drops is loss. burst <= 1 is independent drops.
type gilbert struct {
	loss, enter, leave float64
	bad                bool
}

func newGilbert(loss, burst float64) *gilbert {
	g := &gilbert{loss: loss}
	if burst > 1 && loss > 0 {
		g.leave = 1 / burst
		g.enter = loss * g.leave / (1 - loss)
	}
	return g
}

// drop decides the next datagram's fate.
func (g *gilbert) drop(rng *rand.Rand) bool {
	if g.loss <= 0 {
		return false
	}
	if g.leave == 0 {
		return rng.Float64() < g.loss
	}
	if g.bad {
		g.bad = rng.Float64() >= g.leave
	} else {
		g.bad = rng.Float64() < g.enter
	}
	return g.bad
}
