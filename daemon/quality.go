package daemon

import (
	"context"
	"math"
	"time"

	"github.com/peets/peets/media"
	"github.com/peets/peets/proto"
)

// The proxy's view of the call's media for its pages (proto.Quality):
// every qualityInterval, what each remote stream's fetcher got over the
// last qualityWindow samples, and which layers of the page's own camera
// others pull (uplink.go).

const (
	qualityInterval = time.Second
	qualityWindow   = 3 // samples: the rates and percentages are over this many intervals
)

// QualitySink is a RemoteSink that also takes the proxy's quality view (a
// page; one that does not publish the camera drops Uplink). It must not
// block.
type QualitySink interface {
	SendQuality(q proto.Quality)
}

// fetchSample is a fetcher's counters at one tick.
type fetchSample struct {
	f                      *media.Fetcher
	at                     time.Time
	delivered, lost, holes uint64
	bytes, markers         uint64
	delayMS                float64 // sum of the buffer delays so far
	delays                 uint64  // their count
}

// pubSample is a layer publisher's counters at one tick.
type pubSample struct {
	pub               *media.Publisher
	published, served uint64
}

// qualityTracker keeps the recent samples; only the quality loop uses it.
type qualityTracker struct {
	fetch    map[string][]fetchSample // remote key -> samples, oldest first
	progress map[string]time.Time     // remote key -> last time a packet was delivered
	pubs     map[string][]pubSample   // local stream id -> samples, oldest first
	own      ownLimit
}

func newQualityTracker() *qualityTracker {
	return &qualityTracker{fetch: map[string][]fetchSample{}, progress: map[string]time.Time{}, pubs: map[string][]pubSample{}}
}

// qualityLoop sends the quality view to the pages until ctx is done.
func (d *Daemon) qualityLoop(ctx context.Context) {
	qt := newQualityTracker()
	t := time.NewTicker(qualityInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			streams := d.remoteQuality(qt, now)
			d.quality.Store(&streams)
			if len(d.sinkList()) == 0 { // no page (a bot, a headless proxy)
				qt.pubs, qt.own = map[string][]pubSample{}, ownLimit{}
				continue
			}
			q := proto.Quality{Streams: streams}
			receivers, unlimited := d.receivers()
			u, use, ok := d.uplinkQuality(qt, receivers)
			if ok {
				q.Uplink = &u
			}
			limited := ok && qt.own.update(now, u, use, unlimited)
			if d.ownUplinkLimited.Swap(limited) != limited {
				d.log.Info("own uplink", "limits_others", limited, "pulled", u.Pulled, "sending", u.Sending)
				// the other members learn that this one pulls within a
				// budget (ownLimit)
				if err := d.part.Update(func(e *proto.RosterEntry) { e.UplinkLimited = limited }); err != nil {
					d.log.Warn("cannot announce the uplink's state", "err", err)
				}
			}
			budget := 0.0
			if limited {
				budget = receiveBudget(u, d.cfg.Layers())
			}
			d.receiveShare.Store(math.Float64bits(d.shareOf(budget)))
			for _, sk := range d.sinkList() {
				if qs, ok := sk.(QualitySink); ok {
					qs.SendQuality(q)
				}
			}
		}
	}
}

// remoteQuality samples every remote stream's fetcher and describes it.
func (d *Daemon) remoteQuality(qt *qualityTracker, now time.Time) []proto.StreamQuality {
	d.mu.Lock()
	remotes := make(map[string]*remoteStream, len(d.remotes))
	for k, r := range d.remotes {
		remotes[k] = r
	}
	d.mu.Unlock()
	out := []proto.StreamQuality{}
	for key, r := range remotes {
		sq := proto.StreamQuality{Participant: r.info.User, Stream: r.info.Stream, Kind: r.info.Kind}
		if lr := r.layered(); lr != nil {
			sq.Layer, sq.Target, sq.Top, sq.Layers, sq.LayerIndex = lr.view()
		}
		f := r.fetcher()
		if f == nil {
			delete(qt.fetch, key)
			out = append(out, sq)
			continue
		}
		st := f.Stats()
		s := fetchSample{f: f, at: now, delivered: st.Delivered, lost: st.Lost, holes: st.Holes,
			bytes: st.BytesDelivered, markers: st.MarkersDelivered,
			delayMS: st.BufferDelay.SumMS(), delays: st.BufferDelay.Count()}
		hist := qt.fetch[key]
		if len(hist) > 0 && hist[len(hist)-1].f != f {
			hist = nil // another layer's fetcher: its counters start over
		}
		// Progress: a packet delivered since the last tick (a new layer's
		// fetcher starts at its keyframe); a stream never delivered is
		// stalled since it was first seen.
		if _, seen := qt.progress[key]; !seen || len(hist) == 0 || s.delivered != hist[len(hist)-1].delivered {
			qt.progress[key] = now
		}
		hist = append(hist, s)
		if len(hist) > qualityWindow+1 {
			hist = hist[len(hist)-qualityWindow-1:]
		}
		qt.fetch[key] = hist
		fillRates(&sq, hist, r.info.Kind == proto.KindVideo)
		sq.StalledMs = now.Sub(qt.progress[key]).Milliseconds()
		if sq.StalledMs < qualityInterval.Milliseconds() {
			sq.StalledMs = 0
		}
		sq.SRTTMs = round2(st.SRTT.MS())
		out = append(out, sq)
	}
	for key := range qt.fetch {
		if remotes[key] == nil {
			delete(qt.fetch, key)
			delete(qt.progress, key)
		}
	}
	return out
}

