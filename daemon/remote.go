package daemon

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/metric"
	"github.com/peets/peets/media"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/roster"
	"github.com/peets/peets/sec"
)

// RemoteInfo describes a remote stream to a sink.
type RemoteInfo struct {
	Key        string   // unique per (participant, stream) within the daemon
	Owner      enc.Name // the publisher's participant prefix
	User, Name string   // the publisher's user id and display name
	Stream     string   // stream id
	Kind       string   // audio | video
	Codec      string   // mime type
	ClockRate  uint32
}

// RemoteSink receives remote streams (a page's media session).
type RemoteSink interface {
	// AddRemote announces a stream; WriteRemote packets follow.
	AddRemote(info RemoteInfo)
	// WriteRemote hands one RTP packet, in order. It must not block.
	WriteRemote(key string, rtp []byte)
	// RemoveRemote retires a stream.
	RemoveRemote(key string)
}

// remoteStream is one remote stream announced to the pages: a plain one
// (run.f), or a simulcast camera (run.lr), whose layers feed one track.
type remoteStream struct {
	info RemoteInfo
	// run is what fetches the stream; nil while paused: the member turned
	// it off (its camera or microphone), so it costs no Interest, and the
	// pages keep its track for when it comes back. Set and cleared on the
	// daemon's roster loop only; read anywhere.
	run   atomic.Pointer[remoteRun]
	alive aliveTicker
}

// remoteRun is one run of a remote stream's fetching: one fetcher, or the
// layers of a simulcast camera.
type remoteRun struct {
	f      *media.Fetcher
	lr     *layeredRemote
	cancel context.CancelFunc
	done   chan struct{}
}

func (run *remoteRun) stop() {
	if run.lr != nil {
		run.lr.stop()
		return
	}
	run.cancel()
	<-run.done
}

// stop stops fetching (pause, or for good).
func (r *remoteStream) stop() {
	if run := r.run.Swap(nil); run != nil {
		run.stop()
	}
}

func (r *remoteStream) paused() bool { return r.run.Load() == nil }

// layered is the simulcast camera's fetching, nil if none (or paused).
func (r *remoteStream) layered() *layeredRemote {
	if run := r.run.Load(); run != nil {
		return run.lr
	}
	return nil
}

func (r *remoteStream) refresh() {
	switch run := r.run.Load(); {
	case run == nil:
	case run.lr != nil:
		run.lr.refresh()
	default:
		run.f.Refresh()
	}
}

func (r *remoteStream) requestKeyframe() {
	switch run := r.run.Load(); {
	case run == nil:
	case run.lr != nil:
		run.lr.requestKeyframe()
	default:
		run.f.RequestKeyframe()
	}
}

// fetcher is the fetcher whose packets reach the pages now (nil: none).
func (r *remoteStream) fetcher() *media.Fetcher {
	switch run := r.run.Load(); {
	case run == nil:
		return nil
	case run.lr != nil:
		return run.lr.fetcher()
	default:
		return run.f
	}
}

func remoteKey(owner enc.Name, stream string) string {
	return owner.String() + "|" + stream
}

// onRosterEvent starts and stops fetchers as members come, change and go.
func (d *Daemon) onRosterEvent(ctx context.Context, ev roster.Event) {
	if ev.Type != roster.EventChat && (ev.Member.Self || ev.Member.Participant.Equal(d.self)) {
		return
	}
	switch ev.Type {
	case roster.EventJoin, roster.EventUpdate:
		d.noteEpoch(ev.Member.KeyEpoch)
		if ev.Type == roster.EventJoin {
			d.log.Info("member joined", "member", ev.Member.User, "participant", ev.Member.Participant, "boot", ev.Member.Boot)
		}
		d.syncMember(ctx, ev.Member)
	case roster.EventLeave:
		d.log.Info("member left", "member", ev.Member.User, "participant", ev.Member.Participant, "reason", ev.Reason)
		d.forgetSpeaker(ev.Member.User)
		d.dropMember(ev.Member.Participant, nil)
	case roster.EventUserTaken:
		if ev.Holder.Equal(d.self) {
			d.takenLog.Warn(d.log, "another participant claims this user id: members list only one of the two, the one they heard first; give one of them another --user",
				"claimant", ev.Member.Participant, "claimant_name", ev.Member.Name)
		}
	}
}

