package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/peets/peets/internal/proc"
)

// FetchFigures are a receiving proxy's fetcher counters for one sender's
// streams over the window, under media.FetcherStats's names
// (docs/metrics.md).
type FetchFigures struct {
	Received      uint64  `json:"packets_received"`
	Delivered     uint64  `json:"packets_delivered"`
	Duplicates    uint64  `json:"duplicates"`
	Retransmitted uint64  `json:"retransmitted"`
	Lost          uint64  `json:"packets_lost"`
	Late          uint64  `json:"late"`
	Timeouts      uint64  `json:"timeouts"`
	Nacks         uint64  `json:"nacks"`
	Gone          uint64  `json:"gone"`
	Resyncs       uint64  `json:"resyncs"`
	Restarts      uint64  `json:"restarts"`
	PLISent       uint64  `json:"keyframe_requests_sent"`
	Refreshed     uint64  `json:"refreshed"`
	SRTTMs        float64 `json:"srtt_ms"`          // at the end, the largest of the streams
	Window        int     `json:"window_interests"` // at the end, summed over the streams
}

// counters are FetchFigures's counters by name.
func (ff *FetchFigures) counters() map[string]*uint64 {
	return map[string]*uint64{"packets_received": &ff.Received, "packets_delivered": &ff.Delivered,
		"duplicates": &ff.Duplicates, "retransmitted": &ff.Retransmitted, "packets_lost": &ff.Lost, "late": &ff.Late,
		"timeouts": &ff.Timeouts, "nacks": &ff.Nacks, "gone": &ff.Gone, "resyncs": &ff.Resyncs, "restarts": &ff.Restarts,
		"keyframe_requests_sent": &ff.PLISent, "refreshed": &ff.Refreshed}
}

// fetchGauges are the fetcher figures read as the last value, not summed.
var fetchGauges = []string{"srtt_ms", "window_interests"}

// ProxyResult is one `peets up` over the window.
type ProxyResult struct {
	Host          string  `json:"host"`
	User          string  `json:"user"`
	CPUPercent    float64 `json:"cpu_percent"`
	RosterExpired uint64  `json:"roster_expired"` // members it expired (missed heartbeats)
	RosterJoins   uint64  `json:"roster_joins"`
}

// netProxy is a running `peets up` of the Peets phase.
type netProxy struct {
	host  *netHost
	p     *proc.Proc
	url   string
	token string
	http  *http.Client
}

// apiStats is the part of /api/stats the benchmark reads.
type apiStats struct {
	Backend struct {
		Daemon struct {
			Fetchers map[string]map[string]any `json:"fetchers"`
			Roster   struct {
				Expired uint64 `json:"expired"`
				Joins   uint64 `json:"joins"`
			} `json:"roster"`
		} `json:"daemon"`
	} `json:"backend"`
}

func (x *netProxy) stats(ctx context.Context) (apiStats, error) {
	var s apiStats
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	u, err := url.Parse(x.url)
	if err != nil {
		return s, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+u.Host+"/api/stats", nil)
	if err != nil {
		return s, err
	}
	req.Header.Set("Authorization", "Bearer "+x.token)
	resp, err := x.http.Do(req)
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("/api/stats: %s", resp.Status)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&s)
	return s, err
}

// proxyWatch reads the proxies' /api/stats through a phase: the fetchers'
// counters (summed across fetchers made anew), their SRTT and window, the
// rosters' expirations and joins, and each proxy's CPU time.
type proxyWatch struct {
	proxies []*netProxy

	mu     sync.Mutex
	fetch  counterSum         // host|fetcher key|field
	gauges map[string]float64 // host|fetcher key|srtt_ms or window_interests: the last reading
	roster counterSum         // host|expired, host|joins
}

// proxySnapshot is the watch's sums at one time.
type proxySnapshot struct {
	fetch, roster map[string]float64
	cpu           map[string]time.Duration // by host
}

