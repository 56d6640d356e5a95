package daemon

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peets/peets/media"
	"github.com/peets/peets/media/source"
	"github.com/peets/peets/proto"
)

// localStream is one stream this participant publishes.
type localStream struct {
	id, kind, mime string
	clock          uint32
	layer          layerInfo // zero unless a simulcast layer
	pub            *media.Publisher

	// A simulcast layer's pauses (idlelayers.go): when an Interest last
	// asked for it (unix ns), whether the page was told to pause it, and
	// how often it was paused and resumed.
	lastPull        atomic.Int64
	paused          atomic.Bool
	pauses, resumes atomic.Uint64

	mu     sync.Mutex
	keyReq func() // asks the current source of the stream for a keyframe
	buf    []byte // marshal buffer (file source)
}

// layerInfo says which simulcast layer a local stream is, and which
// header extensions its packets carry (their send time, the audio level).
type layerInfo struct {
	group, rid  string
	bitrate     uint64 // the page's cap for it
	absSendTime uint8  // header extension id, 0 if none
	audioLevel  uint8  // header extension id (audio), 0 if none
}

// layerOf describes the page's encoding rid of group ("" if none); the
// bitrate is the cap the greeting gave the page for it.
func (d *Daemon) layerOf(group, rid string, absSendTime uint8) layerInfo {
	if rid == "" {
		return layerInfo{absSendTime: absSendTime}
	}
	li := layerInfo{group: group, rid: rid, bitrate: DefaultVideoBitrate, absSendTime: absSendTime}
	for _, l := range d.cfg.Layers() {
		if l.RID == rid {
			li.bitrate = uint64(l.MaxBitrate)
		}
	}
	return li
}

// newLocal makes the publisher of a local stream (d.mu not held).
func (d *Daemon) newLocal(id, kind, mime string, clock uint32, keyReq func(), layer layerInfo) (*localStream, error) {
	if err := proto.ValidIdent(id); err != nil {
		return nil, err
	}
	l := &localStream{id: id, kind: kind, mime: mime, clock: clock, keyReq: keyReq, layer: layer}
	l.lastPull.Store(time.Now().UnixNano())
	var onInterest func()
	if layer.rid != "" {
		onInterest = func() { d.layerAsked(l) }
	}
	pub, err := d.prod.NewPublisher(media.PublisherConfig{
		OnInterest:        onInterest,
		Stream:            id,
		Signer:            d.id.Signer(),
		MediaKeys:         d.room,
		MimeType:          mime,
		ClockRate:         uint64(clock),
		OnKeyframeRequest: l.requestKeyframe,
	})
	if err != nil {
		return nil, fmt.Errorf("publisher %s: %w", id, err)
	}
	l.pub = pub
	d.mu.Lock()
	if old := d.locals[id]; old != nil {
		d.mu.Unlock()
		_ = pub.Close()
		return nil, fmt.Errorf("stream %s is published already", id)
	}
	d.locals[id] = l
	d.mu.Unlock()
	d.log.Info("publishing", "stream", pub.Prefix(), "codec", mime)
	return l, nil
}

func (l *localStream) requestKeyframe() {
	l.mu.Lock()
	f := l.keyReq
	l.mu.Unlock()
	if f != nil {
		f()
	}
}

func (l *localStream) setKeyReq(f func()) {
	l.mu.Lock()
	l.keyReq = f
	l.mu.Unlock()
}

// publish publishes one RTP packet.
func (d *Daemon) publish(l *localStream, pkt []byte, keyframe bool) {
	var in time.Time
	if d.opts.OnPublish != nil {
		in = time.Now()
	}
	seq, err := l.pub.Publish(pkt, keyframe)
	if err != nil {
		d.log.Debug("publish", "stream", l.id, "err", err)
		return
	}
	if l.layer.audioLevel != 0 {
		d.observeLevel(d.cfg.User, pkt, l.layer.audioLevel)
	}
	if d.opts.OnPublish != nil {
		d.opts.OnPublish(l.id, seq, pkt, in)
	}
}

// addSourceStreams makes a publisher for each stream of a file source.
func (d *Daemon) addSourceStreams(src *source.Source) error {
	for _, s := range src.Streams() {
		var keyReq func()
		if s.Kind == proto.KindVideo {
			id := s.ID
			keyReq = func() { src.RequestKeyframeOf(id) }
		}
		layer := layerInfo{audioLevel: s.AudioLevel}
		if s.Group != "" {
			layer = d.layerOf(s.Group, s.RID, 0)
		}
		if _, err := d.newLocal(s.ID, s.Kind, strings.ToLower(s.MimeType), s.ClockRate, keyReq, layer); err != nil {
			return err
		}
	}
	return nil
}

// onSourcePacket publishes a file source's packet (on the source's
// goroutine, one at a time).
func (d *Daemon) onSourcePacket(p source.Packet) {
	d.mu.Lock()
	l := d.locals[p.Stream]
	d.mu.Unlock()
	if l == nil {
		return
	}
	n := p.RTP.MarshalSize()
	if cap(l.buf) < n {
		l.buf = make([]byte, n)
	}
	b := l.buf[:n]
	if _, err := p.RTP.MarshalTo(b); err != nil {
		return
	}
	// Publish copies the packet into the Data and keeps nothing of b.
	d.publish(l, b, p.Keyframe)
}

// rosterStreams describes the local streams for the heartbeat.
func (d *Daemon) rosterStreams() []proto.RosterStream {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]proto.RosterStream, 0, len(d.locals))
	for _, l := range d.locals {
		m := l.pub.Meta()
		out = append(out, proto.RosterStream{
			ID: l.id, Kind: l.kind, Codec: l.mime, ClockRate: l.clock,
			LatestSeq: m.Latest, KeyframeSeq: m.KeySeq, Boot: m.Boot,
			Group: l.layer.group, RID: l.layer.rid, Bitrate: l.layer.bitrate, AbsSendTime: l.layer.absSendTime,
			AudioLevel: l.layer.audioLevel,
		})
	}
	return out
}
