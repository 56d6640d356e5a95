package bench

import (
	"testing"
	"time"

	"github.com/peets/peets/internal/linkshape"
)

// simReceiver makes the samples a receiver page would give every 250 ms
// from -2 s to d: fps(t), height(t) and bitrate(t) (bit/s) describe the
// stream; a freeze ends when the frame rate comes back after < LowFPS.
func simReceiver(d time.Duration, fps, height, bitrate func(t time.Duration) float64) []inSample {
	const step = 250 * time.Millisecond
	var s []inSample
	var cur inSample
	frozen := false
	for t := -2 * time.Second; t <= d; t += step {
		dt := step.Seconds()
		f := fps(t)
		cur.Frames += f * dt
		cur.VBytes += bitrate(t) / 8 * dt
		cur.VRecv += 100 * dt
		cur.ARecv += 50 * dt
		cur.TotalSamples += 48000 * dt
		cur.JBDelay += 0.05 * f * dt
		cur.JBEmitted += f * dt
		if f < LowFPS {
			frozen = true
			cur.Concealed += 48000 * dt / 2
			cur.FreezeS += dt
		} else if frozen {
			frozen = false
			cur.FreezeCount++
		}
		cur.Height = height(t)
		cur.Width = cur.Height * 16 / 9
		cur.At = t
		s = append(s, cur)
	}
	return s
}

func TestNetFiguresStep(t *testing.T) {
	sch, err := linkshape.ParseSchedule("none,1mbit@20s,none@40s")
	if err != nil {
		t.Fatal(err)
	}
	sec := func(x float64) time.Duration { return time.Duration(x * float64(time.Second)) }
	fps := func(t time.Duration) float64 {
		if t >= sec(20) && t < sec(23.5) {
			return 2
		}
		return 20
	}
	height := func(t time.Duration) float64 {
		if t >= sec(20) && t < sec(44) {
			return 180
		}
		return 540
	}
	bitrate := func(t time.Duration) float64 {
		if t >= sec(20) && t < sec(43) {
			return 0.5e6
		}
		return 1.5e6
	}
	const d = 60 * time.Second
	s := simReceiver(d, fps, height, bitrate)
	v := videoFigures(s, d)
	if len(v.FPSSeries) != 60 || v.FPSSeries[5] != 20 || v.FPSSeries[21] != 2 {
		t.Fatalf("fps series %v", v.FPSSeries)
	}
	if v.LowFPSSeconds != 3 { // seconds 21, 22, 23 (20-21 and 23-24 are partly at 20 fps)
		t.Errorf("low fps seconds %d, want 3", v.LowFPSSeconds)
	}
	if v.FreezeCount != 1 || v.FreezeS < 3.4 || v.FreezeS > 3.6 {
		t.Errorf("freezes %v / %v s", v.FreezeCount, v.FreezeS)
	}
	if want := (56.5*20 + 3.5*2) / 60; v.FPSMean < want-0.1 || v.FPSMean > want+0.1 {
		t.Errorf("fps mean %v, want %v", v.FPSMean, want)
	}
	if v.Resolution != "960x540" || v.TopResolution != "960x540" || v.HeightSeries[30] != 180 {
		t.Errorf("resolution %q top %q heights %v", v.Resolution, v.TopResolution, v.HeightSeries)
	}
	if v.JitterBufferMs < 49 || v.JitterBufferMs > 51 || v.LossPct != 0 || v.PacketsRecv < 5999 {
		t.Errorf("jb %v loss %v recv %v", v.JitterBufferMs, v.LossPct, v.PacketsRecv)
	}
	a := audioFigures(s, d)
	if want := 3.5 / 60 * 100 / 2; a.ConcealedPct < want-0.3 || a.ConcealedPct > want+0.3 {
		t.Errorf("concealed %v%%, want %v", a.ConcealedPct, want)
	}
	ad := adaptFigures(s, sch, d)
	if len(ad) != 2 || !ad[0].Down || ad[1].Down || ad[0].To != "1mbit" || ad[1].To != "none" {
		t.Fatalf("adapt %+v", ad)
	}
	// Back to >= 15 fps in every trailing second at 23.5 + 0.65 s.
	if r := ad[0].RecoverS; r == nil || *r < 4 || *r > 4.5 {
		t.Errorf("recover %v, want ~4.15 s", ptr(r))
	}
	// Height back at 44 s; the 2 s bitrate reaches 0.8 x 1.5 Mbit/s at 44.5 s.
	if c := ad[1].ClimbS; c == nil || *c < 4.25 || *c > 4.75 {
		t.Errorf("climb %v, want ~4.5 s", ptr(c))
	}
	if ad[0].ClimbS != nil || ad[1].RecoverS != nil {
		t.Errorf("figures on the wrong steps: %+v", ad)
	}
}