// userTakenMessage tells a page that claimant claims its user id.
func userTakenMessage(user string, claimant roster.Member) string {
	return fmt.Sprintf("Another participant (%s, named %q) also uses your user id %q: the others see only one of you, the one they heard first. Give one of you another user id (peets up --user).",
		claimant.Participant, claimant.Name, user)
}

// wants tells whether a remote stream should be fetched.
func (d *Daemon) wants(m roster.Member, s proto.RosterStream) bool {
	if d.cfg.Role == proto.RoleBroadcaster || m.Role == proto.RoleViewer {
		return false
	}
	if d.opts.Fetch != nil {
		return d.opts.Fetch(m, s)
	}
	return true
}

// syncMember makes the fetchers match the member's announced streams: one
// fetcher per plain stream, one layered remote per simulcast group.
func (d *Daemon) syncMember(ctx context.Context, m roster.Member) {
	keep := map[string]bool{}
	groups := map[string][]proto.RosterStream{}
	for _, s := range m.Streams {
		if !d.wants(m, s) {
			continue
		}
		if s.Group != "" {
			groups[s.Group] = append(groups[s.Group], s)
			continue
		}
		key := remoteKey(m.Participant, s.ID)
		keep[key] = true
		d.mu.Lock()
		r := d.remotes[key]
		d.mu.Unlock()
		if r == nil {
			r = d.newRemote(m, s, key)
		}
		on := true
		if s.Kind == proto.KindVideo {
			_, on = d.shown(m.User)
		}
		d.follow(ctx, r, offWhy(mutedKind(m, s.Kind), on), func() *remoteRun { return d.runFetcher(ctx, r, s) })
	}
	for g, layers := range groups {
		key := remoteKey(m.Participant, g)
		keep[key] = true
		d.mu.Lock()
		r := d.remotes[key]
		d.mu.Unlock()
		if r == nil {
			r = d.newRemote(m, layers[0], key)
			r.info.Stream = g
			d.log.Info("fetching layers", "stream", r.info.Owner.String()+"/media/"+g, "layers", len(layers), "codec", r.info.Codec)
		} else if lr := r.layered(); lr != nil {
			lr.setLayers(layers)
		}
		height, on := d.shown(m.User)
		limit := viewLimit(layersOf(layers), d.cfg.Layers(), height)
		moved := d.takeMove(m.User)
		started := false
		d.follow(ctx, r, offWhy(mutedKind(m, proto.KindVideo), on), func() *remoteRun {
			started = true
			return &remoteRun{lr: d.startLayered(ctx, r.info, layers, limit, moved)}
		})
		if lr := r.layered(); lr != nil && !started {
			lr.setViewLimit(limit, moved)
		}
	}
	d.dropMember(m.Participant, keep)
}

// mutedKind: the member turned off its streams of kind (camera or
// microphone).
func mutedKind(m roster.Member, kind string) bool {
	return (kind == proto.KindVideo && m.VideoMuted) || (kind == proto.KindAudio && m.AudioMuted)
}

// offWhy says why a stream is not to be fetched ("": it is): its member
// turned it off, or (video) no page shows it.
func offWhy(muted, shown bool) string {
	switch {
	case muted:
		return "turned off by its member"
	case !shown:
		return "off screen on every page"
	}
	return ""
}

// follow pauses r while it is off (off: why, offWhy), and runs it (start)
// when it is on, announcing it to the pages the first time. On the roster
// loop.
func (d *Daemon) follow(ctx context.Context, r *remoteStream, off string, start func() *remoteRun) {
	d.mu.Lock()
	_, known := d.remotes[r.info.Key]
	d.mu.Unlock()
	switch {
	case off != "" && !r.paused():
		r.stop()
		d.log.Info("paused", "stream", r.info.Owner.String()+"/"+r.info.Stream, "why", off)
	case off == "" && r.paused() && ctx.Err() == nil:
		if run := start(); run != nil {
			r.run.Store(run)
			if known {
				d.log.Info("resumed", "stream", r.info.Owner.String()+"/"+r.info.Stream)
			}
		}
	}
	if !known {
		d.addRemote(r.info.Key, r)
	}
}

