package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/proc"
)

// FwMemConfig configures FwMem.
type FwMemConfig struct {
	// Names is how many unique names go through the forwarder: fetched by
	// the consumer (each a new Interest and Data) plus sent by the
	// stranger. Default 756,000: an hour of a two-person call, whose two
	// streams of ~105 packets a second each are all new names.
	Names int
	// Rate is the consumer's Interests a second (default 2000), paced on
	// a 10 ms tick, with at most Window outstanding (default 64).
	Rate, Window int
	// StrangerRate is the unsolicited Data a second a "stranger" sends to
	// the forwarder's UDP port from an unknown source (0: none). The
	// forwarder caches them too.
	StrangerRate int
	// Content is the size of each Data's content (default 1100 bytes, a
	// video packet).
	Content int
	// Sample is the RSS sampling interval (default 5 s).
	Sample time.Duration
	// Warmup is how many names pass before the RSS the growth is measured
	// from (default 100,000).
	Warmup int
	// NoSweep runs the forwarder without its CS sweeper, to show what it
	// saves.
	NoSweep bool
	Bin     string
	Logger  *slog.Logger
	Echo    io.Writer
}

// FwMemSample is one RSS sample.
type FwMemSample struct {
	TimeS float64 `json:"t_s"`
	Names int64   `json:"names"`
	RSSMB float64 `json:"rss_mb"`
}

// FwMemResult is FwMem's report (one JSON object).
type FwMemResult struct {
	Names        int64   `json:"names"` // unique names through the forwarder: fetched + stranger's
	Fetched      int64   `json:"fetched"`
	Timeouts     int64   `json:"timeouts"`
	StrangerSent int64   `json:"stranger_sent"`
	Rate         int     `json:"rate"`
	StrangerRate int     `json:"stranger_rate"`
	Sweep        bool    `json:"sweep"`
	DurationS    float64 `json:"duration_s"`
	RSSStartMB   float64 `json:"rss_start_mb"`          // the forwarder, idle, before any name
	RSSWarmMB    float64 `json:"rss_warm_mb"`           // first sample after the warm-up names
	RSSEndMB     float64 `json:"rss_end_mb"`            // last sample
	RSSMaxMB     float64 `json:"rss_max_mb"`            // largest sample after the warm-up
	GrowthMB     float64 `json:"growth_mb"`             // end - warm
	SlopeMBPer1M float64 `json:"slope_mb_per_1m_names"` // least-squares slope of RSS over names, after the warm-up
	FwCPUS       float64 `json:"fw_cpu_s"`
	FwUsPerName  float64 `json:"fw_us_per_name"` // the forwarder's CPU per unique name (Interest + Data, or stranger's Data)
	// Forwarder is the forwarder's last stats line (sweeper counters).
	Forwarder json.RawMessage `json:"forwarder,omitempty"`
	Samples   []FwMemSample   `json:"samples"`
}

var statsRe = regexp.MustCompile(`^stats: (\{.*\})$`)

