package forwarder

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/named-data/ndnd/fw/defn"
	enc "github.com/named-data/ndnd/std/encoding"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// udpGuard owns the embedded forwarder's UDP port, so that no datagram from
// the network reaches YaNFD unchecked.
//
// YaNFD's own UDP faces parse what they read with no hook before the parser,
// and ndnd v1.5.3 panics on some malformed packets: one 23-byte datagram to
// its UDP listener ended the process. So YaNFD runs with no UDP face at all.
// This guard binds the UDP port instead and gives each remote peer (a link
// target, or a new source when the port accepts peers) a non-local
// in-process face in YaNFD (face_net.go). Datagrams from a peer are
// reassembled if they are NDNLPv2 fragments, validated (validatePacket with
// the network rules: no /localhost name, no face-local LP field) and handed
// to its face; the rest is dropped and counted. What YaNFD sends on a peer's
// face goes out as one datagram per packet (the IP layer fragments those
// above the path MTU), written by the face's drain goroutine.
type udpGuard struct {
	e      *embeddedFw
	log    *slog.Logger
	conn   *net.UDPConn
	listen bool // accept new peers (else only link targets are heard)
	opts   validateOpts

	mu     sync.Mutex
	peers  map[netip.AddrPort]*udpPeer
	closed bool

	cnt  guardCounters
	wg   sync.WaitGroup
	done chan struct{}
}

type guardCounters struct {
	in, out, malformed, unknown, full, dropped atomic.Uint64
}

// Guard limits.
const (
	maxUDPPeers     = 256             // faces made for network peers
	udpPeerIdle     = 5 * time.Minute // an accepted peer silent this long loses its face
	maxFragments    = 64              // of one packet
	maxPartials     = 16              // packets being reassembled, per peer
	partialLifetime = time.Second     // to receive all fragments of one packet
	udpRecvBuf      = defn.MaxNDNPacketSize + 1
)

// udpPeer is one remote UDP endpoint and its face in YaNFD. It owns its
// link (linkOwner) from its making until it is dropped.
type udpPeer struct {
	g         *udpGuard
	addr      netip.AddrPort
	link      *inprocLink
	slot      *ownerSlot
	permanent bool // a link target: never expires (guard.mu)
	refs      int  // Conns holding it as a link (guard.mu)
	lastIn    atomic.Int64
	reasm     reassembler // receive goroutine only
	cnt       udpFaceCounters
}

// udpFaceCounters are one peer's traffic: NDN packets (whole, after
// reassembly) and datagram bytes, each way.
type udpFaceCounters struct {
	packetsIn, packetsOut, bytesIn, bytesOut atomic.Uint64
}

// udpFaceStats is a snapshot of udpFaceCounters.
type udpFaceStats struct {
	PacketsIn  uint64 `json:"packets_in"`
	PacketsOut uint64 `json:"packets_out"`
	BytesIn    uint64 `json:"bytes_in"`
	BytesOut   uint64 `json:"bytes_out"`
}

// deliver implements linkOwner: what YaNFD sends to the peer goes out as
// one datagram (on the link's drain goroutine).
func (p *udpPeer) deliver(lp *spec.LpPacket) {
	frame := linkFrame(lp)
	if len(frame) == 0 {
		return
	}
	if _, err := p.g.conn.WriteToUDPAddrPort(frame, p.addr); err != nil {
		p.g.cnt.dropped.Add(1)
		return
	}
	p.g.cnt.out.Add(1)
	p.cnt.packetsOut.Add(1)
	p.cnt.bytesOut.Add(uint64(len(frame)))
}

// undecodable implements linkOwner.
func (p *udpPeer) undecodable(err error) {
	p.g.cnt.dropped.Add(1)
	p.g.log.Warn("embedded forwarder: undecodable packet for a UDP peer", "peer", p.addr.String(), "err", err)
}

