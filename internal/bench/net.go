package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/linkshape"
	"github.com/peets/peets/internal/netns"
	"github.com/peets/peets/internal/y4m"
)

// NetConfig configures Net.
type NetConfig struct {
	// Receivers: 1 (default) is two hosts joined by one veth, A and B, each
	// a participant that sends its camera and mic and receives the other's;
	// 2 is a publisher A and two viewers B and C, each joined to a hub host
	// R (an IP router running a forwarder too).
	Receivers int
	// Duration is the measured window (default 60 s); Warmup the call
	// before it, once the receivers decode (default 10 s: the page's
	// encoder climbs to its top size in ~13 s).
	Duration, Warmup time.Duration
	// Uplink shapes the publisher's uplink (A->B, or A->R); Downlinks the
	// receivers' downlinks behind the hub (R->B, R->C). Times count from
	// the window's start; the first step holds from the set-up on.
	Uplink    linkshape.Schedule
	Downlinks []linkshape.Schedule
	// Burst and Latency are tbf's (default linkshape.AutoBurst and
	// DefaultLatency).
	Burst, Latency string
	// Impair adds loss and delay, each way, between the publisher's
	// forwarder and the next one (before the uplink's token bucket), with
	// the user-space relay of bench fanout. The Peets phase only: the
	// relay carries the forwarders' datagrams, not WebRTC's.
	Impair Impairment
	// Peets and Direct choose the phases (both when neither is set): the
	// call through Peets, and the baseline, the pages connected directly.
	Peets, Direct bool
	// Clip is the camera (default y4m.Default()).
	Clip y4m.Clip
	// FirstFrameWait bounds the wait for every receiver's first frame
	// before the warm-up (default 20 s); the run goes on without it.
	FirstFrameWait time.Duration

	Bin    string // peets binary (default: this one)
	Logger *slog.Logger
	Echo   io.Writer // proxies' and forwarders' output copy (nil: none)
	Keep   bool      // keep the run's directory (logs, clip) and log its path
	// ProxyLogLevel is the proxies' log level ("": info in a kept run,
	// else warn).
	ProxyLogLevel string
	// ProxyArgs are added to every `peets up` (e.g. --layer-idle 10s).
	ProxyArgs []string
}

// NetResult is one run of Net: the set-up, and the same figures for the
// call through Peets and for the direct baseline, and side by side.
type NetResult struct {
	Mode       string            `json:"mode"` // "two-hosts" or "hub"
	Receivers  int               `json:"receivers"`
	DurationS  float64           `json:"duration_s"`
	WarmupS    float64           `json:"warmup_s"`
	Schedules  map[string]string `json:"schedules"` // per shaped link
	TBF        map[string]string `json:"tbf"`
	Camera     string            `json:"camera"`
	Chromium   string            `json:"chromium"`
	LoadBefore [3]float64        `json:"load_avg_before"` // 1, 5, 15 minutes
	LoadAfter  [3]float64        `json:"load_avg_after"`
	Peets      *PhaseResult      `json:"peets,omitempty"`
	Direct     *PhaseResult      `json:"direct,omitempty"`
	Compare    []Comparison      `json:"compare,omitempty"`
	Dir        string            `json:"dir,omitempty"` // the run's directory, kept (NetConfig.Keep)
}

