package adapt

import (
	"testing"
	"time"
)

// nextProbe feeds quiet intervals until the chooser asks for a probe,
// and returns that decision.
func nextProbe(c *Chooser, now *time.Time) Decision {
	d := quiet(c, now, 1)
	for !d.Probe {
		d = quiet(c, now, 1)
	}
	return d
}

// quiet feeds n quiet intervals and returns the last decision.
func quiet(c *Chooser, now *time.Time, n int) Decision {
	var d Decision
	for range n {
		*now = now.Add(250 * time.Millisecond)
		d = c.Observe(Observation{Now: *now})
	}
	return d
}

// One train that went faster than the path (a token bucket's burst) does
// not take a layer up: the smallest recent probe counts.
func TestChooserProbeOutlier(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	start := now
	for !quiet(c, &now, 1).Probe {
	}
	if h := now.Sub(start); h < 1500*time.Millisecond || h > 2*time.Second {
		t.Fatalf("first probe after %v of quiet (the start hold is 1.5 s)", h)
	}
	if d := c.ProbeResult(now, 400e3, true, 0); d.Layer != 0 {
		t.Fatal("went up on too little")
	}
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 5e6, true, 0); d.Layer != 0 {
		t.Fatalf("went up on an outlier after a low probe: %+v", d)
	}
}

// A layer that failed is tried again only when a probe finds clearly more
// than the capacity it failed on; then it is.
func TestChooserFailedLayerMemory(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 800e3, true, 0); d.Layer != 1 {
		t.Fatalf("did not go up on 800 kbit/s: %+v", d)
	}
	// it fails at once: four intervals of queue
	for range 4 {
		now = now.Add(250 * time.Millisecond)
		c.Observe(Observation{Now: now, QueueDelay: 200 * time.Millisecond})
	}
	if c.Layer() != 0 || c.FailedUps != 1 {
		t.Fatalf("layer %d, failed ups %d", c.Layer(), c.FailedUps)
	}
	now = now.Add(probeMemory) // forget the probes
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 850e3, true, 0); d.Layer != 0 {
		t.Fatal("tried the failed layer again on about the same capacity")
	}
	now = now.Add(probeMemory)
	if d := probeAt(c, &now, 1.2e6, 0); d.Layer != 1 {
		t.Fatalf("did not try again on a clearly faster path: %+v", d)
	}
}

// probeAt probes at capacity until the chooser decides: a paced probe
// that fits is confirmed by trains at once (at most three probes).
func probeAt(c *Chooser, now *time.Time, capacity, other float64) Decision {
	var d Decision
	for range 3 {
		nextProbe(c, now)
		d = c.ProbeResult(*now, capacity, true, other)
		if d.Reason != "" {
			return d
		}
	}
	return d
}

// A step down says whether it was taken on loss (the layer is not getting
// through: let it go at once) or on delay alone (it still plays).
func TestChooserDownLossy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		obs   Observation
		n     int
		lossy bool
	}{
		{"loss", Observation{Loss: 0.2}, 2, true},
		{"delay", Observation{QueueDelay: 150 * time.Millisecond}, 4, false},
		{"stall", Observation{Loss: 1}, 2, true},
	} {
		now := time.Unix(1_800_000_000, 0)
		c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 2, now)
		var d Decision
		for i := range tc.n {
			now = now.Add(250 * time.Millisecond)
			o := tc.obs
			o.Now = now
			d = c.Observe(o)
			if i < tc.n-1 && d.Layer != 2 {
				t.Fatalf("%s: down after %d intervals", tc.name, i+1)
			}
		}
		if d.Layer != 1 || d.Lossy != tc.lossy {
			t.Errorf("%s: %+v, want layer 1, lossy %v", tc.name, d, tc.lossy)
		}
	}
}

// A probe that finds room for more than the next layer takes the highest
// layer that fits in one step; one that fits only the next takes that.
func TestChooserProbeClimbsToWhatFits(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 20e6, true, 100e3); d.Layer != 2 || c.Ups != 1 {
		t.Fatalf("20 Mbit/s from the lowest layer: %+v, ups %d", d, c.Ups)
	}
	c = NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 1e6, true, 100e3); d.Layer != 1 {
		t.Fatalf("1 Mbit/s from the lowest layer: %+v", d)
	}
}