// newUDPGuard binds port (0: an ephemeral one) and starts serving it. With
// listen it gives a face to any new peer that sends a valid packet, else it
// hears only its link targets (outgoing links).
func newUDPGuard(e *embeddedFw, port int, listen bool, log *slog.Logger) (*udpGuard, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{Port: port})
	if err != nil {
		return nil, fmt.Errorf("embedded forwarder: udp port %d: %w", port, err)
	}
	g := &udpGuard{
		e: e, log: log, conn: conn, listen: listen,
		opts:  validateOpts{forForwarder: true, fwThreads: e.fwThreads, fromNetwork: true},
		peers: map[netip.AddrPort]*udpPeer{},
		done:  make(chan struct{}),
	}
	g.wg.Add(2)
	go g.receive()
	go g.expire()
	return g, nil
}

// Port returns the bound UDP port.
func (g *udpGuard) Port() int { return g.conn.LocalAddr().(*net.UDPAddr).Port }

// link returns the face of the link target addr, making it if needed,
// whether it existed already, and a function that lets the link go: the
// last one closes the peer's face.
func (g *udpGuard) link(addr netip.AddrPort) (uint64, bool, func(), error) {
	p, existed, err := g.peer(unmap(addr), true, false)
	if err != nil {
		return 0, false, nil, err
	}
	var once sync.Once
	return p.link.faceID(), existed, func() { once.Do(func() { g.unlink(p) }) }, nil
}

// unlink drops one hold on p as a link target.
func (g *udpGuard) unlink(p *udpPeer) {
	g.mu.Lock()
	p.refs--
	last := p.refs <= 0
	if last {
		p.permanent = false
	}
	g.mu.Unlock()
	if last {
		g.drop(p)
	}
}

// peer finds the peer of addr (existed), or makes it when permanent (a
// link target) or when accept is true and the guard accepts new peers. It
// returns a nil peer and no error for a source the guard does not hear.
func (g *udpGuard) peer(addr netip.AddrPort, permanent, accept bool) (p *udpPeer, existed bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, false, ErrClosed
	}
	if p := g.peers[addr]; p != nil {
		if permanent {
			p.permanent = true
			p.refs++
		}
		return p, true, nil
	}
	if !permanent && !(accept && g.listen) {
		return nil, false, nil
	}
	if len(g.peers) >= maxUDPPeers {
		g.cnt.full.Add(1)
		return nil, false, fmt.Errorf("embedded forwarder: %d UDP peers already", maxUDPPeers)
	}
	local := netip.IPv4Unspecified()
	if addr.Addr().Is6() {
		local = netip.IPv6Unspecified()
	}
	p = &udpPeer{g: g, addr: addr, permanent: permanent,
		link: g.e.netLink(udpURI(addr), udpURI(netip.AddrPortFrom(local, uint16(g.Port()))))}
	p.slot = &ownerSlot{o: p}
	p.link.owner.Store(p.slot)
	if permanent {
		p.refs = 1
	}
	p.lastIn.Store(time.Now().UnixNano())
	g.peers[addr] = p
	g.log.Info("embedded forwarder: UDP peer", "peer", addr.String(), "face", p.link.faceID(), "link", permanent)
	return p, false, nil
}

// receive reads datagrams until the socket closes.
func (g *udpGuard) receive() {
	defer g.wg.Done()
	buf := make([]byte, udpRecvBuf)
	for {
		n, addr, err := g.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				g.log.Warn("embedded forwarder: UDP read", "err", err)
			}
			return
		}
		g.datagram(unmap(addr), buf[:n])
	}
}

// datagram handles one datagram from addr. A panic is recovered
// (guard.go): the datagram is dropped.
func (g *udpGuard) datagram(addr netip.AddrPort, d []byte) {
	defer g.e.framePanics.recoverFrame(g.log, "UDP guard", d)
	p, _, _ := g.peer(addr, false, false)
	if p == nil {
		if p = g.newcomer(addr, d); p == nil {
			return
		}
	}
	p.lastIn.Store(time.Now().UnixNano())
	g.handle(p, d)
}

// newcomer decides on a datagram from an unknown source: a face is made
// for it only if the guard accepts peers and the datagram is a whole,
// valid packet (so garbage from many source ports costs no face).
func (g *udpGuard) newcomer(addr netip.AddrPort, d []byte) *udpPeer {
	if !g.listen {
		g.cnt.unknown.Add(1)
		return nil
	}
	if err := validatePacket(d, g.opts); err != nil {
		g.cnt.malformed.Add(1)
		g.logBad(addr, d, err)
		return nil
	}
	p, _, err := g.peer(addr, false, true)
	if err != nil {
		g.log.Debug("embedded forwarder: UDP peer refused", "peer", addr.String(), "err", err)
	}
	return p
}

