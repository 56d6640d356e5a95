package report

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/peets/peets/internal/bench"
	"github.com/peets/peets/roster"
)

// Goal is one figure an issue sets a goal for.
type Goal struct {
	Issue  int
	Name   string
	Target string // as the issue states it
	Bench  string // the run that measures it
	// Value reads the figure from the data; ok false: not measured.
	Value func(v *views) (x float64, shown string, ok bool)
	Met   func(v float64) bool
}

// views of the data, decoded once per render.
type views struct {
	fan, fanSpeed, fanHops []bench.FanoutResult
	roster                 []roster.BenchResult
	fwmem                  *bench.FwMemResult
	call                   *bench.CallResult
	net                    map[string]*bench.NetResult  // by run name
	room                   map[string]*bench.RoomResult // by run name
	tree                   map[string]*bench.TreeResult // by run name
}

// fanOf is the fan-out run of that name.
func (v *views) fanOf(run string) []bench.FanoutResult {
	switch run {
	case "fanout-speed":
		return v.fanSpeed
	case "fanout-hops":
		return v.fanHops
	}
	return v.fan
}

func viewsOf(d *Data) *views {
	v := &views{
		fan: decodeAll[bench.FanoutResult](d, "fanout"), fanSpeed: decodeAll[bench.FanoutResult](d, "fanout-speed"),
		fanHops: decodeAll[bench.FanoutResult](d, "fanout-hops"), roster: decodeAll[roster.BenchResult](d, "roster"),
		net: map[string]*bench.NetResult{}, room: map[string]*bench.RoomResult{}, tree: map[string]*bench.TreeResult{},
	}
	var fw bench.FwMemResult
	if d.decode("fwmem", 0, &fw) {
		v.fwmem = &fw
	}
	var call bench.CallResult
	if d.decode("call", 0, &call) {
		v.call = &call
	}
	for _, name := range netRuns() {
		var n bench.NetResult
		if d.decode(name, 0, &n) {
			v.net[name] = &n
		}
	}
	for _, name := range []string{"room", "room-cpu", "room-3top"} {
		var r bench.RoomResult
		if d.decode(name, 0, &r) {
			v.room[name] = &r
		}
	}
	for _, name := range []string{"tree", "tree-dv"} {
		var r bench.TreeResult
		if d.decode(name, 0, &r) {
			v.tree[name] = &r
		}
	}
	return v
}

// fanAt is the fan-out run with n subscribers.
func fanAt(fs []bench.FanoutResult, n int) (bench.FanoutResult, bool) {
	for _, f := range fs {
		if f.Subscribers == n {
			return f, true
		}
	}
	return bench.FanoutResult{}, false
}

// netVideo is the first receiver's comparison of a net run.
func netCompare(v *views, run string) (bench.Comparison, bool) {
	n := v.net[run]
	if n == nil || len(n.Compare) == 0 {
		return bench.Comparison{}, false
	}
	return n.Compare[0], true
}

func atMost(limit float64) func(float64) bool  { return func(v float64) bool { return v <= limit } }
func atLeast(limit float64) func(float64) bool { return func(v float64) bool { return v >= limit } }

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }
func f1(v float64) string { return fmt.Sprintf("%.1f", v) }
func f0(v float64) string { return fmt.Sprintf("%.0f", v) }

