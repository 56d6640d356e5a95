package bench

import (
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/peets/peets/internal/linkshape"
)

// What a person sees, in numbers: thresholds of the network benchmark.
const (
	// LowFPS: a second with fewer frames decoded counts as frozen
	// (getStats counts a freeze only once it has ended).
	LowFPS = 5
	// RecoverFPS: after a step down the receiver has adapted once it
	// decodes at least this many frames a second again, sustained.
	RecoverFPS = 15
	// sustain is how long a recovery or climb must hold (less at the end
	// of the window or before the next step).
	sustain = 3 * time.Second
	// climbShare: after a step up, the bitrate is back when it reaches this
	// share of what it was before the step down.
	climbShare = 0.8
)

// inSample is one reading of a receiving page's inbound stream from one
// sender (video and audio summed over the page's streams from it).
type inSample struct {
	At time.Duration // since the measured window's start

	Frames, FreezeCount     float64
	FreezeS                 float64 // totalFreezesDuration
	VLost, VRecv            float64 // video packets
	VBytes                  float64 // video RTP bytes, headers included
	JBDelay, JBEmitted      float64 // video jitter buffer: seconds summed, frames
	Width, Height           float64
	ALost, ARecv            float64 // audio packets
	ABytes                  float64
	Concealed, TotalSamples float64
	AJBDelay, AJBEmitted    float64
	Nacks, Plis             float64
}

// VideoFigures is what a receiver saw of one sender's video over the
// window.
type VideoFigures struct {
	FPSMean        float64   `json:"fps_mean"`
	FPSSeries      []float64 `json:"fps_series"` // frames decoded in each second of the window
	FramesDecoded  float64   `json:"frames_decoded"`
	FreezeCount    float64   `json:"freeze_count"` // getStats freezeCount (ended freezes)
	FreezeS        float64   `json:"freeze_s"`     // getStats totalFreezesDuration
	LowFPSSeconds  int       `json:"low_fps_s"`    // seconds with fewer than LowFPS frames decoded
	PacketsLost    float64   `json:"packets_lost"` //
	PacketsRecv    float64   `json:"packets_received"`
	LossPct        float64   `json:"loss_pct"`         // lost / (lost + received)
	JitterBufferMs float64   `json:"jitter_buffer_ms"` // mean delay of a frame in the jitter buffer
	BitrateKbps    float64   `json:"bitrate_kbps"`
	BitrateSeries  []float64 `json:"bitrate_kbps_series"`
	HeightSeries   []float64 `json:"height_series"`  // frame height at the end of each second
	LostSeries     []float64 `json:"lost_series"`    // packets lost in each second (getStats packetsLost)
	PLISeries      []float64 `json:"pli_series"`     // keyframe requests (PLI) the page sent in each second
	Resolution     string    `json:"resolution"`     // at the end of the window
	TopResolution  string    `json:"top_resolution"` // the largest seen in the window
	Nacks          float64   `json:"nacks_sent"`
	Plis           float64   `json:"plis_sent"`
}

// AudioFigures is what a receiver heard of one sender over the window.
type AudioFigures struct {
	ConcealedPct   float64 `json:"concealed_pct"` // concealed / total samples
	PacketsLost    float64 `json:"packets_lost"`
	PacketsRecv    float64 `json:"packets_received"`
	LossPct        float64 `json:"loss_pct"`
	JitterBufferMs float64 `json:"jitter_buffer_ms"`
	BitrateKbps    float64 `json:"bitrate_kbps"`
}

// AdaptFigure is how a receiver went through one step of the schedule.
type AdaptFigure struct {
	AtS  float64 `json:"at_s"`
	From string  `json:"from"`
	To   string  `json:"to"`
	Down bool    `json:"down"`
	// Step down: seconds until the receiver decodes >= RecoverFPS again,
	// sustained (0: it never dropped below). Step up: seconds until the
	// frame height and bitrate of before the step down are back, sustained.
	// nil: not within the window.
	RecoverS *float64 `json:"recover_s,omitempty"`
	ClimbS   *float64 `json:"climb_s,omitempty"`
}

// at interpolates a cumulative counter f of the samples at time t (the
// samples are in time order; outside them, the nearest one).
func at(s []inSample, t time.Duration, f func(*inSample) float64) float64 {
	if len(s) == 0 {
		return 0
	}
	i := sort.Search(len(s), func(i int) bool { return s[i].At >= t })
	switch {
	case i == 0:
		return f(&s[0])
	case i == len(s):
		return f(&s[len(s)-1])
	}
	a, b := &s[i-1], &s[i]
	if b.At == a.At {
		return f(b)
	}
	w := float64(t-a.At) / float64(b.At-a.At)
	return f(a) + w*(f(b)-f(a))
}