// logBad logs a dropped datagram, rate-limited.
func (g *udpGuard) logBad(addr netip.AddrPort, d []byte, err error) {
	if ok, more := g.e.badLog.Allow(); ok {
		g.log.Warn("embedded forwarder: dropped a datagram from the network", "peer", addr.String(),
			"err", err, "frame", frameSummary(d), "suppressed_before", more, "total", g.cnt.malformed.Load())
	}
}

// handle checks one datagram of p and hands the packet it completes, if
// any, to p's face.
func (g *udpGuard) handle(p *udpPeer, d []byte) {
	p.cnt.bytesIn.Add(uint64(len(d)))
	pkt, err := p.reasm.add(d, time.Now())
	if err == nil && pkt != nil {
		err = validatePacket(pkt, g.opts)
	}
	if err != nil {
		g.cnt.malformed.Add(1)
		g.logBad(p.addr, d, err)
		return
	}
	if pkt == nil {
		return // a fragment: more to come
	}
	err = p.link.sendAs(p.slot, enc.Wire{pkt})
	if errors.Is(err, errDisowned) {
		g.cnt.dropped.Add(1) // p was dropped meanwhile: its link may be another's
		return
	}
	if err != nil {
		g.cnt.malformed.Add(1)
		g.logBad(p.addr, d, err)
		return
	}
	g.cnt.in.Add(1)
	p.cnt.packetsIn.Add(1)
}

// drop forgets p and gives its link back: it loses its routes, as a face
// that went down would, and is pooled for the next peer or link.
func (g *udpGuard) drop(p *udpPeer) {
	g.mu.Lock()
	if g.peers[p.addr] == p {
		delete(g.peers, p.addr)
	}
	g.mu.Unlock()
	if p.link.disown(p.slot) { // once, whoever drops p first
		g.e.returnNetLink(p.link)
	}
}

// expire closes the faces of accepted peers that went silent.
func (g *udpGuard) expire() {
	defer g.wg.Done()
	t := time.NewTicker(udpPeerIdle / 10)
	defer t.Stop()
	for {
		select {
		case <-g.done:
			return
		case now := <-t.C:
			g.mu.Lock()
			var idle []*udpPeer
			for _, p := range g.peers {
				if !p.permanent && now.Sub(time.Unix(0, p.lastIn.Load())) > udpPeerIdle {
					idle = append(idle, p)
				}
			}
			g.mu.Unlock()
			for _, p := range idle {
				g.log.Info("embedded forwarder: UDP peer idle; face closed", "peer", p.addr.String())
				g.drop(p)
			}
		}
	}
}

// close stops the guard and closes every peer's face.
func (g *udpGuard) close() {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	peers := make([]*udpPeer, 0, len(g.peers))
	for _, p := range g.peers {
		peers = append(peers, p)
	}
	g.mu.Unlock()
	close(g.done)
	g.conn.Close()
	for _, p := range peers {
		g.drop(p)
	}
	g.wg.Wait()
}

// unmap makes IPv4-mapped IPv6 addresses plain IPv4, so that a peer has one
// key whichever way its address was written.
func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// reassembler rebuilds packets sent as NDNLPv2 fragments (LpPacket with
// Sequence, FragIndex, FragCount). A datagram that is not a fragment is
// returned as it is.
type reassembler struct {
	parts map[uint64]*partial // by the sequence number of fragment 0
}

type partial struct {
	frags   [][]byte // fragment payloads by index
	headers []byte   // fragment 0's other LP fields
	have    int
	size    int
	started time.Time
}

