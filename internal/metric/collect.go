package metric

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector makes Prometheus metrics of stats snapshots at each scrape
// (the mapping is the package comment's). It holds no counters of its own:
// what it reports is what /api/stats reports at the same moment.
type Collector struct {
	namespace string
	sources   []source
}

type source struct {
	subsystem string
	snapshot  func() any
}

// NewCollector returns a Collector whose metrics are named namespace_...
func NewCollector(namespace string) *Collector { return &Collector{namespace: namespace} }

// Add walks snapshot's value at each scrape; its metrics are named
// namespace_subsystem_... (subsystem may be empty). Call Add before the
// Collector is registered.
func (c *Collector) Add(subsystem string, snapshot func() any) {
	c.sources = append(c.sources, source{subsystem, snapshot})
}

// Describe sends nothing: the metrics depend on what the snapshots hold
// (streams come and go), so the Collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect walks every source.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.sources {
		v := s.snapshot()
		if v == nil {
			continue
		}
		w := walker{emit: func(p point) {
			if m, err := p.metric(); err == nil {
				ch <- m
			}
		}}
		w.walk(join(c.namespace, s.subsystem), nil, reflect.ValueOf(v))
	}
}

// Kind is what a metric is to Prometheus.
type Kind string

// The kinds of metric.
const (
	Counter   Kind = "counter"
	Gauge     Kind = "gauge"
	Histogram Kind = "histogram"
)

// Name is one metric the walk makes.
type Name struct {
	Name   string   // the Prometheus name (a counter's ends in _total)
	Kind   Kind     //
	Labels []string // label names, outermost first
}

// Names lists the metrics a value of v's type makes under
// namespace_subsystem (maps taken as holding one entry), sorted: what
// docs/metrics.md must list.
func Names(namespace, subsystem string, v any) []Name {
	seen := map[string]Name{}
	w := walker{emit: func(p point) {
		seen[p.name] = Name{Name: p.name, Kind: p.kind, Labels: slices.Clone(p.labels)}
	}, types: true}
	w.walk(join(namespace, subsystem), nil, reflect.ValueOf(v))
	out := make([]Name, 0, len(seen))
	for _, n := range seen {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b Name) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// point is one sample the walk found.
type point struct {
	name   string
	kind   Kind
	labels []string
	values []string
	value  float64
	hist   *Hist
}

func (p point) metric() (prometheus.Metric, error) {
	d := prometheus.NewDesc(p.name, help(p.name), p.labels, nil)
	switch p.kind {
	case Histogram:
		return prometheus.NewConstHistogram(d, p.hist.Count(), p.hist.SumMS(), p.hist.Cumulative(), p.values...)
	case Counter:
		return prometheus.NewConstMetric(d, prometheus.CounterValue, p.value, p.values...)
	default:
		return prometheus.NewConstMetric(d, prometheus.GaugeValue, p.value, p.values...)
	}
}

// help is a metric's HELP: where its meaning is written.
func help(name string) string {
	return name + ": see docs/metrics.md"
}

var (
	millisType = reflect.TypeFor[Millis]()
	histType   = reflect.TypeFor[Hist]()
	timeType   = reflect.TypeFor[time.Time]()
	durType    = reflect.TypeFor[time.Duration]()
)

// walker walks a value; with types set, it walks the type (maps as if
// they held one entry, nil pointers as if set) to list the names.
type walker struct {
	emit   func(point)
	types  bool
	labels []string
	values []string
}

func (w *walker) walk(name string, tag *fieldTag, v reflect.Value) {
	t := v.Type()
	if t == durType {
		panic(fmt.Sprintf("metric: %s is a time.Duration: use metric.Millis", name))
	}
	switch {
	case t == millisType:
		w.point(name, tag, Gauge, Millis(v.Int()).MS(), nil)
		return
	case t == histType:
		h := v.Interface().(Hist)
		w.point(name, tag, Histogram, 0, &h)
		return
	case t == timeType:
		return
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			if !w.types || t.Kind() == reflect.Interface {
				return
			}
			v = reflect.New(t.Elem())
		}
		w.walk(name, tag, v.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			ft, ok := parseTag(f)
			if !ok {
				continue
			}
			w.walk(join(name, ft.name), &ft, v.Field(i))
		}
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return
		}
		label := "key"
		if tag != nil && tag.label != "" {
			label = tag.label
		}
		w.labels = append(w.labels, label)
		defer func() { w.labels = w.labels[:len(w.labels)-1] }()
		var inner *fieldTag
		if tag != nil {
			inner = &fieldTag{kind: tag.kind}
		}
		if w.types {
			w.values = append(w.values, "")
			w.walk(name, inner, reflect.New(t.Elem()).Elem())
			w.values = w.values[:len(w.values)-1]
			return
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			w.values = append(w.values, k.String())
			w.walk(name, inner, v.MapIndex(k))
			w.values = w.values[:len(w.values)-1]
		}
	case reflect.Bool:
		b := 0.0
		if v.Bool() {
			b = 1
		}
		w.point(name, tag, Gauge, b, nil)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.point(name, tag, Gauge, float64(v.Int()), nil)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.point(name, tag, Counter, float64(v.Uint()), nil)
	case reflect.Float32, reflect.Float64:
		w.point(name, tag, Gauge, v.Float(), nil)
	}
}

func (w *walker) point(name string, tag *fieldTag, kind Kind, value float64, h *Hist) {
	if tag != nil && tag.kind != "" && kind != Histogram {
		kind = tag.kind
	}
	if kind == Counter {
		name += "_total"
	}
	w.emit(point{name: name, kind: kind, labels: w.labels, values: w.values, value: value, hist: h})
}

// fieldTag is what a struct field's tags say.
type fieldTag struct {
	name  string // the JSON name, or the one `metric:"NAME"` gives
	label string // of a map: the label its keys fill
	kind  Kind   // forced kind
}

// parseTag reads a field's json and metric tags; false: not a metric.
func parseTag(f reflect.StructField) (fieldTag, bool) {
	var ft fieldTag
	js, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if js == "-" {
		return ft, false
	}
	ft.name = js
	if ft.name == "" {
		if !f.Anonymous {
			return ft, false
		}
	}
	m := f.Tag.Get("metric")
	if m == "-" {
		return ft, false
	}
	for i, part := range strings.Split(m, ",") {
		switch {
		case part == "":
		case part == "flat":
			ft.name = ""
		case part == string(Counter) || part == string(Gauge):
			ft.kind = Kind(part)
		case strings.HasPrefix(part, "label="):
			ft.label = strings.TrimPrefix(part, "label=")
		case i == 0 && !strings.Contains(m, "flat"):
			ft.name = part
		}
	}
	return ft, true
}

// join joins name parts with "_", skipping empty ones.
func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "_" + b
}