// poll reads every proxy once.
func (w *proxyWatch) poll(ctx context.Context) {
	for _, x := range w.proxies {
		s, err := x.stats(ctx)
		if err != nil {
			continue
		}
		w.mu.Lock()
		if w.gauges == nil {
			w.gauges = map[string]float64{}
		}
		for key, st := range s.Backend.Daemon.Fetchers {
			for f := range (&FetchFigures{}).counters() {
				if v, ok := st[f].(float64); ok {
					w.fetch.add(x.host.name+"|"+key+"|"+f, v)
				}
			}
			for _, f := range fetchGauges {
				if v, ok := st[f].(float64); ok {
					w.gauges[x.host.name+"|"+key+"|"+f] = v
				}
			}
		}
		w.roster.add(x.host.name+"|expired", float64(s.Backend.Daemon.Roster.Expired))
		w.roster.add(x.host.name+"|joins", float64(s.Backend.Daemon.Roster.Joins))
		w.mu.Unlock()
	}
}

// watch polls every period until the returned stop is called.
func (w *proxyWatch) watch(ctx context.Context, period time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			w.poll(ctx)
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// snapshot polls once more and returns the sums.
func (w *proxyWatch) snapshot(ctx context.Context) proxySnapshot {
	w.poll(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	s := proxySnapshot{fetch: w.fetch.snapshot(), roster: w.roster.snapshot(), cpu: map[string]time.Duration{}}
	for _, x := range w.proxies {
		s.cpu[x.host.name], _ = procCPU(x.p.Pid())
	}
	return s
}

// fetchFigures sums, over the window, the fetchers of page's proxy for
// the streams of user from; SRTT and window are the last readings.
func (w *proxyWatch) fetchFigures(before, after proxySnapshot, page, from string) *FetchFigures {
	ff := &FetchFigures{}
	vals := ff.counters()
	// mine splits a key and says whether it is one of page's fetchers of from.
	mine := func(k string) (field string, ok bool) {
		host, rest, _ := strings.Cut(k, "|")
		key, field, _ := strings.Cut(rest, "|")
		return field, host == page && strings.Contains(key, "/user/"+from+"/")
	}
	for k, v := range after.fetch {
		if f, ok := mine(k); ok && vals[f] != nil {
			*vals[f] += uint64(v - before.fetch[k])
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, v := range w.gauges {
		switch f, ok := mine(k); {
		case ok && f == "srtt_ms":
			ff.SRTTMs = max(ff.SRTTMs, round3(v))
		case ok && f == "window_interests":
			ff.Window += int(v)
		}
	}
	return ff
}

// results are each proxy's figures over the window d.
func (w *proxyWatch) results(before, after proxySnapshot, d time.Duration) []ProxyResult {
	var out []ProxyResult
	for _, x := range w.proxies {
		h := x.host.name
		out = append(out, ProxyResult{Host: h, User: x.host.user,
			CPUPercent:    round3(float64(after.cpu[h]-before.cpu[h]) / float64(d) * 100),
			RosterExpired: uint64(after.roster[h+"|expired"] - before.roster[h+"|expired"]),
			RosterJoins:   uint64(after.roster[h+"|joins"] - before.roster[h+"|joins"])})
	}
	return out
}

// counterSum adds up counters that may restart from 0 (a fetcher made
// anew): each reading adds its increase, or all of it after a drop.
type counterSum struct {
	last, sum map[string]float64
}

func (c *counterSum) add(key string, v float64) {
	if c.last == nil {
		c.last, c.sum = map[string]float64{}, map[string]float64{}
	}
	prev, ok := c.last[key]
	switch {
	case !ok || v < prev:
		c.sum[key] += v
	default:
		c.sum[key] += v - prev
	}
	c.last[key] = v
}

func (c *counterSum) snapshot() map[string]float64 {
	out := make(map[string]float64, len(c.sum))
	for k, v := range c.sum {
		out[k] = v
	}
	return out
}
