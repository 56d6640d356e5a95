package adapt

import (
	"fmt"
	"math"
	"time"
)

// Config tunes a Chooser. Zero fields take the defaults.
type Config struct {
	// OveruseDelay: a queueing delay above it means the path carries less
	// than is sent (default 80 ms).
	OveruseDelay time.Duration
	// OveruseLoss: a loss fraction above it over an interval means the
	// same (default 0.05).
	OveruseLoss float64
	// QuietDelay and QuietLoss: below both the path is quiet (defaults
	// 40 ms, 0.01).
	QuietDelay time.Duration
	QuietLoss  float64
	// HoldUp is how long the path must have been quiet before a probe of
	// the next layer up (default 4 s). A layer that failed soon after it
	// was taken doubles it, up to MaxHoldUp (default 32 s); a layer kept
	// for 2 FailWindow brings it back.
	HoldUp, MaxHoldUp time.Duration
	// StartHold replaces HoldUp before the first probe (default 1.5 s): a
	// subscriber starts on a middle layer and climbs quickly when the path
	// allows it.
	StartHold time.Duration
	// FailWindow: overuse within it after going up means that layer
	// failed (default 4 s).
	FailWindow time.Duration
	// OveruseFor is how many intervals in a row must show overuse before a
	// step down (default 2): one bad interval is often the machine (a
	// busy CPU delays packets too), not the path. Delay without loss must
	// last DelayOveruseFor intervals (default 4): a full queue at a
	// bottleneck soon drops packets, while a busy machine delays them for
	// a moment and drops none.
	OveruseFor, DelayOveruseFor int
	// DownSpacing is the least time between two steps down (default 1 s):
	// the lower layer needs a moment to drain the queue the higher one
	// left.
	DownSpacing time.Duration
	// Headroom: a layer fits when a probe found at least Headroom times
	// its bitrate plus the other streams' (default 1.3). A train through
	// a token bucket measured up to 1.15 times its rate (a busy receiver
	// reads some of the packets together), and the publisher's uplink
	// also carries its own Interests for the other direction, which no
	// probe sees: with 1.2, a 2 Mbit/s uplink let the 720p layer (2.03
	// Mbit/s needed on the wire) up once a minute, and each try froze the
	// picture for 0.6-0.7 s.
	Headroom float64
	// DrainGrace: for this long after a step down is done (Switched: the
	// lower layer's keyframe came), loss short of a stall does not count
	// (default 1 s). The layer let go is still answered for the Interests
	// it had out and its packets fill the queue ahead of the lower
	// layer's first ones; measured at 1 Mbit/s, the 360p layer that took
	// over from 720p lost 14.5 % in its first second, stepped down to
	// 180p, and then carried that link for the rest of the run.
	DrainGrace time.Duration
}

func (c *Config) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.OveruseDelay, 80*time.Millisecond)
	def(&c.QuietDelay, 40*time.Millisecond)
	def(&c.HoldUp, 4*time.Second)
	def(&c.StartHold, 1500*time.Millisecond)
	def(&c.MaxHoldUp, 32*time.Second)
	def(&c.FailWindow, 4*time.Second)
	def(&c.DownSpacing, time.Second)
	def(&c.DrainGrace, time.Second)
	if c.OveruseLoss <= 0 {
		c.OveruseLoss = 0.05
	}
	if c.QuietLoss <= 0 {
		c.QuietLoss = 0.01
	}
	if c.Headroom <= 0 {
		c.Headroom = 1.3
	}
	if c.OveruseFor <= 0 {
		c.OveruseFor = 2
	}
	if c.DelayOveruseFor <= 0 {
		c.DelayOveruseFor = 4
	}
}

// Observation is what a subscriber measured over the interval ending at
// Now.
type Observation struct {
	Now        time.Time
	QueueDelay time.Duration // DelayEstimator.Queue of the layer pulled
	Loss       float64       // fraction of the interval's packets that needed a repair or were lost
	// Marks is how many of the interval's packets came with a congestion
	// mark (NDNLPv2: a forwarder on the path has a standing queue; NFD
	// marks at most a few packets a second). Marks count as a queue
	// above OveruseDelay: DelayOveruseFor intervals of them step down,
	// and any keeps the path from being quiet.
	Marks int
	Other float64 // bits/s of the other streams sharing the path (audio), for probes
}