// FwMem runs Names unique names through a `peets forwarder` process, a
// consumer and a producer on its socket and a stranger on its UDP port,
// and samples the forwarder's RSS: with the CS sweeper it must stay flat
// after the warm-up.
func FwMem(ctx context.Context, c FwMemConfig) (FwMemResult, error) {
	var res FwMemResult
	c.defaults()
	if c.Names < 1 || c.Rate < 1 || c.Rate > 50000 || c.StrangerRate < 0 || c.StrangerRate > 50000 ||
		c.Window < 1 || c.Window > 1024 || c.Content < 0 || c.Content > 8000 || c.Sample < 100*time.Millisecond {
		return res, fmt.Errorf("bench fwmem: out of range: names %d rate %d stranger %d window %d content %d sample %v",
			c.Names, c.Rate, c.StrangerRate, c.Window, c.Content, c.Sample)
	}
	var err error
	if c.Bin, c.Logger, err = defaults(c.Bin, c.Logger); err != nil {
		return res, err
	}
	res.Rate, res.StrangerRate, res.Sweep = c.Rate, c.StrangerRate, !c.NoSweep
	dir, err := os.MkdirTemp("", "peets-bench-fwmem-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var g proc.Group
	defer g.StopAll(3 * time.Second)

	port, err := freeUDPPorts(1)
	if err != nil {
		return res, err
	}
	extra := []string{"--udp-port", strconv.Itoa(port[0]), "--stats-every", "1s"}
	if c.NoSweep {
		extra = append(extra, "--no-sweep")
	}
	fw, err := startForwarder(&g, c.Bin, dir, "fw", extra, proc.Options{Echo: c.Echo})
	if err != nil {
		return res, err
	}
	pid := fw.Pid()

	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	prefix, _ := enc.NameFromStr("/peets-bench/fwmem/" + run)
	stop, err := serveFwMem(ctx, fw.uri, prefix, c.Content, c.Logger)
	if err != nil {
		return res, err
	}
	defer stop()
	cc, err := forwarder.Open(ctx, forwarder.Options{URI: fw.uri, Logger: c.Logger})
	if err != nil {
		return res, err
	}
	defer cc.Close()
	st, err := newStranger(port[0], run, c.Content)
	if err != nil {
		return res, err
	}
	defer st.close()

	time.Sleep(500 * time.Millisecond) // the forwarder at rest
	rss0, ok := rssMB(pid)
	if !ok {
		return res, errors.New("bench fwmem: cannot read the forwarder's RSS")
	}
	res.RSSStartMB = rss0
	cpu0, _ := procCPU(pid)
	start := time.Now()

	var fetched, timeouts, inflight atomic.Int64
	names := func() int64 { return fetched.Load() + st.sent.Load() }
	ce := cc.Engine()
	var seq uint64
	express := func() error {
		seq++
		// four streams, as two participants' video and audio
		n := prefix.Append(enc.NewGenericComponent("s"+strconv.Itoa(int(seq%4))),
			enc.NewTimestampComponent(uint64(start.UnixMicro())), enc.NewSequenceNumComponent(seq/4))
		i, err := ce.Spec().MakeInterest(n, &ndn.InterestConfig{Lifetime: optional.Some(2 * time.Second),
			Nonce: utils.ConvertNonce(ce.Timer().Nonce())}, nil, nil)
		if err != nil {
			return err
		}
		inflight.Add(1)
		return ce.Express(i, func(a ndn.ExpressCallbackArgs) {
			inflight.Add(-1)
			if a.Result == ndn.InterestResultData {
				fetched.Add(1)
			} else {
				timeouts.Add(1)
			}
		})
	}

	const tick = 10 * time.Millisecond
	t := time.NewTicker(tick)
	defer t.Stop()
	nextSample := start
	sample := func(now time.Time) {
		if rss, ok := rssMB(pid); ok {
			res.Samples = append(res.Samples, FwMemSample{TimeS: now.Sub(start).Seconds(), Names: names(), RSSMB: rss})
		}
	}
	var credit, strangerCredit float64
	lastProgress := time.Now()
	lastNames := int64(0)
	for names() < int64(c.Names) {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case now := <-t.C:
			if !now.Before(nextSample) {
				sample(now)
				nextSample = now.Add(c.Sample)
			}
			credit += float64(c.Rate) * tick.Seconds()
			for credit >= 1 && inflight.Load() < int64(c.Window) && names() < int64(c.Names) {
				credit--
				if err := express(); err != nil {
					return res, err
				}
			}
			credit = min(credit, float64(c.Rate)) // no burst after a stall
			strangerCredit += float64(c.StrangerRate) * tick.Seconds()
			for strangerCredit >= 1 && names() < int64(c.Names) {
				strangerCredit--
				st.send()
			}
			if n := names(); n != lastNames {
				lastNames, lastProgress = n, now
			} else if now.Sub(lastProgress) > 30*time.Second {
				return res, fmt.Errorf("bench fwmem: no progress for 30 s at %d names (%s)", n, fw.Output())
			}
		}
	}
	if !waitFor(ctx, 5*time.Second, func() bool { return inflight.Load() == 0 }) {
		c.Logger.Warn("bench fwmem: Interests still pending at the end", "n", inflight.Load())
	}
	// a last sample once the forwarder settled (sweeps, expiries)
	time.Sleep(2 * time.Second)
	sample(time.Now())
	cpu1, cpuOK := procCPU(pid)
	res.DurationS = time.Since(start).Seconds()
	res.Fetched, res.Timeouts, res.StrangerSent = fetched.Load(), timeouts.Load(), st.sent.Load()
	res.Names = res.Fetched + res.StrangerSent
	if cpuOK {
		res.FwCPUS = (cpu1 - cpu0).Seconds()
		res.FwUsPerName = 1e6 * res.FwCPUS / float64(max(res.Names, 1))
	}
	for _, l := range fw.Lines() {
		if m := statsRe.FindStringSubmatch(l); m != nil {
			res.Forwarder = json.RawMessage(m[1])
		}
	}
	res.summarize(int64(c.Warmup))
	return res, nil
}

