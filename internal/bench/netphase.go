package bench

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/peets/peets/internal/cdp"
	"github.com/peets/peets/internal/linkshape"
	"github.com/peets/peets/internal/linktap"
)

// PhaseResult is what one phase (Peets, or the direct baseline) measured
// over the window.
type PhaseResult struct {
	Receivers []ReceiverResult `json:"receivers"`
	Senders   []SenderResult   `json:"senders"`
	Links     []NetLinkResult  `json:"links"`
	Proxies   []ProxyResult    `json:"proxies,omitempty"` // Peets only
	// Relay is what the impairment relay on the publisher's link did
	// (Peets only: it sits between two forwarders).
	Relay *LinkResult `json:"impaired_link,omitempty"`
	// HostCPUPercent is each host's processes' CPU over the window (% of
	// one core); MachineBusyPercent the whole machine's, all cores (the
	// benchmark shares it: near 100 %, the figures measure the machine).
	HostCPUPercent     map[string]float64 `json:"host_cpu_percent"`
	MachineBusyPercent float64            `json:"machine_busy_percent"`
	// WindowStart is when the window began (the series' second 0), to
	// read the kept logs (--keep) against the series.
	WindowStart time.Time `json:"window_start"`
}

// ReceiverResult is what one page saw and heard of one sender.
type ReceiverResult struct {
	Page        string        `json:"page"` // host of the receiving page
	From        string        `json:"from"` // host of the sender
	FirstFrameS *float64      `json:"first_frame_s"`
	Video       VideoFigures  `json:"video"`
	Audio       AudioFigures  `json:"audio"`
	Adapt       []AdaptFigure `json:"adapt,omitempty"` // the steps of the links on its path
	Fetch       *FetchFigures `json:"fetch,omitempty"` // Peets: the receiving proxy's fetchers of the sender's streams
}

// SenderResult is what a page's video encoder did over the window.
type SenderResult struct {
	Page              string             `json:"page"`
	SentKbps          float64            `json:"sent_kbps"` // video RTP, headers included
	SentKbpsSeries    []float64          `json:"sent_kbps_series"`
	TargetKbps        float64            `json:"target_kbps"` // mean of the encoder's targetBitrate
	TargetKbpsSeries  []float64          `json:"target_kbps_series"`
	Resolution        string             `json:"resolution"` // at the end
	FPS               float64            `json:"fps"`        // at the end
	QualityLimitation string             `json:"quality_limitation"`
	QualityLimitedS   map[string]float64 `json:"quality_limited_s"` // qualityLimitationDurations over the window
	AvailableKbps     float64            `json:"available_outgoing_kbps"`
}

// NetLinkResult is what one direction of a link carried over the window.
type NetLinkResult struct {
	Name       string    `json:"name"`
	Schedule   string    `json:"schedule,omitempty"`
	Bytes      uint64    `json:"bytes"` // the sending interface's counter
	Kbps       float64   `json:"kbps"`
	KbpsSeries []float64 `json:"kbps_series"` // per second, from the tap
	// The token bucket's counters (shaped links).
	QdiscSentBytes uint64 `json:"qdisc_sent_bytes,omitempty"`
	QdiscDrops     uint64 `json:"qdisc_drops,omitempty"`
	// What crossed, sorted by the tap on the receiving end.
	Tap       linktap.Counts `json:"tap"`
	TapMissed uint64         `json:"tap_missed,omitempty"` // packets the tap could not read in time
	// Shares of the bytes that were media Data already carried, and media
	// Interests already carried.
	DupShare    float64 `json:"dup_data_share"`
	RepeatShare float64 `json:"repeat_interest_share"`
	// Copies is media Data per distinct media Data name (1 = each packet
	// crossed once).
	Copies *float64 `json:"copies,omitempty"`
	// The RTP the pages behind the link received from the senders before
	// it (for each sender, the most any receiver got), and the link's bytes
	// per byte of it: the cost of carrying the call over this link.
	DeliveredKbps    float64  `json:"delivered_kbps"`
	WirePerDelivered *float64 `json:"wire_per_delivered,omitempty"`
}

// flow is a receiving page on host to and a sender on host from.
type flow struct{ to, from *netHost }

