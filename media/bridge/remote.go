package bridge

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/peets/peets/media/codec"
	"github.com/peets/peets/proto"
)

// maxNACKSeqs bounds the packets retransmitted for one NACK.
const maxNACKSeqs = 128

// RemoteInfo describes a remote participant's stream, as the roster
// announces it.
type RemoteInfo struct {
	// Participant is the publisher's user id: the page groups the
	// streams of one participant in one tile.
	Participant string
	// Stream is the stream id, e.g. "cam" or "mic".
	Stream string
	// MimeType is the publisher's codec, e.g. "video/VP8"; it must be one
	// of the API's codecs.
	MimeType string
	// ClockRate is the RTP clock rate; 0 takes the codec's.
	ClockRate uint32
}

// RemoteTrack sends one remote stream to the page. Write its packets with
// WriteRTP; remove it with Session.RemoveRemote.
type RemoteTrack struct {
	s      *Session
	id     string
	info   RemoteInfo
	codec  webrtc.RTPCodecParameters
	slot   atomic.Pointer[slot]
	closed atomic.Bool
}

// ID returns the id the track was added with.
func (rt *RemoteTrack) ID() string { return rt.id }

// Info returns the stream's description.
func (rt *RemoteTrack) Info() RemoteInfo { return rt.info }

// WriteRTP sends one RTP packet of the remote stream to the page. The
// bridge rewrites SSRC and payload type to the negotiated ones, keeps
// sequence numbers and timestamps continuous across publisher restarts,
// and strips header extensions (their ids belong to another page's
// negotiation). Packets written before the track is negotiated are dropped.
// pkt is not kept. Safe for concurrent use.
func (rt *RemoteTrack) WriteRTP(pkt []byte) error {
	if rt.closed.Load() {
		return ErrClosed
	}
	sl := rt.slot.Load()
	if sl == nil {
		rt.s.st.remoteDropped.Add(1)
		return nil
	}
	var p rtp.Packet
	if err := p.Unmarshal(pkt); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPacket, err)
	}
	return sl.write(rt, &p, false)
}

// slot is one sendonly m-line of the page's connection. It carries one
// remote stream at a time; when that stream goes away the slot is parked
// and the next stream of the same codec reuses it without renegotiation
// (the page learns the new owner from a tracks message). Its output
// numbering continues across owners.
type slot struct {
	id                string
	key               string // codec identity: streams of one key share slots
	kind              webrtc.RTPCodecType
	streamID, trackID string
	local             *bindHook
	tr                *webrtc.RTPTransceiver
	s                 *Session

	mu sync.Mutex // guards rt, w and writes to local
	rt *RemoteTrack
	w  rewriter
}

// write rewrites and sends p for rt, if rt still owns the slot.
func (sl *slot) write(rt *RemoteTrack, p *rtp.Packet, retransmit bool) error {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.rt != rt {
		return nil
	}
	if retransmit {
		if !sl.w.mapRetransmit(p) {
			return nil
		}
	} else if !sl.w.rewrite(p, time.Now()) {
		sl.s.st.remoteDropped.Add(1)
		return nil
	}
	p.Header.Extension = false
	p.Header.ExtensionProfile = 0
	p.Header.Extensions = nil
	if err := sl.local.WriteRTP(p); err != nil {
		return err
	}
	sl.s.st.remotePackets.Add(1)
	sl.s.st.remoteBytes.Add(uint64(len(p.Payload)))
	if retransmit {
		sl.s.st.retransmits.Add(1)
	}
	return nil
}

// bindHook is the slot's TrackLocal: a TrackLocalStaticRTP that reports
// when negotiation binds it (the page can receive from then on, so it needs
// a keyframe).
type bindHook struct {
	*webrtc.TrackLocalStaticRTP
	onBind func()
}

// Bind implements webrtc.TrackLocal.
func (b *bindHook) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	c, err := b.TrackLocalStaticRTP.Bind(ctx)
	if err == nil && b.onBind != nil {
		b.onBind()
	}
	return c, err
}

