package forwarder

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// tcpLink is a tcp:// link of the embedded forwarder, relayed by this
// package for the same reason as UDP (udpguard.go): a TCP face of YaNFD
// would read the remote forwarder's stream straight into ndnd's parser.
// YaNFD gets a non-local in-process face (face_net.go) that lives as long
// as the link is held, so its face id and the routes on it survive the TCP
// connection going down: the link redials with backoff, frames from the
// remote are validated with the network rules (bad ones dropped and
// counted; a stream whose framing is lost is redialed) and handed to the
// face, and what YaNFD sends on the face goes to the current connection
// (dropped while there is none), written by the face's drain goroutine.
type tcpLink struct {
	e    *embeddedFw
	addr string
	log  *slog.Logger
	link *inprocLink
	slot *ownerSlot
	opts validateOpts

	mu   sync.Mutex
	conn net.Conn // current connection, nil while down

	refs int           // Conns holding the link (embeddedFw.mu)
	stop chan struct{} // closed when the last one let it go

	up                         chan struct{} // closed at the first connection
	upOnce                     sync.Once
	in, out, malformed, redial atomic.Uint64
	bytesIn, bytesOut          atomic.Uint64 // NDN packet bytes each way
}

// TCP link timing.
const (
	tcpDialTimeout = 2 * time.Second
	tcpRedialMin   = 50 * time.Millisecond
	tcpRedialMax   = 5 * time.Second
	tcpFirstWait   = time.Second // Link waits this long for the first connection
	tcpWriteLimit  = time.Second
)

// tcpLinkFace returns the face of the tcp link to addr (host:port), making
// and starting it if needed, whether it existed already, and a function
// that lets it go (the last one closes it). It waits up to tcpFirstWait for
// the first connection, so that what is expressed right after Link goes out.
func (e *embeddedFw) tcpLinkFace(addr string) (uint64, bool, func(), error) {
	l, existed, err := e.holdTCPLink(addr)
	if err != nil {
		return 0, false, nil, err
	}
	select {
	case <-l.up:
	case <-time.After(tcpFirstWait):
	}
	var once sync.Once
	return l.link.faceID(), existed, func() { once.Do(func() { e.releaseTCPLink(l) }) }, nil
}

// holdTCPLink finds or starts the link to addr and takes a reference; it
// reports whether the link existed already.
func (e *embeddedFw) holdTCPLink(addr string) (*tcpLink, bool, error) {
	e.mu.Lock()
	l := e.tcpLinks[addr]
	if l == nil {
		e.mu.Unlock() // netLink takes e.mu
		link := e.netLink(tcpURI(addr), nil)
		l = &tcpLink{e: e, addr: addr, log: e.log.With("link", "tcp://"+addr), link: link,
			opts: validateOpts{forForwarder: true, fwThreads: e.fwThreads, fromNetwork: true},
			up:   make(chan struct{}), stop: make(chan struct{})}
		l.slot = &ownerSlot{o: l}
		e.mu.Lock()
		if e.tcpLinks == nil {
			e.tcpLinks = map[string]*tcpLink{}
		}
		if old := e.tcpLinks[addr]; old != nil { // made meanwhile
			old.refs++
			e.mu.Unlock()
			e.returnNetLink(link)
			return old, true, nil
		}
		l.refs = 1
		e.tcpLinks[addr] = l
		e.mu.Unlock()
		link.owner.Store(l.slot)
		go l.dialLoop()
		l.log.Info("embedded forwarder: TCP link", "face", link.faceID())
		return l, false, nil
	}
	l.refs++
	e.mu.Unlock()
	return l, true, nil
}

// releaseTCPLink lets l go; the last holder closes it: the dial loop stops,
// the connection closes and YaNFD's face loses its routes and is pooled.
func (e *embeddedFw) releaseTCPLink(l *tcpLink) {
	e.mu.Lock()
	l.refs--
	last := l.refs == 0
	if last && e.tcpLinks[l.addr] == l {
		delete(e.tcpLinks, l.addr)
	}
	e.mu.Unlock()
	if !last {
		return
	}
	close(l.stop)
	l.mu.Lock()
	if l.conn != nil {
		l.conn.Close()
	}
	l.mu.Unlock()
	if l.link.disown(l.slot) {
		e.returnNetLink(l.link)
	}
	l.log.Info("embedded forwarder: TCP link closed")
}

// stopped reports whether the link was let go.
func (l *tcpLink) stopped() bool {
	select {
	case <-l.stop:
		return true
	default:
		return false
	}
}