// Goals are the goals the report checks, in issue order, as the issues
// state them.
func Goals() []Goal {
	fan := func(run string, n int, get func(bench.FanoutResult) float64, show func(float64) string) func(*views) (float64, string, bool) {
		return func(v *views) (float64, string, bool) {
			f, ok := fanAt(v.fanOf(run), n)
			if !ok {
				return 0, "", false
			}
			x := get(f)
			return x, show(x), true
		}
	}
	ms := func(x float64) string { return f2(x) + " ms" }
	rosterAt := func(members int, get func(roster.BenchResult) float64) func(*views) (float64, string, bool) {
		return func(v *views) (float64, string, bool) {
			for _, r := range v.roster {
				if r.Members == members {
					x := get(r)
					return x, f0(x) + " ms", true
				}
			}
			return 0, "", false
		}
	}
	net := func(run string, get func(c bench.Comparison) (float64, string, bool)) func(*views) (float64, string, bool) {
		return func(v *views) (float64, string, bool) {
			c, ok := netCompare(v, run)
			if !ok {
				return 0, "", false
			}
			return get(c)
		}
	}
	room := func(run string, get func(r *bench.RoomResult) (float64, string, bool)) func(*views) (float64, string, bool) {
		return func(v *views) (float64, string, bool) {
			if r := v.room[run]; r != nil {
				return get(r)
			}
			return 0, "", false
		}
	}
	tree := func(run string, get func(r *bench.TreeResult) (float64, string, bool)) func(*views) (float64, string, bool) {
		return func(v *views) (float64, string, bool) {
			if r := v.tree[run]; r != nil {
				return get(r)
			}
			return 0, "", false
		}
	}
	// The issue's figures for a fixed uplink limit, each at least as good
	// as the direct baseline of the same run.
	shaped := func(run, label string) []Goal {
		return []Goal{
			{Issue: 15, Name: label + " uplink: the receiver's fps", Target: ">= 18 fps", Bench: run,
				Value: net(run, func(c bench.Comparison) (float64, string, bool) {
					return c.FPS[0], fmt.Sprintf("%.1f (direct %.1f)", c.FPS[0], c.FPS[1]), true
				}), Met: atLeast(18)},
			{Issue: 15, Name: label + " uplink: frozen per minute", Target: "<= 0.5 s", Bench: run,
				Value: net(run, func(c bench.Comparison) (float64, string, bool) {
					return c.FreezeS[0], fmt.Sprintf("%.1f s in %.0f freezes (direct %.1f s in %.0f)", c.FreezeS[0], c.FreezeCount[0], c.FreezeS[1], c.FreezeCount[1]), true
				}), Met: atMost(0.5)},
			{Issue: 15, Name: label + " uplink: audio concealed", Target: "<= 1 %", Bench: run,
				Value: net(run, func(c bench.Comparison) (float64, string, bool) {
					return c.ConcealedPct[0], fmt.Sprintf("%.2f %% (direct %.2f %%)", c.ConcealedPct[0], c.ConcealedPct[1]), true
				}), Met: atMost(1)},
		}
	}
	gs := []Goal{
		{Issue: 2, Name: "publisher upload factor, 16 subscribers", Target: "<= 1.05", Bench: "fanout",
			Value: fan("fanout", 16, func(f bench.FanoutResult) float64 { return f.UploadFactor }, f2), Met: atMost(1.05)},
		{Issue: 2, Name: "packets delivered, 16 subscribers", Target: "100 %", Bench: "fanout",
			Value: fan("fanout", 16, func(f bench.FanoutResult) float64 { return 100 * f.DeliveredRatio }, func(x float64) string { return f2(x) + " %" }), Met: atLeast(100)},
		{Issue: 2, Name: "latency p50, 8 subscribers (loopback)", Target: "<= 1 ms", Bench: "fanout",
			Value: fan("fanout", 8, func(f bench.FanoutResult) float64 { return f.LatencyP50Ms }, ms), Met: atMost(1)},
		{Issue: 2, Name: "latency p99, 16 subscribers (loopback)", Target: "<= 5 ms", Bench: "fanout",
			Value: fan("fanout", 16, func(f bench.FanoutResult) float64 { return f.LatencyP99Ms }, ms), Met: atMost(5)},
		{Issue: 2, Name: "packets per CPU core, 8 subscribers, real pace", Target: ">= 10,000 /s", Bench: "fanout",
			Value: fan("fanout", 8, func(f bench.FanoutResult) float64 { return f.PPSPerCore }, f0), Met: atLeast(10000)},
		{Issue: 16, Name: "packets per CPU core, 8 subscribers, 10x pace (per-packet cost)", Target: ">= 10,000 /s", Bench: "fanout-speed",
			Value: fan("fanout-speed", 8, func(f bench.FanoutResult) float64 { return f.PPSPerCore }, f0), Met: atLeast(10000)},
		{Issue: 16, Name: "wire overhead (Data bytes / RTP bytes), 8 subscribers", Target: "<= 1.20", Bench: "fanout",
			Value: fan("fanout", 8, func(f bench.FanoutResult) float64 { return f.OverheadRatio }, f2), Met: atMost(1.20)},
		{Issue: 3, Name: "roster: a join seen by every member, 50 members (max)", Target: "<= 300 ms", Bench: "roster",
			Value: rosterAt(50, func(r roster.BenchResult) float64 { return r.JoinSeen.Max }), Met: atMost(300)},
		{Issue: 3, Name: "roster: a crashed member gone everywhere, 50 members (max)", Target: "<= 4 s", Bench: "roster",
			Value: rosterAt(50, func(r roster.BenchResult) float64 { return r.Crash.Max }), Met: atMost(4000)},
		{Issue: 4, Name: "first remote frame after a page loads (p50)", Target: "<= 1 s", Bench: "call",
			Value: func(v *views) (float64, string, bool) {
				if v.call == nil {
					return 0, "", false
				}
				return v.call.FirstFrameP50Ms, fmt.Sprintf("%.0f ms (max %.0f)", v.call.FirstFrameP50Ms, v.call.FirstFrameMaxMs), true
			}, Met: atMost(1000)},
		{Issue: 14, Name: "forwarder memory after the warm-up", Target: "flat (< 5 MB per million names)", Bench: "fwmem",
			Value: func(v *views) (float64, string, bool) {
				if v.fwmem == nil {
					return 0, "", false
				}
				return v.fwmem.SlopeMBPer1M, f1(v.fwmem.SlopeMBPer1M) + " MB per million names", true
			}, Met: atMost(5)},
		{Issue: 15, Name: "unlimited link: the receiver's fps", Target: ">= 19 fps", Bench: "net-none",
			Value: net("net-none", func(c bench.Comparison) (float64, string, bool) {
				return c.FPS[0], fmt.Sprintf("%.1f (direct %.1f)", c.FPS[0], c.FPS[1]), true
			}), Met: atLeast(19)},
	}
	for _, r := range shapedRuns {
		gs = append(gs, shaped(r.run, r.label)...)
	}
	gs = append(gs, []Goal{
		{Issue: 15, Name: "1 Mbit/s uplink: bytes on the link per byte delivered", Target: "<= 1.1", Bench: "net-1mbit",
			Value: func(v *views) (float64, string, bool) {
				n := v.net["net-1mbit"]
				if n == nil || n.Peets == nil {
					return 0, "", false
				}
				direct := "-"
				if n.Direct != nil {
					for _, l := range n.Direct.Links {
						if l.Name == "A->B" && l.WirePerDelivered != nil {
							direct = f2(*l.WirePerDelivered)
						}
					}
				}
				for _, l := range n.Peets.Links {
					if l.Name == "A->B" && l.WirePerDelivered != nil {
						// the rest is what each packet costs (name,
						// signature, an Interest), not repeats: say so
						copies := "-"
						if l.Copies != nil {
							copies = fmt.Sprintf("%.2f", *l.Copies)
						}
						return *l.WirePerDelivered, fmt.Sprintf("%s (direct %s; copies of each packet %s, duplicate Data %.1f %% of the bytes)",
							f2(*l.WirePerDelivered), direct, copies, 100*l.DupShare), true
					}
				}
				return 0, "", false
			}, Met: atMost(1.1)},
		{Issue: 15, Name: "step down to 1 Mbit/s: >= 15 fps again", Target: "<= 2 s", Bench: "net-step",
			Value: net("net-step", func(c bench.Comparison) (float64, string, bool) {
				if c.RecoverS[0] == nil {
					return 0, "", false
				}
				return *c.RecoverS[0], fmt.Sprintf("%.2f s (direct %s)", *c.RecoverS[0], secs(c.RecoverS[1])), true
			}), Met: atMost(2)},
		{Issue: 15, Name: "step back up: the top layer again", Target: "<= 10 s", Bench: "net-step",
			Value: net("net-step", func(c bench.Comparison) (float64, string, bool) {
				if c.ClimbS[0] == nil {
					return 0, "", false
				}
				return *c.ClimbS[0], fmt.Sprintf("%.1f s (direct %s)", *c.ClimbS[0], secs(c.ClimbS[1])), true
			}), Met: atMost(10)},
		{Issue: 17, Name: "12 participants, speaker view: a receiver's download", Target: "<= 2.5 Mbit/s", Bench: "room",
			Value: room("room", func(r *bench.RoomResult) (float64, string, bool) {
				return r.Download.Max / 1000, fmt.Sprintf("%.2f Mbit/s (every top layer: %.1f)", r.Download.Max/1000, r.AllTopKbps/1000), true
			}), Met: atMost(2.5)},
		{Issue: 17, Name: "12 participants: speaker change to the new speaker's top layer (p50)", Target: "<= 500 ms", Bench: "room",
			Value: room("room", func(r *bench.RoomResult) (float64, string, bool) {
				return r.Switch.P50, f0(r.Switch.P50) + " ms", r.Switch.N > 0
			}), Met: atMost(500)},
		{Issue: 17, Name: "12 participants: speaker change to the new speaker's top layer (max)", Target: "<= 1 s", Bench: "room",
			Value: room("room", func(r *bench.RoomResult) (float64, string, bool) {
				return r.Switch.Max, f0(r.Switch.Max) + " ms", r.Switch.N > 0
			}), Met: atMost(1000)},
		{Issue: 17, Name: "a page's CPU in an 11-participant room, against 3 full-size decodes", Target: "below", Bench: "room-cpu",
			Value: func(v *views) (float64, string, bool) {
				r, base := v.room["room-cpu"], v.room["room-3top"]
				if r == nil || base == nil || base.BrowserCPUPercent <= 0 {
					return 0, "", false
				}
				return r.BrowserCPUPercent / base.BrowserCPUPercent, fmt.Sprintf("%.0f %% of a core (3 full-size decodes: %.0f %%)", r.BrowserCPUPercent, base.BrowserCPUPercent), true
			}, Met: func(x float64) bool { return x < 1 }},
		{Issue: 17, Name: "12 participants: a publisher's upload per pulled layer", Target: "<= 1.05 copies", Bench: "room",
			Value: room("room", func(r *bench.RoomResult) (float64, string, bool) {
				return r.UploadFactorMax, f2(r.UploadFactorMax) + " (the largest of any bot's streams)", r.UploadFactorMax > 0
			}), Met: atMost(1.05)},
		{Issue: 19, Name: "1 publisher, 12 receivers on 5 hosts (NFD, ndnd fw, peets): the publisher's upload per pulled layer", Target: "<= 1.05", Bench: "tree",
			Value: tree("tree", func(r *bench.TreeResult) (float64, string, bool) {
				return r.UploadFactor, f2(r.UploadFactor), r.UploadFactor > 0
			}), Met: atMost(1.05)},
		{Issue: 19, Name: "the same: copies of a pulled layer on a link (the largest)", Target: "about one (<= 1.05)", Bench: "tree",
			Value: tree("tree", func(r *bench.TreeResult) (float64, string, bool) {
				return r.MaxLinkCopies, fmt.Sprintf("%.3f (%d links)", r.MaxLinkCopies, len(r.Links)), r.MaxLinkCopies > 0
			}), Met: atMost(1.05)},
		{Issue: 19, Name: "the same with ndnd dv's routes: copies of a pulled layer on a link (the largest)", Target: "about one (<= 1.05)", Bench: "tree-dv",
			Value: tree("tree-dv", func(r *bench.TreeResult) (float64, string, bool) {
				return r.MaxLinkCopies, fmt.Sprintf("%.3f (upload %.2f, rosters %d of %d)", r.MaxLinkCopies, r.UploadFactor, r.RostersComplete, r.RostersChecked), r.MaxLinkCopies > 0
			}), Met: atMost(1.05)},
	}...)
	return gs
}

