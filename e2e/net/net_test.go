//go:build e2e

// Package net runs the network benchmark (peets bench net) at CI size, so
// that the benchmark itself cannot silently break: hosts in network
// namespaces, real proxies and forwarders, headless Chromium pages.
package net

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/bench"
	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/e2etest"
)

func TestMain(m *testing.M) { e2etest.Main(m) }

// TestBenchNet: a two-host call whose publisher's uplink drops to 1.2 Mbit/s
// (below its top layer, 640x360 at up to 1.5 Mbit/s) for 8 s mid-window,
// through Peets and directly. What must hold: before the step, Peets
// reaches the top layer; both keep decoding (>= 13 fps over the window, a
// few seconds of freezes at most); each link carried each media
// packet about once (no duplicate storm); and the JSON has every figure. The goals of issue 15
// (fixed limits, 60 s) are measured by the benchmark itself
// (docs/benchmarks.md).
func TestBenchNet(t *testing.T) {
	const window = 20
	// 1.2 Mbit/s: below the top layer (1.5 Mbit/s of RTP, ~2 Mbit/s on
	// the wire), above the lower one with room for a keyframe's burst.
	// This camera has two layers; at 1 Mbit/s its lower one (~850 kbit/s
	// on the wire with names, signatures and the other direction's
	// Interests) has no layer below to go to.
	const schedule = "none,1200kbit@6s,none@14s"
	r := runBenchNet(t, "--uplink", schedule)
	if r.Mode != "two-hosts" || r.Camera != "y4m 640x360@20, 60 frames" || r.Chromium == "" || r.LoadBefore[0] == 0 && r.LoadBefore[1] == 0 || r.Schedules["A->B"] != schedule {
		t.Errorf("set-up: %+v", r)
	}
	for _, ph := range []struct {
		name string
		p    *bench.PhaseResult
	}{{"peets", r.Peets}, {"direct", r.Direct}} {
		p := ph.p
		if p == nil {
			t.Fatalf("%s: no result", ph.name)
		}
		if len(p.Receivers) != 2 || len(p.Senders) != 2 || len(p.Links) != 2 {
			t.Fatalf("%s: %d receivers, %d senders, %d links", ph.name, len(p.Receivers), len(p.Senders), len(p.Links))
		}
		t.Logf("%s: hosts' CPU %v %%, machine busy %.0f %%", ph.name, p.HostCPUPercent, p.MachineBusyPercent)
		if p.HostCPUPercent["A"] <= 0 || p.HostCPUPercent["B"] <= 0 || p.MachineBusyPercent <= 0 {
			t.Errorf("%s: CPU figures %v %v", ph.name, p.HostCPUPercent, p.MachineBusyPercent)
		}
		for _, rr := range p.Receivers {
			v, a := rr.Video, rr.Audio
			who := ph.name + " " + rr.Page + "<-" + rr.From
			t.Logf("%s: %.1f fps, %v freezes (%.2f s), %d s under 5 fps, %.1f kbit/s %s, jitter buffer %.0f ms, audio concealed %.2f %%",
				who, v.FPSMean, v.FreezeCount, v.FreezeS, v.LowFPSSeconds, v.BitrateKbps, v.Resolution, v.JitterBufferMs, a.ConcealedPct)
			if rr.FirstFrameS == nil {
				t.Errorf("%s: never decoded before the window", who)
			}
			// With the step down (six runs at load 4-6): Peets B<-A
			// 18.6-19.2 fps, one freeze of 0.8-1.3 s, at most 1 s under
			// 5 fps; A<-B (whose Interests share A's limited uplink)
			// 19.2-20.0 fps; the baseline 19.9-20.0 fps, freezes of
			// 0.25-0.8 s.
			if v.FPSMean < 13 || v.FreezeS > 5 || v.LowFPSSeconds > 5 {
				t.Errorf("%s: %.1f fps, %.2f s frozen, %d s under 5 fps: want >= 13 fps, <= 5 s frozen, <= 5 s under 5 fps",
					who, v.FPSMean, v.FreezeS, v.LowFPSSeconds)
			}
			if len(v.FPSSeries) != window || len(v.BitrateSeries) != window || v.Resolution == "" || v.PacketsRecv == 0 || v.JitterBufferMs <= 0 {
				t.Errorf("%s: incomplete video figures %+v", who, v)
			}
			if a.PacketsRecv == 0 || a.ConcealedPct > 10 {
				t.Errorf("%s: audio %+v", who, a)
			}
			if rr.From == "A" && (len(rr.Adapt) != 2 || !rr.Adapt[0].Down || rr.Adapt[0].To != "1200kbit") {
				t.Errorf("%s: steps %+v", who, rr.Adapt)
			} else if rr.From == "A" {
				if rs := rr.Adapt[0].RecoverS; rs == nil {
					t.Logf("%s: not back at >= 15 fps for 3 s in the window", who)
				} else {
					t.Logf("%s: >= 15 fps again %.2f s after the step down", who, *rs)
				}
			}
			if ph.name == "peets" && rr.From == "A" && v.TopResolution != "640x360" {
				t.Errorf("%s: the top layer (640x360) never reached B's page: at most %s", who, v.TopResolution)
			}
			if (ph.name == "peets") != (rr.Fetch != nil) {
				t.Errorf("%s: fetcher figures %+v", who, rr.Fetch)
			}
			if rr.Fetch != nil && rr.Fetch.Received == 0 {
				t.Errorf("%s: the proxy's fetchers received nothing: %+v", who, rr.Fetch)
			}
		}
		for _, s := range p.Senders {
			if s.SentKbps <= 0 || s.TargetKbps <= 0 || s.Resolution == "" || s.QualityLimitation == "" {
				t.Errorf("%s sender %s: %+v", ph.name, s.Page, s)
			}
		}
		for _, l := range p.Links {
			who := ph.name + " " + l.Name
			t.Logf("%s: %.0f kbit/s, %.3f of the RTP delivered through it, copies %v, duplicate share %.3f", who, l.Kbps, ptr(l.WirePerDelivered), ptr(l.Copies), l.DupShare)
			// The tap sees what the interface sent, to within a few packets.
			if l.Bytes == 0 || diff(l.Tap.Bytes, l.Bytes) > l.Bytes/50+2000 || len(l.KbpsSeries) != window {
				t.Errorf("%s: interface %d bytes, tap %d, series %d", who, l.Bytes, l.Tap.Bytes, len(l.KbpsSeries))
			}
			if l.WirePerDelivered == nil || l.DeliveredKbps <= 0 {
				t.Errorf("%s: nothing delivered through it", who)
			}
			if l.Name == "A->B" && l.QdiscSentBytes == 0 {
				t.Errorf("%s: the token bucket sent nothing in its 8 s", who)
			}
			if ph.name == "peets" && (l.Tap.MediaData == 0 || l.Copies == nil || *l.Copies > 1.05 || l.DupShare > 0.05) {
				t.Errorf("%s: media Data %d, copies %v, duplicate share %v", who, l.Tap.MediaData, ptr(l.Copies), l.DupShare)
			}
			if ph.name == "direct" && (l.Tap.MediaData != 0 || l.Tap.UDPBytes == 0) {
				t.Errorf("%s: %+v", who, l.Tap)
			}
		}
	}
	if len(r.Compare) != 2 || r.Compare[0].FPSRatio == nil {
		t.Errorf("compare: %+v", r.Compare)
	}
}