// last is the value of f in the last sample at or before t.
func last(s []inSample, t time.Duration, f func(*inSample) float64) float64 {
	i := sort.Search(len(s), func(i int) bool { return s[i].At > t })
	if i == 0 {
		return 0
	}
	return f(&s[i-1])
}

// rate is the increase of f over (t-w, t] per second.
func rate(s []inSample, t, w time.Duration, f func(*inSample) float64) float64 {
	return (at(s, t, f) - at(s, t-w, f)) / w.Seconds()
}

// continuous makes the cumulative counters of s (one receiver's view of
// one sender, in time order) continue across a reset: when the page's
// inbound stream is replaced (the proxy dropped the sender, after its
// heartbeats stopped crossing a link near zero, and added it back), the
// new stream's getStats counters start again from 0. A fall of
// packetsReceived marks a reset, video and audio apart; the counters
// before it are carried over. packetsLost may fall by itself (late
// packets), so it is no sign of one.
func continuous(s []inSample) {
	video := func(x *inSample) []*float64 {
		return []*float64{&x.Frames, &x.FreezeCount, &x.FreezeS, &x.VLost, &x.VRecv, &x.VBytes, &x.JBDelay, &x.JBEmitted, &x.Nacks, &x.Plis}
	}
	audio := func(x *inSample) []*float64 {
		return []*float64{&x.ALost, &x.ARecv, &x.ABytes, &x.Concealed, &x.TotalSamples, &x.AJBDelay, &x.AJBEmitted}
	}
	for _, g := range []struct {
		fields func(*inSample) []*float64
		recv   func(*inSample) float64
	}{
		{video, func(x *inSample) float64 { return x.VRecv }},
		{audio, func(x *inSample) float64 { return x.ARecv }},
	} {
		var off, raw []float64 // carried over, and the previous sample's raw values
		prevRecv := -1.0
		for i := range s {
			f := g.fields(&s[i])
			if off == nil {
				off, raw = make([]float64, len(f)), make([]float64, len(f))
			}
			reset := prevRecv >= 0 && g.recv(&s[i]) < prevRecv
			prevRecv = g.recv(&s[i])
			for k, p := range f {
				if reset {
					off[k] += raw[k]
				}
				raw[k] = *p
				*p += off[k]
			}
		}
	}
}

func frames(x *inSample) float64 { return x.Frames }
func vbytes(x *inSample) float64 { return x.VBytes }
func height(x *inSample) float64 { return x.Height }

// videoFigures sums up the video of samples over the window [0, d].
func videoFigures(s []inSample, d time.Duration) VideoFigures {
	var v VideoFigures
	delta := func(f func(*inSample) float64) float64 { return at(s, d, f) - at(s, 0, f) }
	v.FramesDecoded = math.Round(delta(frames))
	v.FPSMean = round3(delta(frames) / d.Seconds())
	secs := int(d / time.Second)
	var top, topW float64
	for k := 1; k <= secs; k++ {
		t := time.Duration(k) * time.Second
		fps := rate(s, t, time.Second, frames)
		v.FPSSeries = append(v.FPSSeries, round3(fps))
		if fps < LowFPS {
			v.LowFPSSeconds++
		}
		v.BitrateSeries = append(v.BitrateSeries, round3(rate(s, t, time.Second, vbytes)*8/1000))
		v.HeightSeries = append(v.HeightSeries, last(s, t, height))
		v.LostSeries = append(v.LostSeries, math.Round(rate(s, t, time.Second, func(x *inSample) float64 { return x.VLost })))
		v.PLISeries = append(v.PLISeries, math.Round(rate(s, t, time.Second, func(x *inSample) float64 { return x.Plis })))
	}
	for i := range s {
		if s[i].At >= 0 && s[i].At <= d && s[i].Height > top {
			top, topW = s[i].Height, s[i].Width
		}
	}
	v.FreezeCount = math.Round(delta(func(x *inSample) float64 { return x.FreezeCount }))
	v.FreezeS = round3(delta(func(x *inSample) float64 { return x.FreezeS }))
	v.PacketsLost, v.PacketsRecv, v.LossPct, v.JitterBufferMs, v.BitrateKbps = streamFigures(s, d,
		func(x *inSample) [5]float64 { return [5]float64{x.VLost, x.VRecv, x.JBDelay, x.JBEmitted, x.VBytes} })
	v.Nacks = math.Round(delta(func(x *inSample) float64 { return x.Nacks }))
	v.Plis = math.Round(delta(func(x *inSample) float64 { return x.Plis }))
	w, h := last(s, d, func(x *inSample) float64 { return x.Width }), last(s, d, height)
	v.Resolution = resolution(w, h)
	v.TopResolution = resolution(topW, top)
	return v
}

func resolution(w, h float64) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	return strconv.Itoa(int(w)) + "x" + strconv.Itoa(int(h))
}