// Probes taken while a path was limited stop holding a subscriber down
// soon after the limit is lifted: after a fast paced probe (the slow ones
// made the next ones paced), the second fast train at once takes it up.
func TestChooserForgetsLimitedProbes(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	for range 3 {
		for !quiet(c, &now, 1).Probe {
		}
		if d := c.ProbeResult(now, 400e3, true, 100e3); d.Layer != 0 {
			t.Fatalf("up on 400 kbit/s: %+v", d)
		}
	}
	// the limit is lifted
	at := now
	for i, want := range []int{0, 0, 2} {
		d := nextProbe(c, &now)
		if paced := d.ProbeRate > 0; paced != (i == 0) {
			t.Fatalf("probe %d after the slow ones: %+v", i, d)
		}
		if d := c.ProbeResult(now, 20e6, true, 100e3); d.Layer != want {
			t.Fatalf("fast probe %d after slow ones: %+v, want layer %d", i, d, want)
		}
	}
	if took := now.Sub(at); took > c.Hold()+2500*time.Millisecond {
		t.Fatalf("up %v after the limit was lifted", took)
	}
}

// A layer taken up that then stalls (nothing of it arrives) is tried again
// on the next probe that fits it: a stall is no measure of the capacity
// the step was taken on. One that failed on loss is kept out until a probe
// finds clearly more, for at most failMemory.
func TestChooserFailedLayerStallAndExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 1, now)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 300e6, true, 0); d.Layer != 2 {
		t.Fatalf("did not go up: %+v", d)
	}
	for range 2 { // the layer stalls
		now = now.Add(250 * time.Millisecond)
		c.Observe(Observation{Now: now, Loss: 1})
	}
	if c.Layer() != 1 || c.FailedUps != 1 {
		t.Fatalf("layer %d, failed ups %d", c.Layer(), c.FailedUps)
	}
	now = now.Add(probeMemory)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 300e6, true, 0); d.Layer != 2 {
		t.Fatalf("a stalled layer was kept out: %+v", d)
	}
	// now it fails on loss
	for range 2 {
		now = now.Add(250 * time.Millisecond)
		c.Observe(Observation{Now: now, Loss: 0.2})
	}
	now = now.Add(probeMemory)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 300e6, true, 0); d.Layer != 1 {
		t.Fatalf("a layer that failed on loss was tried again on the same capacity: %+v", d)
	}
	now = now.Add(failMemory)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 300e6, true, 0); d.Layer != 2 {
		t.Fatalf("the failure was remembered past failMemory: %+v", d)
	}
}

// Congestion marks: a forwarder's standing queue. Marked intervals in a
// row step down as a queue would (not lossy: the layer still plays), and
// a marked interval is never quiet, so no probe goes up through it.
func TestChooserCongestionMarks(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 1, now)
	for i := range 40 { // 10 s, one mark every other interval
		now = now.Add(250 * time.Millisecond)
		if d := c.Observe(Observation{Now: now, Marks: i % 2}); d.Probe || d.Layer != 1 {
			t.Fatalf("interval %d: %+v", i, d)
		}
	}
	var d Decision
	for range 4 {
		now = now.Add(250 * time.Millisecond)
		d = c.Observe(Observation{Now: now, Marks: 1})
	}
	if d.Layer != 0 || d.Lossy || c.Downs != 1 {
		t.Fatalf("four marked intervals: %+v, downs %d", d, c.Downs)
	}
}

