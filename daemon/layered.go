package daemon

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/peets/peets/media"
	"github.com/peets/peets/media/adapt"
	"github.com/peets/peets/media/codec"
	"github.com/peets/peets/proto"
)

// A remote simulcast camera: the publisher publishes every layer, the
// pages get one track, and which layer feeds it is this subscriber's
// choice (media/adapt), made from what its own path delivers. Packets of
// one layer at a time reach the pages; a switch waits for a keyframe of
// the new layer, the old one playing until then, so it is never a freeze
// (the bridge's rewriter keeps the track's numbering continuous across
// the change of source).

const (
	// adaptInterval is how often the layer choice looks at its signals.
	adaptInterval = 250 * time.Millisecond
	// switchTimeout: a layer whose keyframe has not come by then is given
	// up (the page may have stopped sending it).
	switchTimeout = 3 * time.Second
	// layerStall: no packet of the current layer for this long counts as
	// the path failing (or the layer stopped): one layer down.
	layerStall = 1500 * time.Millisecond
	// layerStartLag: a layer fetcher starts at the newest keyframe only if
	// it is this recent (packets), else it asks for a keyframe and pulls
	// nothing until it is out (media.FetcherConfig.AwaitKeyframe): a
	// switch must not pull seconds of history, nor packets it would drop,
	// over a path that is the reason for the switch.
	layerStartLag = 24
	// otherRate is what else shares the path, in bits/s on the wire, for
	// the probe's headroom: the participant's audio (~50 kbit/s of Opus,
	// ~100 with its names and signatures) and, in a call both ways, the
	// Interests for the other side's streams.
	otherRate = 150_000
)

// LayerStats describes a layered remote stream.
type LayerStats struct {
	Layer        string  `json:"layer"`  // the layer reaching the pages
	Target       string  `json:"target"` // the layer being switched to ("" if none)
	Layers       int     `json:"layers"`
	Switches     int     `json:"switches" metric:"counter"`
	Ups          int     `json:"ups" metric:"counter"`
	Downs        int     `json:"downs" metric:"counter"`
	FailedUps    int     `json:"failed_ups" metric:"counter"`
	Probes       int     `json:"probes" metric:"counter"`
	ProbeKbps    float64 `json:"probe_kbps"`     // the last probe's capacity estimate (0: none or too fast)
	QueueDelayMS float64 `json:"queue_delay_ms"` // of the layer reaching the pages
	HoldMS       int64   `json:"hold_ms"`
	Marks        int     `json:"congestion_marks" metric:"counter"` // marked packets of the layers played (NDNLPv2, e.g. from NFD)
	LastReason   string  `json:"last_reason,omitempty"`
}

type layerFetcher struct {
	id     string
	f      *media.Fetcher
	cancel context.CancelFunc
	done   chan struct{}
	// its counters at the last interval, for the loss (counted: set since
	// it became the current layer); missed are holes not filled by
	// reordering (media.FetcherStats.Reordered)
	counted                 bool
	missed, delivered, lost uint64
}

// The loss is measured over lossWindow intervals, and only over at least
// minLossPackets packets.
const (
	lossWindow     = 4
	minLossPackets = 20
)

type lossSample struct{ holes, packets uint64 }

type layeredRemote struct {
	d    *Daemon
	info RemoteInfo // Stream is the group id
	log  *slog.Logger
	ctx  context.Context

	mu         sync.Mutex
	layers     []proto.RosterStream // lowest first
	viewLimit  int                  // the highest layer the pages' tiles need; -1: no limit (mu)
	wake       chan struct{}        // a raised viewLimit: step now
	cur        int                  // index of the layer reaching the pages
	target     int                  // == cur unless switching
	asked      time.Time            // when the switch to target was asked
	fetchers   map[string]*layerFetcher
	ch         *adapt.Chooser
	de         adapt.DelayEstimator
	lastPkt    time.Time // the newest packet of the current layer (zero: none yet)
	lossWin    [lossWindow]lossSample
	switches   int
	marks      int
	probeKbps  float64
	lastReason string

	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
	alive  aliveTicker
}

