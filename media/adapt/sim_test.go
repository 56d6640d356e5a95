package adapt

import (
	"fmt"
	"math"
	"sort"
	"testing"
	"time"
)

// A deterministic simulation of one subscriber pulling a simulcast video
// plus audio through a bottleneck: a FIFO served at a rate that follows a
// schedule, whose queue holds at most maxQueue of sending time (as tbf's
// latency: packets beyond are dropped), then a fixed propagation delay. The
// publisher sends what is pulled the moment it exists, paced like a
// browser (2.5 times the layer's bitrate). A switch takes effect at the
// target layer's next keyframe (keyframeDelay after it was asked for);
// until then both layers cross the link.

var testLayers = []float64{150e3, 500e3, 1.5e6}

const (
	fps           = 20
	audioRate     = 50 // packets/s
	audioSize     = 100
	mtu           = 1100
	propagation   = 10 * time.Millisecond
	maxQueue      = 100 * time.Millisecond
	keyframeDelay = 200 * time.Millisecond
	interval      = 250 * time.Millisecond
	clockRate     = 90000
	trainLen      = 8
)

type rateStep struct {
	at   time.Duration
	rate float64 // bits/s; 0 = unlimited
}

type simPacket struct {
	sent    time.Duration
	size    int
	layer   int // -1 audio, -2 probe
	frame   int // frame index (video), for per-frame delivery
	capture time.Duration
}

type simResult struct {
	layerAt    []int // layer delivered per second
	framesAt   []int // complete video frames delivered per second
	ch         *Chooser
	audioLost  int
	audioTotal int
}

// link is the bottleneck: it returns the arrival time of a packet entering
// at t, or false if dropped.
type link struct {
	steps    []rateStep
	busyTill time.Duration
}

func (l *link) rateAt(t time.Duration) float64 {
	r := 0.0
	for _, s := range l.steps {
		if t >= s.at {
			r = s.rate
		}
	}
	return r
}

func (l *link) enter(t time.Duration, size int) (time.Duration, bool) {
	r := l.rateAt(t)
	if r == 0 {
		return t + propagation, true
	}
	start := max(t, l.busyTill)
	if start-t > maxQueue {
		return 0, false
	}
	tx := time.Duration(float64(size*8) / r * float64(time.Second))
	l.busyTill = start + tx
	return l.busyTill + propagation, true
}

