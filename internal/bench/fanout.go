package bench

import (
	"context"
	"encoding/json"
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
}

// FanoutResult is one run's figures (one JSON object).
type FanoutResult struct {
	Subscribers      int     `json:"subscribers"`
	DurationS        float64 `json:"duration_s"`
	Published        uint64  `json:"published"`
	DataSent         uint64  `json:"data_sent"`
	UploadFactor     float64 `json:"upload_factor"`
	MeshUploadFactor int     `json:"mesh_upload_factor"`
	OverheadRatio    float64 `json:"overhead_ratio"`
	LatencyP50Ms     float64 `json:"latency_p50_ms"`
	LatencyP99Ms     float64 `json:"latency_p99_ms"`
	LatencyMaxMs     float64 `json:"latency_max_ms"`
	RawRTTP50Ms      float64 `json:"raw_rtt_p50_ms"`
	RawRTTP99Ms      float64 `json:"raw_rtt_p99_ms"`
	Expected         uint64  `json:"expected"`
	Delivered        uint64  `json:"delivered"`
	DeliveredRatio   float64 `json:"delivered_ratio"`
	Corrupt          uint64  `json:"corrupt"`
	OutOfOrder       int     `json:"out_of_order"`
	CPUSeconds       float64 `json:"cpu_seconds"`
	PPSPerCore       float64 `json:"pps_per_core"`
	RSSMBPerStream   float64 `json:"rss_mb_per_stream"`
	PublisherRSSMB   float64 `json:"publisher_rss_mb"`
	Forwarder        string  `json:"forwarder"`
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
	if c.Bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return res, err
		}
		c.Bin = exe
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	dir, err := os.MkdirTemp("", "peets-bench-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var g proc.Group
	defer g.StopAll(3 * time.Second)
	opt := proc.Options{Echo: c.Echo}

	fw := c.Forwarder
	if fw == "" {
		p, err := proc.Start("fw", c.Bin, []string{"forwarder", "--state-dir", filepath.Join(dir, "fw"), "--log-level", "warn"}, opt)
		if err != nil {
			return res, err
		}
		g.Add(p)
		m, err := p.WaitLine(fwRe, 10*time.Second)
		if err != nil {
			return res, err
		}
		fw = m[1]
	}
	res.Forwarder = fw
	room := "bench" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	worker := func(name, mode string) (*proc.Proc, string, error) {
		out := filepath.Join(dir, name+".json")
		p, err := proc.Start(name, c.Bin, []string{"bench", "worker", "--mode", mode, "--user", name, "--room", room,
			"--forwarder", fw, "--state-dir", filepath.Join(dir, name), "--out", out, "--log-level", "warn"}, opt)
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
	// The plain Interest/Data round trip through the same forwarder, while
	// the media flows.
	rtts, rttErr := pingRTT(ctx, fw, 300, c.Logger)
	select {
	case <-time.After(time.Until(start.Add(c.Duration))):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.DurationS = time.Since(start).Seconds()

	var cpu time.Duration
	var rssPerStream []float64
	subReps := make([]WorkerReport, len(subs))
	for i, s := range subs {
		st := s.Stop(5 * time.Second)
		t, rss := proc.CPU(st)
		cpu += t
		if err := readReport(subOut[i], &subReps[i]); err != nil {
			return res, fmt.Errorf("%s: %w\n%s", s.Name, err, s.Output())
		}
		if subReps[i].Streams > 0 {
			rssPerStream = append(rssPerStream, float64(rss)/1e6/float64(subReps[i].Streams))
		}
	}
	st := pub.Stop(5 * time.Second)
	t, rss := proc.CPU(st)
	cpu += t
	res.PublisherRSSMB = float64(rss) / 1e6
	var pubRep WorkerReport
	if err := readReport(pubOut, &pubRep); err != nil {
		return res, fmt.Errorf("pub: %w\n%s", err, pub.Output())
	}

	// Publisher side: packets published, Data sent, bytes.
	var bytesIn, bytesOut uint64
	for _, ps := range pubRep.Stats.Publishers {
		res.Published += ps.Published
		res.DataSent += ps.ServedRing + ps.HeldAnswered
		bytesIn += ps.BytesIn
		bytesOut += ps.BytesOut
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
		// publisher after the subscriber's first packet (a joiner starts
		// at the latest keyframe, up to a GOP in the past).
		var live int64 = math.MaxInt64
		for _, r := range sr.Records {
			live = min(live, r.TimeNs)
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
			if p.TimeNs >= live {
				lat = append(lat, float64(r.TimeNs-p.TimeNs)/1e6)
			}
		}
		cutoff := sr.StopNs - int64(300*time.Millisecond)
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
	if rttErr == nil {
		res.RawRTTP50Ms, res.RawRTTP99Ms = pct(rtts, 50), pct(rtts, 99)
	} else {
		c.Logger.Warn("raw RTT", "err", rttErr)
	}
	res.CPUSeconds = cpu.Seconds()
	if cpu > 0 {
		var delivered uint64
		for _, sr := range subReps {
			delivered += uint64(len(sr.Records))
		}
		res.PPSPerCore = float64(delivered) / cpu.Seconds()
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
