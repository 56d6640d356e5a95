package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/peets/peets/internal/proc"
	"github.com/peets/peets/media"
)

// FanoutConfig configures Fanout.
type FanoutConfig struct {
	Subscribers int
	Duration    time.Duration
	// Bin is the peets binary that runs the workers (default: this one).
	Bin string
	// Forwarder is the URI of the forwarder to use; "" starts a
	// `peets forwarder` process for the run (excluded from the CPU figures).
	Forwarder string
	Logger    *slog.Logger
	Echo      io.Writer // worker output copy (nil: none)
	// Speed multiplies the source's pace (default 1, real time). Above 1
	// the same VP8+Opus stream is sent faster, which amortizes each
	// proxy's fixed idle cost (timers, heartbeats, sync) and measures the
	// per-packet CPU cost; at 1 the figures are those of a real call.
	Speed float64
	// Warmup is excluded from the CPU figures: the time after every
	// subscriber is in the room (certificate fetch, stream discovery).
	// Default 1 s.
	Warmup time.Duration
	// VideoPath (VP8 IVF) and AudioPath (Opus Ogg) replace the bot's
	// embedded video and audio (each one independently).
	VideoPath, AudioPath string
	// CPUProfile, if set, is a file name prefix: each worker writes a CPU
	// profile of its whole run to <prefix>-<worker>.pprof.
	CPUProfile string
	// Hops is the number of forwarders between the publisher and the
	// subscribers: 1 (default) puts everyone on one forwarder; 2 gives the
	// publisher a forwarder of its own, linked over UDP on loopback to the
	// subscribers' forwarder, as two hosts of a testbed would be. Both are
	// `peets forwarder` processes: with Forwarder set, only 1.
	Hops int
	// Keep, if set, keeps the run's directory (the workers' reports with
	// every packet's record, the forwarders' state) and logs its path.
	Keep bool
	// Link impairs the UDP link between the two forwarders (Hops 2 only):
	// loss, loss bursts, delay and jitter, each way.
	Link Impairment
	// NoSweep runs the forwarders without their CS sweeper (A/B runs of
	// its cost).
	NoSweep bool
}

// FanoutResult is one run's figures (one JSON object).
type FanoutResult struct {
	Subscribers      int     `json:"subscribers"`
	Speed            float64 `json:"speed"`
	DurationS        float64 `json:"duration_s"`
	Published        uint64  `json:"published"`
	DataSent         uint64  `json:"data_sent"`
	UploadFactor     float64 `json:"upload_factor"`
	MeshUploadFactor int     `json:"mesh_upload_factor"`
	OverheadRatio    float64 `json:"overhead_ratio"`
	// Per stream (video, audio): Data bytes sent / RTP bytes in them, and
	// the mean RTP packet size.
	OverheadByStream map[string]float64 `json:"overhead_by_stream"`
	RTPBytesByStream map[string]float64 `json:"rtp_bytes_by_stream"`
	LatencyP50Ms     float64            `json:"latency_p50_ms"`
	LatencyP99Ms     float64            `json:"latency_p99_ms"`
	LatencyMaxMs     float64            `json:"latency_max_ms"`
	// LatencyCDFMs is the latency at each 5th percentile, p0 to p100 (21
	// values): the distribution, to draw.
	LatencyCDFMs   []float64 `json:"latency_cdf_ms"`
	RawRTTP50Ms    float64   `json:"raw_rtt_p50_ms"`
	RawRTTP99Ms    float64   `json:"raw_rtt_p99_ms"`
	Expected       uint64    `json:"expected"`
	Delivered      uint64    `json:"delivered"`
	DeliveredRatio float64   `json:"delivered_ratio"`
	Corrupt        uint64    `json:"corrupt"`
	OutOfOrder     int       `json:"out_of_order"`
	// CPU figures of the proxies (publisher + subscribers, not the
	// forwarder) over the measured window only (after the warm-up, up to
	// the stop): startup, key generation, joining and the report are
	// excluded. pps_per_core is the RTP packets delivered to subscribers
	// in the window per CPU-second in the window.
	CPUSeconds     float64 `json:"cpu_seconds"`
	PPSPerCore     float64 `json:"pps_per_core"`
	WindowS        float64 `json:"window_s"`
	WindowPkts     uint64  `json:"window_delivered"`
	PubCPUPct      float64 `json:"pub_cpu_pct"`       // publisher, % of one core
	SubCPUPct      float64 `json:"sub_cpu_pct"`       // mean subscriber, % of one core
	PubUsPerPkt    float64 `json:"pub_us_per_pkt"`    // publisher CPU per packet published
	SubUsPerPkt    float64 `json:"sub_us_per_pkt"`    // subscriber CPU per packet delivered
	FwCPUPct       float64 `json:"fw_cpu_pct"`        // the forwarder process (not in pps_per_core), % of one core
	FwUsPerPkt     float64 `json:"fw_us_per_pkt"`     // the forwarder's CPU per packet delivered to a subscriber
	CPUSecsTotal   float64 `json:"cpu_seconds_total"` // whole process lifetimes
	PPSPerCoreLT   float64 `json:"pps_per_core_lifetime"`
	RSSMBPerStream float64 `json:"rss_mb_per_stream"`
	PublisherRSSMB float64 `json:"publisher_rss_mb"`
	Forwarder      string  `json:"forwarder"`
	Hops           int     `json:"hops"`
	// Repair, summed over the subscribers' fetchers: Interests re-expressed
	// for a missing packet, packets given up on (skipped after the reorder
	// wait, or gone) and Data that came after their packet was skipped.
	Retransmitted uint64 `json:"retransmitted"`
	Lost          uint64 `json:"lost"`
	Late          uint64 `json:"late"`
	// SRTTMs is the subscribers' fetchers' mean smoothed RTT at the end.
	SRTTMs float64 `json:"srtt_ms"`
	// Link is what the impaired link between the forwarders did (with
	// --loss, --delay or --jitter).
	Link *LinkResult `json:"link,omitempty"`
}