func simulate(t *testing.T, steps []rateStep, dur time.Duration, start int) simResult {
	t.Helper()
	t0 := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	ch := NewChooser(Config{}, testLayers, start, at(0))
	l := &link{steps: steps}
	var de DelayEstimator
	de.Reset(clockRate)

	cur, target := start, start
	switchAt := time.Duration(-1) // when the target layer's keyframe comes
	var lost, total int           // video packets, this interval
	nextObs := interval
	secs := int(dur / time.Second)
	res := simResult{layerAt: make([]int, secs), framesAt: make([]int, secs), ch: ch}
	type arrival struct {
		at  time.Duration
		pkt simPacket
	}
	var arrivals []arrival
	frameParts := map[[2]int]int{} // (layer, frame) -> packets still missing
	frameLost := map[[2]int]bool{}
	var probe []arrival
	probeAt := time.Duration(-1)

	send := func(now time.Duration, p simPacket) {
		if arr, ok := l.enter(now, p.size); ok {
			arrivals = append(arrivals, arrival{arr, p})
		} else if p.layer >= 0 {
			frameLost[[2]int{p.layer, p.frame}] = true
			if p.layer == cur {
				lost++
			}
		} else if p.layer == -1 {
			res.audioLost++
		}
	}
	frameGap := time.Second / fps
	for now := time.Duration(0); now < dur; now += time.Millisecond {
		// audio
		if now%(time.Second/audioRate) == 0 {
			res.audioTotal++
			send(now, simPacket{sent: now, size: audioSize, layer: -1, capture: now})
		}
		// video frames of every layer pulled (cur, and target while switching)
		if now%frameGap == 0 {
			frame := int(now / frameGap)
			layers := []int{cur}
			if target != cur {
				layers = append(layers, target)
			}
			for _, ly := range layers {
				bytes := int(testLayers[ly] / 8 / fps)
				n := (bytes + mtu - 1) / mtu
				frameParts[[2]int{ly, frame}] = n
				pace := time.Duration(float64(mtu*8) / (2.5 * testLayers[ly]) * float64(time.Second))
				for i := range n {
					sz := min(mtu, bytes-i*mtu)
					send(now+time.Duration(i)*pace, simPacket{sent: now, size: sz, layer: ly, frame: frame, capture: now})
					if ly == cur {
						total++
					}
				}
			}
		}
		if switchAt >= 0 && now >= switchAt {
			cur, switchAt = target, -1
			de.Reset(clockRate)
		}
		// deliveries up to now
		sort.Slice(arrivals, func(i, j int) bool { return arrivals[i].at < arrivals[j].at })
		k := 0
		for ; k < len(arrivals) && arrivals[k].at <= now; k++ {
			a := arrivals[k]
			switch {
			case a.pkt.layer == -2:
				probe = append(probe, a)
			case a.pkt.layer >= 0:
				key := [2]int{a.pkt.layer, a.pkt.frame}
				if a.pkt.layer == cur {
					de.Packet(at(a.at), uint32(a.pkt.capture.Seconds()*clockRate))
				}
				frameParts[key]--
				if frameParts[key] == 0 && !frameLost[key] && a.pkt.layer == cur && a.at-a.pkt.capture < 400*time.Millisecond {
					if s := int(a.at / time.Second); s < secs {
						res.framesAt[s]++
						res.layerAt[s] = cur
					}
				}
			}
		}
		arrivals = arrivals[k:]
		// a probe's answer
		if probeAt >= 0 && (len(probe) == trainLen || now-probeAt > time.Second) {
			var ts []time.Time
			var sz []int
			for _, p := range probe {
				ts = append(ts, at(p.at))
				sz = append(sz, p.pkt.size)
			}
			rate, ok := TrainRate(ts, sz)
			var d Decision
			if len(probe) < MinTrain {
				ch.ProbeFailed(at(now))
			} else {
				d = ch.ProbeResult(at(now), rate, ok, audioRate*audioSize*8)
				if d.Layer != target && switchAt < 0 {
					target, switchAt = d.Layer, now+keyframeDelay
				}
			}
			probe, probeAt = nil, -1
		}
		if now >= nextObs {
			nextObs += interval
			loss := 0.0
			if total > 0 {
				loss = float64(lost) / float64(total)
			}
			lost, total = 0, 0
			d := ch.Observe(Observation{Now: at(now), QueueDelay: de.Queue(), Loss: loss, Other: audioRate * audioSize * 8})
			if d.Layer != target && switchAt < 0 {
				target, switchAt = d.Layer, now+keyframeDelay
			} else if d.Layer < target {
				target = d.Layer // going down beats a pending switch up
				switchAt = now + keyframeDelay
			}
			if d.Probe {
				probeAt = now
				for range trainLen {
					send(now, simPacket{sent: now, size: mtu, layer: -2})
				}
			}
		}
	}
	return res
}

func meanFrom(xs []int, from, to int) float64 {
	s := 0
	for _, x := range xs[from:to] {
		s += x
	}
	return float64(s) / float64(to-from)
}

// firstSecond is the first second from from on at which layer was
// delivered (-1: none).
func firstSecond(layerAt []int, from, layer int) int {
	for s := from; s < len(layerAt); s++ {
		if layerAt[s] == layer {
			return s
		}
	}
	return -1
}

func report(r simResult) string {
	return fmt.Sprintf("layers %v\nfps %v\ndowns %d ups %d failed ups %d probes %d audio lost %d/%d",
		r.layerAt, r.framesAt, r.ch.Downs, r.ch.Ups, r.ch.FailedUps, r.ch.ProbesTried, r.audioLost, r.audioTotal)
}