func (f flow) key() string { return f.to.name + "<-" + f.from.name }

// collected is what collectJS returns.
type collected struct {
	Now float64 `json:"now"`
	In  []struct {
		From      string  `json:"from"`
		Kind      string  `json:"kind"`
		Frames    float64 `json:"frames"`
		Freezes   float64 `json:"freezes"`
		FreezeS   float64 `json:"freezeS"`
		Lost      float64 `json:"lost"`
		Recv      float64 `json:"recv"`
		Bytes     float64 `json:"bytes"`
		JB        float64 `json:"jb"`
		JBN       float64 `json:"jbn"`
		W         float64 `json:"w"`
		H         float64 `json:"h"`
		Concealed float64 `json:"concealed"`
		Samples   float64 `json:"samples"`
		Nacks     float64 `json:"nacks"`
		Plis      float64 `json:"plis"`
	} `json:"in"`
	Out []struct {
		Kind   string             `json:"kind"`
		RID    string             `json:"rid"` // simulcast layer, "" if one encoding
		Bytes  float64            `json:"bytes"`
		Target float64            `json:"target"`
		W      float64            `json:"w"`
		H      float64            `json:"h"`
		FPS    float64            `json:"fps"`
		QLR    string             `json:"qlr"`
		QLD    map[string]float64 `json:"qld"`
	} `json:"out"`
	Avail float64 `json:"avail"`
}

// inbound sums what a page got from sender (a participant or peer id).
func (c *collected) inbound(sender string, at time.Duration) inSample {
	s := inSample{At: at}
	for _, in := range c.In {
		if in.From != sender {
			continue
		}
		if in.Kind == "video" {
			s.Frames += in.Frames
			s.FreezeCount += in.Freezes
			s.FreezeS += in.FreezeS
			s.VLost += in.Lost
			s.VRecv += in.Recv
			s.VBytes += in.Bytes
			s.JBDelay += in.JB
			s.JBEmitted += in.JBN
			s.Width, s.Height = max(s.Width, in.W), max(s.Height, in.H)
			s.Nacks += in.Nacks
			s.Plis += in.Plis
		} else {
			s.ALost += in.Lost
			s.ARecv += in.Recv
			s.ABytes += in.Bytes
			s.Concealed += in.Concealed
			s.TotalSamples += in.Samples
			s.AJBDelay += in.JB
			s.AJBEmitted += in.JBN
		}
	}
	return s
}

// pageSample is one reading of a page.
type pageSample struct {
	At time.Duration
	C  collected
}

// measurement is one phase's pages, flows and readings.
type measurement struct {
	env   *netEnv
	pages map[string]*cdp.Page // by host
	flows []flow
	// senderID names host h's sender the way its receivers' stats do.
	senderID func(h *netHost) string

	start time.Time      // of the window (after the warm-up)
	cpu   [2]cpuSnapshot // at the window's start and end

	mu      sync.Mutex
	samples map[string][]pageSample // by host
	links   map[string][]inSample   // by link: VBytes is the tap's byte count
	first   map[string]*float64     // by flow key
}

const sampleEvery = 250 * time.Millisecond

