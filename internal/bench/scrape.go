package bench

import (
	"context"
	"net/http"

	"github.com/peets/peets/internal/metric"
)

// scrapeCounters reads a Prometheus endpoint (a process's --metrics) with
// client (nil: the default; one that dials in a namespace for a process
// there) and returns the value of every sample of the named metrics,
// summed by "metric|label value" for the label lbl ("metric|" without it).
func scrapeCounters(ctx context.Context, client *http.Client, url, lbl string, names ...string) (map[string]float64, error) {
	fams, err := metric.Scrape(ctx, client, url)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, name := range names {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, m := range f.Metric {
			key := name + "|"
			for _, l := range m.Label {
				if l.GetName() == lbl {
					key += l.GetValue()
				}
			}
			switch {
			case m.Counter != nil:
				out[key] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] += m.Gauge.GetValue()
			}
		}
	}
	return out, nil
}

// Publisher counters that give a stream's upload: packets published, and
// media Data sent (answered from the ring at once, or a held Interest
// answered when the packet came).
const (
	mPublished  = "peets_publisher_packets_published_total"
	mServedRing = "peets_publisher_interests_served_from_ring_total"
	mHeldAnswer = "peets_publisher_held_interests_answered_total"
)

// scrapeUpload reads a publisher's per-stream counters.
func scrapeUpload(ctx context.Context, client *http.Client, url string) (map[string]float64, error) {
	return scrapeCounters(ctx, client, url, "stream", mPublished, mServedRing, mHeldAnswer)
}

// uploadCopies is, per stream, the media Data a publisher sent per packet
// it published between two scrapes (streams that published nothing are
// left out).
func uploadCopies(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		name, stream := splitKey(k)
		if name != mPublished {
			continue
		}
		pub := v - before[k]
		if pub <= 0 {
			continue
		}
		sent := after[mServedRing+"|"+stream] - before[mServedRing+"|"+stream] + after[mHeldAnswer+"|"+stream] - before[mHeldAnswer+"|"+stream]
		out[stream] = round3(sent / pub)
	}
	return out
}

func splitKey(k string) (string, string) {
	for i := range len(k) {
		if k[i] == '|' {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}