// runBenchNet runs `peets bench net` at CI size (a 20 s window after 6 s
// of warm-up) with args added, checks that it left no namespace behind,
// and returns its result. It skips without root, and without Chromium
// outside CI. The camera is 640x360: a quarter of the encoding and
// decoding of the benchmark's 720p, so that the machine's load from other
// work costs the pages fewer frames (the pipeline is the same).
func runBenchNet(t *testing.T, args ...string) bench.NetResult {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("bench net needs root (network namespaces)")
	}
	if _, err := exec.LookPath(cdp.ChromiumPath()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium missing under CI: %v", err)
		}
		t.Skip(err)
	}
	bin := e2etest.Peets(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args = append([]string{"bench", "net", "--duration", "20s", "--warmup", "6s", "--camera", "640x360@20", "--json"}, args...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench net: %v\n%s", err, stderr.String())
	}
	t.Logf("bench net took %v: %s", time.Since(t0).Round(time.Second), stdout.String())
	var r bench.NetResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("result: %v", err)
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "peetsnb") {
		t.Errorf("namespaces left behind:\n%s", out)
	}
	return r
}

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func ptr(p *float64) any {
	if p == nil {
		return "nil"
	}
	return *p
}

// TestBenchNetNearZero: the publisher's uplink falls to 50 kbit/s (less
// than its audio with names and signatures) for 6 s, then comes back.
// Nothing decodes meanwhile, and the roster may drop A and take it back;
// what must hold is that nothing crashes or stays stuck: both pages
// decode again within seconds of the link's return. Peets only (the
// baseline is TestBenchNet's).
func TestBenchNetNearZero(t *testing.T) {
	r := runBenchNet(t, "--uplink", "none,50kbit@4s,none@10s", "--only", "peets")
	if r.Peets == nil || len(r.Peets.Receivers) != 2 || r.Direct != nil {
		t.Fatalf("result: %+v", r)
	}
	for _, rr := range r.Peets.Receivers {
		v := rr.Video
		who := rr.Page + "<-" + rr.From
		t.Logf("%s: fps %v, height %v", who, v.FPSSeries, v.HeightSeries)
		if len(v.FPSSeries) != 20 {
			t.Fatalf("%s: %d seconds", who, len(v.FPSSeries))
		}
		// Before the drop it decodes; from 5 s after the link's return
		// (seconds 15-20) it decodes again.
		if before := mean(v.FPSSeries[:4]); before < 10 {
			t.Errorf("%s: %.1f fps before the drop", who, before)
		}
		if after := mean(v.FPSSeries[15:]); after < 10 {
			t.Errorf("%s: %.1f fps from 5 s after the link came back: stuck", who, after)
		}
		for i, f := range v.FPSSeries {
			if f < 0 {
				t.Errorf("%s: second %d: %.1f fps", who, i+1, f)
			}
		}
	}
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