// rewriter maps a slot's successive sources onto one continuous output
// sequence: a new source (new owner, new SSRC or a jump in sequence
// numbers) continues right after the last packet sent, its timestamps
// advanced by the wall-clock time elapsed, and (VP8, VP9) its picture IDs
// and TL0PICIDX right after the last ones sent: a simulcast layer switch
// is a new source, and the page's decoder orders frames and finds their
// references by that numbering.
type rewriter struct {
	clockRate uint32
	mime      string
	started   bool // a packet was sent
	fresh     bool // the next packet starts a new source
	earlier   bool // the current source is not the first: output numbers before srcStart are another's
	srcSSRC   uint32
	srcStart  uint16 // output seq of the current source's first packet
	seqOff    uint16
	tsOff     uint32
	lastSeq   uint16 // highest output seq
	lastTS    uint32
	lastAt    time.Time

	// picture numbering (VP8, VP9)
	numbered bool // a numbered packet was sent
	numFresh bool // the current source's numbering offsets are not set yet
	pidOff   uint16
	tl0Off   uint8
	lastPID  uint16 // newest output picture ID
	lastTL0  uint8
	pidBits  uint8
	buf      []byte // the rewritten payload
}

// maxSeqJump is how far a source's sequence numbers may jump before the
// rewriter treats it as a restart.
const maxSeqJump = 3000

// rewrite maps p onto the output; false: drop it (a late packet of the
// current source that would take an output number sent for an earlier
// source).
func (w *rewriter) rewrite(p *rtp.Packet, now time.Time) bool {
	if w.started && !w.fresh && p.SSRC == w.srcSSRC {
		// Same source, unless its numbering jumped (a restart).
		if diff := p.SequenceNumber + w.seqOff - w.lastSeq; diff < maxSeqJump || diff > 65535-maxSeqJump {
			if !w.ours(p.SequenceNumber + w.seqOff) {
				return false
			}
			w.apply(p, now)
			return true
		}
	}
	// A new source.
	if w.started {
		w.seqOff = w.lastSeq + 1 - p.SequenceNumber
		ticks := uint32(now.Sub(w.lastAt).Seconds() * float64(w.clockRate))
		if ticks == 0 {
			ticks = 1
		}
		w.tsOff = w.lastTS + ticks - p.Timestamp
		w.earlier = true
	} else {
		w.seqOff, w.tsOff = 0, 0
		w.lastSeq = p.SequenceNumber - 1
	}
	w.srcSSRC = p.SSRC
	w.srcStart = p.SequenceNumber + w.seqOff
	w.fresh = false
	w.numFresh = true
	w.started = true
	w.apply(p, now)
	return true
}

// ours reports whether output number out belongs to the current source:
// not before its first packet when an earlier source sent the numbers
// below.
func (w *rewriter) ours(out uint16) bool {
	return !w.earlier || out-w.srcStart < 32768
}

func (w *rewriter) apply(p *rtp.Packet, now time.Time) {
	p.SequenceNumber += w.seqOff
	p.Timestamp += w.tsOff
	if d := p.SequenceNumber - w.lastSeq; d != 0 && d < 32768 {
		w.lastSeq = p.SequenceNumber
		w.lastTS = p.Timestamp
		w.lastAt = now
	}
	w.renumber(p, true)
}

// renumber rewrites p's picture ID and TL0PICIDX (VP8, VP9): the first
// numbered packet of a source after another continues the numbering, so
// that its keyframe is the picture right after the last one sent; newer
// moves the newest numbers sent on.
func (w *rewriter) renumber(p *rtp.Packet, newer bool) {
	n, ok := codec.ParseNumbering(w.mime, p.Payload)
	if !ok || n.PIDBits == 0 {
		return
	}
	if w.numFresh {
		w.numFresh = false
		if w.numbered {
			w.pidOff = w.lastPID + 1 - n.PID
			w.tl0Off = w.lastTL0 + 1 - n.TL0
		} else {
			w.pidOff, w.tl0Off = 0, 0
		}
	}
	pid, tl0 := (n.PID+w.pidOff)&(1<<n.PIDBits-1), n.TL0+w.tl0Off
	// The payload is the caller's (a fetcher's buffer, shared by every
	// page): the rewrite goes to the slot's own copy, which the track's
	// WriteRTP has sent before the next packet comes (under the slot's
	// lock).
	w.buf = append(w.buf[:0], p.Payload...)
	p.Payload = w.buf
	n.Rewrite(p.Payload, pid, tl0)
	if !newer {
		return
	}
	if !w.numbered || w.pidBits != n.PIDBits || codec.PIDAhead(pid, w.lastPID, n.PIDBits) {
		w.lastPID, w.pidBits = pid, n.PIDBits
	}
	if n.HasTL0 && (!w.numbered || int8(tl0-w.lastTL0) > 0) {
		w.lastTL0 = tl0
	}
	w.numbered = true
}

// sourceSeq maps an output sequence number back to the current source's;
// false if that number was sent for an earlier source.
func (w *rewriter) sourceSeq(out uint16) (uint16, bool) {
	return out - w.seqOff, w.started && w.ours(out)
}