// Net runs the network benchmark (root only: it makes network namespaces).
func Net(ctx context.Context, c NetConfig) (NetResult, error) {
	if c.Receivers == 0 {
		c.Receivers = 1
	}
	if c.Duration == 0 {
		c.Duration = 60 * time.Second
	}
	if c.Warmup == 0 {
		c.Warmup = 10 * time.Second
	}
	if c.FirstFrameWait == 0 {
		c.FirstFrameWait = 20 * time.Second
	}
	if len(c.Uplink) == 0 {
		c.Uplink = linkshape.Schedule{{}}
	}
	if c.Clip == (y4m.Clip{}) {
		c.Clip = y4m.Default()
	}
	if !c.Peets && !c.Direct {
		c.Peets, c.Direct = true, true
	}
	res := NetResult{Receivers: c.Receivers, DurationS: c.Duration.Seconds(), WarmupS: c.Warmup.Seconds(), Schedules: map[string]string{},
		TBF:    map[string]string{"burst": or(c.Burst, "4000 bytes or 10 ms at the rate"), "latency": or(c.Latency, linkshape.DefaultLatency)},
		Camera: fmt.Sprintf("y4m %dx%d@%d, %d frames", c.Clip.Width, c.Clip.Height, c.Clip.FPS, c.Clip.Frames)}
	switch {
	case c.Receivers < 1 || c.Receivers > 2:
		return res, fmt.Errorf("receivers %d: 1 (two hosts) or 2 (a publisher and two viewers behind a hub)", c.Receivers)
	case c.Receivers == 1 && len(c.Downlinks) > 0:
		return res, errors.New("with one receiver the publisher's uplink is the receiver's downlink: shape it with the uplink schedule")
	case len(c.Downlinks) > c.Receivers:
		return res, fmt.Errorf("%d downlink schedules for %d receivers", len(c.Downlinks), c.Receivers)
	case c.Duration < 5*time.Second || c.Duration > time.Hour:
		return res, fmt.Errorf("duration %v out of [5s, 1h]", c.Duration)
	case c.Warmup < 0 || c.Warmup > 10*time.Minute:
		return res, fmt.Errorf("warm-up %v out of [0, 10m]", c.Warmup)
	}
	if err := c.Clip.Validate(); err != nil {
		return res, err
	}
	if err := c.Impair.Validate(); err != nil {
		return res, err
	}
	if c.Impair.Active() && !c.Peets {
		return res, errors.New("loss, delay and jitter apply to the Peets phase only (the relay is between forwarders)")
	}
	res.Mode = "two-hosts"
	if c.Receivers > 1 {
		res.Mode = "hub"
	}
	if err := netns.Check(); err != nil {
		return res, fmt.Errorf("bench net: %w", err)
	}
	var err error
	if c.Bin, c.Logger, err = defaults(c.Bin, c.Logger); err != nil {
		return res, err
	}
	if gone := netns.Sweep(nsPrefix); len(gone) > 0 {
		c.Logger.Warn("removed the namespaces of an earlier run that did not clean up", "namespaces", gone)
	}
	sweepDirs(c.Logger)
	res.LoadBefore = loadAvg()
	dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		return res, err
	}
	if c.Keep {
		res.Dir = dir
	} else {
		defer os.RemoveAll(dir)
	}
	clip := filepath.Join(dir, "camera.y4m")
	if err := c.Clip.WriteFile(clip); err != nil {
		return res, err
	}
	topo, err := newTopology(c)
	if err != nil {
		return res, err
	}
	defer topo.close()
	for _, l := range topo.links {
		if l.shaper != nil {
			res.Schedules[l.name] = l.sched.String()
		}
	}
	browsers := map[string]*cdp.Browser{}
	defer func() {
		for _, b := range browsers {
			b.Close()
		}
	}()
	for _, h := range topo.pageHosts() {
		b, err := cdp.Launch(ctx, cdp.Options{Logger: c.Logger, Wrap: h.ns.Command, DialContext: h.ns.DialContext,
			// A full-HD window, as a person watches a call: the other
			// participant's tile is tall enough for the camera's top layer
			// (the proxy pulls what fills the tile, docs/protocol.md 7).
			ExtraFlags: []string{"--use-file-for-fake-video-capture=" + clip, "--disable-features=WebRtcHideLocalIpsWithMdns", "--window-size=1920,1080"}})
		if err != nil {
			return res, fmt.Errorf("chromium on host %s: %w", h.name, err)
		}
		browsers[h.name] = b
		if res.Chromium == "" {
			res.Chromium, _ = b.Version(ctx)
		}
	}
	env := &netEnv{c: c, dir: dir, topo: topo, browsers: browsers}
	if c.Peets {
		r, err := env.runPeets(ctx)
		if err != nil {
			return res, fmt.Errorf("peets phase: %w", err)
		}
		res.Peets = r
	}
	if c.Direct {
		r, err := env.runDirect(ctx)
		if err != nil {
			return res, fmt.Errorf("direct phase: %w", err)
		}
		res.Direct = r
	}
	res.Compare = compare(res.Peets, res.Direct)
	res.LoadAfter = loadAvg()
	return res, nil
}

// netEnv is what the phases of a run share.
type netEnv struct {
	c        NetConfig
	dir      string
	topo     *topology
	browsers map[string]*cdp.Browser
}

// dirPrefix starts the name of a run's directory in the temporary
// directory: dirPrefix, pid, "-", random.
const dirPrefix = "peets-bench-net-"

// sweepDirs removes the directories (with their ~80 MB camera clip) of
// earlier runs whose process is gone.
func sweepDirs(log *slog.Logger) {
	ents, err := os.ReadDir(os.TempDir())
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), dirPrefix)
		pidStr, _, ok2 := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if !ok || !ok2 || err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if os.RemoveAll(filepath.Join(os.TempDir(), e.Name())) == nil {
			log.Warn("removed the directory of an earlier run that did not clean up", "dir", e.Name())
		}
	}
}

// processAlive says whether process pid exists (from /proc, where there is one).
func processAlive(pid int) bool {
	if _, err := os.Stat("/proc/self"); err != nil {
		return true // no /proc: keep everything
	}
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// loadAvg reads /proc/loadavg (zeros where there is none).
func loadAvg() [3]float64 {
	var l [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return l
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		fmt.Sscan(f[i], &l[i])
	}
	return l
}