// layersOf sorts a group's layers, lowest bitrate first.
func layersOf(ss []proto.RosterStream) []proto.RosterStream {
	out := slices.Clone(ss)
	slices.SortFunc(out, func(a, b proto.RosterStream) int {
		if a.Bitrate != b.Bitrate {
			return int(int64(a.Bitrate) - int64(b.Bitrate))
		}
		return 0
	})
	return out
}

func bitratesOf(ls []proto.RosterStream) []float64 {
	out := make([]float64, len(ls))
	for i, l := range ls {
		out[i] = float64(l.Bitrate)
	}
	return out
}

// startLayered starts fetching a remote simulcast camera.
func (d *Daemon) startLayered(ctx context.Context, info RemoteInfo, layers []proto.RosterStream, viewLimit int, moved float64) *layeredRemote {
	layers = layersOf(layers)
	start := len(layers) / 2 // the middle: a probe takes it up within seconds
	if viewLimit >= 0 {
		start = min(start, viewLimit) // a thumbnail starts where it stays
	}
	if l := adapt.MovedLayer(bitratesOf(layers), viewLimit, moved); moved > 0 && l > start {
		start = l // shown large in place of another: what that one let go
	}
	rctx, cancel := context.WithCancel(ctx)
	lr := &layeredRemote{
		d: d, info: info, ctx: rctx, cancel: cancel, done: make(chan struct{}),
		log:       d.log.With("remote", info.Owner.String()+"/"+info.Stream),
		layers:    layers,
		viewLimit: viewLimit,
		wake:      make(chan struct{}, 1),
		cur:       start,
		target:    start,
		fetchers:  map[string]*layerFetcher{},
		ch:        adapt.NewChooser(adapt.Config{}, bitratesOf(layers), start, time.Now()),
	}
	if viewLimit > start {
		// Shown large from the start (a speaker off screen until now):
		// find out at once whether the path carries more than the middle.
		lr.ch.ProbeSoon()
	}
	lr.mu.Lock()
	lr.resetDelay(-1)
	lr.startFetcherLocked(layers[start].ID)
	lr.mu.Unlock()
	go lr.run()
	return lr
}

// setViewLimit sets the highest layer the pages' tiles need (-1: no
// limit); the chooser goes down to it, and up to it as the path allows.
// moved > 0: the tile grew in place of others that let go moved bits/s
// (tileMove).
func (lr *layeredRemote) setViewLimit(limit int, moved float64) {
	lr.mu.Lock()
	raised := limit != lr.viewLimit && (limit < 0 || lr.viewLimit >= 0 && limit > lr.viewLimit)
	lr.viewLimit = limit
	if raised && moved > 0 {
		lr.ch.TileMoved(time.Now(), moved)
	}
	lr.mu.Unlock()
	if raised {
		select {
		case lr.wake <- struct{}{}:
		default:
		}
	}
}

// carried is the bitrate of the layer played when the path carries it
// (adapt.Chooser.Carried), else 0. It is the larger of the measured and
// the announced bitrate: the stream it moves to compares it with the
// announced bitrates of the layers it does not pull (a bot's top layer
// measured 0.9-1.1 Mbit/s for an announced 1.5). During a switch, the
// lower layer's announced bitrate: a step down says the path does not
// carry the higher one, a step up has not shown that it does.
func (lr *layeredRemote) carried() float64 {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	c := lr.ch.Carried()
	switch {
	case c <= 0:
		return 0
	case lr.target != lr.cur:
		return float64(lr.layers[min(lr.cur, lr.target)].Bitrate)
	}
	return max(c, float64(lr.layers[lr.cur].Bitrate))
}

// setLayers follows the layers the publisher announces (a layer may come
// later than the others: a browser adds the top one once its own estimate
// allows it).
func (lr *layeredRemote) setLayers(layers []proto.RosterStream) {
	layers = layersOf(layers)
	lr.mu.Lock()
	defer lr.mu.Unlock()
	ids := func(ls []proto.RosterStream) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	if slices.Equal(ids(layers), ids(lr.layers)) {
		return
	}
	curID, targetID := lr.layers[lr.cur].ID, lr.layers[lr.target].ID
	lr.layers = layers
	lr.cur, lr.target = -1, -1
	for i, l := range layers {
		if l.ID == curID {
			lr.cur = i
		}
		if l.ID == targetID {
			lr.target = i
		}
	}
	if lr.cur < 0 { // the current layer is gone: start over in the middle
		lr.cur = len(layers) / 2
		lr.resetDelay(-1)
		lr.startFetcherLocked(layers[lr.cur].ID)
		lr.lastPkt = time.Time{}
	}
	if lr.target < 0 {
		lr.target = lr.cur
	}
	for id, lf := range lr.fetchers {
		if id != layers[lr.cur].ID && id != layers[lr.target].ID {
			lr.stopFetcherLocked(lf)
		}
	}
	lr.ch = adapt.NewChooser(adapt.Config{}, bitratesOf(layers), lr.cur, time.Now())
}