// A layer taken up that fails on loss while the Data's way shows no
// queue is a layer like any other that failed, unless the subscriber is
// cautious (its own uplink limits others: TestChooserCautious): it is
// tried again on a probe clearly above the capacity it failed on. Held
// off a minute, it kept a subscriber on the lowest layer for the 20 s
// after a link came back from 1 Mbit/s (it had failed once there).
func TestChooserFailedOnLossWithoutQueue(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 1, now)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 3e6, true, 0); d.Layer != 2 {
		t.Fatalf("did not go up: %+v", d)
	}
	for range 2 {
		now = now.Add(250 * time.Millisecond)
		c.Observe(Observation{Now: now, Loss: 0.12, QueueDelay: 5 * time.Millisecond})
	}
	if c.Layer() != 1 || c.FailedUps != 1 {
		t.Fatalf("layer %d, failed ups %d", c.Layer(), c.FailedUps)
	}
	now = now.Add(probeMemory)
	if d := probeAt(c, &now, 3.2e6, 0); d.Layer != 1 {
		t.Fatalf("tried again on about the capacity it failed on: %+v", d)
	}
	now = now.Add(probeMemory)
	if d := probeAt(c, &now, 200e6, 0); d.Layer != 2 {
		t.Fatalf("not tried again on a path far faster: %+v", d)
	}
}

// With its own uplink limited, a subscriber climbs one layer per probe,
// and a layer that fails on loss (even with a queue on the Data's way) is
// not tried again for failMemory.
func TestChooserCautious(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	c.SetCautious(true)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 20e6, true, 0); d.Layer != 1 {
		t.Fatalf("cautious: %+v, want one layer up", d)
	}
	for range 2 {
		now = now.Add(250 * time.Millisecond)
		c.Observe(Observation{Now: now, Loss: 0.12, QueueDelay: 60 * time.Millisecond})
	}
	if c.Layer() != 0 {
		t.Fatalf("layer %d after loss", c.Layer())
	}
	now = now.Add(probeMemory)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 200e6, true, 0); d.Layer != 0 {
		t.Fatalf("tried the failed layer again: %+v", d)
	}
	// a layer kept for a while and then lost counts as failed too
	c = NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	c.SetCautious(true)
	for !quiet(c, &now, 1).Probe {
	}
	c.ProbeResult(now, 20e6, true, 0)
	quiet(c, &now, 40) // 10 s on it
	for range 2 {
		now = now.Add(250 * time.Millisecond)
		c.Observe(Observation{Now: now, Loss: 0.12})
	}
	if c.Layer() != 0 || c.FailedUps != 1 {
		t.Fatalf("layer %d, failed ups %d", c.Layer(), c.FailedUps)
	}
}

// A limit (the subscriber's own uplink) takes the chooser down one layer
// per DownSpacing with no failure recorded, stops probes at the limit and
// caps a climb; lifted, the climb resumes.
func TestChooserLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 2, now)
	c.SetLimit(0, "test")
	d := quiet(c, &now, 1)
	if d.Layer != 0 || d.Reason == "" || d.Lossy {
		t.Fatalf("down to the limit, no layer in between: %+v", d)
	}
	quiet(c, &now, 4)
	if c.Layer() != 0 || c.FailedUps != 0 || c.Downs != 1 {
		t.Fatalf("layer %d, failed ups %d, downs %d", c.Layer(), c.FailedUps, c.Downs)
	}
	for range 200 { // 50 s of quiet: no probe at the limit
		if quiet(c, &now, 1).Probe {
			t.Fatal("probed above the limit")
		}
	}
	c.SetLimit(1, "test")
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 200e6, true, 0); d.Layer != 1 {
		t.Fatalf("climbed past the limit: %+v", d)
	}
	c.SetLimit(-1, "")
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 200e6, true, 0); d.Layer != 2 {
		t.Fatalf("limit lifted: %+v", d)
	}
}

// A layer whose last probe did not fit is probed again paced at
// PacedProbe times what it needs; a first probe, and one after a probe
// that fit, go all at once.
func TestChooserPacedProbe(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	d := nextProbe(c, &now)
	if d.ProbeRate != 0 {
		t.Fatalf("first probe paced: %+v", d)
	}
	c.ProbeResult(now, 400e3, true, 0) // does not fit 500 kbit/s
	d = nextProbe(c, &now)
	if d.ProbeRate != PacedProbe*500e3 {
		t.Fatalf("probe after a short one: rate %v, want %v", d.ProbeRate, PacedProbe*500e3)
	}
	// this one fits: confirmed a moment later by trains at once; only
	// those count (the smaller of the last two: the short one first)
	start := now
	if d := c.ProbeResult(now, 900e3, true, 0); d.Layer != 0 {
		t.Fatalf("went up on a paced train: %+v", d)
	}
	for _, want := range []int{0, 1} {
		d = nextProbe(c, &now)
		if d.ProbeRate != 0 {
			t.Fatalf("confirmation of a probe that fit paced: %+v", d)
		}
		if d := c.ProbeResult(now, 950e3, true, 0); d.Layer != want {
			t.Fatalf("confirmation: %+v, want layer %d", d, want)
		}
	}
	if took := now.Sub(start); took > 3*time.Second {
		t.Fatalf("confirmed after %v", took)
	}
}

