package bridge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/pion/sdp/v3"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/peets/peets/media/codec"
	"github.com/peets/peets/proto"
)

// Stream ids given to the page's streams: the first video is "cam", the
// first audio "mic", further ones "cam-2", "mic-2"...
const (
	StreamCam = "cam"
	StreamMic = "mic"
)

// readBufSize holds any RTP packet pion delivers (its receive MTU is 1460).
const readBufSize = 1600

// LocalStream describes a stream the page sends.
type LocalStream struct {
	ID          string `json:"id"`   // "cam", "mic", "cam-2"...
	Kind        string `json:"kind"` // "audio" or "video"
	Mid         string `json:"mid"`
	SSRC        uint32 `json:"ssrc"`
	MimeType    string `json:"mime_type"`
	ClockRate   uint32 `json:"clock_rate"`
	Channels    uint16 `json:"channels,omitempty"`
	SDPFmtpLine string `json:"fmtp,omitempty"`
	PayloadType uint8  `json:"payload_type"`
	// A simulcast layer: the page sends the m-line's track as several
	// encodings, each its own stream "<Group>.<RID>" (e.g. cam.h).
	Group string `json:"group,omitempty"`
	RID   string `json:"rid,omitempty"`
	// AbsSendTime is the id of the RTP header extension that carries the
	// page's send time in this stream's packets (0: none negotiated):
	// subscribers measure queueing delay with it.
	AbsSendTime uint8 `json:"abs_send_time,omitempty"`
	// AudioLevel is the id of the RTP header extension that carries the
	// audio level (RFC 6464) in an audio stream's packets, 0 if none.
	AudioLevel uint8 `json:"audio_level,omitempty"`
}

type localStream struct {
	LocalStream
	lastPLI time.Time // guarded by Session.mu
}

// LocalStreams returns the streams the page sends, sorted by id.
func (s *Session) LocalStreams() []LocalStream {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LocalStream, 0, len(s.locals))
	for _, l := range s.locals {
		out = append(out, l.LocalStream)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RequestLocalKeyframe asks the page for a keyframe of one of its streams
// (a PLI on its SSRC): a remote subscriber needs one. Requests closer than
// MinPLIInterval are merged. Audio streams need none and are ignored.
func (s *Session) RequestLocalKeyframe(stream string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	l, ok := s.locals[stream]
	if !ok {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownStream, stream)
	}
	now := time.Now()
	if l.Kind != proto.KindVideo || now.Sub(l.lastPLI) < s.cfg.MinPLIInterval {
		s.mu.Unlock()
		return nil
	}
	l.lastPLI = now
	ssrc := l.SSRC
	s.mu.Unlock()
	s.st.plisToPage.Add(1)
	return s.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
}

// onTrack starts reading a stream of the page (pion's OnTrack).
func (s *Session) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	if s.cfg.Role == proto.RoleViewer {
		s.log.Warn("viewer page sends media: ignored", "kind", track.Kind().String())
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.closed {
			s.wg.Add(2)
			go s.drainTrack(track)
			go s.drainRTCP(receiver, track.RID())
		}
		return
	}
	mid := ""
	for _, t := range s.pc.GetTransceivers() {
		if t.Receiver() == receiver {
			mid = t.Mid()
			break
		}
	}
	c := track.Codec()
	kind := kindName(track.Kind())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	id := s.streamNameLocked(mid, kind)
	ls := LocalStream{
		ID: id, Kind: kind, Mid: mid, SSRC: uint32(track.SSRC()),
		MimeType: c.MimeType, ClockRate: c.ClockRate, Channels: c.Channels,
		SDPFmtpLine: c.SDPFmtpLine, PayloadType: uint8(c.PayloadType),
	}
	for _, e := range receiver.GetParameters().HeaderExtensions {
		if e.URI == sdp.ABSSendTimeURI && e.ID > 0 && e.ID < 15 {
			ls.AbsSendTime = uint8(e.ID)
		}
		if e.URI == sdp.AudioLevelURI && e.ID > 0 && e.ID < 15 && kind == proto.KindAudio {
			ls.AudioLevel = uint8(e.ID)
		}
	}
	if rid := track.RID(); rid != "" && kind == proto.KindVideo {
		if !validRID(rid) {
			s.mu.Unlock()
			s.log.Warn("page stream with a bad rid: ignored", "rid", rid, "mid", mid)
			s.wg.Add(2)
			go s.drainTrack(track)
			go s.drainRTCP(receiver, rid)
			return
		}
		ls.Group, ls.RID = id, rid
		ls.ID = proto.LayerID(id, rid)
		id = ls.ID
	}
	s.locals[id] = &localStream{LocalStream: ls}
	s.wg.Add(2)
	s.mu.Unlock()
	s.log.Info("page stream", "stream", id, "codec", c.MimeType, "ssrc", ls.SSRC, "mid", mid)
	if s.cfg.OnLocalStream != nil {
		s.cfg.OnLocalStream(ls)
	}
	go s.readLocal(track, ls)
	go s.drainRTCP(receiver, track.RID())
}