// Decision is what to do now.
type Decision struct {
	Layer int // the layer to pull: switch to it if it is not the current one
	// Probe asks for a probe train of layer Layer+1; report its result with
	// ProbeResult.
	Probe bool
	// ProbeRate, with Probe, paces the train at this many bits/s (0: all
	// at once). A layer whose last probe did not fit is probed again
	// paced at PacedProbe times what it needs: that asks only whether
	// the path now carries it, without a burst into a bottleneck already
	// measured (measured at 500 kbit/s: the bursts of a probe every 5 s
	// froze the pulled layer 4-6 times a minute, no probe after the first
	// none).
	ProbeRate float64
	Reason    string // why the layer changed, for logs and stats ("" if it did not)
	// Lossy: a step down taken on loss, not on delay alone. The current
	// layer is not getting through: nothing is lost by letting it go
	// before the lower layer's keyframe. Delay alone may be a busy machine,
	// while the layer still plays.
	Lossy bool
}

// Chooser picks the layer to pull. Layers are indexed from the lowest
// (0); bitrates[i] is layer i's bitrate in bits/s. It is not safe for
// concurrent use.
type Chooser struct {
	cfg      Config
	bitrates []float64
	cur      int

	hold        time.Duration
	lastUp      time.Time // when cur was taken going up (zero: not by going up)
	lastDown    time.Time
	quietSince  time.Time // zero while not quiet; moved on by intervals neither quiet nor overused
	lastObs     time.Time // the previous Observe
	probing     bool
	probes      map[int][]probeSample // recent results of trains at once, per layer
	lastProbe   map[int]probeSample   // the latest result per layer, paced or not
	pacedProbe  bool                  // the probe under way is paced
	upCap       float64               // the capacity the last step up was taken on
	failCap     map[int]probeSample   // the capacity a step up to a layer failed on, and when
	overusing   int                   // intervals in a row with overuse
	lossy       int                   // of which with loss, in a row
	keptSince   time.Time             // since when cur has not overused
	cautious    bool                  // SetCautious
	limit       int                   // SetLimit: the highest layer allowed
	limitWhy    string
	raised      bool        // the limit went up since the last Observe
	capFrom     int         // the layer a limit took the choice down from (-1: none)
	capAt       time.Time   // when the limit last took it down
	drainUntil  time.Time   // a step down's grace for loss (Switched)
	moved       probeSample // TileMoved: the bitrate a large tile let go for this stream, and when
	Downs, Ups  int         // switches so far
	FailedUps   int         // ups undone within FailWindow
	ProbesTried int
}

type probeSample struct {
	at   time.Time
	rate float64
}

// Probe results are kept this long; the smaller of the last two counts
// (one train that got through faster than the path lasts must not take a
// layer up on its own; TrainRate already skips a token bucket's burst).
// Long memory slows the climb after a path recovers: with three samples
// over 30 s, probes taken while a link was limited kept a subscriber on
// the lowest layer for 10 s after the limit was lifted.
const (
	probeMemory  = 15 * time.Second
	probeSamples = 2
	// retryMargin: a layer that failed is tried again only on a capacity
	// this much above the one it failed on, for failMemory (then paths
	// change: the hold, doubled by each failure, still spaces the tries).
	retryMargin = 1.25
	failMemory  = time.Minute
	// recheck: a probe that fits when an earlier one did not is confirmed
	// this soon.
	recheck = time.Second
	// movedMemory and movedMargin (TileMoved): a large tile's bitrate
	// counts for the stream it moved to this long, for a layer up to this
	// much above it (the same layer of two cameras differs by a quarter).
	movedMemory = 3 * time.Second
	movedMargin = 1.25
	// PacedProbe: a paced train goes at this many times the bitrate a
	// layer needs with the other streams (Decision.ProbeRate); the
	// arrivals of a path that carries it then measure above Headroom
	// times it even when the layer's packets are smaller than its
	// metadata's mean.
	PacedProbe = 2.0
)