// collect reads every page once (concurrently, each bounded).
func (m *measurement) collect(ctx context.Context) map[string]collected {
	out := map[string]collected{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for h, p := range m.pages {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			var c collected
			if p.Eval(cctx, collectJS, &c) == nil {
				mu.Lock()
				out[h] = c
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return out
}

// closePages runs js in each page (if set), then leaves it for a blank
// page and closes its tab, each step bounded.
func (m *measurement) closePages(js string) {
	for _, p := range m.pages {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if js != "" {
			_ = p.Eval(ctx, js, nil)
		}
		_ = p.Navigate(ctx, "about:blank")
		_ = p.Close(ctx)
		cancel()
	}
}

// waitFirstFrames waits (at most wait) until every flow's receiver has
// decoded a frame from its sender, and records when (since started).
func (m *measurement) waitFirstFrames(ctx context.Context, started time.Time, wait time.Duration) {
	m.first = map[string]*float64{}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		cs := m.collect(ctx)
		for _, f := range m.flows {
			if m.first[f.key()] != nil {
				continue
			}
			c, ok := cs[f.to.name]
			if ok && c.inbound(m.senderID(f.from), 0).Frames > 0 {
				v := round3(time.Since(started).Seconds())
				m.first[f.key()] = &v
			}
		}
		if len(m.first) == len(m.flows) {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// run measures the window: warm-up, then d with the links' schedules
// applied, sampling the pages and the taps. It returns when the window
// has ended (or ctx is done) and the last reading is in.
func (m *measurement) run(ctx context.Context, warmup, d time.Duration, atStart, atEnd func()) error {
	m.samples = map[string][]pageSample{}
	m.links = map[string][]inSample{}
	start := time.Now().Add(warmup)
	m.start = start
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // sampler
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if time.Until(start) > 2*time.Second {
				continue
			}
			t0 := time.Now()
			cs := m.collect(ctx)
			at := t0.Add(time.Since(t0) / 2).Sub(start)
			m.mu.Lock()
			for h, c := range cs {
				m.samples[h] = append(m.samples[h], pageSample{At: at, C: c})
			}
			for _, l := range m.env.topo.links {
				c, _ := l.tap.Counts()
				m.links[l.name] = append(m.links[l.name], inSample{At: time.Since(start), VBytes: float64(c.Bytes)})
			}
			m.mu.Unlock()
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	sleep := func(until time.Time) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(until)):
			return nil
		}
	}
	if err := sleep(start); err != nil {
		return err
	}
	m.cpu[0] = readCPU(m.env.topo)
	atStart()
	// The schedules' later steps.
	var steps []time.Duration
	for _, l := range m.env.topo.links {
		if l.shaper == nil {
			continue
		}
		for _, st := range l.sched[1:] {
			if st.At < d {
				steps = append(steps, st.At)
			}
		}
	}
	sort.Slice(steps, func(i, j int) bool { return steps[i] < steps[j] })
	for _, st := range steps {
		if err := sleep(start.Add(st)); err != nil {
			return err
		}
		if err := m.env.topo.shapeAt(st); err != nil {
			return fmt.Errorf("shaping at %v: %w", st, err)
		}
	}
	if err := sleep(start.Add(d)); err != nil {
		return err
	}
	m.cpu[1] = readCPU(m.env.topo)
	atEnd()
	return sleep(start.Add(d + 2*sampleEvery)) // a reading after the end
}

// linkCounters is a snapshot of a link's kernel and tap counters.
type linkCounters struct {
	dev    linkshape.DevStats
	qdisc  linkshape.QdiscStats
	tap    linktap.Counts
	missed uint64
}

func readLinks(t *topology) map[string]linkCounters {
	out := map[string]linkCounters{}
	for _, l := range t.links {
		var c linkCounters
		c.dev, _ = linkshape.ReadDev(l.from.ns, l.dev)
		if l.shaper != nil {
			c.qdisc = l.shaper.Qdisc()
		}
		c.tap, c.missed = l.tap.Counts()
		out[l.name] = c
	}
	return out
}

// result computes the phase's figures from the readings.
func (m *measurement) result(d time.Duration, before, after map[string]linkCounters) *PhaseResult {
	r := &PhaseResult{HostCPUPercent: map[string]float64{}, WindowStart: m.start.UTC()}
	for h, t := range m.cpu[1].hosts {
		r.HostCPUPercent[h] = round3(float64(t-m.cpu[0].hosts[h]) / float64(d) * 100)
	}
	if tot := m.cpu[1].total - m.cpu[0].total; tot > 0 {
		r.MachineBusyPercent = round3(float64(m.cpu[1].busy-m.cpu[0].busy) / float64(tot) * 100)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	topo := m.env.topo
	delivered := map[string]float64{} // by flow key: RTP bytes over the window
	for _, f := range m.flows {
		var s []inSample
		for _, ps := range m.samples[f.to.name] {
			s = append(s, ps.C.inbound(m.senderID(f.from), ps.At))
		}
		continuous(s)
		rr := ReceiverResult{Page: f.to.name, From: f.from.name, FirstFrameS: m.first[f.key()],
			Video: videoFigures(s, d), Audio: audioFigures(s, d)}
		for _, l := range topo.route(f.from, f.to) {
			if l.shaper != nil {
				rr.Adapt = append(rr.Adapt, adaptFigures(s, l.sched, d)...)
			}
		}
		delivered[f.key()] = at(s, d, func(x *inSample) float64 { return x.VBytes + x.ABytes }) -
			at(s, 0, func(x *inSample) float64 { return x.VBytes + x.ABytes })
		r.Receivers = append(r.Receivers, rr)
	}
	for _, h := range topo.pageHosts() {
		if sr, ok := senderFigures(h.name, m.samples[h.name], d); ok {
			r.Senders = append(r.Senders, sr)
		}
	}
	for _, l := range topo.links {
		b, a := before[l.name], after[l.name]
		lr := NetLinkResult{Name: l.name, Bytes: a.dev.TxBytes - b.dev.TxBytes,
			QdiscSentBytes: a.qdisc.Bytes - b.qdisc.Bytes, QdiscDrops: a.qdisc.Drops - b.qdisc.Drops,
			Tap: a.tap.Sub(b.tap), TapMissed: a.missed - b.missed}
		if l.shaper != nil {
			lr.Schedule = l.sched.String()
		}
		lr.Kbps = round3(float64(lr.Bytes) * 8 / 1000 / d.Seconds())
		ls := m.links[l.name]
		for k := 1; k <= int(d/time.Second); k++ {
			lr.KbpsSeries = append(lr.KbpsSeries, round3(rate(ls, time.Duration(k)*time.Second, time.Second, vbytes)*8/1000))
		}
		if lr.Tap.Bytes > 0 {
			lr.DupShare = round3(float64(lr.Tap.DupDataBytes) / float64(lr.Tap.Bytes))
			lr.RepeatShare = round3(float64(lr.Tap.InterestRepeatBytes) / float64(lr.Tap.Bytes))
		}
		if uniq := lr.Tap.MediaData - lr.Tap.DupData; uniq > 0 {
			v := round3(float64(lr.Tap.MediaData) / float64(uniq))
			lr.Copies = &v
		}
		// For each sender before the link, the most any page behind it got.
		most := map[string]float64{}
		for _, f := range m.flows {
			for _, hop := range topo.route(f.from, f.to) {
				if hop == l {
					most[f.from.name] = max(most[f.from.name], delivered[f.key()])
				}
			}
		}
		var sum float64
		for _, v := range most {
			sum += v
		}
		lr.DeliveredKbps = round3(sum * 8 / 1000 / d.Seconds())
		if sum > 0 {
			v := round3(float64(lr.Bytes) / sum)
			lr.WirePerDelivered = &v
		}
		r.Links = append(r.Links, lr)
	}
	return r
}

// senderFigures sums up a page's video encoder over the window.
func senderFigures(page string, ps []pageSample, d time.Duration) (SenderResult, bool) {
	sr := SenderResult{Page: page, QualityLimitedS: map[string]float64{}}
	var s []inSample // VBytes: bytes sent; Frames: target bit/s
	var first, lastOut *collected
	for i := range ps {
		var x inSample
		x.At = ps[i].At
		found := false
		for _, o := range ps[i].C.Out {
			if o.Kind == "video" {
				x.VBytes += o.Bytes
				x.Frames += o.Target
				found = true
			}
		}
		if !found {
			continue
		}
		s = append(s, x)
		if ps[i].At >= 0 && first == nil {
			first = &ps[i].C
		}
		if ps[i].At <= d {
			lastOut = &ps[i].C
		}
	}
	if len(s) == 0 || lastOut == nil {
		return sr, false
	}
	sr.SentKbps = round3((at(s, d, vbytes) - at(s, 0, vbytes)) * 8 / 1000 / d.Seconds())
	var tsum float64
	var tn int
	for k := 1; k <= int(d/time.Second); k++ {
		t := time.Duration(k) * time.Second
		sr.SentKbpsSeries = append(sr.SentKbpsSeries, round3(rate(s, t, time.Second, vbytes)*8/1000))
		tk := last(s, t, frames) / 1000
		sr.TargetKbpsSeries = append(sr.TargetKbpsSeries, round3(tk))
		tsum += tk
		tn++
	}
	if tn > 0 {
		sr.TargetKbps = round3(tsum / float64(tn))
	}
	// With simulcast the page has an outbound stream per layer: the
	// figures are those of the largest one it sends at the end.
	top := -1
	for i, o := range lastOut.Out {
		if o.Kind == "video" && (top < 0 || o.W*o.H > lastOut.Out[top].W*lastOut.Out[top].H) {
			top = i
		}
	}
	if top >= 0 {
		o := lastOut.Out[top]
		sr.Resolution = resolution(o.W, o.H)
		sr.FPS = o.FPS
		sr.QualityLimitation = o.QLR
		for k, v := range o.QLD {
			sr.QualityLimitedS[k] += v
		}
		if first != nil {
			for _, f := range first.Out {
				if f.Kind == "video" && f.RID == o.RID {
					for k, v := range f.QLD {
						sr.QualityLimitedS[k] -= v
					}
					break
				}
			}
		}
	}
	for k, v := range sr.QualityLimitedS {
		sr.QualityLimitedS[k] = round3(v)
	}
	sr.AvailableKbps = round3(lastOut.Avail / 1000)
	return sr, true
}

// Comparison puts the two phases' figures of one receiver side by side:
// [Peets, direct].
type Comparison struct {
	Page          string      `json:"page"`
	From          string      `json:"from"`
	FPS           [2]float64  `json:"fps"`
	FPSRatio      *float64    `json:"fps_ratio"` // Peets / direct
	FreezeCount   [2]float64  `json:"freeze_count"`
	FreezeS       [2]float64  `json:"freeze_s"`
	LowFPSSeconds [2]int      `json:"low_fps_s"`
	LossPct       [2]float64  `json:"loss_pct"`
	ConcealedPct  [2]float64  `json:"audio_concealed_pct"`
	JitterBuffer  [2]float64  `json:"jitter_buffer_ms"`
	BitrateKbps   [2]float64  `json:"bitrate_kbps"`
	Resolution    [2]string   `json:"resolution"`
	RecoverS      [2]*float64 `json:"recover_s,omitempty"` // the first step down
	ClimbS        [2]*float64 `json:"climb_s,omitempty"`   // the first step up after it
}

func compare(p, d *PhaseResult) []Comparison {
	if p == nil || d == nil {
		return nil
	}
	var out []Comparison
	for _, a := range p.Receivers {
		for _, b := range d.Receivers {
			if a.Page != b.Page || a.From != b.From {
				continue
			}
			c := Comparison{Page: a.Page, From: a.From,
				FPS: [2]float64{a.Video.FPSMean, b.Video.FPSMean}, FreezeCount: [2]float64{a.Video.FreezeCount, b.Video.FreezeCount},
				FreezeS: [2]float64{a.Video.FreezeS, b.Video.FreezeS}, LowFPSSeconds: [2]int{a.Video.LowFPSSeconds, b.Video.LowFPSSeconds},
				LossPct: [2]float64{a.Video.LossPct, b.Video.LossPct}, ConcealedPct: [2]float64{a.Audio.ConcealedPct, b.Audio.ConcealedPct},
				JitterBuffer: [2]float64{a.Video.JitterBufferMs, b.Video.JitterBufferMs}, BitrateKbps: [2]float64{a.Video.BitrateKbps, b.Video.BitrateKbps},
				Resolution: [2]string{a.Video.Resolution, b.Video.Resolution}}
			if b.Video.FPSMean > 0 {
				v := round3(a.Video.FPSMean / b.Video.FPSMean)
				c.FPSRatio = &v
			}
			c.RecoverS[0], c.ClimbS[0] = firstSteps(a.Adapt)
			c.RecoverS[1], c.ClimbS[1] = firstSteps(b.Adapt)
			out = append(out, c)
		}
	}
	return out
}

// firstSteps: the recovery of the first step down and the climb of the
// first step up after it.
func firstSteps(ad []AdaptFigure) (recoverS, climbS *float64) {
	down := false
	for _, a := range ad {
		switch {
		case a.Down && !down:
			recoverS, down = a.RecoverS, true
		case !a.Down && down:
			return recoverS, a.ClimbS
		}
	}
	return recoverS, nil
}