// A limit lifted (a page now shows the video large) is followed at once:
// back to the layer the limit took the choice down from, within
// probeMemory; with no such layer, a probe at the next interval, not after
// a hold.
func TestChooserLimitLifted(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 2, now)
	c.SetLimit(0, "thumbnail")
	quiet(c, &now, 12)
	if c.Layer() != 0 {
		t.Fatalf("layer %d under the limit", c.Layer())
	}
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 2 || d.Reason == "" {
		t.Fatalf("limit lifted: %+v, want back to 2 at once", d)
	}

	// Long under the limit: the memory is gone; a probe comes at once.
	c.SetLimit(0, "thumbnail")
	quiet(c, &now, 12+int(probeMemory/(250*time.Millisecond)))
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 0 || !d.Probe {
		t.Fatalf("limit lifted after %v: %+v, want a probe at once", probeMemory, d)
	}
	if d := c.ProbeResult(now, 200e6, true, 0); d.Layer != 2 {
		t.Fatalf("probe: %+v", d)
	}

	// Taken down from the middle layer: lifting the limit to the top
	// probes at once (the path never carried the top lately) rather than
	// going back to the middle and waiting a hold to probe further.
	c = NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 1, now)
	c.SetLimit(0, "thumbnail")
	quiet(c, &now, 6)
	if c.Layer() != 0 {
		t.Fatalf("layer %d under the limit", c.Layer())
	}
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 0 || !d.Probe {
		t.Fatalf("limit lifted above where it was: %+v, want a probe at once", d)
	}
	if d := c.ProbeResult(now, 200e6, true, 0); d.Layer != 2 {
		t.Fatalf("probe: %+v, want the top at once", d)
	}

	// Lifted during a delay that is neither quiet nor overuse, and during
	// overuse: the probe still comes, at the first interval without
	// overuse.
	c = NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	c.SetLimit(0, "thumbnail")
	quiet(c, &now, 4)
	c.SetLimit(-1, "")
	now = now.Add(250 * time.Millisecond)
	if d := c.Observe(Observation{Now: now, QueueDelay: 300 * time.Millisecond}); d.Probe {
		t.Fatalf("probed during overuse: %+v", d)
	}
	now = now.Add(250 * time.Millisecond)
	if d := c.Observe(Observation{Now: now, QueueDelay: 50 * time.Millisecond}); !d.Probe {
		t.Fatalf("the lifted limit was lost: %+v", d)
	}
	if d := c.ProbeResult(now, 200e6, true, 0); d.Layer != 2 {
		t.Fatalf("probe: %+v", d)
	}

	// Overuse after the limit came down: the path, not the limit, is what
	// holds the layer; lifting the limit does not jump.
	c.SetLimit(1, "small tile")
	quiet(c, &now, 6)
	for range 20 {
		now = now.Add(250 * time.Millisecond)
		c.Observe(Observation{Now: now, QueueDelay: 300 * time.Millisecond})
	}
	if c.Layer() != 0 {
		t.Fatalf("overuse: layer %d", c.Layer())
	}
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 0 {
		t.Fatalf("jumped over an overused path: %+v", d)
	}
}

// ProbeSoon: a fresh chooser that must find out at once probes at the
// first quiet interval instead of after its starting hold.
func TestChooserProbeSoon(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 1, now)
	c.ProbeSoon()
	if d := quiet(c, &now, 1); !d.Probe {
		t.Fatalf("first interval: %+v, want a probe", d)
	}
	lazy := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 1, now)
	if d := quiet(lazy, &now, 1); d.Probe {
		t.Fatalf("a probe before the starting hold: %+v", d)
	}
}