// mapRetransmit rewrites a retransmitted packet of the current source;
// false if it is not from that source. A retransmission may be the newest
// packet sent (the original was lost before the bridge): the output state
// then moves, or a later source would reuse its sequence number.
func (w *rewriter) mapRetransmit(p *rtp.Packet) bool {
	if !w.started || w.fresh || p.SSRC != w.srcSSRC || !w.ours(p.SequenceNumber+w.seqOff) {
		return false
	}
	p.SequenceNumber += w.seqOff
	p.Timestamp += w.tsOff
	newer := false
	if d := p.SequenceNumber - w.lastSeq; d != 0 && d < 32768 {
		w.lastSeq = p.SequenceNumber
		w.lastTS = p.Timestamp
		newer = true
	}
	w.renumber(p, newer)
	return true
}

// AddRemote starts sending a remote stream to the page, under a unique id
// (the lead's convention: "<participant>/<stream>"). It returns at once;
// the track is negotiated in the background (packets written before that
// are dropped) and OnRemoteKeyframeRequest(id) is called when the page can
// receive it.
func (s *Session) AddRemote(id string, info RemoteInfo) (*RemoteTrack, error) {
	if s.cfg.Role == proto.RoleBroadcaster {
		return nil, ErrRoleNoReceive
	}
	if id == "" || info.Participant == "" {
		return nil, fmt.Errorf("%w: remote id and participant are required", ErrConfig)
	}
	c, ok := s.cfg.API.codec(info.MimeType, info.ClockRate)
	if !ok {
		return nil, fmt.Errorf("%w: %s/%d", ErrUnsupportedCodec, info.MimeType, info.ClockRate)
	}
	rt := &RemoteTrack{s: s, id: id, info: info, codec: c}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if _, dup := s.remotes[id]; dup {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrDuplicateRemote, id)
	}
	s.remotes[id] = rt
	s.mu.Unlock()
	s.post(func() { s.assign(rt) })
	return rt, nil
}

// RemoveRemote stops sending a remote stream. Its m-line is parked for
// reuse; no renegotiation is needed.
func (s *Session) RemoveRemote(id string) error {
	s.mu.Lock()
	rt, ok := s.remotes[id]
	delete(s.remotes, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownRemote, id)
	}
	rt.closed.Store(true)
	if sl := rt.slot.Load(); sl != nil {
		sl.release(rt)
	}
	s.post(s.tracksChanged)
	return nil
}

// Remote returns the remote track added under id, or nil.
func (s *Session) Remote(id string) *RemoteTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.remotes[id]
}

func (sl *slot) release(rt *RemoteTrack) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.rt == rt {
		sl.rt = nil
		sl.w.fresh = true
	}
}

func codecKey(c webrtc.RTPCodecParameters) string {
	return fmt.Sprintf("%s/%d/%d/%s", strings.ToLower(c.MimeType), c.ClockRate, c.Channels, c.SDPFmtpLine)
}

// assign gives rt a parked slot of its codec, or a new m-line (which needs
// an offer). Runs on the session goroutine.
func (s *Session) assign(rt *RemoteTrack) {
	if rt.closed.Load() {
		return
	}
	key := codecKey(rt.codec)
	s.mu.Lock()
	var sl *slot
	for _, x := range s.slots {
		if x.key != key {
			continue
		}
		x.mu.Lock()
		if x.rt == nil {
			x.rt = rt
			x.w.fresh = true
			sl = x
		}
		x.mu.Unlock()
		if sl != nil {
			break
		}
	}
	s.mu.Unlock()
	if sl != nil {
		s.bindRemote(sl, rt)
		if rt.slot.Load() == sl {
			s.log.Debug("remote reuses m-line", "remote", rt.id, "slot", sl.id, "mid", sl.tr.Mid())
			s.tracksChanged()
			if s.negotiated && s.connected.Load() {
				s.remoteKeyframe(rt)
			}
		}
		return
	}

	s.mu.Lock()
	s.nextSlot++
	n := s.nextSlot
	s.mu.Unlock()
	sl = &slot{
		id:   fmt.Sprintf("s%d", n),
		key:  key,
		kind: codecKind(rt.codec.MimeType),
		s:    s,
		w:    rewriter{clockRate: rt.codec.ClockRate, mime: rt.codec.MimeType},
	}
	sl.streamID = "peets-" + sl.id
	sl.trackID = sl.streamID + "-" + kindName(sl.kind)
	track, err := webrtc.NewTrackLocalStaticRTP(rt.codec.RTPCodecCapability, sl.trackID, sl.streamID)
	if err != nil {
		s.log.Error("new track", "remote", rt.id, "err", err)
		return
	}
	sl.local = &bindHook{TrackLocalStaticRTP: track, onBind: func() { s.post(func() { s.slotBound(sl) }) }}
	tr, err := s.pc.AddTransceiverFromTrack(sl.local, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Error("add transceiver", "remote", rt.id, "err", err)
		}
		return
	}
	sl.tr = tr
	sl.rt = rt
	s.mu.Lock()
	s.slots = append(s.slots, sl)
	s.mu.Unlock()
	s.bindRemote(sl, rt)
	s.wg.Add(1)
	go s.readSenderRTCP(sl, tr.Sender())
	s.needOffer = true
}

