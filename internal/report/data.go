// Package report is the benchmark report (peets bench report): it runs
// the benchmarks, keeps their JSON output with the machine and commit they
// ran on (docs/bench/data.json), and renders docs/benchmarks.md from it:
// for each goal the current figure, the command that printed it, the date
// and machine, and plots drawn with gonum/plot.
//
// Running and rendering are apart: a run takes a quarter of an hour and
// root (network namespaces), rendering takes a second and nothing else, so
// the document can be regenerated (and tested) from the kept data.
package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Bench is one benchmark command of the report.
type Bench struct {
	Name    string        // its key in Data.Runs
	Args    []string      // after "peets"
	Timeout time.Duration // the whole command
	Root    bool          // needs root (network namespaces)
}

// Benches are the benchmarks the report runs, in order.
var Benches = []Bench{
	{Name: "fanout", Args: []string{"bench", "fanout", "--subscribers", "1,2,4,8,16", "--duration", "8s", "--json"}, Timeout: 5 * time.Minute},
	{Name: "fanout-speed", Args: []string{"bench", "fanout", "--subscribers", "8", "--speed", "10", "--duration", "6s", "--json"}, Timeout: 3 * time.Minute},
	{Name: "fanout-hops", Args: []string{"bench", "fanout", "--subscribers", "1,4,16", "--hops", "2", "--duration", "8s", "--json"}, Timeout: 5 * time.Minute},
	{Name: "roster", Args: []string{"bench", "roster", "--members", "5,50", "--json"}, Timeout: 5 * time.Minute},
	{Name: "fwmem", Args: []string{"bench", "fwmem", "--json"}, Timeout: 12 * time.Minute},
	{Name: "call", Args: []string{"bench", "call", "--pages", "3", "--duration", "10s", "--joins", "7", "--json"}, Timeout: 5 * time.Minute},
	{Name: "net-none", Args: []string{"bench", "net", "--uplink", "none", "--json"}, Timeout: 6 * time.Minute, Root: true},
	{Name: "net-2mbit", Args: []string{"bench", "net", "--uplink", "2mbit", "--json"}, Timeout: 6 * time.Minute, Root: true},
	{Name: "net-1mbit", Args: []string{"bench", "net", "--uplink", "1mbit", "--json"}, Timeout: 6 * time.Minute, Root: true},
	{Name: "net-500kbit", Args: []string{"bench", "net", "--uplink", "500kbit", "--json"}, Timeout: 6 * time.Minute, Root: true},
	{Name: "net-step", Args: []string{"bench", "net", "--uplink", "none,1mbit@20s,none@40s", "--json"}, Timeout: 6 * time.Minute, Root: true},
	{Name: "room", Args: []string{"bench", "room", "--bots", "10", "--pages", "2", "--duration", "60s", "--json"}, Timeout: 6 * time.Minute},
	{Name: "room-cpu", Args: []string{"bench", "room", "--bots", "10", "--pages", "1", "--duration", "60s", "--json"}, Timeout: 6 * time.Minute},
	{Name: "room-3top", Args: []string{"bench", "room", "--bots", "3", "--pages", "1", "--top-only", "--duration", "60s", "--json"}, Timeout: 6 * time.Minute},
	{Name: "tree", Args: []string{"bench", "tree", "--duration", "30s", "--json"}, Timeout: 5 * time.Minute, Root: true},
	{Name: "tree-dv", Args: []string{"bench", "tree", "--routing", "dv", "--duration", "30s", "--json"}, Timeout: 5 * time.Minute, Root: true},
}

// shapedRuns are the net benchmarks of a fixed uplink limit (issue #15's
// goals for each), in order.
var shapedRuns = []struct{ run, label string }{
	{"net-2mbit", "2 Mbit/s"}, {"net-1mbit", "1 Mbit/s"}, {"net-500kbit", "500 kbit/s"},
}

// netRuns are the net benchmarks, in the order of Benches.
func netRuns() []string {
	var out []string
	for _, b := range Benches {
		if strings.HasPrefix(b.Name, "net-") {
			out = append(out, b.Name)
		}
	}
	return out
}

// Run is one benchmark command's output.
type Run struct {
	Args    []string          `json:"args"` // after "peets"
	Started time.Time         `json:"started"`
	Seconds float64           `json:"seconds"`
	Results []json.RawMessage `json:"results"` // its JSON lines
	Error   string            `json:"error,omitempty"`
}

// Command is the run's command line.
func (r *Run) Command() string { return "peets " + strings.Join(r.Args, " ") }

// Machine is what the runs ran on.
type Machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemoryGB int    `json:"memory_gb"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
}

func (m Machine) String() string {
	return fmt.Sprintf("%s, %d cores, %d GiB, Linux %s, %s", m.CPU, m.Cores, m.MemoryGB, m.Kernel, m.Go)
}

// Data is everything a report is rendered from.
type Data struct {
	Machine Machine         `json:"machine"`
	Commit  string          `json:"commit"`
	Runs    map[string]*Run `json:"runs"`
}

// Load reads data kept by Save; a missing file is empty data.
func Load(path string) (*Data, error) {
	d := &Data{Runs: map[string]*Run{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if d.Runs == nil {
		d.Runs = map[string]*Run{}
	}
	return d, nil
}

// Save writes d as indented JSON.
func (d *Data) Save(path string) error {
	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Execute runs b with the peets binary bin and keeps its JSON lines in d
// (replacing an earlier run of it). A failed command is kept with its
// error, so the report says so instead of showing stale figures.
func (d *Data) Execute(ctx context.Context, bin string, b Bench, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, b.Timeout)
	defer cancel()
	run := &Run{Args: b.Args, Started: time.Now().UTC()}
	cmd := exec.CommandContext(ctx, bin, b.Args...)
	// Stopped (Ctrl-C, the timeout), a benchmark gets an interrupt, as
	// from a terminal, so that it takes down the processes, browsers and
	// namespaces it made; killed only if it has not ended 30 s later.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	run.Seconds = time.Since(run.Started).Seconds()
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) > 0 && line[0] == '{' && json.Valid(line) {
			run.Results = append(run.Results, json.RawMessage(bytes.Clone(line)))
		}
	}
	if err == nil && len(run.Results) == 0 {
		err = errors.New("no JSON result")
	}
	if err != nil {
		tail := stderr.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		run.Error = fmt.Sprintf("%v: %s", err, strings.TrimSpace(tail))
		log.Warn("benchmark failed", "bench", b.Name, "err", err)
	}
	d.Runs[b.Name] = run
	return err
}

// ThisMachine describes the machine the process runs on.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGB = (kb + 1<<19) >> 20
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// decode unmarshals the i-th result of run name into v; false if there is
// no such result (or it does not decode).
func (d *Data) decode(name string, i int, v any) bool {
	r := d.Runs[name]
	if r == nil || i >= len(r.Results) {
		return false
	}
	return json.Unmarshal(r.Results[i], v) == nil
}

// results unmarshals every result of run name.
func decodeAll[T any](d *Data, name string) []T {
	r := d.Runs[name]
	if r == nil {
		return nil
	}
	var out []T
	for _, raw := range r.Results {
		var v T
		if json.Unmarshal(raw, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}