// newRemote is a remote stream of m, not fetched yet.
func (d *Daemon) newRemote(m roster.Member, s proto.RosterStream, key string) *remoteStream {
	return &remoteStream{info: RemoteInfo{
		Key: key, Owner: m.Participant.Clone(), User: m.User, Name: m.Name, Stream: s.ID,
		Kind: s.Kind, Codec: s.Codec, ClockRate: s.ClockRate,
	}}
}

// dropMember stops the member's fetchers, except those in keep.
func (d *Daemon) dropMember(owner enc.Name, keep map[string]bool) {
	var gone []*remoteStream
	d.mu.Lock()
	for k, r := range d.remotes {
		if r.info.Owner.Equal(owner) && !keep[k] {
			gone = append(gone, r)
			delete(d.remotes, k)
		}
	}
	sinks := d.sinkList()
	d.mu.Unlock()
	for _, r := range gone {
		r.stop()
		for _, s := range sinks {
			s.RemoveRemote(r.info.Key)
		}
		d.log.Info("stopped fetching", "stream", r.info.Owner.String()+"/"+r.info.Stream)
	}
}

// runFetcher starts fetching plain stream s for r (nil if it cannot).
func (d *Daemon) runFetcher(ctx context.Context, r *remoteStream, s proto.RosterStream) *remoteRun {
	info := r.info
	rate := 50.0
	if s.Kind == proto.KindVideo {
		rate = 60
	}
	onRemote := d.opts.OnRemote
	key := info.Key
	levelID := s.AudioLevel
	f, err := media.NewFetcher(media.FetcherConfig{
		Engine: d.conn.Engine(), Owner: info.Owner, Stream: s.ID, Verifier: d.ver, RateHint: rate,
		MediaKeys: d.room, Logger: d.log,
		OnPacket: func(pkt []byte, seq uint64) {
			d.mediaAlive(&r.alive, info.Owner, time.Now())
			if onRemote != nil {
				onRemote(info.Owner, info.Stream, seq, pkt)
			}
			if levelID != 0 {
				d.observeLevel(info.User, pkt, levelID)
			}
			// On the engine goroutine, once per packet: no lock, no
			// allocation (the sink list is a copy-on-write snapshot).
			for _, sk := range d.sinkList() {
				sk.WriteRemote(key, pkt)
			}
		},
	})
	if err != nil {
		d.log.Warn("cannot fetch", "stream", s.ID, "owner", info.Owner, "err", err)
		return nil
	}
	rctx, cancel := context.WithCancel(ctx)
	run := &remoteRun{f: f, cancel: cancel, done: make(chan struct{})}
	d.log.Info("fetching", "stream", info.Owner.String()+"/media/"+info.Stream, "codec", info.Codec)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(run.done)
		if err := f.Run(rctx); err != nil && rctx.Err() == nil {
			d.log.Warn("fetcher stopped", "stream", info.Stream, "owner", info.Owner, "err", err)
		}
	}()
	return run
}

// sinkList returns the current sinks: a snapshot that is never modified,
// safe to read without d.mu.
func (d *Daemon) sinkList() []RemoteSink {
	if p := d.sinkSnap.Load(); p != nil {
		return *p
	}
	return nil
}

// updateSinksLocked republishes the sink snapshot after d.sinks changed
// (d.mu held).
func (d *Daemon) updateSinksLocked() {
	out := make([]RemoteSink, 0, len(d.sinks))
	for _, s := range d.sinks {
		out = append(out, s)
	}
	d.sinkSnap.Store(&out)
}