func (lr *layeredRemote) startFetcherLocked(id string) {
	if lr.fetchers[id] != nil {
		return
	}
	lf := &layerFetcher{id: id, done: make(chan struct{})}
	f, err := media.NewFetcher(media.FetcherConfig{
		Engine: lr.d.conn.Engine(), Owner: lr.info.Owner, Stream: id, Verifier: lr.d.ver, RateHint: 60,
		MaxStartLag: layerStartLag, AwaitKeyframe: true, MediaKeys: lr.d.room, Logger: lr.d.log,
		OnPacket: func(pkt []byte, seq uint64) { lr.onPacket(id, pkt, seq) },
	})
	if err != nil {
		lr.log.Warn("cannot fetch a layer", "layer", id, "err", err)
		return
	}
	lf.f = f
	ctx, cancel := context.WithCancel(lr.ctx)
	lf.cancel = cancel
	lr.fetchers[id] = lf
	lr.wg.Add(1)
	go func() {
		defer lr.wg.Done()
		defer close(lf.done)
		if err := f.Run(ctx); err != nil && ctx.Err() == nil {
			lr.log.Warn("layer fetcher stopped", "layer", id, "err", err)
		}
	}()
	f.RequestKeyframe()
}

func (lr *layeredRemote) stopFetcherLocked(lf *layerFetcher) {
	delete(lr.fetchers, lf.id)
	lf.cancel()
}

// onPacket takes a packet of a layer (on the engine goroutine).
func (lr *layeredRemote) onPacket(id string, pkt []byte, seq uint64) {
	now := time.Now()
	lr.mu.Lock()
	switch {
	case lr.cur >= 0 && id == lr.layers[lr.cur].ID:
	case lr.target != lr.cur && id == lr.layers[lr.target].ID && lr.keyframeStart(pkt):
		old := lr.fetchers[lr.layers[lr.cur].ID]
		from := lr.cur
		lr.cur = lr.target
		lr.switches++
		lr.resetDelay(from)
		lr.ch.Switched(now, lr.cur)
		if old != nil {
			lr.stopFetcherLocked(old)
		}
		lr.log.Debug("layer switched", "layer", id, "after", now.Sub(lr.asked))
	default:
		lr.mu.Unlock()
		return
	}
	lr.delayPacket(now, pkt)
	lr.lastPkt = now
	lr.mu.Unlock()
	lr.d.mediaAlive(&lr.alive, lr.info.Owner, now)
	if h := lr.d.opts.OnRemote; h != nil {
		h(lr.info.Owner, lr.info.Stream, seq, pkt)
	}
	for _, sk := range lr.d.sinkList() {
		sk.WriteRemote(lr.info.Key, pkt)
	}
}

// absSendTimeClock is abs-send-time's clock as the delay estimator sees
// it: 2^18 ticks per second, shifted left by 8 so that its 24 bits wrap
// where an RTP timestamp does.
const absSendTimeClock = 1 << 26

// resetDelay starts the delay estimate over for the layer reaching the
// pages: on its abs-send-time when its packets carry it (the page's send
// time: no encoder delay in it), else on its RTP timestamps (lr.mu held).
// The layers of a page share its send clock, so a switch between two that
// carry it keeps what was learned of the empty path: the new layer's
// keyframe queueing behind the old layer's packets is queueing.
func (lr *layeredRemote) resetDelay(from int) {
	if lr.layers[lr.cur].AbsSendTime != 0 {
		if from >= 0 && from < len(lr.layers) && lr.layers[from].AbsSendTime != 0 {
			return
		}
		lr.de.Reset(absSendTimeClock)
		return
	}
	lr.de.Reset(lr.info.ClockRate)
}