// schedule is a net run's shaped-link schedule ("none": unshaped).
func schedule(n *bench.NetResult) string {
	for _, s := range n.Schedules {
		if s != "" {
			return s
		}
	}
	return "none"
}

// subscribers says "1 subscriber", "4 subscribers".
func subscribers(n int) string {
	if n == 1 {
		return "1 subscriber"
	}
	return fmt.Sprintf("%d subscribers", n)
}

// secs shows an optional number of seconds.
func secs(p *float64) string {
	if p == nil {
		return "-"
	}
	return f2(*p) + " s"
}

// Render writes the report's markdown and its plots (into plotsDir, which
// the markdown names as plotsRel) from d; kept is appended: sections kept
// by hand (the end-to-end tests' figures, "what we tried").
func Render(d *Data, plotsDir, plotsRel, kept string) (string, error) {
	if err := os.MkdirAll(plotsDir, 0o755); err != nil {
		return "", err
	}
	v := viewsOf(d)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# Benchmarks\n\n")
	w("Generated by `peets bench report` (`bash scripts/bench-report.sh`, as root: it runs every benchmark below, ~20 minutes, ")
	w("then rewrites this file and its plots from `docs/bench/data.json`; `peets bench report --render` redraws from the kept data).\n\n")
	w("Machine: %s. Commit: %s.\n\n", d.Machine, or(d.Commit, "unknown"))

	w("## Goals\n\n| issue | goal | target | current | met | measured by | date |\n|---|---|---|---|---|---|---|\n")
	for _, g := range Goals() {
		run := d.Runs[g.Bench]
		x, shown, ok := g.Value(v)
		met := "no"
		switch {
		case run == nil:
			shown, met = "not run", "-"
		case run.Error != "":
			shown, met = "failed: "+firstLine(run.Error), "-"
		case !ok:
			shown, met = "not measured", "-"
		case g.Met(x):
			met = "yes"
		}
		cmd, date := "-", "-"
		if run != nil {
			cmd, date = "`"+run.Command()+"`", run.Started.Format(time.DateOnly)
		}
		w("| #%d | %s | %s | %s | %s | %s | %s |\n", g.Issue, g.Name, g.Target, shown, met, cmd, date)
	}
	w("\n")

	var plots []*Plot
	addPlot := func(p *Plot, err error) error {
		if err != nil {
			return err
		}
		if p != nil {
			plots = append(plots, p)
			w("![%s](%s/%s)\n\n*%s*\n\n", p.Title, plotsRel, p.File, p.Caption)
		}
		return nil
	}

	w("## Fan-out: one publisher, N subscribers (`fanout`)\n\n")
	w("A bot publishes the embedded VP8 + Opus stream through one forwarder to N subscriber proxies, all in separate processes on this machine.\n\n")
	if len(v.fan) > 0 {
		w("| subscribers | upload factor | mesh | overhead | latency p50 / p99 ms | delivered | pps per core | proxy CPU pub / sub %% |\n|---|---|---|---|---|---|---|---|\n")
		for _, f := range v.fan {
			w("| %d | %.2f | %d | %.3f | %.2f / %.2f | %.2f %% | %.0f | %.1f / %.1f |\n", f.Subscribers, f.UploadFactor, f.MeshUploadFactor,
				f.OverheadRatio, f.LatencyP50Ms, f.LatencyP99Ms, 100*f.DeliveredRatio, f.PPSPerCore, f.PubCPUPct, f.SubCPUPct)
		}
		w("\n")
	}
	if err := addPlot(plotUpload(v.fan, plotsDir)); err != nil {
		return "", err
	}
	if err := addPlot(plotLatency(v.fan, plotsDir)); err != nil {
		return "", err
	}
	if len(v.fanHops) > 0 {
		w("Over two hops (`fanout-hops`: the publisher's forwarder linked by UDP to the subscribers'): ")
		var parts []string
		for _, f := range v.fanHops {
			parts = append(parts, fmt.Sprintf("%s: upload factor %.2f, latency p50 %.2f ms, delivered %.2f %%", subscribers(f.Subscribers), f.UploadFactor, f.LatencyP50Ms, 100*f.DeliveredRatio))
		}
		w("%s.\n\n", strings.Join(parts, "; "))
	}

	if len(v.roster) > 0 {
		w("## Roster (`roster`)\n\n| members | converge p50 / max ms | join seen p50 / max ms | bye p50 / max ms | crash p50 / max ms | sync Interests sent per member per s |\n|---|---|---|---|---|---|\n")
		for _, r := range v.roster {
			w("| %d | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.2f |\n", r.Members, r.Converge.P50, r.Converge.Max,
				r.JoinSeen.P50, r.JoinSeen.Max, r.Bye.P50, r.Bye.Max, r.Crash.P50, r.Crash.Max, r.SyncSentPerSec)
		}
		w("\n")
	}

	if v.fwmem != nil {
		f := v.fwmem
		w("## The forwarder's memory (`fwmem`)\n\n%d unique names through a `peets forwarder` (%d fetched, %d from a stranger): RSS %.1f MB idle, %.1f MB after the warm-up, %.1f MB at the end (largest %.1f); slope %.2f MB per million names; %.1f µs of forwarder CPU per name.\n\n",
			f.Names, f.Fetched, f.StrangerSent, f.RSSStartMB, f.RSSWarmMB, f.RSSEndMB, f.RSSMaxMB, f.SlopeMBPer1M, f.FwUsPerName)
	}

	if c := v.call; c != nil {
		w("## A call in real browsers (`call`)\n\n%d Chromium pages, each with its proxy: first remote frame p50 %.0f ms, max %.0f ms over %d joins; every other participant decoded p50 %.0f ms; proxy CPU %.1f %% of a core (mean).\n\n",
			c.Pages, c.FirstFrameP50Ms, c.FirstFrameMaxMs, len(c.FirstFrameMs), c.AllDecodedP50Ms, c.ProxyCPUMean)
		if err := addPlot(plotFirstFrame(c, plotsDir)); err != nil {
			return "", err
		}
	}

	if len(v.net) > 0 {
		w("## Calls over a shaped link (`net-*`)\n\nTwo hosts in network namespaces joined by a veth pair, a forwarder and a `peets up` + headless Chromium page on each, a busy 720p camera; `tc tbf` shapes host A's uplink on a schedule. Each run measures the Peets call, then two pages connected directly by WebRTC on the same link (the baseline). B's page, from getStats over the 60 s window:\n\n")
		w("| uplink | fps Peets / direct | frozen s Peets / direct | loss %% Peets / direct | kbit/s Peets / direct | resolution Peets / direct |\n|---|---|---|---|---|---|\n")
		for _, name := range netRuns() {
			c, ok := netCompare(v, name)
			if !ok {
				continue
			}
			sched := schedule(v.net[name])
			w("| %s | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %.0f / %.0f | %s / %s |\n", sched, c.FPS[0], c.FPS[1], c.FreezeS[0], c.FreezeS[1],
				c.LossPct[0], c.LossPct[1], c.BitrateKbps[0], c.BitrateKbps[1], c.Resolution[0], c.Resolution[1])
		}
		w("\n")
		if err := addPlot(plotNetSeries(v.net["net-step"], plotsDir, "net-step-fps.png", "Frames decoded per second", "fps",
			func(r bench.ReceiverResult) []float64 { return r.Video.FPSSeries })); err != nil {
			return "", err
		}
		if err := addPlot(plotNetSeries(v.net["net-step"], plotsDir, "net-step-kbps.png", "Video bitrate received", "kbit/s",
			func(r bench.ReceiverResult) []float64 { return r.Video.BitrateSeries })); err != nil {
			return "", err
		}
	}

	if r := v.room["room"]; r != nil {
		w("## A large room (`room`)\n\n%d participants (%d bots publishing three simulcast layers and talking in turn, %d Chromium pages) in speaker view: a page downloads p50 %.0f kbit/s, max %.0f (every top layer would be %.0f); speaker change to the new speaker's top layer on screen p50 %.0f ms, max %.0f ms (%d changes); the browser's CPU %.0f %% of a core.\n\n",
			r.Participants, r.Bots, r.Pages, r.Download.P50, r.Download.Max, r.AllTopKbps, r.Switch.P50, r.Switch.Max, r.Switch.N, r.BrowserCPUPercent)
		if len(r.UploadByStream) > 0 {
			var parts []string
			for _, k := range slices.Sorted(maps.Keys(r.UploadByStream)) {
				parts = append(parts, fmt.Sprintf("%s %.2f", k, r.UploadByStream[k]))
			}
			w("A bot's upload, media Data sent per packet published, mean over the bots (a layer pulled part of the time is below 1): %s.\n\n", strings.Join(parts, ", "))
		}
		if c, base := v.room["room-cpu"], v.room["room-3top"]; c != nil && base != nil {
			w("One page's Chromium in a room of %d (`room-cpu`): %.0f %% of a core; with 3 other participants shown at full size (`room-3top`): %.0f %%.\n\n",
				c.Participants, c.BrowserCPUPercent, base.BrowserCPUPercent)
		}
	}

	if len(v.tree) > 0 {
		w("## A testbed (`tree`, `tree-dv`)\n\nHosts in network namespaces in a tree (h0 the root; h1 and h2 its children; h3 below h1, h4 below h2), one veth per link, a forwarder on each; a bot publishing three simulcast layers on h3, receiving bots on every host and Chromium pages on the hosts farthest from it (the second in a small window, so that it pulls a lower layer). Every figure over the window; copies: a link's media Data of a layer per packet the publisher published.\n\n")
		w("| run | routing | forwarders | participants | rosters complete | upload factor | largest copies on a link | bots' loss | pages: fps, resolution, hops |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, name := range []string{"tree", "tree-dv"} {
			r := v.tree[name]
			if r == nil {
				continue
			}
			var kinds, pages []string
			for _, h := range r.Hosts {
				kinds = append(kinds, h.Host+" "+h.Forwarder)
			}
			for _, p := range r.Pages {
				pages = append(pages, fmt.Sprintf("%.1f fps %dx%d (%d hops)", p.FPS, p.Width, p.Height, p.Hops))
			}
			w("| %s | %s | %s | %d | %d of %d | %.2f | %.3f | %.2f %% | %s |\n", name, r.Routing, strings.Join(kinds, ", "), r.Participants,
				r.RostersComplete, r.RostersChecked, r.UploadFactor, r.MaxLinkCopies, r.BotLossPct, strings.Join(pages, "; "))
		}
		if r := v.tree["tree"]; r != nil {
			w("\nEach link of `tree`, away from the publisher (the other direction carries Interests and sync):\n\n| link | receivers behind it | kbit/s | media Data kbit/s | copies per layer |\n|---|---|---|---|---|\n")
			for _, l := range r.Links {
				if !l.Away {
					continue
				}
				var cp []string
				for _, k := range slices.Sorted(maps.Keys(l.CopiesByStream)) {
					cp = append(cp, fmt.Sprintf("%s %.3f", k, l.CopiesByStream[k]))
				}
				w("| %s | %d | %.0f | %.0f | %s |\n", l.Link, len(l.Below), l.Kbps, l.MediaKbps, strings.Join(cp, ", "))
			}
			w("\n")
		}
	}

	if strings.TrimSpace(kept) != "" {
		w("%s\n", strings.TrimSpace(kept))
	}
	return b.String(), nil
}

// Names are the run names Render reads, sorted.
func Names() []string {
	var out []string
	for _, b := range Benches {
		out = append(out, b.Name)
	}
	slices.Sort(out)
	return out
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	if len(l) > 120 {
		l = l[:120] + "..."
	}
	return strings.ReplaceAll(l, "|", "/")
}
