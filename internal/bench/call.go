package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/proc"
)

// CallConfig configures Call.
type CallConfig struct {
	Pages    int           // participants, each a page and a proxy (default 3)
	Duration time.Duration // steady call measured for CPU (default 10 s)
	Joins    int           // late joins measured for the first frame (default 5)
	Bin      string        // peets binary (default: this one)
	Logger   *slog.Logger
	Echo     io.Writer
}

// CallResult is one run's figures.
type CallResult struct {
	Pages           int                  `json:"pages"`
	DurationS       float64              `json:"duration_s"`
	FirstFrameMs    []float64            `json:"first_frame_ms"`     // page load to first decoded remote frame, per join
	FirstFrameP50Ms float64              `json:"first_frame_p50_ms"` //
	FirstFrameMaxMs float64              `json:"first_frame_max_ms"` //
	AllDecodedP50Ms float64              `json:"all_decoded_p50_ms"` // page load to every other participant decoded
	ProxyCPUPercent []float64            `json:"proxy_cpu_percent"`  // per proxy, over the steady call
	ProxyCPUMean    float64              `json:"proxy_cpu_mean_percent"`
	ProxyRSSMB      []float64            `json:"proxy_rss_mb"`
	JoinTimelines   []map[string]float64 `json:"join_timelines"`  // the page's joining marks (ms since load), per join
	PageVideoKbps   []float64            `json:"page_video_kbps"` // each page's camera as sent to its proxy (RTP payload + headers), over the steady call
	PageAudioKbps   []float64            `json:"page_audio_kbps"` //
	// What each page's video encoder was asked for at the end of the steady
	// call (outbound-rtp targetBitrate), the send rate the page's congestion
	// control estimated for its link to the proxy (candidate-pair
	// availableOutgoingBitrate), and the camera's frame size and rate.
	PageVideoTargetKbps []float64 `json:"page_video_target_kbps"`
	PageAvailableKbps   []float64 `json:"page_available_outgoing_kbps"`
	PageVideoFrame      []string  `json:"page_video_frame"` // WxH@fps
	Chromium            string    `json:"chromium"`
}

var urlLineRe = regexp.MustCompile(`^(http://127\.0\.0\.1:\d+/\S*)$`)

// Call runs a real call: a forwarder, N `peets up` proxies and N headless
// Chromium pages (fake camera and mic), then measures (1) the time from a
// page's load to its first decoded remote frame, over several late joins,
// and (2) each proxy's CPU during a steady call.
func Call(ctx context.Context, c CallConfig) (CallResult, error) {
	if c.Pages == 0 {
		c.Pages = 3
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Joins == 0 {
		c.Joins = 5
	}
	res := CallResult{Pages: c.Pages}
	if c.Pages < 2 || c.Pages > 8 {
		return res, fmt.Errorf("pages %d out of [2, 8]", c.Pages)
	}
	run, err := newRunDir(&c.Bin, &c.Logger, "peets-bench-call-", c.Echo)
	if err != nil {
		return res, err
	}
	defer run.close()

	b, err := cdp.Launch(ctx, cdp.Options{Logger: c.Logger})
	if err != nil {
		return res, fmt.Errorf("chromium: %w", err)
	}
	defer b.Close()
	if v, err := b.Version(ctx); err == nil {
		res.Chromium = v
	}
	proxies := make([]*proc.Proc, c.Pages)
	urls := make([]string, c.Pages)
	for i := range proxies {
		p, url, err := run.proxy(c.Bin, fmt.Sprintf("p%d", i+1), "benchcall", "")
		if err != nil {
			return res, err
		}
		proxies[i], urls[i] = p, url
	}
	pages := make([]*cdp.Page, c.Pages)
	var allDecoded []float64
	for i := range pages {
		if pages[i], err = b.NewPage(ctx, ""); err != nil {
			return res, err
		}
	}
	// join loads url in page p and waits until it decodes want others;
	// it returns the first-frame and all-decoded times since page load.
	join := func(p *cdp.Page, url string, want int) (first, all float64, err error) {
		if err := p.Navigate(ctx, url); err != nil {
			return 0, 0, err
		}
		r, err := pollDecoded(ctx, p, want)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %w", url, err)
		}
		return *r.First, r.Now, nil
	}
	for i := range pages {
		if err := pages[i].Navigate(ctx, urls[i]); err != nil {
			return res, err
		}
	}
	// Every page decodes every other one.
	for i := range pages {
		if err := waitDecoded(ctx, pages[i], c.Pages-1); err != nil {
			return res, fmt.Errorf("%s: %w", urls[i], err)
		}
	}
	// Steady call: CPU of every proxy, bitrate of every page's camera.
	before := make([]time.Duration, len(proxies))
	for i, p := range proxies {
		before[i], _ = procCPU(p.Pid())
	}
	sentBefore := make([]sentBytes, len(pages))
	for i, p := range pages {
		sentBefore[i], _ = pageSent(ctx, p)
	}
	el, err := window(ctx, c.Duration)
	if err != nil {
		return res, err
	}
	res.DurationS = el.Seconds()
	var sum float64
	for i, p := range proxies {
		after, _ := procCPU(p.Pid())
		rss := procRSS(p.Pid())
		pct := float64(after-before[i]) / float64(el) * 100
		res.ProxyCPUPercent = append(res.ProxyCPUPercent, round3(pct))
		res.ProxyRSSMB = append(res.ProxyRSSMB, round3(float64(rss)/1e6))
		sum += pct
	}
	res.ProxyCPUMean = round3(sum / float64(len(proxies)))
	for i, p := range pages {
		after, err := pageSent(ctx, p)
		if err != nil {
			return res, err
		}
		secs := after.At/1000 - sentBefore[i].At/1000
		res.PageVideoKbps = append(res.PageVideoKbps, round3(float64(after.Video-sentBefore[i].Video)*8/1000/secs))
		res.PageAudioKbps = append(res.PageAudioKbps, round3(float64(after.Audio-sentBefore[i].Audio)*8/1000/secs))
		res.PageVideoTargetKbps = append(res.PageVideoTargetKbps, round3(after.Target/1000))
		res.PageAvailableKbps = append(res.PageAvailableKbps, round3(after.Available/1000))
		res.PageVideoFrame = append(res.PageVideoFrame, fmt.Sprintf("%dx%d@%g", after.Width, after.Height, after.FPS))
	}
	// Late joins: the last page reloads, as a participant who joins a call
	// in progress.
	last := pages[len(pages)-1]
	for k := 0; k < c.Joins; k++ {
		if err := last.Navigate(ctx, "about:blank"); err != nil {
			return res, err
		}
		time.Sleep(1500 * time.Millisecond) // gone from the others, fetchers stopped
		first, all, err := join(last, urls[len(urls)-1], c.Pages-1)
		if err != nil {
			return res, err
		}
		res.FirstFrameMs = append(res.FirstFrameMs, round3(first))
		allDecoded = append(allDecoded, all)
		var marks map[string]float64
		if err := last.Eval(ctx, `window.peets.state.marks`, &marks); err == nil {
			res.JoinTimelines = append(res.JoinTimelines, marks)
		}
	}
	res.FirstFrameP50Ms = pct(res.FirstFrameMs, 50)
	res.FirstFrameMaxMs = pct(res.FirstFrameMs, 100)
	res.AllDecodedP50Ms = pct(allDecoded, 50)
	return res, nil
}