// validRID: the ids of a page's simulcast encodings become parts of stream
// ids (proto.LayerID).
func validRID(rid string) bool {
	if len(rid) == 0 || len(rid) > 16 {
		return false
	}
	for _, c := range rid {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// streamNameLocked names the page's stream on m-line mid; a renegotiated
// m-line keeps its name.
func (s *Session) streamNameLocked(mid, kind string) string {
	if name, ok := s.midNames[mid]; ok && mid != "" {
		return name
	}
	base := StreamCam
	if kind == proto.KindAudio {
		base = StreamMic
	}
	s.kinds[kind]++
	name := base
	if n := s.kinds[kind]; n > 1 {
		name = fmt.Sprintf("%s-%d", base, n)
	}
	if mid != "" {
		s.midNames[mid] = name
	}
	return name
}

// readLocal hands every packet of a page stream to OnLocalRTP.
func (s *Session) readLocal(track *webrtc.TrackRemote, ls LocalStream) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		if l, ok := s.locals[ls.ID]; ok && l.SSRC == ls.SSRC {
			delete(s.locals, ls.ID)
		}
		s.mu.Unlock()
		if s.cfg.OnLocalStreamEnd != nil {
			s.cfg.OnLocalStreamEnd(ls)
		}
	}()
	buf := make([]byte, readBufSize)
	var gaps gapCloser
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			if !errors.Is(err, io.EOF) && s.ctx.Err() == nil {
				s.log.Debug("read page stream", "stream", ls.ID, "err", err)
			}
			return
		}
		pkt := buf[:n]
		var h rtp.Header
		hl, err := h.Unmarshal(pkt)
		if err != nil {
			s.st.localBad.Add(1)
			continue
		}
		end := n
		if h.Padding && n > hl {
			end -= int(pkt[n-1])
		}
		if end <= hl {
			// A padding-only probe: not media, not published.
			s.st.localPadding.Add(1)
			s.st.localPaddingBytes.Add(uint64(n))
			gaps.drop(h.SequenceNumber)
			continue
		}
		binary.BigEndian.PutUint16(pkt[2:4], gaps.out(h.SequenceNumber))
		key := codec.IsKeyframe(ls.MimeType, pkt[hl:end])
		s.st.localPackets.Add(1)
		s.st.localBytes.Add(uint64(n))
		if key && ls.Kind == proto.KindVideo {
			s.st.localKeyframes.Add(1)
		}
		if s.cfg.OnLocalRTP != nil {
			s.cfg.OnLocalRTP(ls, pkt, key)
		}
	}
}

// drainTrack reads and drops a stream nobody wants (a viewer's).
func (s *Session) drainTrack(track *webrtc.TrackRemote) {
	defer s.wg.Done()
	buf := make([]byte, readBufSize)
	for {
		if _, _, err := track.Read(buf); err != nil {
			return
		}
	}
}

// drainRTCP reads the page's RTCP about its own streams (sender reports),
// which keeps the interceptors (receiver reports, NACK) fed. A simulcast
// m-line has a reader per layer (rid).
func (s *Session) drainRTCP(r *webrtc.RTPReceiver, rid string) {
	defer s.wg.Done()
	for {
		var err error
		if rid != "" {
			_, _, err = r.ReadSimulcastRTCP(rid)
		} else {
			_, _, err = r.ReadRTCP()
		}
		if err != nil {
			return
		}
	}
}