// delayPacket feeds the delay estimate with a packet of the current layer
// (lr.mu held).
func (lr *layeredRemote) delayPacket(now time.Time, pkt []byte) {
	if id := lr.layers[lr.cur].AbsSendTime; id != 0 {
		if v, ok := codec.AbsSendTime(pkt, id); ok {
			lr.de.Packet(now, v<<8)
		}
		return
	}
	if len(pkt) >= 8 {
		lr.de.Packet(now, binary.BigEndian.Uint32(pkt[4:8]))
	}
}

// keyframeStart reports whether pkt starts a keyframe (a switch may happen
// there).
func (lr *layeredRemote) keyframeStart(pkt []byte) bool {
	var h rtp.Header
	n, err := h.Unmarshal(pkt)
	if err != nil || n >= len(pkt) {
		return false
	}
	return codec.IsKeyframe(lr.info.Codec, pkt[n:])
}

// run looks at the signals every adaptInterval and acts on the choice.
func (lr *layeredRemote) run() {
	defer close(lr.done)
	t := time.NewTicker(adaptInterval)
	defer t.Stop()
	for {
		select {
		case <-lr.ctx.Done():
			lr.wg.Wait()
			return
		case now := <-t.C:
			lr.step(now)
		case <-lr.wake:
			// The page shows the video larger: decide now, not at the
			// next tick (a new speaker's picture is awaited).
			lr.step(time.Now())
		}
	}
}

func (lr *layeredRemote) step(now time.Time) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	// Only the current layer and the one being switched to are fetched: a
	// fetcher of any other pulls a layer nobody plays, over the path whose
	// load the choice is about (one such stayed after a step up was undone
	// and pulled the top layer for the rest of a call).
	for id, lf := range lr.fetchers {
		if id != lr.layers[lr.cur].ID && id != lr.layers[lr.target].ID {
			lr.log.Warn("stopping the fetcher of a layer neither played nor switched to", "layer", id)
			lr.stopFetcherLocked(lf)
		}
	}
	cur := lr.fetchers[lr.layers[lr.cur].ID]
	if cur == nil && lr.target < lr.cur {
		// stepping down: the old layer was let go, its keyframe is awaited
		if now.Sub(lr.asked) > switchTimeout {
			lr.commitDown(now)
		}
		return
	}
	if cur == nil {
		lr.startFetcherLocked(lr.layers[lr.cur].ID)
		return
	}
	st := cur.f.Stats()
	missed := st.Holes - st.Reordered
	if !cur.counted {
		cur.missed, cur.delivered, cur.lost, cur.counted = missed, st.Delivered, st.Lost, true
		lr.lossWin = [lossWindow]lossSample{}
	}
	// Loss over the last second (a quarter second of a low layer is a
	// handful of packets): holes per packet, less those a reordering made
	// (a hole filled before it was asked again: the packet was only
	// overtaken). A hole counts when found, and a reordering when filled:
	// a pair split by an interval's end counts in the first (a loss).
	copy(lr.lossWin[1:], lr.lossWin[:lossWindow-1])
	lr.lossWin[0] = lossSample{packets: st.Delivered - cur.delivered + st.Lost - cur.lost}
	if missed > cur.missed {
		lr.lossWin[0].holes = missed - cur.missed
	}
	cur.missed, cur.delivered, cur.lost = missed, st.Delivered, st.Lost
	var holes, packets uint64
	for _, w := range lr.lossWin {
		holes += w.holes
		packets += w.packets
	}
	loss := 0.0
	if packets >= minLossPackets {
		loss = float64(holes) / float64(packets)
	}
	if !lr.lastPkt.IsZero() && now.Sub(lr.lastPkt) > layerStall {
		loss = 1 // nothing arrives any more: the path failed, or the layer stopped
	}
	if st.Bitrate > 0 {
		b := bitratesOf(lr.layers)
		b[lr.cur] = float64(st.Bitrate)
		lr.ch.SetBitrates(b)
	}
	if lr.target != lr.cur && now.Sub(lr.asked) > switchTimeout {
		lr.giveUpSwitch(now)
	}
	lr.ch.SetCautious(lr.d.ownUplinkLimited.Load())
	limit, why := lr.viewLimit, "the page shows it small"
	if limit >= len(lr.layers)-1 {
		limit = -1
	}
	if share := math.Float64frombits(lr.d.receiveShare.Load()); share > 0 {
		if l := layerLimit(bitratesOf(lr.layers), share); limit < 0 || l < limit {
			limit, why = l, fmt.Sprintf("own uplink limited: %.0f kbit/s of video", share/1000)
		}
	}
	if limit < 0 {
		why = ""
	}
	lr.ch.SetLimit(limit, why)
	marks := lr.d.marks.take(cur.f.Prefix().String())
	lr.marks += marks
	d := lr.ch.Observe(adapt.Observation{Now: now, QueueDelay: lr.de.Queue(), Loss: loss, Marks: marks, Other: otherRate})
	lr.act(d, now)
	if d.Probe {
		next := lr.layers[lr.cur+1].ID
		lr.wg.Add(1)
		go lr.probe(next, d.ProbeRate)
	}
}

