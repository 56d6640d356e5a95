package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/peets/peets/daemon"
	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/daemon/web"
	"github.com/peets/peets/internal/metric"
)

// allMetrics are the metrics the daemon (with pages), its web server and
// peets forwarder can export.
func allMetrics() []metric.Name {
	var out []metric.Name
	out = append(out, metric.Names("peets", "", daemon.BackendStats{})...)
	out = append(out, metric.Names("peets", "web", web.Stats{})...)
	for _, n := range metric.Names("peets", "forwarder", forwarder.Stats{}) {
		if !slices.ContainsFunc(out, func(o metric.Name) bool { return o.Name == n.Name }) {
			out = append(out, n)
		}
	}
	return out
}

// TestMetricsDocumented: docs/metrics.md lists every metric the code can
// export, and no other (its table rows start with the metric's name).
func TestMetricsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(peets_[a-z0-9_]+)`").FindAllStringSubmatch(doc, -1) {
		documented[m[1]] = true
	}
	var missing []string
	for _, n := range allMetrics() {
		if !documented[n.Name] {
			missing = append(missing, n.Name+" ("+string(n.Kind)+", labels "+strings.Join(n.Labels, ",")+")")
		}
		delete(documented, n.Name)
	}
	if len(missing) > 0 {
		t.Errorf("docs/metrics.md lacks %d metrics:\n%s", len(missing), strings.Join(missing, "\n"))
	}
	for name := range documented {
		t.Errorf("docs/metrics.md lists %s, which nothing exports", name)
	}
}