// add takes one datagram. It returns the whole packet when d completes one
// (or is not a fragment), nil while fragments are missing, or an error.
func (r *reassembler) add(d []byte, now time.Time) ([]byte, error) {
	typ, val, err := onlyTLV(d, errTrailing)
	if err != nil {
		return nil, err
	}
	if typ != tLpPacket {
		return d, nil
	}
	var seq, index, count uint64 = 0, 0, 1
	hasSeq := false
	var frag []byte
	err = walkSeq(val, func(t uint64, v []byte) error {
		switch t {
		case tLpSequence:
			hasSeq = true
			return readNat(v, &seq)
		case tLpFragIndex:
			return readNat(v, &index)
		case tLpFragCount:
			return readNat(v, &count)
		case tLpFragment:
			frag = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if count == 1 && index == 0 {
		return d, nil // whole: validatePacket checks the rest
	}
	if !hasSeq || count == 0 || count > maxFragments || index >= count || frag == nil {
		return nil, errFragmentation
	}
	r.gc(now)
	base := seq - index
	p := r.parts[base]
	if p == nil {
		if len(r.parts) >= maxPartials {
			return nil, errReassembly
		}
		if r.parts == nil {
			r.parts = map[uint64]*partial{}
		}
		p = &partial{frags: make([][]byte, count), started: now}
		r.parts[base] = p
	}
	if len(p.frags) != int(count) {
		delete(r.parts, base)
		return nil, errFragmentation
	}
	if p.frags[index] != nil {
		return nil, nil // a duplicate
	}
	p.size += len(frag)
	if p.size > defn.MaxNDNPacketSize {
		delete(r.parts, base)
		return nil, errReassembly
	}
	p.frags[index] = append([]byte(nil), frag...)
	if index == 0 {
		p.headers = lpHeaders(val)
	}
	p.have++
	if p.have < int(count) {
		return nil, nil
	}
	delete(r.parts, base)
	// LpPacket{fragment 0's other fields, Fragment{all payloads}}
	return appendTLVs(tLpPacket, p.headers, appendTLVs(tLpFragment, p.frags...)), nil
}

// gc forgets packets whose fragments did not all come in time.
func (r *reassembler) gc(now time.Time) {
	for k, p := range r.parts {
		if now.Sub(p.started) > partialLifetime {
			delete(r.parts, k)
		}
	}
}

// lpHeaders returns the LP fields of an LpPacket value other than the
// fragmentation fields and the fragment, as they are (in order).
func lpHeaders(v []byte) []byte {
	var out []byte
	for len(v) > 0 {
		typ, _, rest, err := nextTLV(v)
		if err != nil {
			return out
		}
		switch typ {
		case tLpSequence, tLpFragIndex, tLpFragCount, tLpFragment:
		default:
			out = append(out, v[:len(v)-len(rest)]...)
		}
		v = rest
	}
	return out
}

const (
	errFragmentation malformedErr = "bad NDNLPv2 fragmentation fields"
	errReassembly    malformedErr = "too many or too large packets in reassembly"
)

// appendTL appends a one-byte TLV-TYPE and the VAR-NUMBER length n.
func appendTL(b []byte, typ byte, n int) []byte {
	b = append(b, typ)
	switch {
	case n < 253:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 253, byte(n>>8), byte(n))
	default:
		return append(b, 254, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// guardStats is what the guard counted.
type guardStats struct {
	Port      int    `json:"port" metric:"-"`
	Peers     int    `json:"peers"`
	In        uint64 `json:"in"`
	Out       uint64 `json:"out"`
	Malformed uint64 `json:"malformed"`
	Unknown   uint64 `json:"unknown_source"`
	Full      uint64 `json:"refused_peers"`
	Dropped   uint64 `json:"dropped"`
	// Faces: each peer's traffic, by address (host:port).
	Faces map[string]udpFaceStats `json:"faces" metric:"face,label=peer"`
}

func (g *udpGuard) stats() guardStats {
	g.mu.Lock()
	n := len(g.peers)
	faces := make(map[string]udpFaceStats, n)
	for a, p := range g.peers {
		faces[a.String()] = udpFaceStats{PacketsIn: p.cnt.packetsIn.Load(), PacketsOut: p.cnt.packetsOut.Load(),
			BytesIn: p.cnt.bytesIn.Load(), BytesOut: p.cnt.bytesOut.Load()}
	}
	g.mu.Unlock()
	return guardStats{Port: g.Port(), Peers: n, Faces: faces, In: g.cnt.in.Load(), Out: g.cnt.out.Load(),
		Malformed: g.cnt.malformed.Load(), Unknown: g.cnt.unknown.Load(), Full: g.cnt.full.Load(),
		Dropped: g.cnt.dropped.Load()}
}
