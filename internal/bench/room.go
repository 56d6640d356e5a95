package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/proc"
	"github.com/peets/peets/media/source"
)

var (
	botLineRe     = regexp.MustCompile(`^bot \S+ in room `)
	metricsLineRe = regexp.MustCompile(`^metrics: (http://\S+/metrics)$`)
)

// RoomConfig configures Room.
type RoomConfig struct {
	Bots     int           // bots: simulcast cameras (the embedded 720p pattern), talking in turn (default 10)
	Pages    int           // Chromium pages receiving, each with its proxy (default 2)
	Duration time.Duration // measured window (default 60 s)
	Slot     time.Duration // each bot talks for most of a slot, in turn (default 6 s)
	Bin      string        // peets binary (default: this one)
	// ProxyLogLevel is the receiving proxies' log level (default warn;
	// their output is in Echo).
	ProxyLogLevel string
	// TopOnly: the bots publish only the top layer, as one plain 720p
	// stream (no simulcast): every video a page shows is decoded at full
	// size, the baseline of the pages' CPU.
	TopOnly bool
	Logger  *slog.Logger
	Echo    io.Writer
}

// RoomResult is one run's figures.
type RoomResult struct {
	Participants int     `json:"participants"`
	Bots         int     `json:"bots"`
	Pages        int     `json:"pages"`
	DurationS    float64 `json:"duration_s"`
	// What a receiver would pull with every camera's top layer: the bots'
	// top layer and audio, and the other pages' cameras as they send them.
	AllTopKbps float64      `json:"all_top_kbps"`
	PerPage    []RoomPage   `json:"per_page"`
	Download   Distribution `json:"download_kbps"`
	// From a change of main tile (the dominant speaker) in a page to that
	// page showing the new speaker's top layer, every change in every page.
	SwitchMs []float64    `json:"switch_ms"`
	Switch   Distribution `json:"switch"`
	// BrowserCPUPercent is the CPU of the Chromium running the pages (all
	// its processes), in % of one core, over the window.
	BrowserCPUPercent float64 `json:"browser_cpu_percent"`
	TopOnly           bool    `json:"top_only,omitempty"`
	Chromium          string  `json:"chromium"`
	// The bots' upload over the window (their /metrics): per stream id,
	// the media Data sent per packet published, averaged over the bots
	// (a layer pulled part of the time is below 1); UploadFactorMax is the
	// largest of one bot's streams that was pulled: one copy per pulled
	// layer, however many receive it, is 1.
	UploadByStream  map[string]float64 `json:"upload_factor_by_stream"`
	UploadFactorMax float64            `json:"upload_factor_max"`
}

// Distribution summarises a list of figures.
type Distribution struct {
	P50 float64 `json:"p50"`
	Max float64 `json:"max"`
	N   int     `json:"n"`
}

// RoomPage is what one receiving page showed over the window.
type RoomPage struct {
	Page           string  `json:"page"`
	DownloadKbps   float64 `json:"download_kbps"` // RTP received from its proxy, video and audio
	VideoKbps      float64 `json:"video_kbps"`
	DecodedStreams int     `json:"decoded_streams"` // remote videos that decoded frames in the window
	ShownTiles     int     `json:"shown_tiles"`     // remote tiles on screen at the end
	MainFPS        float64 `json:"main_fps"`        // the main tile, mean over the window
	ThumbFPS       float64 `json:"thumb_fps"`       // thumbnails on screen, mean
	Switches       int     `json:"switches"`        // main tile changes in the window
}

// roomStats is a page's snapshot: per remote participant, bytes and frames
// received, and page time.
type roomStats struct {
	At    float64              `json:"at"`
	Main  string               `json:"main"`
	Shown []string             `json:"shown"`
	In    map[string]roomInput `json:"in"`
	Audio float64              `json:"audio"`
}

type roomInput struct {
	Bytes  float64 `json:"bytes"`
	Frames float64 `json:"frames"`
	Width  float64 `json:"width"`
}