// giveUpSwitch abandons a switch whose keyframe has not come (lr.mu held):
// the current layer goes on (its fetcher starts again at the next step if
// a step down had let it go).
func (lr *layeredRemote) giveUpSwitch(now time.Time) {
	lr.log.Info("layer switch given up: no keyframe", "layer", lr.layers[lr.target].ID)
	if lf := lr.fetchers[lr.layers[lr.target].ID]; lf != nil {
		lr.stopFetcherLocked(lf)
	}
	lr.ch.SwitchFailed(now, lr.cur)
	lr.target = lr.cur
	lr.lastPkt = time.Time{}
}

// commitDown makes the layer a step down on loss went to the current one
// although its keyframe has not come in switchTimeout (lr.mu held): the
// layer above was let go because the path does not carry it, and going
// back to it would load that path again (a keyframe request lost in a
// full uplink queue had a subscriber swing between two layers, each time
// restarting the higher one). The page holds its last frame until a
// keyframe comes; the request is repeated. Packets that stop coming count
// as a stall from now, so the choice can step down again.
func (lr *layeredRemote) commitDown(now time.Time) {
	from := lr.cur
	lr.cur = lr.target
	lr.resetDelay(from)
	lr.lastPkt = now
	lr.lossWin = [lossWindow]lossSample{}
	id := lr.layers[lr.cur].ID
	lr.log.Info("layer switch down kept without its keyframe", "layer", id)
	if lf := lr.fetchers[id]; lf != nil {
		lf.counted = false
		lf.f.RequestKeyframe()
		return
	}
	lr.startFetcherLocked(id)
}

// act switches to the layer d chose (lr.mu held). A step down taken on
// loss lets the current layer go at once: the path does not carry it, and
// its packets would queue ahead of the lower layer's keyframe, stretching
// the freeze that the loss has already begun; the page holds the last
// frame until the keyframe comes. Otherwise (up, or down on delay alone)
// the current layer plays until the new one can be decoded.
func (lr *layeredRemote) act(d adapt.Decision, now time.Time) {
	if d.Reason != "" {
		lr.lastReason = d.Reason
	}
	if d.Layer == lr.target || d.Layer < 0 || d.Layer >= len(lr.layers) {
		return
	}
	if lr.target != lr.cur {
		// the layer being switched to is given up (back to the current
		// one, or on to another): its fetcher stops
		if lf := lr.fetchers[lr.layers[lr.target].ID]; lf != nil {
			lr.stopFetcherLocked(lf)
		}
	}
	lr.target = d.Layer
	lr.asked = now
	if lr.target == lr.cur {
		return
	}
	id := lr.layers[lr.target].ID
	lr.log.Info("switching layer", "from", lr.layers[lr.cur].ID, "to", id, "why", d.Reason)
	if lr.target < lr.cur && d.Lossy {
		if old := lr.fetchers[lr.layers[lr.cur].ID]; old != nil {
			lr.stopFetcherLocked(old)
		}
	}
	if lf := lr.fetchers[id]; lf != nil {
		lf.f.RequestKeyframe()
		return
	}
	lr.startFetcherLocked(id)
}

// pacedProbePackets is the length of a paced probe train: paced, its
// second half shows the rate the path keeps up with sooner than a burst's.
const pacedProbePackets = 8