// After a step down is done, the lower layer's loss in its first second is
// the queue the higher one left: no second step for it; but a stall, or
// loss after the grace, still steps down.
func TestChooserDrainGrace(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 2, now)
	obs := func(loss float64) Decision {
		now = now.Add(250 * time.Millisecond)
		return c.Observe(Observation{Now: now, Loss: loss, QueueDelay: 50 * time.Millisecond})
	}
	obs(0.2)
	if d := obs(0.2); d.Layer != 1 || !d.Lossy {
		t.Fatalf("no step down on loss: %+v", d)
	}
	now = now.Add(400 * time.Millisecond)
	c.Switched(now, 1)
	for i := range 3 { // 750 ms of the grace
		if d := obs(0.15); d.Layer != 1 {
			t.Fatalf("stepped down %d ms into the grace: %+v", 250*(i+1), d)
		}
	}
	obs(0.15) // the grace ends: loss counts again
	if d := obs(0.15); d.Layer != 0 {
		t.Fatalf("loss after the grace kept the layer: %+v", d)
	}

	// a stall in the grace steps down
	c = NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 2, now)
	now = now.Add(2 * time.Second)
	obs(0.2)
	obs(0.2)
	now = now.Add(1100 * time.Millisecond)
	c.Switched(now, 1)
	obs(1)
	if d := obs(1); d.Layer != 0 {
		t.Fatalf("a stall in the grace kept the layer: %+v", d)
	}

	// a switch up has no grace
	c = NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	for !quiet(c, &now, 1).Probe {
	}
	if d := c.ProbeResult(now, 800e3, true, 0); d.Layer != 1 {
		t.Fatalf("no step up: %+v", d)
	}
	c.Switched(now, 1)
	obs(0.2)
	if d := obs(0.2); d.Layer != 0 {
		t.Fatalf("loss right after a step up kept the layer: %+v", d)
	}
}

// A busy machine delays packets by tens of milliseconds now and then:
// such intervals (short of overuse) pause the quiet hold rather than start
// it over, so the receiver still probes; an overuse starts it over.
func TestChooserQuietPaused(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	start := now
	probed := time.Duration(0)
	for i := range 100 { // 25 s: every other interval 60 ms of queue
		now = now.Add(250 * time.Millisecond)
		q := time.Duration(0)
		if i%2 == 1 {
			q = 60 * time.Millisecond
		}
		if d := c.Observe(Observation{Now: now, QueueDelay: q}); d.Probe {
			probed = now.Sub(start)
			break
		}
	}
	// the start hold is 1.5 s of quiet: half the intervals are
	if probed < 2500*time.Millisecond || probed > 4*time.Second {
		t.Fatalf("first probe after %v (0: none in 25 s)", probed)
	}

	// an overuse starts the hold over
	c = NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 0, now)
	quiet(c, &now, 5) // 1.25 s of quiet
	now = now.Add(250 * time.Millisecond)
	c.Observe(Observation{Now: now, QueueDelay: 100 * time.Millisecond})
	if d := quiet(c, &now, 2); d.Probe {
		t.Fatal("probed 0.5 s after an overuse")
	}
}