func TestNetFiguresSteadyAndDead(t *testing.T) {
	sch, _ := linkshape.ParseSchedule("none,1mbit@10s,none@20s")
	const d = 30 * time.Second
	// Never dips: recovery 0, climb 0.
	steady := simReceiver(d, func(time.Duration) float64 { return 20 }, func(time.Duration) float64 { return 360 },
		func(time.Duration) float64 { return 1e6 })
	ad := adaptFigures(steady, sch, d)
	if ad[0].RecoverS == nil || *ad[0].RecoverS != 0 || ad[1].ClimbS == nil || *ad[1].ClimbS != 0 {
		t.Errorf("steady: %+v %v %v", ad, ptr(ad[0].RecoverS), ptr(ad[1].ClimbS))
	}
	// Frozen from the step on: no recovery, no climb, all seconds low.
	dead := simReceiver(d, func(t time.Duration) float64 {
		if t >= 10*time.Second {
			return 0
		}
		return 20
	}, func(time.Duration) float64 { return 360 }, func(t time.Duration) float64 {
		if t >= 10*time.Second {
			return 0
		}
		return 1e6
	})
	ad = adaptFigures(dead, sch, d)
	if ad[0].RecoverS != nil || ad[1].ClimbS != nil {
		t.Errorf("dead: %v %v", ptr(ad[0].RecoverS), ptr(ad[1].ClimbS))
	}
	v := videoFigures(dead, d)
	if v.LowFPSSeconds != 20 || v.FreezeCount != 0 {
		t.Errorf("dead: low %d freezes %v (an unended freeze is not counted by getStats)", v.LowFPSSeconds, v.FreezeCount)
	}
	// No samples at all: zeros, no panic; no audio played is 100 % concealed.
	if v := videoFigures(nil, d); v.FPSMean != 0 || v.LowFPSSeconds != 30 {
		t.Errorf("empty: %+v", v)
	}
	if a := audioFigures(nil, d); a.ConcealedPct != 100 {
		t.Errorf("empty audio: %+v", a)
	}
}

func ptr(p *float64) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// A page's inbound stream replaced mid-window (its counters start again)
// does not make negative frame rates: the counters carry over.
func TestContinuousAcrossReset(t *testing.T) {
	var s []inSample
	for k := 0; k <= 6; k++ {
		x := inSample{At: time.Duration(k) * time.Second}
		switch {
		case k <= 3: // 20 fps, 100 packets a second
			x.Frames, x.VRecv, x.VLost = float64(20*k), float64(100*k), 2
		default: // replaced at 3.5 s: counts from 0 again, at 10 fps
			x.Frames, x.VRecv, x.VLost = float64(10*(k-3)), float64(50*(k-3)), 0
		}
		x.ARecv = float64(50 * k) // audio goes on
		s = append(s, x)
	}
	continuous(s)
	v := videoFigures(s, 6*time.Second)
	for i, f := range v.FPSSeries {
		if f < 0 {
			t.Fatalf("second %d: %.1f fps", i+1, f)
		}
	}
	if v.FramesDecoded != 90 || v.PacketsRecv != 450 {
		t.Errorf("frames %v, packets %v: want 90, 450", v.FramesDecoded, v.PacketsRecv)
	}
	if s[6].ARecv != 300 {
		t.Errorf("audio without a reset changed: %v", s[6].ARecv)
	}
}