// NewChooser starts at layer start.
func NewChooser(cfg Config, bitrates []float64, start int, now time.Time) *Chooser {
	cfg.fill()
	start = min(max(start, 0), len(bitrates)-1)
	return &Chooser{cfg: cfg, bitrates: append([]float64(nil), bitrates...), cur: start, hold: cfg.StartHold, keptSince: now,
		probes: map[int][]probeSample{}, lastProbe: map[int]probeSample{}, failCap: map[int]probeSample{}, limit: len(bitrates) - 1,
		capFrom: -1}
}

// Layer is the current choice.
func (c *Chooser) Layer() int { return c.cur }

// SetBitrates updates the layers' bitrates (measured by the publisher).
func (c *Chooser) SetBitrates(b []float64) {
	if len(b) == len(c.bitrates) {
		copy(c.bitrates, b)
	}
}

// SetCautious says whether the subscriber's own uplink is known to be
// limited (its own subscribers pull a lower layer of its camera than it
// sends). Its Interests for a higher layer then load that uplink, which
// no probe measures: a step goes one layer at a time, a probe that fits
// after one that did not waits a whole hold to be confirmed, and a layer
// that fails on loss is not tried again for failMemory.
func (c *Chooser) SetCautious(on bool) { c.cautious = on }

// SetLimit sets the highest layer the subscriber may pull whatever its
// path carries (a negative limit or one past the top: none), and why (the
// reason of a step down it causes). Above it, the chooser steps down one
// layer per DownSpacing; that is no failure of the layer, and the climb
// resumes when the limit is lifted: at once up to the new limit if the
// limit took it down from there or higher within probeMemory (the path
// carried it, and no overuse since), else with a probe at the next
// Observe rather than after a hold (a page that now shows the video large must not wait
// seconds for it).
func (c *Chooser) SetLimit(layer int, why string) {
	if layer < 0 || layer >= len(c.bitrates) {
		layer = len(c.bitrates) - 1
	}
	if layer > c.limit {
		c.raised = true
	}
	c.limit, c.limitWhy = layer, why
}

// ProbeSoon makes the next quiet Observe probe the layer above rather than
// wait for a hold: a subscriber that needs a higher layer now (a page shows
// this camera large) and has not measured the path to it.
func (c *Chooser) ProbeSoon() {
	c.raised = true // handled as a raised limit the path never carried
}

// TileMoved reports that the page made this stream's tile larger and
// another's smaller at once (the speaker view's large tile moved to a new
// speaker): the subscriber's path carried rate bits/s of the other
// stream's layer a moment ago and no longer needs to. At the raised
// limit's Observe (within movedMemory) the choice goes straight to the
// highest layer up to the limit whose bitrate is within movedMargin of
// rate, without a probe: on a loaded machine a probe took 100-400 ms and,
// measuring a moment of the machine's delay, sometimes only the middle
// layer, and the top layer then waited a whole hold (4 s). A layer that
// failed lately is not taken that way; one taken fails like any step up
// (FailWindow).
func (c *Chooser) TileMoved(now time.Time, rate float64) {
	c.moved = probeSample{at: now, rate: rate}
}

// movedLayer is the layer TileMoved allows now (-1: none).
func (c *Chooser) movedLayer(now time.Time) int {
	if c.moved.rate <= 0 || now.Sub(c.moved.at) > movedMemory {
		return -1
	}
	for l := MovedLayer(c.bitrates, c.limit, c.moved.rate); l > c.cur; l-- {
		if f, ok := c.failCap[l]; ok && now.Sub(f.at) < failMemory && c.moved.rate < retryMargin*f.rate {
			continue
		}
		return l
	}
	return -1
}

// MovedLayer is the highest layer up to limit (lowest first; limit < 0:
// the top) whose bitrate a large tile of rate bits/s moved to a stream
// pays for (TileMoved), or -1. A stream shown large for the first time
// starts there.
func MovedLayer(bitrates []float64, limit int, rate float64) int {
	if limit < 0 || limit >= len(bitrates) {
		limit = len(bitrates) - 1
	}
	for l := limit; l >= 0; l-- {
		if bitrates[l] <= movedMargin*rate {
			return l
		}
	}
	return -1
}

// Carried is the bitrate of the current layer when the path carries it
// (no loss above OveruseLoss in the last interval; a delay may be the
// machine's), else 0: what a large tile lets go when it moves to another
// stream (TileMoved).
func (c *Chooser) Carried() float64 {
	if c.lossy > 0 {
		return 0
	}
	return c.bitrates[c.cur]
}