// TestChooserTileMoved: the large tile moved here from a stream whose top
// layer the path carried: the raised limit takes the top at once, with no
// probe; not when the move is old, not above what moved (with a margin),
// and not to a layer that failed lately on a capacity the move does not
// beat. A layer taken so fails like any step up.
func TestChooserTileMoved(t *testing.T) {
	rates := []float64{150e3, 500e3, 1.5e6}
	start := time.Unix(1_800_000_000, 0)
	thumb := func() (*Chooser, time.Time) {
		now := start
		c := NewChooser(Config{}, rates, 0, now)
		c.SetLimit(0, "thumbnail")
		quiet(c, &now, 8+int(probeMemory/(250*time.Millisecond)))
		return c, now
	}

	c, now := thumb()
	c.TileMoved(now, 1.3e6) // another camera's top layer, a little smaller
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 2 || d.Probe || d.Reason == "" {
		t.Fatalf("tile moved: %+v, want the top at once", d)
	}
	// It fails like any step up: overuse within FailWindow.
	for range 4 {
		now = now.Add(250 * time.Millisecond)
		c.Observe(Observation{Now: now, Loss: 0.3})
	}
	if c.Layer() != 1 || c.FailedUps != 1 {
		t.Fatalf("after loss: layer %d, failed ups %d, want 1, 1", c.Layer(), c.FailedUps)
	}

	// What moved was the middle layer: the middle, not the top.
	c, now = thumb()
	c.TileMoved(now, 480e3)
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 1 || d.Probe {
		t.Fatalf("a middle layer moved: %+v, want the middle at once", d)
	}
	// and the rest of the way is probed at once, not after a hold
	if d := quiet(c, &now, 1); !d.Probe {
		t.Fatalf("after a move to the middle: %+v, want a probe of the top", d)
	}
	if d := c.ProbeResult(now, 200e6, true, 0); d.Layer != 2 {
		t.Fatalf("probe: %+v", d)
	}

	// Too old (the view changed long before the limit took effect), or
	// too small: a probe as before.
	c, now = thumb()
	c.TileMoved(now.Add(-2*movedMemory), 1.5e6)
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 0 || !d.Probe {
		t.Fatalf("an old move: %+v, want a probe", d)
	}
	c, now = thumb()
	c.TileMoved(now, 100e3)
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 0 || !d.Probe {
		t.Fatalf("a thumbnail moved: %+v, want a probe", d)
	}

	// The top failed lately on 2 Mbit/s: a move of 1.5 Mbit/s takes the
	// middle only.
	c, now = thumb()
	c.failCap[2] = probeSample{at: now.Add(-10 * time.Second), rate: 2e6}
	c.TileMoved(now, 1.5e6)
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); d.Layer != 1 {
		t.Fatalf("the top failed lately: %+v, want the middle", d)
	}

	// A delay does not hold the move back; loss does.
	c, now = thumb()
	c.TileMoved(now, 1.5e6)
	c.SetLimit(-1, "")
	now = now.Add(250 * time.Millisecond)
	if d := c.Observe(Observation{Now: now, QueueDelay: 300 * time.Millisecond}); d.Layer != 2 {
		t.Fatalf("tile moved during a delay: %+v, want the top at once", d)
	}
	c, now = thumb()
	c.TileMoved(now, 1.5e6)
	c.SetLimit(-1, "")
	now = now.Add(250 * time.Millisecond)
	if d := c.Observe(Observation{Now: now, Loss: 0.3}); d.Layer != 0 {
		t.Fatalf("tile moved during loss: %+v, want to wait", d)
	}
	if d := quiet(c, &now, 1); d.Layer != 2 {
		t.Fatalf("tile moved, loss gone: %+v, want the top", d)
	}

	// A move is used once.
	c, now = thumb()
	c.TileMoved(now, 1.5e6)
	c.SetLimit(-1, "")
	quiet(c, &now, 1)
	c.SetLimit(0, "thumbnail")
	quiet(c, &now, 1+int(probeMemory/(250*time.Millisecond)))
	c.SetLimit(-1, "")
	if d := quiet(c, &now, 1); !d.Probe {
		t.Fatalf("the move counted twice: %+v", d)
	}
}

// TestChooserCarried: what a stream's tile lets go is its current layer's
// bitrate, delayed or not, unless the path loses it.
func TestChooserCarried(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := NewChooser(Config{}, []float64{150e3, 500e3, 1.5e6}, 2, now)
	quiet(c, &now, 2)
	if got := c.Carried(); got != 1.5e6 {
		t.Fatalf("carried %v, want 1.5e6", got)
	}
	now = now.Add(250 * time.Millisecond)
	c.Observe(Observation{Now: now, QueueDelay: 200 * time.Millisecond})
	if got := c.Carried(); got != 1.5e6 {
		t.Fatalf("carried %v with a delay, want 1.5e6", got)
	}
	now = now.Add(250 * time.Millisecond)
	c.Observe(Observation{Now: now, Loss: 0.2})
	if got := c.Carried(); got != 0 {
		t.Fatalf("carried %v while losing, want 0", got)
	}
}
