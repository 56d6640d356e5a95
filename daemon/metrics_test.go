package daemon

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/peets/peets/internal/metric"
	"github.com/peets/peets/media/source"
	"github.com/peets/peets/sync/synctest"
)

// TestMetricsScrape: a receiver's /metrics, scraped as Prometheus does and
// parsed with Prometheus's own parser, carries the figures /api/stats
// has, under the same names: packets delivered per stream, the RTT
// histogram, each member's heartbeat age, the Go runtime's goroutines.
func TestMetricsScrape(t *testing.T) {
	pub, sub := botAndWatcher(t, "metrics")
	video := pub.Participant().String() + "/media/" + source.StreamVideo
	if synctest.Eventually(10*time.Second, func() bool { return sub.Stats().Fetchers[video].Delivered > 20 }) < 0 {
		t.Fatalf("nothing delivered: %+v", sub.Stats().Fetchers)
	}
	srv := httptest.NewServer(metric.Handler(sub.Collector()))
	defer srv.Close()
	fams, err := metric.Scrape(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	after := sub.Stats()
	one := func(name, label, value string) *dto.Metric {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no %s", name)
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == label && l.GetValue() == value {
					return m
				}
			}
			if label == "" {
				return m
			}
		}
		t.Fatalf("no %s{%s=%q}", name, label, value)
		return nil
	}
	got := one("peets_fetcher_packets_delivered_total", "stream", video).GetCounter().GetValue()
	if got < 20 || got > float64(after.Fetchers[video].Delivered) {
		t.Errorf("delivered %v, /api/stats says %d after the scrape", got, after.Fetchers[video].Delivered)
	}
	if h := one("peets_fetcher_rtt_ms", "stream", video).GetHistogram(); h.GetSampleCount() == 0 || len(h.Bucket) < len(metric.HistBoundsMS) {
		t.Errorf("rtt histogram %v", h)
	}
	if age := one("peets_roster_heartbeat_age_ms", "member", pub.Participant().String()).GetGauge().GetValue(); age < 0 || age > 2000 {
		t.Errorf("heartbeat age %v ms (heartbeats every 100 ms)", age)
	}
	if n := one("peets_roster_members", "", "").GetGauge().GetValue(); n != 1 { // the others
		t.Errorf("members %v", n)
	}
	if n := one("go_goroutines", "", "").GetGauge().GetValue(); n < 1 {
		t.Errorf("goroutines %v", n)
	}
	// The JSON has the same names.
	b, err := json.Marshal(after)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{`"packets_delivered":`, `"srtt_ms":`, `"rtt_ms":{"le_ms":`, `"heartbeat_age_ms":{`, `"boot_us":`} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/api/stats has no %s", name)
		}
	}
}
