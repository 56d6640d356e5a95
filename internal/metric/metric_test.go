package metric

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

type inner struct {
	Sent    uint64            `json:"sent"`
	Peers   int               `json:"peers"`
	Latest  uint64            `json:"latest" metric:"gauge"`
	Reasons map[string]uint64 `json:"rejected" metric:"label=reason"`
}

type sample struct {
	Name    string            `json:"name"`
	Up      bool              `json:"up"`
	Ratio   float64           `json:"ratio"`
	SRTT    Millis            `json:"srtt_ms"`
	RTT     Hist              `json:"rtt_ms"`
	Skipped uint64            `json:"skipped" metric:"-"`
	Hidden  uint64            `json:"-"`
	When    time.Time         `json:"when"`
	Inner   inner             `json:"sync"`
	Ptr     *inner            `json:"udp,omitempty"`
	Streams map[string]inner  `json:"fetchers" metric:"fetcher,label=stream"`
	Any     any               `json:"any"`
	Levels  map[string]Millis `json:"age_ms" metric:"label=member"`
}

func TestMillisJSON(t *testing.T) {
	b, err := json.Marshal(struct {
		D Millis `json:"d_ms"`
	}{Millis(1500 * time.Microsecond)})
	if err != nil || string(b) != `{"d_ms":1.5}` {
		t.Fatalf("got %s, %v", b, err)
	}
	var back struct {
		D Millis `json:"d_ms"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.D.D() != 1500*time.Microsecond {
		t.Fatalf("back %v, %v", back.D.D(), err)
	}
}

func TestHist(t *testing.T) {
	var h Hist
	if h.Count() != 0 {
		t.Fatal("empty count")
	}
	for range 90 {
		h.Observe(3 * time.Millisecond) // bucket (2, 5]
	}
	for range 10 {
		h.Observe(time.Minute) // above every bound
	}
	if h.Count() != 100 || math.Abs(h.SumMS()-(90*3+10*60000)) > 1e-6 {
		t.Fatalf("count %d sum %v", h.Count(), h.SumMS())
	}
	c := h.Cumulative()
	if c[2] != 0 || c[5] != 90 || c[5000] != 90 {
		t.Errorf("cumulative %v", c)
	}
	b, _ := json.Marshal(h)
	var back Hist
	if err := json.Unmarshal(b, &back); err != nil || back != h {
		t.Fatalf("round trip %s: %+v, %v", b, back, err)
	}
}

func TestNames(t *testing.T) {
	got := map[string]Name{}
	for _, n := range Names("peets", "x", sample{}) {
		got[n.Name] = n
	}
	want := map[string]string{
		"peets_x_up":                     "gauge",
		"peets_x_ratio":                  "gauge",
		"peets_x_srtt_ms":                "gauge",
		"peets_x_rtt_ms":                 "histogram",
		"peets_x_sync_sent_total":        "counter",
		"peets_x_sync_peers":             "gauge",
		"peets_x_sync_latest":            "gauge",
		"peets_x_sync_rejected_total":    "counter",
		"peets_x_udp_sent_total":         "counter",
		"peets_x_udp_peers":              "gauge",
		"peets_x_udp_latest":             "gauge",
		"peets_x_udp_rejected_total":     "counter",
		"peets_x_fetcher_sent_total":     "counter",
		"peets_x_fetcher_peers":          "gauge",
		"peets_x_fetcher_latest":         "gauge",
		"peets_x_fetcher_rejected_total": "counter",
		"peets_x_age_ms":                 "gauge",
	}
	for name, kind := range want {
		if n, ok := got[name]; !ok || string(n.Kind) != kind {
			t.Errorf("%s: got %+v, want a %s", name, n, kind)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected %s", name)
		}
	}
	if l := got["peets_x_fetcher_rejected_total"].Labels; len(l) != 2 || l[0] != "stream" || l[1] != "reason" {
		t.Errorf("labels %v", l)
	}
	if l := got["peets_x_age_ms"].Labels; len(l) != 1 || l[0] != "member" {
		t.Errorf("labels %v", l)
	}
}

// TestScrape registers a Collector, scrapes it over HTTP as Prometheus
// would and parses the text with Prometheus's own parser.
func TestScrape(t *testing.T) {
	s := sample{Up: true, Ratio: 0.5, SRTT: Millis(2 * time.Millisecond),
		Inner:   inner{Sent: 7, Peers: 2, Latest: 9, Reasons: map[string]uint64{"bad_signature": 3, "wrong_signer": 1}},
		Streams: map[string]inner{"/a/media/video": {Sent: 11}, "/b/media/audio": {Sent: 12}},
		Levels:  map[string]Millis{"alice": Millis(250 * time.Millisecond)}}
	s.RTT.Observe(time.Millisecond)
	s.RTT.Observe(30 * time.Millisecond)
	c := NewCollector("peets")
	c.Add("x", func() any { return s })
	c.Add("nil", func() any { return nil })
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer srv.Close()
	fams, err := Scrape(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	value := func(name string, labels ...string) float64 {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no %s", name)
		}
		for _, m := range f.Metric {
			if matches(m, labels) {
				switch f.GetType() {
				case dto.MetricType_COUNTER:
					return m.GetCounter().GetValue()
				case dto.MetricType_GAUGE:
					return m.GetGauge().GetValue()
				case dto.MetricType_HISTOGRAM:
					return float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"peets_x_up", nil, 1},
		{"peets_x_ratio", nil, 0.5},
		{"peets_x_srtt_ms", nil, 2},
		{"peets_x_rtt_ms", nil, 2},
		{"peets_x_sync_sent_total", nil, 7},
		{"peets_x_sync_peers", nil, 2},
		{"peets_x_sync_latest", nil, 9},
		{"peets_x_sync_rejected_total", []string{"reason", "bad_signature"}, 3},
		{"peets_x_fetcher_sent_total", []string{"stream", "/b/media/audio"}, 12},
		{"peets_x_age_ms", []string{"member", "alice"}, 250},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if f := fams["peets_x_sync_sent_total"]; f.GetType() != dto.MetricType_COUNTER || !strings.Contains(f.GetHelp(), "docs/metrics.md") {
		t.Errorf("family %v", f)
	}
	if h := fams["peets_x_rtt_ms"].Metric[0].GetHistogram(); h.GetSampleSum() != 31 || h.Bucket[2].GetCumulativeCount() != 1 {
		t.Errorf("histogram %v", h)
	}
	for _, absent := range []string{"peets_x_skipped_total", "peets_x_udp_sent_total", "peets_x_name"} {
		if _, ok := fams[absent]; ok {
			t.Errorf("%s exported", absent)
		}
	}
}

// matches tells whether m has the label pairs.
func matches(m *dto.Metric, pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == pairs[i] && l.GetValue() == pairs[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
