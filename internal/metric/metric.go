// Package metric is the daemon's one stats vocabulary (docs/metrics.md):
// every figure it exposes has one snake_case name with its unit in the
// name, the same in /api/stats (JSON), in /metrics (Prometheus) and in the
// benchmarks' JSON.
//
// The stats structs of the packages (media.FetcherStats, roster.Stats, ...)
// are the single source: their json tags name the figures, and Collector
// walks a snapshot of them by reflection to make Prometheus metrics, so a
// figure cannot have one name in the JSON and another in Prometheus.
//
// The mapping, for a field reached by the path a, b, ..., name:
//
//   - the metric is <namespace>_a_b_..._name; a counter gets "_total"
//     appended, as Prometheus expects;
//   - a map[string]T adds a label (its `metric:"label=L"` tag, else
//     "key") valued by the map key, and its values are walked with the
//     map's own name in the path (or the name its tag gives: `metric:"fetcher,label=stream"`);
//   - unsigned integers are counters, signed integers, floats, bools (0 or
//     1) and Millis are gauges, unless the field's tag says `metric:"gauge"`
//     or `metric:"counter"`; Hist is a histogram;
//   - a struct field tagged `metric:"flat"` adds nothing to the path;
//   - strings, times and fields tagged `metric:"-"` or `json:"-"` are not
//     metrics.
package metric

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Millis is a duration that reads in milliseconds: JSON writes it as a
// number of milliseconds (fraction included), Prometheus as a gauge. Name
// its field with an "_ms" suffix.
type Millis time.Duration

// D is the duration.
func (m Millis) D() time.Duration { return time.Duration(m) }

// String is the duration's (1.5ms).
func (m Millis) String() string { return time.Duration(m).String() }

// MS is the duration in milliseconds.
func (m Millis) MS() float64 { return float64(m) / float64(time.Millisecond) }

// MarshalJSON writes the milliseconds, to the microsecond.
func (m Millis) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, math.Round(m.MS()*1000)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads milliseconds.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return err
	}
	*m = Millis(ms * float64(time.Millisecond))
	return nil
}

// HistBoundsMS are the upper bounds (milliseconds) of Hist's buckets: from
// a loopback hop's fraction of a millisecond to a testbed's seconds.
var HistBoundsMS = [...]float64{0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}

// Hist is a histogram of durations in milliseconds with the buckets of
// HistBoundsMS. It is a value with no lock: its owner (one goroutine)
// observes into it and hands out copies.
type Hist struct {
	counts [len(HistBoundsMS) + 1]uint64 // per bucket, the last for above every bound
	sum    float64                       // ms
}

// Observe adds one duration.
func (h *Hist) Observe(d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	i := 0
	for i < len(HistBoundsMS) && ms > HistBoundsMS[i] {
		i++
	}
	h.counts[i]++
	h.sum += ms
}

// Count is the number of observations.
func (h *Hist) Count() uint64 {
	var n uint64
	for _, c := range h.counts {
		n += c
	}
	return n
}

// SumMS is the sum of the observations in milliseconds.
func (h *Hist) SumMS() float64 { return h.sum }

// Cumulative is, for each bound of HistBoundsMS, the number of
// observations at most that long (what Prometheus's buckets hold).
func (h *Hist) Cumulative() map[float64]uint64 {
	m := make(map[float64]uint64, len(HistBoundsMS))
	var n uint64
	for i, b := range HistBoundsMS {
		n += h.counts[i]
		m[b] = n
	}
	return m
}

// histJSON is Hist in JSON: the bounds, the count in each bucket (the last
// above every bound), the count and the sum.
type histJSON struct {
	LeMS   []float64 `json:"le_ms"`
	Counts []uint64  `json:"counts"`
	Count  uint64    `json:"count"`
	SumMS  float64   `json:"sum_ms"`
}

// MarshalJSON writes the buckets.
func (h Hist) MarshalJSON() ([]byte, error) {
	return json.Marshal(histJSON{LeMS: HistBoundsMS[:], Counts: h.counts[:], Count: h.Count(), SumMS: math.Round(h.sum*1000) / 1000})
}

// UnmarshalJSON reads what MarshalJSON wrote (the bounds must match).
func (h *Hist) UnmarshalJSON(b []byte) error {
	var j histJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Hist{sum: j.SumMS}
	copy(h.counts[:], j.Counts)
	return nil
}