func TestSimUnlimited(t *testing.T) {
	r := simulate(t, []rateStep{{0, 0}}, 30*time.Second, 2)
	t.Log(report(r))
	if r.ch.Downs != 0 || r.ch.Layer() != 2 || meanFrom(r.framesAt, 1, 30) < 19 {
		t.Fatal("an unlimited path did not keep the top layer at full rate")
	}
}

// A path that cannot carry the top layer: the subscriber settles on the
// layer below within a couple of seconds and stays there, with few probes
// and no layer taken up that then fails over and over. A layer with the
// audio must fit 1.3 times (Headroom): the top one (1.55 Mbit/s) on 2.2
// Mbit/s, not on 1.9.
func TestSimConstrained(t *testing.T) {
	for _, c := range []struct {
		rate   float64
		settle int // layer it must settle on
	}{{1e6, 1}, {500e3, 0}, {2.2e6, 2}, {1.9e6, 1}, {700e3, 1}} {
		t.Run(fmt.Sprintf("%.0fk", c.rate/1000), func(t *testing.T) {
			r := simulate(t, []rateStep{{0, c.rate}}, 60*time.Second, 1) // the middle layer, as a subscriber starts
			t.Log(report(r))
			for s := 10; s < 60; s++ {
				if r.layerAt[s] != c.settle {
					t.Errorf("second %d: layer %d, not the %d the path carries", s, r.layerAt[s], c.settle)
				}
			}
			if f := meanFrom(r.framesAt, 3, 60); f < 18 {
				t.Errorf("%.1f frames/s after settling", f)
			}
			if r.ch.FailedUps > 3 {
				t.Errorf("%d failed ups in a minute", r.ch.FailedUps)
			}
			if lossy := float64(r.audioLost) / float64(r.audioTotal); lossy > 0.01 {
				t.Errorf("audio lost %.1f%%", 100*lossy)
			}
		})
	}
}

// A step down to 1 Mbit/s and back: full rate again within 2 s of the
// step down, the top layer back within 10 s of the step up.
func TestSimStep(t *testing.T) {
	r := simulate(t, []rateStep{{0, 0}, {20 * time.Second, 1e6}, {40 * time.Second, 0}}, 60*time.Second, 2)
	t.Log(report(r))
	if f := meanFrom(r.framesAt, 22, 40); f < 18 {
		t.Errorf("%.1f frames/s after the step down", f)
	}
	if f := math.Min(float64(r.framesAt[22]), float64(r.framesAt[23])); f < 15 {
		t.Errorf("not decoding 15 frames/s 2 s after the step down: %v", r.framesAt[20:24])
	}
	back := firstSecond(r.layerAt, 40, 2)
	if back < 0 || back > 50 {
		t.Errorf("top layer back at second %d (step up at 40)", back)
	}
}

// A step down to a path that carries only the lowest layer, and back: the
// top layer back within 8 s of the step up (the probes taken while the
// path was limited do not hold it down).
func TestSimStepDeep(t *testing.T) {
	r := simulate(t, []rateStep{{0, 0}, {20 * time.Second, 450e3}, {40 * time.Second, 0}}, 60*time.Second, 2)
	t.Log(report(r))
	if l := r.layerAt[30]; l != 0 {
		t.Errorf("second 30: layer %d on 450 kbit/s", l)
	}
	back := firstSecond(r.layerAt, 40, 2)
	if back < 0 || back > 48 {
		t.Errorf("top layer back at second %d (step up at 40)", back)
	}
}

// Same inputs, same decisions.
func TestSimDeterministic(t *testing.T) {
	a := simulate(t, []rateStep{{0, 0}, {10 * time.Second, 700e3}}, 20*time.Second, 2)
	b := simulate(t, []rateStep{{0, 0}, {10 * time.Second, 700e3}}, 20*time.Second, 2)
	if report(a) != report(b) {
		t.Fatalf("two runs differ:\n%s\n%s", report(a), report(b))
	}
}