var readyRe = regexp.MustCompile(`^ready$`)
var fwRe = regexp.MustCompile(`^forwarder: (unix://\S+)$`)

// Fanout runs one publisher (the bot's VP8 + Opus stream at its real pace)
// and N subscriber proxies, each a process of its own, on one forwarder.
func Fanout(ctx context.Context, c FanoutConfig) (FanoutResult, error) {
	res := FanoutResult{Subscribers: c.Subscribers, MeshUploadFactor: c.Subscribers}
	if c.Subscribers < 1 || c.Subscribers > 64 {
		return res, fmt.Errorf("subscribers %d out of [1, 64]", c.Subscribers)
	}
	if c.Duration < time.Second || c.Duration > 10*time.Minute {
		return res, fmt.Errorf("duration %v out of [1s, 10m]", c.Duration)
	}
	var err error
	if c.Bin, c.Logger, err = defaults(c.Bin, c.Logger); err != nil {
		return res, err
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.Speed < 0.1 || c.Speed > 100 {
		return res, fmt.Errorf("speed %v out of [0.1, 100]", c.Speed)
	}
	res.Speed = c.Speed
	if c.Warmup <= 0 {
		c.Warmup = time.Second
	}
	dir, err := os.MkdirTemp("", "peets-bench-")
	if err != nil {
		return res, err
	}
	if c.Keep {
		c.Logger.Info("bench fanout: keeping the run's directory", "dir", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	var g proc.Group
	defer g.StopAll(3 * time.Second)
	opt := proc.Options{Echo: c.Echo, Env: sharedTrust(dir)}

	if c.Hops == 0 {
		c.Hops = 1
	}
	if c.Hops < 1 || c.Hops > 2 || (c.Hops == 2 && c.Forwarder != "") {
		return res, fmt.Errorf("hops %d: 1, or 2 without an external forwarder", c.Hops)
	}
	if err := c.Link.Validate(); err != nil {
		return res, err
	}
	if c.Link.Active() && c.Hops != 2 {
		return res, errors.New("loss, delay and jitter impair the link between two forwarders: they need hops 2")
	}
	res.Hops = c.Hops
	// fw is the subscribers' forwarder, pubFw the publisher's.
	pubFw, fw, fwProcs, link, err := startForwarders(&g, c, dir, opt)
	if err != nil {
		return res, err
	}
	if link != nil {
		defer link.Close()
	}
	res.Forwarder = fw
	room := "bench" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	worker := func(name, mode string) (*proc.Proc, string, error) {
		out := filepath.Join(dir, name+".json")
		wfw := fw
		if mode == "pub" {
			wfw = pubFw
		}
		args := []string{"bench", "worker", "--mode", mode, "--user", name, "--room", room,
			"--forwarder", wfw, "--state-dir", filepath.Join(dir, name), "--out", out, "--log-level", "warn"}
		if mode == "pub" && c.Speed != 1 {
			args = append(args, "--speed", strconv.FormatFloat(c.Speed, 'g', -1, 64))
		}
		if mode == "pub" && c.VideoPath != "" {
			args = append(args, "--video", c.VideoPath)
		}
		if mode == "pub" && c.AudioPath != "" {
			args = append(args, "--audio", c.AudioPath)
		}
		if c.CPUProfile != "" {
			args = append(args, "--cpuprofile", c.CPUProfile+"-"+name+".pprof")
		}
		p, err := proc.Start(name, c.Bin, args, opt)
		if err != nil {
			return nil, "", err
		}
		g.Add(p)
		return p, out, nil
	}
	pub, pubOut, err := worker("pub", "pub")
	if err != nil {
		return res, err
	}
	if _, err := pub.WaitLine(readyRe, 15*time.Second); err != nil {
		return res, err
	}
	subs := make([]*proc.Proc, c.Subscribers)
	subOut := make([]string, c.Subscribers)
	for i := range subs {
		if subs[i], subOut[i], err = worker(fmt.Sprintf("sub%d", i+1), "sub"); err != nil {
			return res, err
		}
	}
	for _, s := range subs {
		if _, err := s.WaitLine(readyRe, 30*time.Second); err != nil {
			return res, err
		}
	}
	start := time.Now()
	// The CPU window starts after the warm-up.
	select {
	case <-time.After(c.Warmup):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	all := append([]*proc.Proc{pub}, subs...)
	cpu0, cpuOK := procCPUs(all)
	fwCPU0, _ := forwardersCPU(fwProcs)
	win0 := time.Now()
	// The plain Interest/Data round trip through the same forwarder, while
	// the media flows.
	rtts, rttErr := pingRTT(ctx, fw, 300, c.Logger)
	select {
	case <-time.After(time.Until(start.Add(c.Duration))):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	cpu1, cpuOK1 := procCPUs(all)
	fwCPU1, fwOK := forwardersCPU(fwProcs)
	win1 := time.Now()
	res.DurationS = time.Since(start).Seconds()

	var cpu time.Duration
	var rssPerStream []float64
	fetchers := 0
	subReps := make([]WorkerReport, len(subs))
	for i, s := range subs {
		st := s.Stop(5 * time.Second)
		t, rss := proc.CPU(st)
		cpu += t
		if err := readReport(subOut[i], &subReps[i]); err != nil {
			return res, fmt.Errorf("%s: %w\n%s", s.Name, err, s.Output())
		}
		for _, fs := range subReps[i].Stats.Fetchers {
			res.Retransmitted += fs.Retransmitted
			res.Lost += fs.Lost
			res.Late += fs.Late
			res.SRTTMs += fs.SRTT.MS()
			fetchers++
		}
		if subReps[i].Streams > 0 {
			rssPerStream = append(rssPerStream, float64(rss)/1e6/float64(subReps[i].Streams))
		}
	}
	st := pub.Stop(5 * time.Second)
	t, rss := proc.CPU(st)
	cpu += t
	res.PublisherRSSMB = float64(rss) / 1e6
	if fetchers > 0 {
		res.SRTTMs = math.Round(100*res.SRTTMs/float64(fetchers)) / 100
	}
	if link != nil {
		r := link.Result()
		res.Link = &r
	}
	var pubRep WorkerReport
	if err := readReport(pubOut, &pubRep); err != nil {
		return res, fmt.Errorf("pub: %w\n%s", err, pub.Output())
	}

	// Publisher side: packets published, Data sent, bytes.
	var bytesIn, bytesOut uint64
	res.OverheadByStream, res.RTPBytesByStream = map[string]float64{}, map[string]float64{}
	for id, ps := range pubRep.Stats.Publishers {
		res.Published += ps.Published
		sent := ps.ServedRing + ps.HeldAnswered
		res.DataSent += sent
		bytesIn += ps.BytesIn
		bytesOut += ps.MediaBytesOut
		if ps.Published > 0 && sent > 0 && ps.BytesIn > 0 {
			rtpSent := float64(ps.BytesIn) * float64(sent) / float64(ps.Published)
			res.OverheadByStream[id] = math.Round(1000*float64(ps.MediaBytesOut)/rtpSent) / 1000
			res.RTPBytesByStream[id] = math.Round(10*float64(ps.BytesIn)/float64(ps.Published)) / 10
		}
	}
	if res.Published > 0 {
		res.UploadFactor = float64(res.DataSent) / float64(res.Published)
	}
	if bytesIn > 0 && res.DataSent > 0 {
		// bytes of the Data sent / bytes of the RTP packets in them
		rtpSent := float64(bytesIn) * float64(res.DataSent) / float64(res.Published)
		res.OverheadRatio = float64(bytesOut) / rtpSent
	}

	// Subscriber side: every packet published (from each subscriber's first
	// packet on, up to 300 ms before it stopped) must arrive, byte-identical.
	// Over an impaired link the margin is longer: a packet lost just before
	// the stop may be repaired up to the fetcher's longest reorder wait
	// plus an RTT later.
	margin := 300 * time.Millisecond
	if c.Link.Active() {
		margin += media.DefaultMaxReorderWait + 2*(c.Link.Delay+c.Link.Jitter)
	}
	type key struct {
		s string
		q uint64
	}
	pubBy := make(map[key]Record, len(pubRep.Records))
	for _, r := range pubRep.Records {
		pubBy[key{r.Stream, r.Seq}] = r
	}
	var lat []float64
	for _, sr := range subReps {
		res.OutOfOrder += sr.OutOfOrder
		first := map[string]uint64{}
		got := map[key]bool{}
		// Latency counts live packets only: those that reached the
		// publisher after the subscriber's first packet of their stream (a
		// joiner starts each stream at its latest keyframe, up to a GOP in
		// the past, and the streams start independently).
		live := map[string]int64{}
		for _, r := range sr.Records {
			if t, ok := live[r.Stream]; !ok || r.TimeNs < t {
				live[r.Stream] = r.TimeNs
			}
		}
		for _, r := range sr.Records {
			if f, ok := first[r.Stream]; !ok || r.Seq < f {
				first[r.Stream] = r.Seq
			}
			p, ok := pubBy[key{r.Stream, r.Seq}]
			if !ok {
				continue // published after the publisher's record window
			}
			if p.Hash != r.Hash || p.Size != r.Size {
				res.Corrupt++
				continue
			}
			got[key{r.Stream, r.Seq}] = true
			if p.TimeNs >= live[r.Stream] {
				lat = append(lat, float64(r.TimeNs-p.TimeNs)/1e6)
			}
		}
		cutoff := sr.StopNs - int64(margin)
		for k, p := range pubBy {
			f, ok := first[k.s]
			if !ok || k.q < f || p.TimeNs > cutoff {
				continue
			}
			res.Expected++
			if got[k] {
				res.Delivered++
			}
		}
	}
	if res.Expected > 0 {
		res.DeliveredRatio = float64(res.Delivered) / float64(res.Expected)
	}
	res.LatencyP50Ms, res.LatencyP99Ms, res.LatencyMaxMs = pct(lat, 50), pct(lat, 99), pct(lat, 100)
	if len(lat) > 0 {
		for p := 0; p <= 100; p += 5 {
			res.LatencyCDFMs = append(res.LatencyCDFMs, pct(lat, float64(p)))
		}
	}
	if rttErr == nil {
		res.RawRTTP50Ms, res.RawRTTP99Ms = pct(rtts, 50), pct(rtts, 99)
	} else {
		c.Logger.Warn("raw RTT", "err", rttErr)
	}
	var delivered, inWindow uint64
	for _, sr := range subReps {
		delivered += uint64(len(sr.Records))
		for _, r := range sr.Records {
			if r.TimeNs >= win0.UnixNano() && r.TimeNs < win1.UnixNano() {
				inWindow++
			}
		}
	}
	var pubInWindow uint64
	for _, r := range pubRep.Records {
		if r.TimeNs >= win0.UnixNano() && r.TimeNs < win1.UnixNano() {
			pubInWindow++
		}
	}
	res.CPUSecsTotal = cpu.Seconds()
	if cpu > 0 {
		res.PPSPerCoreLT = float64(delivered) / cpu.Seconds()
	}
	if cpuOK && cpuOK1 {
		w := win1.Sub(win0).Seconds()
		res.WindowS, res.WindowPkts = w, inWindow
		var subCPU float64
		for i := range all {
			d := (cpu1[i] - cpu0[i]).Seconds()
			res.CPUSeconds += d
			if i > 0 {
				subCPU += d
			}
		}
		pubCPU := (cpu1[0] - cpu0[0]).Seconds()
		res.PubCPUPct = 100 * pubCPU / w
		res.SubCPUPct = 100 * subCPU / float64(len(subs)) / w
		if pubInWindow > 0 {
			res.PubUsPerPkt = 1e6 * pubCPU / float64(pubInWindow)
		}
		if inWindow > 0 {
			res.SubUsPerPkt = 1e6 * subCPU / float64(inWindow)
		}
		if fwOK && inWindow > 0 {
			d := (fwCPU1 - fwCPU0).Seconds()
			res.FwCPUPct = 100 * d / w
			res.FwUsPerPkt = 1e6 * d / float64(inWindow)
		}
		if res.CPUSeconds > 0 {
			res.PPSPerCore = float64(inWindow) / res.CPUSeconds
		}
	} else {
		// No per-process CPU clock while running (not Linux): lifetimes.
		res.CPUSeconds, res.PPSPerCore = res.CPUSecsTotal, res.PPSPerCoreLT
	}
	if len(rssPerStream) > 0 {
		var s float64
		for _, v := range rssPerStream {
			s += v
		}
		res.RSSMBPerStream = s / float64(len(rssPerStream))
	}
	return res, nil
}

func readReport(file string, r *WorkerReport) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, r)
}

// pct is the p-th percentile (nearest rank) of v, or NaN-free 0 when empty.
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	i = max(0, min(i, len(s)-1))
	return math.Round(s[i]*1000) / 1000
}
