package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/media"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/roster"
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

// remoteStream is one fetched remote stream: a plain one (f), or a
// simulcast camera (lr), whose layers feed one track.
type remoteStream struct {
	info   RemoteInfo
	f      *media.Fetcher
	lr     *layeredRemote
	cancel context.CancelFunc
	done   chan struct{}
	alive  aliveTicker
}

func (r *remoteStream) stop() {
	if r.lr != nil {
		r.lr.stop()
		return
	}
	r.cancel()
	<-r.done
}

func (r *remoteStream) refresh() {
	if r.lr != nil {
		r.lr.refresh()
		return
	}
	r.f.Refresh()
}

func (r *remoteStream) requestKeyframe() {
	if r.lr != nil {
		r.lr.requestKeyframe()
		return
	}
	r.f.RequestKeyframe()
}

// fetcher is the fetcher whose packets reach the pages now.
func (r *remoteStream) fetcher() *media.Fetcher {
	if r.lr != nil {
		return r.lr.fetcher()
	}
	return r.f
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
		_, have := d.remotes[key]
		d.mu.Unlock()
		if !have {
			d.startRemote(ctx, m, s, key)
		}
	}
	for g, layers := range groups {
		key := remoteKey(m.Participant, g)
		keep[key] = true
		d.mu.Lock()
		r := d.remotes[key]
		d.mu.Unlock()
		if r == nil {
			d.startRemoteLayers(ctx, m, g, layers, key)
		} else if r.lr != nil {
			r.lr.setLayers(layers)
		}
	}
	d.dropMember(m.Participant, keep)
}

// startRemoteLayers starts fetching a simulcast group as one remote stream.
func (d *Daemon) startRemoteLayers(ctx context.Context, m roster.Member, group string, layers []proto.RosterStream, key string) {
	l := layers[0]
	info := RemoteInfo{
		Key: key, Owner: m.Participant.Clone(), User: m.User, Name: m.Name, Stream: group,
		Kind: l.Kind, Codec: l.Codec, ClockRate: l.ClockRate,
	}
	r := &remoteStream{info: info}
	r.lr = d.startLayered(ctx, info, layers)
	d.addRemote(key, r)
	d.log.Info("fetching layers", "stream", info.Owner.String()+"/media/"+group, "layers", len(layers), "codec", info.Codec)
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

func (d *Daemon) startRemote(ctx context.Context, m roster.Member, s proto.RosterStream, key string) {
	info := RemoteInfo{
		Key: key, Owner: m.Participant.Clone(), User: m.User, Name: m.Name, Stream: s.ID,
		Kind: s.Kind, Codec: s.Codec, ClockRate: s.ClockRate,
	}
	rate := 50.0
	if s.Kind == proto.KindVideo {
		rate = 60
	}
	r := &remoteStream{info: info, done: make(chan struct{})}
	onRemote := d.opts.OnRemote
	f, err := media.NewFetcher(media.FetcherConfig{
		Engine: d.conn.Engine(), Owner: info.Owner, Stream: s.ID, Verifier: d.ver, RateHint: rate,
		MediaKeys: d.room, Logger: d.log,
		OnPacket: func(pkt []byte, seq uint64) {
			d.mediaAlive(&r.alive, info.Owner, time.Now())
			if onRemote != nil {
				onRemote(info.Owner, info.Stream, seq, pkt)
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
		return
	}
	r.f = f
	rctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	d.addRemote(key, r)
	d.log.Info("fetching", "stream", info.Owner.String()+"/media/"+info.Stream, "codec", info.Codec)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(r.done)
		if err := f.Run(rctx); err != nil && rctx.Err() == nil {
			d.log.Warn("fetcher stopped", "stream", info.Stream, "owner", info.Owner, "err", err)
		}
	}()
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
	Forwarder   any                             `json:"forwarder"`
	Publishers  map[string]media.PublisherStats `json:"publishers"`
	Fetchers    map[string]media.FetcherStats   `json:"fetchers"`
	Layers      map[string]LayerStats           `json:"layers,omitempty"` // per remote simulcast camera
	// CameraLayers: the layers of the page's own camera, by stream id:
	// whether the page sends them, their pauses and resumes.
	CameraLayers map[string]LocalLayerStats `json:"camera_layers,omitempty"`
	Roster       roster.Stats               `json:"roster"`
	Verifier     any                        `json:"verifier"`
}

// Stats returns the daemon's counters.
func (d *Daemon) Stats() Stats {
	s := Stats{
		Participant: d.self.String(), Forwarder: d.conn.Stats(),
		Publishers: map[string]media.PublisherStats{}, Fetchers: map[string]media.FetcherStats{},
		Roster: d.part.Stats(), Verifier: d.ver.Stats(), CameraLayers: d.localLayerStats(),
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, l := range d.locals {
		s.Publishers[id] = l.pub.Stats()
	}
	for _, r := range d.remotes {
		if r.lr != nil {
			if s.Layers == nil {
				s.Layers = map[string]LayerStats{}
			}
			r.lr.stats(s.Fetchers, s.Layers)
			continue
		}
		s.Fetchers[r.info.Owner.String()+"/media/"+r.info.Stream] = r.f.Stats()
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