// Hold is the current quiet time required before probing up.
func (c *Chooser) Hold() time.Duration { return c.hold }

// Switched reports that the switch to layer is done (its keyframe came):
// after a step down, loss is not held against it for DrainGrace.
func (c *Chooser) Switched(now time.Time, layer int) {
	if layer == c.cur && !c.lastDown.IsZero() && c.lastUp.IsZero() {
		c.drainUntil = now.Add(c.cfg.DrainGrace)
	}
}

// Observe takes one interval's measurements.
func (c *Chooser) Observe(o Observation) Decision {
	defer func() { c.lastObs = o.Now }()
	draining := o.Now.Before(c.drainUntil) && o.Loss < 1
	if draining {
		o.Loss = 0 // the queue the layer above left (DrainGrace)
	}
	lossy := o.Loss > c.cfg.OveruseLoss
	overuse := o.QueueDelay > c.cfg.OveruseDelay || lossy || o.Marks > 0
	quiet := o.QueueDelay < c.cfg.QuietDelay && o.Loss < c.cfg.QuietLoss && o.Marks == 0 && !draining
	switch {
	case lossy:
		c.overusing++
		c.lossy++
	case overuse:
		c.overusing++
		c.lossy = 0
	default:
		c.overusing, c.lossy = 0, 0
	}
	need := c.cfg.DelayOveruseFor
	if c.lossy >= c.cfg.OveruseFor {
		need = c.cfg.OveruseFor
	}
	if c.raised {
		moved := c.movedLayer(o.Now)
		switch {
		case c.cur >= c.limit:
			c.raised = false
		case !lossy && !c.probing && moved > c.cur:
			// A delay does not hold a tile move back: what moved here
			// was let go at the same moment, so the path's load stays.
			// On a loaded machine (every stream delayed now and then)
			// the move waited up to 2.8 s for an interval under 80 ms.
			rate := c.moved.rate
			c.cur = moved
			c.moved = probeSample{}
			c.Ups++
			c.lastUp, c.upCap, c.quietSince = o.Now, rate, time.Time{}
			// Below the limit still: the rest of the way is probed at
			// the next interval without overuse, not after a hold.
			c.raised = c.cur < c.limit
			return Decision{Layer: c.cur, Reason: fmt.Sprintf("limit lifted: the large tile moved here (%.0f kbit/s let go)", rate/1000)}
		case overuse || c.probing:
			// Kept for an interval without overuse and without a probe
			// under way.
		default:
			c.raised = false
			if c.capFrom >= c.limit && o.Now.Sub(c.capAt) < probeMemory {
				c.cur = c.limit
				c.Ups++
				c.lastUp, c.upCap, c.quietSince = o.Now, 0, time.Time{}
				return Decision{Layer: c.cur, Reason: "limit lifted: back to the layer the path carried"}
			}
			// Never carried up to the new limit lately: probe now, quiet
			// or not, and the probe's result climbs as far as it fits.
			return c.probe(o)
		}
	}
	if c.cur > c.limit && o.Now.Sub(c.lastDown) >= c.cfg.DownSpacing {
		if c.capFrom < c.cur || o.Now.Sub(c.capAt) >= probeMemory {
			c.capFrom = c.cur
		}
		c.capAt = o.Now
		// Straight to the limit: a tile made small needs no layer in
		// between (each would be a keyframe and a second of its bitrate).
		c.stepDown(o.Now)
		c.cur = c.limit
		return Decision{Layer: c.cur, Reason: fmt.Sprintf("limit: layer %d at most (%s)", c.limit, c.limitWhy)}
	}
	switch {
	case overuse:
		c.quietSince = time.Time{}
		c.keptSince = o.Now
		if c.cur == 0 || c.overusing < need || o.Now.Sub(c.lastDown) < c.cfg.DownSpacing {
			return Decision{Layer: c.cur}
		}
		reason := fmt.Sprintf("overuse: queue %v, loss %.1f%%", o.QueueDelay.Round(time.Millisecond), 100*o.Loss)
		if o.Marks > 0 {
			reason += fmt.Sprintf(", %d congestion marks", o.Marks)
		}
		// A layer taken up fails when it overuses within FailWindow; with
		// the subscriber's own uplink limited (cautious), whenever it is
		// left on loss: its Interests may take a while to fill that
		// uplink, and each try costs the subscriber's own viewers.
		if !c.lastUp.IsZero() && (o.Now.Sub(c.lastUp) < c.cfg.FailWindow || c.cautious && lossy && c.lossy >= c.cfg.OveruseFor) {
			c.hold = min(2*c.hold, c.cfg.MaxHoldUp)
			c.FailedUps++
			// A layer that stalled (nothing of it arrives: the page
			// stopped sending it, or the path failed) says nothing of
			// the capacity the step was taken on: remembering it would
			// keep the layer out until a probe found 1.25 times a
			// capacity that may have been hundreds of Mbit/s.
			//
			// A cautious subscriber's layer may fail on a limit no
			// probe measures: its Interests' way, its own uplink shared
			// with its own media. No probe result says that the layer
			// fits then: it waits failMemory.
			if c.upCap > 0 && o.Loss < 1 {
				rate := c.upCap
				if c.cautious {
					rate = math.Inf(1)
				}
				c.failCap[c.cur] = probeSample{at: o.Now, rate: rate}
			}
			reason += " (the layer taken up failed)"
		}
		lossyDown := c.lossy >= c.cfg.OveruseFor
		c.capFrom = -1 // the path, not a limit: what it carried before says nothing now
		c.stepDown(o.Now)
		return Decision{Layer: c.cur, Reason: reason, Lossy: lossyDown}
	case quiet:
		if c.quietSince.IsZero() {
			c.quietSince = o.Now
		}
	case !c.quietSince.IsZero() && !c.lastObs.IsZero():
		// Some delay or loss, short of overuse: the quiet time so far
		// counts, this interval does not. A busy machine delays packets
		// by tens of milliseconds now and then; when every such interval
		// started the hold over, a receiver on a loaded two-core machine
		// never probed, and stayed on the layer a step down had left it
		// for the rest of the run (measured: 29 s at 360p after the link
		// was unlimited again). The probe still decides whether the next
		// layer fits.
		c.quietSince = c.quietSince.Add(o.Now.Sub(c.lastObs))
	}
	if o.Now.Sub(c.keptSince) >= 2*c.cfg.FailWindow {
		c.hold = c.cfg.HoldUp
	}
	if c.cur < c.limit && !c.probing && !c.quietSince.IsZero() && o.Now.Sub(c.quietSince) >= c.hold {
		return c.probe(o)
	}
	return Decision{Layer: c.cur}
}