// streamFigures sums up one stream's counters over the window: f gives a
// sample's packets lost and received, jitter buffer delay (s) and frames
// or samples emitted, and bytes.
func streamFigures(s []inSample, d time.Duration, f func(*inSample) [5]float64) (lost, recv, lossPct, jbMs, kbps float64) {
	var v [5]float64
	for i := range v {
		v[i] = at(s, d, func(x *inSample) float64 { return f(x)[i] }) - at(s, 0, func(x *inSample) float64 { return f(x)[i] })
	}
	lost, recv = math.Round(v[0]), math.Round(v[1])
	if lost+recv > 0 && lost >= 0 {
		lossPct = round3(lost / (lost + recv) * 100)
	}
	if v[3] > 0 {
		jbMs = round3(v[2] / v[3] * 1000)
	}
	return lost, recv, lossPct, jbMs, round3(v[4] * 8 / 1000 / d.Seconds())
}

// audioFigures sums up the audio of samples over the window [0, d].
func audioFigures(s []inSample, d time.Duration) AudioFigures {
	var a AudioFigures
	delta := func(f func(*inSample) float64) float64 { return at(s, d, f) - at(s, 0, f) }
	conc, tot := delta(func(x *inSample) float64 { return x.Concealed }), delta(func(x *inSample) float64 { return x.TotalSamples })
	if tot > 0 {
		a.ConcealedPct = round3(conc / tot * 100)
	} else {
		a.ConcealedPct = 100 // nothing played: all of it missing
	}
	a.PacketsLost, a.PacketsRecv, a.LossPct, a.JitterBufferMs, a.BitrateKbps = streamFigures(s, d,
		func(x *inSample) [5]float64 { return [5]float64{x.ALost, x.ARecv, x.AJBDelay, x.AJBEmitted, x.ABytes} })
	return a
}

// adaptFigures measures each change of the schedule within the window.
func adaptFigures(s []inSample, sch linkshape.Schedule, d time.Duration) []AdaptFigure {
	changes := sch.Changes()
	var out []AdaptFigure
	var lastDown time.Duration = -1
	for i, c := range changes {
		if c.At >= d {
			break
		}
		end := d
		if i+1 < len(changes) && changes[i+1].At < d {
			end = changes[i+1].At
		}
		f := AdaptFigure{AtS: c.At.Seconds(), From: linkshape.FormatRate(c.From), To: linkshape.FormatRate(c.To), Down: c.Down}
		if c.Down {
			f.RecoverS = recoverTime(s, c.At, end)
			lastDown = c.At
		} else if lastDown >= 0 {
			f.ClimbS = climbTime(s, lastDown, c.At, end)
		}
		out = append(out, f)
	}
	return out
}

// holds says whether ok is true at every sample in [t, min(t+sustain,
// end)] and at its end.
func holds(s []inSample, t, end time.Duration, ok func(time.Duration) bool) bool {
	until := min(t+sustain, end)
	for i := range s {
		if s[i].At >= t && s[i].At <= until && !ok(s[i].At) {
			return false
		}
	}
	return ok(until)
}

// firstHolding is the first sample time in [from, end) from which ok holds
// (see holds), minus from; nil if none.
func firstHolding(s []inSample, from, end time.Duration, ok func(time.Duration) bool) *float64 {
	cands := []time.Duration{from}
	for i := range s {
		if s[i].At > from && s[i].At < end {
			cands = append(cands, s[i].At)
		}
	}
	for _, t := range cands {
		if ok(t) && holds(s, t, end, ok) {
			v := round3((t - from).Seconds())
			return &v
		}
	}
	return nil
}

// recoverTime: after a step down at t0 (the next step at end), how long
// until the receiver decodes >= RecoverFPS in every trailing second,
// sustained.
func recoverTime(s []inSample, t0, end time.Duration) *float64 {
	return firstHolding(s, t0, end, func(t time.Duration) bool {
		return rate(s, t, time.Second, frames) >= RecoverFPS
	})
}

// climbTime: after a step up at t0 (the step down before it at down, the
// next step at end), how long until the frame height and the bitrate of
// the 5 s before the step down are back, sustained.
func climbTime(s []inSample, down, t0, end time.Duration) *float64 {
	from := max(down-5*time.Second, 0)
	if down-from < time.Second {
		return nil // no time at the top before the step down
	}
	var topH float64
	for i := range s {
		if s[i].At >= from && s[i].At <= down {
			topH = math.Max(topH, s[i].Height)
		}
	}
	topRate := (at(s, down, vbytes) - at(s, from, vbytes)) / (down - from).Seconds()
	if topH == 0 || topRate <= 0 {
		return nil
	}
	return firstHolding(s, t0, end, func(t time.Duration) bool {
		return last(s, t, height) >= topH && rate(s, t, 2*time.Second, vbytes) >= climbShare*topRate
	})
}