// fillRates sets the rates, loss and buffer delay of sq from a fetcher's
// samples (frames only for video: an audio marker starts a talkspurt).
func fillRates(sq *proto.StreamQuality, hist []fetchSample, video bool) {
	if len(hist) < 2 {
		return
	}
	a, b := hist[0], hist[len(hist)-1]
	delivered, lost, holes := b.delivered-a.delivered, b.lost-a.lost, b.holes-a.holes
	if secs := b.at.Sub(a.at).Seconds(); secs > 0 {
		sq.PacketRate = round2(float64(delivered) / secs)
		sq.Bitrate = math.Round(8 * float64(b.bytes-a.bytes) / secs)
		if video {
			sq.FrameRate = round2(float64(b.markers-a.markers) / secs)
		}
	}
	if due := delivered + lost; due > 0 {
		sq.LossPct = round2(100 * float64(lost) / float64(due))
		sq.HolesPct = round2(min(100, 100*float64(holes)/float64(due)))
	}
	if n := b.delays - a.delays; n > 0 {
		sq.BufferDelayMs = math.Round(1000*(b.delayMS-a.delayMS)/float64(n)) / 1000
	}
}

// round2 rounds to two decimals.
func round2(v float64) float64 { return math.Round(v*100) / 100 }

// uplinkQuality samples the publishers of the camera's layers; false if
// this proxy publishes no simulcast camera.
func (d *Daemon) uplinkQuality(qt *qualityTracker, receivers int) (proto.Uplink, []layerUse, bool) {
	d.mu.Lock()
	layers := map[string]*localStream{}
	for _, l := range d.locals {
		if l.layer.rid != "" {
			layers[l.layer.rid] = l
		}
	}
	d.mu.Unlock()
	var use []layerUse
	for _, cfg := range d.cfg.Layers() { // lowest first
		l := layers[cfg.RID]
		if l == nil {
			continue
		}
		st := l.pub.Stats()
		s := pubSample{pub: l.pub, published: st.Published, served: st.ServedRing + st.HeldAnswered}
		hist := qt.pubs[l.id]
		if len(hist) > 0 && hist[len(hist)-1].pub != l.pub {
			hist = nil
		}
		hist = append(hist, s)
		if len(hist) > qualityWindow+1 {
			hist = hist[len(hist)-qualityWindow-1:]
		}
		qt.pubs[l.id] = hist
		a, b := hist[0], hist[max(len(hist)-2, 0)]
		use = append(use, layerUse{RID: cfg.RID, Published: s.published - a.published, Served: s.served - a.served,
			Recent: s.served - b.served})
	}
	for id := range qt.pubs {
		if d.localGone(id) {
			delete(qt.pubs, id)
		}
	}
	if len(use) == 0 {
		return proto.Uplink{}, nil, false
	}
	return uplinkDecision(receivers, use), use, true
}

// shareOf divides a budget of remote video among the remote cameras
// fetched by layers.
func (d *Daemon) shareOf(budget float64) float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, r := range d.remotes {
		if r.layered() != nil {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return budget / float64(n)
}

func (d *Daemon) localGone(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.locals[id] == nil
}

// receivers counts the other members that fetch media (a broadcaster
// fetches none), and of them those that do not say their own uplink limits
// them (proto.RosterEntry.UplinkLimited): only those may pull a lower
// layer of this camera because of this uplink.
func (d *Daemon) receivers() (all, unlimited int) {
	for _, m := range d.part.Snapshot() {
		if m.Self || m.Participant.Equal(d.self) || m.Role == proto.RoleBroadcaster {
			continue
		}
		all++
		if !m.UplinkLimited {
			unlimited++
		}
	}
	return all, unlimited
}