// probe asks for a probe train of the layer above the current one.
func (c *Chooser) probe(o Observation) Decision {
	c.probing = true
	c.ProbesTried++
	d := Decision{Layer: c.cur, Probe: true}
	if c.probedShort(c.cur+1, o.Now, o.Other) {
		d.ProbeRate = PacedProbe * (c.bitrates[c.cur+1] + o.Other)
	}
	c.pacedProbe = d.ProbeRate > 0
	return d
}

// ProbeResult takes the capacity a probe train of the next layer up
// measured (ok false: too fast to measure, the path is not the limit), and
// says whether to go up: to the highest layer the capacity fits (a path
// that recovered from a limit climbs in one step, not one hold per layer),
// one layer on a train too fast to measure.
func (c *Chooser) ProbeResult(now time.Time, capacity float64, ok bool, other float64) Decision {
	if !c.probing {
		return Decision{Layer: c.cur}
	}
	c.probing = false
	next := c.cur + 1
	if next > c.limit {
		return Decision{Layer: c.cur}
	}
	fits := func(l float64, layer int) bool {
		failed, ok := c.failCap[layer]
		if ok && now.Sub(failed.at) >= failMemory {
			delete(c.failCap, layer)
			ok = false
		}
		return l >= c.cfg.Headroom*(c.bitrates[layer]+other) && (!ok || l >= retryMargin*failed.rate)
	}
	if c.pacedProbe {
		// A paced train only says whether the path may carry the layer
		// now: a token bucket's burst can let a short one through whole.
		// One that fits is confirmed a moment later by a train at once;
		// only those count for the step up.
		c.quietSince = now
		if ok && !fits(capacity, next) {
			c.lastProbe[next] = probeSample{at: now, rate: capacity}
			return Decision{Layer: c.cur}
		}
		c.lastProbe[next] = probeSample{at: now, rate: math.Inf(1)}
		c.confirmSoon(now)
		return Decision{Layer: c.cur}
	}
	c.lastProbe[next] = probeSample{at: now, rate: capacity}
	to := next
	if ok {
		latest := capacity
		capacity = c.recentCapacity(next, now, capacity)
		if !fits(capacity, next) {
			// Not enough: wait another hold of quiet before the next
			// probe; only a moment if this probe alone fits (the path
			// may have recovered: the next one confirms it).
			c.quietSince = now
			if fits(latest, next) {
				c.confirmSoon(now)
			}
			return Decision{Layer: c.cur}
		}
		for !c.cautious && to+1 <= c.limit && fits(capacity, to+1) {
			to++
		}
	}
	for l := next; l <= to; l++ {
		delete(c.failCap, l)
	}
	c.cur = to
	c.Ups++
	c.lastUp = now
	c.upCap = 0
	c.quietSince = time.Time{}
	reason := "probe: path faster than the sender"
	if ok {
		c.upCap = capacity
		reason = fmt.Sprintf("probe: %.0f kbit/s >= %.0f needed", capacity/1000, c.cfg.Headroom*(c.bitrates[to]+other)/1000)
	}
	return Decision{Layer: c.cur, Reason: reason}
}