// bindRemote publishes rt's slot, unless rt was removed meanwhile (then
// the slot is parked again). See RemoveRemote for the other half.
func (s *Session) bindRemote(sl *slot, rt *RemoteTrack) {
	rt.slot.Store(sl)
	if rt.closed.Load() {
		sl.release(rt)
	}
}

// slotBound runs when negotiation bound a slot's track: the page can
// decode the remote stream from its next keyframe, so one is asked for,
// unless the transport is not up yet (keyframesOnConnect asks then).
func (s *Session) slotBound(sl *slot) {
	sl.mu.Lock()
	rt := sl.rt
	sl.mu.Unlock()
	if rt != nil && s.connected.Load() {
		s.remoteKeyframe(rt)
	}
}

// keyframesOnConnect asks for a keyframe of every remote stream on a slot
// when the page's transport first connects. A keyframe that arrived while
// the DTLS handshake was running was dropped (pion drops RTP written
// before SRTP is up), and the page would otherwise wait for its own PLI,
// which the publisher may suppress as too soon after the first request:
// joins then took ~0.9 s instead of ~0.35 s (bench call join timelines).
func (s *Session) keyframesOnConnect() {
	s.mu.Lock()
	slots := append([]*slot(nil), s.slots...)
	s.mu.Unlock()
	for _, sl := range slots {
		sl.mu.Lock()
		rt := sl.rt
		sl.mu.Unlock()
		if rt != nil && rt.slot.Load() == sl {
			s.remoteKeyframe(rt)
		}
	}
}

func (s *Session) remoteKeyframe(rt *RemoteTrack) {
	s.st.keyframeRequests.Add(1)
	if s.cfg.OnRemoteKeyframeRequest != nil {
		s.cfg.OnRemoteKeyframeRequest(rt.id)
	}
}

// readSenderRTCP reads the page's RTCP about one m-line: PLI and FIR
// become keyframe requests, NACKs are answered from LookupRemote.
func (s *Session) readSenderRTCP(sl *slot, sender *webrtc.RTPSender) {
	defer s.wg.Done()
	for {
		pkts, _, err := sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				s.st.plisFromPage.Add(1)
				sl.mu.Lock()
				rt := sl.rt
				sl.mu.Unlock()
				if rt != nil {
					s.log.Debug("page asks for a keyframe", "remote", rt.id)
					s.remoteKeyframe(rt)
				}
			case *rtcp.TransportLayerNack:
				s.answerNACK(sl, p)
			}
		}
	}
}

func (s *Session) answerNACK(sl *slot, n *rtcp.TransportLayerNack) {
	s.st.nacks.Add(1)
	var seqs []uint16
	for _, pair := range n.Nacks {
		for _, seq := range pair.PacketList() {
			if len(seqs) < maxNACKSeqs {
				seqs = append(seqs, seq)
			}
		}
	}
	sl.mu.Lock()
	rt := sl.rt
	src := make([]uint16, 0, len(seqs))
	for _, seq := range seqs {
		if x, ok := sl.w.sourceSeq(seq); ok {
			src = append(src, x)
		} else {
			s.st.retransmitMisses.Add(1) // sent for an earlier source
		}
	}
	sl.mu.Unlock()
	if rt == nil || s.cfg.LookupRemote == nil {
		s.st.retransmitMisses.Add(uint64(len(seqs)))
		return
	}
	for _, seq := range src {
		raw := s.cfg.LookupRemote(rt.id, seq)
		if raw == nil {
			s.st.retransmitMisses.Add(1)
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(raw); err != nil || p.SequenceNumber != seq {
			s.st.retransmitMisses.Add(1)
			continue
		}
		if err := sl.write(rt, &p, true); err != nil {
			return
		}
	}
}