// dialLoop keeps one connection to the remote, redialing with backoff.
func (l *tcpLink) dialLoop() {
	wait := tcpRedialMin
	for !l.stopped() {
		c, err := net.DialTimeout("tcp", l.addr, tcpDialTimeout)
		if err != nil {
			l.log.Debug("embedded forwarder: TCP link dial", "err", err)
			select {
			case <-l.stop:
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, tcpRedialMax)
			continue
		}
		wait = tcpRedialMin
		l.mu.Lock()
		if l.stopped() {
			l.mu.Unlock()
			c.Close()
			return
		}
		l.conn = c
		l.link.net.setURIs(tcpURI(l.addr), tcpURI(c.LocalAddr().String()))
		l.mu.Unlock()
		l.upOnce.Do(func() { close(l.up) })
		err = l.fromRemote(c)
		l.mu.Lock()
		l.conn = nil
		l.mu.Unlock()
		c.Close()
		if l.stopped() {
			return
		}
		l.redial.Add(1)
		l.log.Warn("embedded forwarder: TCP link lost; redialing", "err", err)
	}
}

// fromRemote validates the remote's frames into YaNFD until the connection
// fails or its framing is lost. Packets larger than 8800 bytes are dropped
// and counted; the connection stays.
func (l *tcpLink) fromRemote(c net.Conn) error {
	err := newFrameReader(readerOf(c)).each(func(frame []byte, skipped error) error {
		if skipped != nil {
			l.dropped(skipped, nil)
			return nil
		}
		return l.frame(frame)
	})
	if errors.Is(err, errFraming) {
		l.malformed.Add(1)
	}
	return err
}

// frame validates one frame of the remote into YaNFD. A panic is recovered
// (guard.go): the frame is dropped.
func (l *tcpLink) frame(frame []byte) (err error) {
	defer l.e.framePanics.recoverFrame(l.log, "TCP link", frame)
	if err := validatePacket(frame, l.opts); err != nil {
		l.dropped(err, frame)
		return nil
	}
	// (after the link was let go: errDisowned, its face may be another's
	// by then)
	if err := l.link.sendAs(l.slot, enc.Wire{frame}); err != nil {
		return err
	}
	l.in.Add(1)
	l.bytesIn.Add(uint64(len(frame)))
	return nil
}

// dropped counts and logs (rate-limited) a packet dropped from the remote.
func (l *tcpLink) dropped(err error, frame []byte) {
	l.malformed.Add(1)
	if ok, more := l.e.badLog.Allow(); ok {
		l.log.Warn("embedded forwarder: dropped a packet from the network", "err", err,
			"frame", frameSummary(frame), "suppressed_before", more, "total", l.malformed.Load())
	}
}

// deliver implements linkOwner: what YaNFD sends on the link goes to the
// current connection (on the face's drain goroutine).
func (l *tcpLink) deliver(lp *spec.LpPacket) {
	frame := linkFrame(lp)
	l.mu.Lock()
	c := l.conn
	l.mu.Unlock()
	if c == nil || len(frame) == 0 {
		return // down: dropped, as on any broken link
	}
	_ = c.SetWriteDeadline(time.Now().Add(tcpWriteLimit))
	if _, err := c.Write(frame); err != nil {
		c.Close() // fromRemote sees it and redials
		return
	}
	l.out.Add(1)
	l.bytesOut.Add(uint64(len(frame)))
}

// undecodable implements linkOwner.
func (l *tcpLink) undecodable(err error) {
	l.malformed.Add(1)
	l.log.Warn("embedded forwarder: undecodable packet for a TCP link", "err", err)
}

// tcpLinkStats is what the TCP links counted.
type tcpLinkStats struct {
	Links     int    `json:"links"`
	In        uint64 `json:"in"`
	Out       uint64 `json:"out"`
	Malformed uint64 `json:"malformed"`
	Redials   uint64 `json:"redials"`
	// Faces: each link's traffic, by the remote's host:port.
	Faces map[string]tcpFaceStats `json:"faces" metric:"face,label=peer"`
}

// tcpFaceStats is one TCP link's traffic: NDN packets and their bytes,
// each way.
type tcpFaceStats struct {
	PacketsIn  uint64 `json:"packets_in"`
	PacketsOut uint64 `json:"packets_out"`
	BytesIn    uint64 `json:"bytes_in"`
	BytesOut   uint64 `json:"bytes_out"`
	Redials    uint64 `json:"redials"`
}