// stepDown takes the layer below the current one.
func (c *Chooser) stepDown(now time.Time) {
	c.cur--
	c.Downs++
	c.overusing, c.lossy = 0, 0
	c.lastDown, c.lastUp = now, time.Time{}
	c.probing = false
}

// confirmSoon brings the next probe forward to recheck from now, after a
// probe that fits (quietSince was just set to now); a cautious subscriber
// waits a whole hold.
func (c *Chooser) confirmSoon(now time.Time) {
	if !c.cautious {
		c.quietSince = now.Add(recheck - c.hold)
	}
}

// probedShort reports whether layer was found not to fit lately: its
// latest probe, within probeMemory, measured less than it needs, or it
// failed after a step up within failMemory and has not been probed
// since. A probe that fit is confirmed all at once: a paced train can
// pass whole through a token bucket's burst (at 2 Mbit/s, a 4 KB bucket
// lets 7 packets paced at 3.3 Mbit/s by), a train at once only its
// first few.
func (c *Chooser) probedShort(layer int, now time.Time, other float64) bool {
	if p, ok := c.lastProbe[layer]; ok && now.Sub(p.at) < probeMemory {
		return p.rate < c.cfg.Headroom*(c.bitrates[layer]+other)
	}
	f, ok := c.failCap[layer]
	return ok && now.Sub(f.at) < failMemory
}

// recentCapacity records a probe of layer and returns the smallest of the
// recent ones.
func (c *Chooser) recentCapacity(layer int, now time.Time, rate float64) float64 {
	keep := c.probes[layer][:0]
	for _, p := range c.probes[layer] {
		if now.Sub(p.at) < probeMemory {
			keep = append(keep, p)
		}
	}
	keep = append(keep, probeSample{at: now, rate: rate})
	if len(keep) > probeSamples {
		keep = keep[len(keep)-probeSamples:]
	}
	c.probes[layer] = keep
	m := rate
	for _, p := range keep {
		m = min(m, p.rate)
	}
	return m
}

// SwitchFailed reports that the switch to the chosen layer did not happen
// (its keyframe never came: the sender may have stopped that layer): the
// choice goes back to layer, and a failed step up doubles the hold.
func (c *Chooser) SwitchFailed(now time.Time, layer int) {
	if layer > c.cur || layer < 0 || layer >= len(c.bitrates) {
		c.cur = min(max(layer, 0), len(c.bitrates)-1)
		return
	}
	if !c.lastUp.IsZero() {
		c.hold = min(2*c.hold, c.cfg.MaxHoldUp)
		c.FailedUps++
		c.lastUp = time.Time{}
	}
	c.cur = layer
	c.quietSince = now
}

// ProbeFailed reports that a probe got no answer (lost, timed out): it
// counts as a quiet interval restarting.
func (c *Chooser) ProbeFailed(now time.Time) {
	c.probing = false
	c.quietSince = now
}