// Room runs a large room on one forwarder: Bots bots publishing a 720p
// simulcast camera each and talking in turn, and Pages Chromium pages
// (microphones off) in the speaker view. Over the window it measures what
// each page downloads, decodes and shows, and how long a page takes, from
// its main tile changing to a new speaker, to decode that speaker's top
// layer (issue #17).
func Room(ctx context.Context, c RoomConfig) (RoomResult, error) {
	if c.Bots == 0 {
		c.Bots = 10
	}
	if c.Pages == 0 {
		c.Pages = 2
	}
	if c.Duration == 0 {
		c.Duration = time.Minute
	}
	if c.Slot == 0 {
		c.Slot = 6 * time.Second
	}
	res := RoomResult{Bots: c.Bots, Pages: c.Pages, Participants: c.Bots + c.Pages, TopOnly: c.TopOnly}
	if c.Bots < 1 || c.Bots > 30 || c.Pages < 1 || c.Pages > 4 {
		return res, fmt.Errorf("bots %d (1..30), pages %d (1..4)", c.Bots, c.Pages)
	}
	run, err := newRunDir(&c.Bin, &c.Logger, "peets-bench-room-", c.Echo)
	if err != nil {
		return res, err
	}
	defer run.close()
	dir, g, opt, fw := run.dir, &run.g, run.opt, run.fw
	const room = "benchroom"
	period := time.Duration(c.Bots) * c.Slot
	talk := c.Slot - time.Second // a second of silence between speakers
	camera := []string{"--layers", "embedded"}
	if c.TopOnly {
		top := source.EmbeddedLayers()
		file := filepath.Join(dir, "cam-h.ivf")
		if err := os.WriteFile(file, top[len(top)-1].Data, 0o600); err != nil {
			return res, err
		}
		camera = []string{"--video", file}
	}
	var botMetrics []string
	for i := range c.Bots {
		user := fmt.Sprintf("bot%02d", i+1)
		args := []string{"bot", "--user", user, "--room", room, "--forwarder", fw,
			"--state-dir", filepath.Join(dir, user), "--log-level", "warn", "--metrics", "127.0.0.1:0",
			"--talk", fmt.Sprintf("%v/%v+%v", period, talk, time.Duration(i)*c.Slot)}
		p, err := proc.Start(user, c.Bin, append(args, camera...), opt)
		if err != nil {
			return res, err
		}
		g.Add(p)
		if _, err := p.WaitLine(botLineRe, 20*time.Second); err != nil {
			return res, fmt.Errorf("%s: %w", user, err)
		}
		m, err := p.WaitLine(metricsLineRe, 10*time.Second)
		if err != nil {
			return res, fmt.Errorf("%s: %w", user, err)
		}
		botMetrics = append(botMetrics, m[1])
	}
	b, err := cdp.Launch(ctx, cdp.Options{Logger: c.Logger, ExtraFlags: []string{"--window-size=1920,1080"}})
	if err != nil {
		return res, fmt.Errorf("chromium: %w", err)
	}
	defer b.Close()
	res.Chromium, _ = b.Version(ctx)
	pages := make([]*cdp.Page, c.Pages)
	for i := range pages {
		_, url, err := run.proxy(c.Bin, fmt.Sprintf("page%d", i+1), room, c.ProxyLogLevel)
		if err != nil {
			return res, err
		}
		if pages[i], err = b.NewPage(ctx, ""); err != nil {
			return res, err
		}
		if err := pages[i].Navigate(ctx, url); err != nil {
			return res, err
		}
	}
	for i, p := range pages {
		if err := waitDecoded(ctx, p, 1); err != nil {
			return res, fmt.Errorf("page%d: %w", i+1, err)
		}
		// Only the bots speak: a page's fake microphone beeps.
		if err := p.Eval(ctx, `(() => { if (!window.peets.state.audioMuted) window.peets.toggle('audio'); return true; })()`, nil); err != nil {
			return res, err
		}
	}
	// Let the rosters and the first speaker settle.
	if _, err := window(ctx, c.Slot); err != nil {
		return res, err
	}
	before := make([]roomStats, len(pages))
	for i, p := range pages {
		if before[i], err = pageRoomStats(ctx, p); err != nil {
			return res, err
		}
	}
	upBefore := make([]map[string]float64, len(botMetrics))
	for i, u := range botMetrics {
		if upBefore[i], err = scrapeUpload(ctx, nil, u); err != nil {
			return res, err
		}
	}
	cpu0 := groupCPU(b.Pid())
	el, err := window(ctx, c.Duration)
	if err != nil {
		return res, err
	}
	res.DurationS = el.Seconds()
	res.BrowserCPUPercent = round3(float64(groupCPU(b.Pid())-cpu0) / float64(el) * 100)
	res.UploadByStream = map[string]float64{}
	for i, u := range botMetrics {
		after, err := scrapeUpload(ctx, nil, u)
		if err != nil {
			return res, err
		}
		for stream, x := range uploadCopies(upBefore[i], after) {
			res.UploadByStream[stream] += x / float64(len(botMetrics))
			res.UploadFactorMax = max(res.UploadFactorMax, x)
		}
	}
	for k, v := range res.UploadByStream {
		res.UploadByStream[k] = round3(v)
	}
	var downloads []float64
	var topOther float64
	for i, p := range pages {
		after, err := pageRoomStats(ctx, p)
		if err != nil {
			return res, err
		}
		rp := roomPage(fmt.Sprintf("page%d", i+1), before[i], after)
		switches, err := pageSwitches(ctx, p, before[i].At, after.At)
		if err != nil {
			return res, err
		}
		rp.Switches = len(switches)
		res.SwitchMs = append(res.SwitchMs, switches...)
		res.PerPage = append(res.PerPage, rp)
		downloads = append(downloads, rp.DownloadKbps)
		if sent, err := pageSent(ctx, p); err == nil && sent.At > 0 {
			topOther += sent.Target / 1000 // what the page's camera sends at most
		}
	}
	// Every bot's top layer (cam-h, ~1000 kbit/s) and audio (~32 kbit/s),
	// every other page's camera: what pulling everything would cost.
	res.AllTopKbps = round3(float64(c.Bots)*(1000+32) + topOther*float64(c.Pages-1)/float64(c.Pages))
	res.Download = distribution(downloads)
	res.Switch = distribution(res.SwitchMs)
	return res, nil
}