// sentBytes is what a page sent to its proxy so far: RTP bytes (headers
// and payload) per kind, at page time At (ms).
type sentBytes struct {
	Video, Audio      int64
	At                float64
	Target, Available float64 // bit/s: video encoder target, estimated link rate
	Width, Height     int
	FPS               float64
}

func pageSent(ctx context.Context, p *cdp.Page) (sentBytes, error) {
	var r sentBytes
	err := p.Eval(ctx, `(async () => {
		const r = {Video: 0, Audio: 0, At: performance.now()};
		const pc = window.peets && window.peets.pc;
		if (!pc) return r;
		(await pc.getStats()).forEach((s) => {
			if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) r.Available = s.availableOutgoingBitrate;
			if (s.type !== 'outbound-rtp') return;
			const b = (s.bytesSent || 0) + (s.headerBytesSent || 0);
			if (s.kind !== 'video') { r.Audio += b; return; }
			r.Video += b;
			r.Target += s.targetBitrate || 0;
			r.Width = s.frameWidth || 0; r.Height = s.frameHeight || 0; r.FPS = s.framesPerSecond || 0;
		});
		return r;
	})()`, &r)
	return r, err
}

type decodedState struct {
	First *float64 `json:"first"`
	OK    int      `json:"ok"`
	Now   float64  `json:"now"`
}

// pollDecoded waits (20 s at most) until page p decodes video of want
// remote participants, and returns when it saw the first frame and now.
func pollDecoded(ctx context.Context, p *cdp.Page, want int) (decodedState, error) {
	deadline := time.Now().Add(20 * time.Second)
	var r decodedState
	for time.Now().Before(deadline) {
		r = decodedState{}
		err := p.Eval(ctx, `(async () => {
			if (!window.peets) return {ok: 0, now: performance.now()};
			const d = await window.peets.decoded();
			let ok = 0;
			for (const k in d) if (d[k].framesDecoded > 0 && d[k].videoWidth > 0) ok++;
			return {first: window.peets.firstFrameMs, ok, now: performance.now()};
		})()`, &r)
		if err == nil && r.OK >= want && r.First != nil {
			return r, nil
		}
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r, fmt.Errorf("decodes %d of %d participants after 20 s", r.OK, want)
}

func waitDecoded(ctx context.Context, p *cdp.Page, want int) error {
	_, err := pollDecoded(ctx, p, want)
	return err
}

// procRSS reads a live process's resident set size from /proc.
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 22 { // rss is field 24, the 22nd after the command
		return 0
	}
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	return rss * int64(os.Getpagesize())
}

func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