// probe measures whether the path carries the next layer up; pace > 0
// paces the train (adapt.Decision.ProbeRate).
func (lr *layeredRemote) probe(id string, pace float64) {
	defer lr.wg.Done()
	cfg := media.ProbeConfig{Engine: lr.d.conn.Engine(), Verifier: lr.d.ver, Owner: lr.info.Owner, Stream: id, Rate: pace}
	if pace > 0 {
		cfg.Packets = pacedProbePackets
	}
	res, err := media.Probe(lr.ctx, cfg)
	now := time.Now()
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lr.ctx.Err() != nil {
		return
	}
	if err != nil || len(res.Arrivals) < adapt.MinTrain {
		lr.log.Debug("probe failed", "layer", id, "packets", len(res.Arrivals), "err", err)
		lr.ch.ProbeFailed(now)
		return
	}
	// The layer's cost on the path: its bitrate (measured, else its cap)
	// times what its Data cost on the wire per byte of RTP (the train's).
	for i, l := range lr.layers {
		if l.ID != id {
			continue
		}
		b := bitratesOf(lr.layers)
		if res.Meta.Bitrate > 0 {
			b[i] = float64(res.Meta.Bitrate)
		}
		if r := res.WireRatio(); r > 1 {
			b[i] *= r
		}
		lr.ch.SetBitrates(b)
	}
	rate, ok := adapt.TrainRate(res.Arrivals, res.Sizes)
	if pace > 0 && adapt.KeptPace(res.Sent, res.Arrivals) {
		// A path that kept up with the paced train carries the pace,
		// however unevenly a busy machine's timers sent it.
		rate, ok = max(rate, pace), true
	}
	lr.probeKbps = 0
	if ok {
		lr.probeKbps = rate / 1000
	}
	d := lr.ch.ProbeResult(now, rate, ok, otherRate)
	lr.log.Debug("probe", "layer", id, "kbps", lr.probeKbps, "measured", ok, "packets", len(res.Arrivals), "paced_kbps", pace/1000, "choice", lr.layers[d.Layer].ID)
	lr.act(d, now)
}

// fetcher returns the fetcher of the layer reaching the pages.
func (lr *layeredRemote) fetcher() *media.Fetcher {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if lf := lr.fetchers[lr.layers[lr.cur].ID]; lf != nil {
		return lf.f
	}
	return nil
}

// requestKeyframe asks for a keyframe of the layer reaching the pages (and
// of the one being switched to).
func (lr *layeredRemote) requestKeyframe() {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for _, lf := range lr.fetchers {
		lf.f.RequestKeyframe()
	}
}

func (lr *layeredRemote) refresh() {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for _, lf := range lr.fetchers {
		lf.f.Refresh()
	}
}

func (lr *layeredRemote) stop() {
	lr.cancel()
	<-lr.done
}

func (lr *layeredRemote) stats(fetchers map[string]media.FetcherStats, layers map[string]LayerStats) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	for id, lf := range lr.fetchers {
		fetchers[lr.info.Owner.String()+"/media/"+id] = lf.f.Stats()
	}
	ls := LayerStats{
		Layer: lr.layers[lr.cur].ID, Layers: len(lr.layers), Switches: lr.switches,
		Ups: lr.ch.Ups, Downs: lr.ch.Downs, FailedUps: lr.ch.FailedUps, Probes: lr.ch.ProbesTried,
		ProbeKbps: lr.probeKbps, QueueDelayMS: float64(lr.de.Queue().Microseconds()) / 1000,
		HoldMS: lr.ch.Hold().Milliseconds(), LastReason: lr.lastReason, Marks: lr.marks,
	}
	if lr.target != lr.cur {
		ls.Target = lr.layers[lr.target].ID
	}
	layers[lr.info.Owner.String()+"/media/"+lr.info.Stream] = ls
}

// view names the layer (rid) reaching the pages, the one being switched
// to ("" if none) and the highest one offered, and says how many are
// offered and the current one's place (0: the lowest).
func (lr *layeredRemote) view() (cur, target, top string, n, index int) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	rid := func(i int) string {
		if l := lr.layers[i]; l.RID != "" {
			return l.RID
		}
		return lr.layers[i].ID
	}
	cur, top, n, index = rid(lr.cur), rid(len(lr.layers)-1), len(lr.layers), lr.cur
	if lr.target != lr.cur {
		target = rid(lr.target)
	}
	return cur, target, top, n, index
}