// AddSink attaches a sink: it gets every current remote stream at once,
// then every change. The returned function detaches it.
func (d *Daemon) AddSink(s RemoteSink) (remove func()) {
	d.mu.Lock()
	id := d.nextID
	d.nextID++
	d.sinks[id] = s
	d.updateSinksLocked()
	infos := make([]RemoteInfo, 0, len(d.remotes))
	for _, r := range d.remotes {
		infos = append(infos, r.info)
	}
	d.mu.Unlock()
	for _, in := range infos {
		s.AddRemote(in)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			delete(d.sinks, id)
			d.updateSinksLocked()
			d.mu.Unlock()
		})
	}
}

// RequestRemoteKeyframe asks a remote stream's publisher for a keyframe.
func (d *Daemon) RequestRemoteKeyframe(key string) {
	d.mu.Lock()
	r := d.remotes[key]
	d.mu.Unlock()
	if r != nil {
		r.requestKeyframe()
	}
}

// RemoteBuffered returns a recently delivered packet of a remote stream by
// its RTP sequence number (to answer a page's NACK), or nil.
func (d *Daemon) RemoteBuffered(key string, rtpSeq uint16) []byte {
	d.mu.Lock()
	r := d.remotes[key]
	d.mu.Unlock()
	if r == nil {
		return nil
	}
	f := r.fetcher()
	if f == nil {
		return nil
	}
	return f.BufferedRTP(rtpSeq)
}

// Stats is a snapshot of the daemon's counters.
type Stats struct {
	Participant string                          `json:"participant"`
	Forwarder   forwarder.Stats                 `json:"forwarder"`
	Publishers  map[string]media.PublisherStats `json:"publishers" metric:"publisher,label=stream"`
	Fetchers    map[string]media.FetcherStats   `json:"fetchers" metric:"fetcher,label=stream"`
	Layers      map[string]LayerStats           `json:"layers,omitempty" metric:"layer,label=stream"` // per remote simulcast camera
	// CameraLayers: the layers of the page's own camera, by stream id:
	// whether the page sends them, their pauses and resumes.
	CameraLayers map[string]LocalLayerStats `json:"camera_layers,omitempty" metric:"camera_layer,label=stream"`
	Roster       roster.Stats               `json:"roster"`
	Verifier     sec.VerifierStats          `json:"verifier"`
	// Quality: each remote stream's rates over the last seconds, as its
	// pages get them (proto.StreamQuality; what peets stats shows).
	Quality []proto.StreamQuality `json:"quality"`
}

// Collector is the Prometheus view of a daemon without pages (a bot, a
// headless proxy): the names a Backend's Collector gives the same figures.
func (d *Daemon) Collector() *metric.Collector {
	c := metric.NewCollector("peets")
	c.Add("", func() any { return d.Stats() })
	return c
}

// Stats returns the daemon's counters.
func (d *Daemon) Stats() Stats {
	s := Stats{
		Participant: d.self.String(), Forwarder: d.conn.Stats(),
		Publishers: map[string]media.PublisherStats{}, Fetchers: map[string]media.FetcherStats{},
		Roster: d.part.Stats(), Verifier: d.ver.Stats(), CameraLayers: d.localLayerStats(),
		Quality: []proto.StreamQuality{},
	}
	if q := d.quality.Load(); q != nil {
		s.Quality = *q
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, l := range d.locals {
		s.Publishers[id] = l.pub.Stats()
	}
	for _, r := range d.remotes {
		if lr := r.layered(); lr != nil {
			if s.Layers == nil {
				s.Layers = map[string]LayerStats{}
			}
			lr.stats(s.Fetchers, s.Layers)
			continue
		}
		if f := r.fetcher(); f != nil {
			s.Fetchers[r.info.Owner.String()+"/media/"+r.info.Stream] = f.Stats()
		}
	}
	return s
}

// addRemote registers a remote stream and announces it to every sink.
func (d *Daemon) addRemote(key string, r *remoteStream) {
	d.mu.Lock()
	d.remotes[key] = r
	sinks := d.sinkList()
	d.mu.Unlock()
	for _, sk := range sinks {
		sk.AddRemote(r.info)
	}
}