// pageRoomStats reads a page's inbound RTP per remote participant, its
// main tile and the remote tiles on screen.
func pageRoomStats(ctx context.Context, p *cdp.Page) (roomStats, error) {
	var r roomStats
	err := p.Eval(ctx, `(async () => {
		const st = window.peets.state;
		const r = {at: performance.now(), main: st.mainId || '', shown: [], in: {}, audio: 0};
		for (const [id, t] of st.tiles) {
			if (id !== st.me?.id && !t.el.classList.contains('offscreen')) r.shown.push(id);
		}
		const pc = window.peets.pc;
		if (!pc) return r;
		const byMid = {};
		for (const [mid, m] of st.mids) byMid[mid] = m.participant;
		(await pc.getStats()).forEach((s) => {
			if (s.type !== 'inbound-rtp') return;
			const b = (s.bytesReceived || 0) + (s.headerBytesReceived || 0);
			if (s.kind === 'audio') { r.audio += b; return; }
			const who = byMid[s.mid] || s.mid;
			const x = r.in[who] || {bytes: 0, frames: 0, width: 0};
			x.bytes += b; x.frames += s.framesDecoded || 0; x.width = Math.max(x.width, s.frameWidth || 0);
			r.in[who] = x;
		});
		return r;
	})()`, &r)
	return r, err
}

// roomPage compares two snapshots of a page.
func roomPage(name string, a, b roomStats) RoomPage {
	rp := RoomPage{Page: name, ShownTiles: len(b.Shown)}
	secs := (b.At - a.At) / 1000
	if secs <= 0 {
		return rp
	}
	var video float64
	var thumbs []float64
	for who, x := range b.In {
		y := a.In[who]
		video += x.Bytes - y.Bytes
		frames := x.Frames - y.Frames
		if frames > 0 {
			rp.DecodedStreams++
		}
		switch {
		case who == b.Main:
			rp.MainFPS = round3(frames / secs)
		case slices.Contains(b.Shown, who):
			thumbs = append(thumbs, frames/secs)
		}
	}
	if len(thumbs) > 0 {
		var s float64
		for _, v := range thumbs {
			s += v
		}
		rp.ThumbFPS = round3(s / float64(len(thumbs)))
	}
	rp.VideoKbps = round3(video * 8 / 1000 / secs)
	rp.DownloadKbps = round3((video + b.Audio - a.Audio) * 8 / 1000 / secs)
	return rp
}

// pageSwitches returns, for each change of the page's main tile within
// [from, to] (page time), how long until that tile's video was first at
// its widest (the top layer); changes never followed by it before the next
// change count until then.
func pageSwitches(ctx context.Context, p *cdp.Page, from, to float64) ([]float64, error) {
	var logs struct {
		Main []struct {
			ID string  `json:"id"`
			T  float64 `json:"t"`
		} `json:"main"`
		Size []struct {
			ID string  `json:"id"`
			W  float64 `json:"w"`
			T  float64 `json:"t"`
		} `json:"size"`
	}
	if err := p.Eval(ctx, `({main: window.peets.state.mainLog, size: window.peets.state.sizeLog})`, &logs); err != nil {
		return nil, err
	}
	top := map[string]float64{}
	for _, s := range logs.Size {
		top[s.ID] = max(top[s.ID], s.W)
	}
	var out []float64
	for i, m := range logs.Main {
		if m.T < from || m.T > to {
			continue
		}
		end := to
		if i+1 < len(logs.Main) {
			end = logs.Main[i+1].T
		}
		// Already at the top when it became the main tile: the last size
		// before the change says so.
		at := -1.0
		for _, s := range logs.Size {
			if s.ID != m.ID {
				continue
			}
			if s.T <= m.T {
				at = -1
				if s.W >= top[m.ID] {
					at = m.T
				}
				continue
			}
			if s.T <= end && s.W >= top[m.ID] && at < 0 {
				at = s.T
			}
		}
		if at < 0 {
			at = end // not at the top while it was the main tile
		}
		out = append(out, round3(at-m.T))
	}
	return out, nil
}

func distribution(v []float64) Distribution {
	if len(v) == 0 {
		return Distribution{}
	}
	return Distribution{P50: round3(pct(v, 50)), Max: round3(pct(v, 100)), N: len(v)}
}