func (c *FwMemConfig) defaults() {
	if c.Names == 0 {
		c.Names = 756000
	}
	if c.Rate == 0 {
		c.Rate = 2000
	}
	if c.Window == 0 {
		c.Window = 64
	}
	if c.Content == 0 {
		c.Content = 1100
	}
	if c.Sample == 0 {
		c.Sample = 5 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 100000
	}
}

// summarize computes the figures after the warm-up from the samples.
func (r *FwMemResult) summarize(warmup int64) {
	if len(r.Samples) == 0 {
		return
	}
	r.RSSEndMB = r.Samples[len(r.Samples)-1].RSSMB
	var xs, ys []float64
	for _, s := range r.Samples {
		if s.Names < warmup {
			continue
		}
		if len(xs) == 0 {
			r.RSSWarmMB = s.RSSMB
		}
		r.RSSMaxMB = max(r.RSSMaxMB, s.RSSMB)
		xs = append(xs, float64(s.Names)/1e6)
		ys = append(ys, s.RSSMB)
	}
	if len(xs) == 0 {
		return
	}
	r.GrowthMB = round2(r.RSSEndMB - r.RSSWarmMB)
	r.SlopeMBPer1M = round2(slope(xs, ys))
}

// slope is the least-squares slope of ys over xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// serveFwMem answers every Interest under prefix with a Data of content
// bytes (SHA-256 digest signature), from a connection of its own.
func serveFwMem(ctx context.Context, uri string, prefix enc.Name, content int, log *slog.Logger) (func(), error) {
	pc, err := forwarder.Open(ctx, forwarder.Options{URI: uri, Logger: log})
	if err != nil {
		return nil, err
	}
	e := pc.Engine()
	body := enc.Wire{make([]byte, content)}
	sg := signer.NewSha256Signer()
	err = e.AttachHandler(prefix, func(a ndn.InterestHandlerArgs) {
		d, err := e.Spec().MakeData(a.Interest.Name(), &ndn.DataConfig{}, body, sg)
		if err == nil {
			_ = a.Reply(d.Wire)
		}
	})
	if err == nil {
		err = pc.Register(ctx, prefix)
	}
	if err != nil {
		pc.Close()
		return nil, err
	}
	return func() { pc.Close() }, nil
}

// stranger sends unsolicited Data with new names to a forwarder's UDP port
// from a socket of its own (a source the forwarder never heard of).
type stranger struct {
	conn   *net.UDPConn
	prefix enc.Name
	body   enc.Wire
	sg     ndn.Signer
	mu     sync.Mutex
	n      uint64
	sent   atomic.Int64
}

func newStranger(port int, run string, content int) (*stranger, error) {
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return nil, err
	}
	p, _ := enc.NameFromStr("/stranger/" + run)
	return &stranger{conn: c, prefix: p, body: enc.Wire{make([]byte, min(content, 1200))}, sg: signer.NewSha256Signer()}, nil
}

func (s *stranger) send() {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	d, err := spec.Spec{}.MakeData(s.prefix.Append(enc.NewSequenceNumComponent(n)), &ndn.DataConfig{}, s.body, s.sg)
	if err != nil {
		return
	}
	if _, err := s.conn.Write(d.Wire.Join()); err == nil {
		s.sent.Add(1)
	}
}

func (s *stranger) close() { s.conn.Close() }

// rssMB is procRSS in MB (10^6 bytes, as the other figures); ok is false
// when it could not be read.
func rssMB(pid int) (float64, bool) {
	b := procRSS(pid)
	return round2(float64(b) / 1e6), b > 0
}

// waitFor polls cond every 10 ms up to d.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}
