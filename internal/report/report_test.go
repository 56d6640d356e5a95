package report

import (
	"context"
	"encoding/json"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/bench"
)

func raw(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRender: a report from kept data has a row per goal with its figure
// and verdict, says which runs failed or never ran, and draws its plots.
func TestRender(t *testing.T) {
	started := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cdf := make([]float64, 21)
	for i := range cdf {
		cdf[i] = 0.3 + 0.05*float64(i)
	}
	d := &Data{Machine: Machine{CPU: "Test CPU", Cores: 2, MemoryGB: 24, Kernel: "6.1", Go: "go1.26"}, Commit: "abc1234", Runs: map[string]*Run{
		"fanout": {Args: []string{"bench", "fanout", "--json"}, Started: started, Results: []json.RawMessage{
			raw(t, bench.FanoutResult{Subscribers: 1, UploadFactor: 1, MeshUploadFactor: 1, DeliveredRatio: 1, LatencyCDFMs: cdf}),
			raw(t, bench.FanoutResult{Subscribers: 8, UploadFactor: 0.99, MeshUploadFactor: 8, DeliveredRatio: 1, LatencyP50Ms: 0.6, OverheadRatio: 1.26, LatencyCDFMs: cdf}),
			raw(t, bench.FanoutResult{Subscribers: 16, UploadFactor: 1.01, MeshUploadFactor: 16, DeliveredRatio: 1, LatencyCDFMs: cdf}),
		}},
		"call":     {Args: []string{"bench", "call"}, Started: started, Results: []json.RawMessage{raw(t, bench.CallResult{Pages: 3, FirstFrameMs: []float64{350, 420, 1200}, FirstFrameMaxMs: 1200})}},
		"net-step": {Args: []string{"bench", "net"}, Started: started, Error: "exit status 1: no chromium\nmore"},
		"room": {Args: []string{"bench", "room"}, Started: started, Results: []json.RawMessage{raw(t, bench.RoomResult{Participants: 11, Download: bench.Distribution{P50: 2100, Max: 2300}, Switch: bench.Distribution{P50: 330, Max: 600, N: 9},
			UploadFactorMax: 1.08, UploadByStream: map[string]float64{"cam.h": 0.4, "audio": 1}})}},
	}}
	d.Runs["net-none"] = &Run{Args: []string{"bench", "net"}, Started: started, Results: []json.RawMessage{raw(t, bench.NetResult{
		Schedules: map[string]string{"A->B": "none"},
		Peets:     &bench.PhaseResult{Receivers: []bench.ReceiverResult{{Video: bench.VideoFigures{FPSSeries: []float64{20, 19, 18}}}}},
		Direct:    &bench.PhaseResult{Receivers: []bench.ReceiverResult{{Video: bench.VideoFigures{FPSSeries: []float64{20, 20, 20}}}}},
		Compare:   []bench.Comparison{{FPS: [2]float64{18.6, 20}}},
	})}}
	dir := t.TempDir()
	md, err := Render(d, filepath.Join(dir, "bench"), "bench", "## What we tried\n\nThings.\n")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(md, "\n") {
		if strings.HasPrefix(l, "| #") {
			cells := strings.Split(l, "|")
			rows[strings.TrimSpace(cells[2])] = l
		}
	}
	want := map[string][]string{
		"publisher upload factor, 16 subscribers":                              {"| 1.01 |", "| yes |", "`peets bench fanout --json`", "2026-12-07"},
		"wire overhead (Data bytes / RTP bytes), 8 subscribers":                {"| 1.26 |", "| no |"},
		"latency p50, 8 subscribers (loopback)":                                {"0.60 ms", "| yes |"},
		"first remote frame after a page loads (p50)":                          {"0 ms (max 1200)", "| yes |"},
		"unlimited link: the receiver's fps":                                   {"18.6 (direct 20.0)", "| no |"},
		"step down to 1 Mbit/s: >= 15 fps again":                               {"failed: exit status 1: no chromium |"},
		"1 Mbit/s uplink: the receiver's fps":                                  {"not run"},
		"12 participants: speaker change to the new speaker's top layer (p50)": {"330 ms", "| yes |"},
		"12 participants, speaker view: a receiver's download":                 {"2.30 Mbit/s", "| yes |"},
		"packets per CPU core, 8 subscribers, 10x pace (per-packet cost)":      {"not run"},
		"roster: a join seen by every member, 50 members (max)":                {"not run"},
		"12 participants: a publisher's upload per pulled layer":               {"1.08 (the largest", "| no |"},
	}
	for name, parts := range want {
		row, ok := rows[name]
		if !ok {
			t.Errorf("no goal row %q", name)
			continue
		}
		for _, p := range parts {
			if !strings.Contains(row, p) {
				t.Errorf("row %q lacks %q", row, p)
			}
		}
	}
	if len(rows) != len(Goals()) {
		t.Errorf("%d goal rows, want %d", len(rows), len(Goals()))
	}
	for _, s := range []string{"Machine: Test CPU, 2 cores, 24 GiB", "Commit: abc1234", "## What we tried", "![publisher upload factor against subscribers](bench/upload.png)", "audio 1.00, cam.h 0.40"} {
		if !strings.Contains(md, s) {
			t.Errorf("report lacks %q", s)
		}
	}
	for _, f := range []string{"upload.png", "latency-cdf.png", "first-frame.png"} {
		fh, err := os.Open(filepath.Join(dir, "bench", f))
		if err != nil {
			t.Errorf("plot %s: %v", f, err)
			continue
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil || img.Bounds().Dx() < 300 {
			t.Errorf("plot %s: %v", f, err)
		}
		if !strings.Contains(md, "bench/"+f) {
			t.Errorf("report does not show %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bench", "net-step-fps.png")); err == nil {
		t.Error("a plot drawn from a failed run")
	}
}

// TestDataRoundTrip: kept data reads back as written; a missing file is
// empty data.
func TestDataRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "data.json")
	d, err := Load(p)
	if err != nil || len(d.Runs) != 0 {
		t.Fatalf("missing file: %+v, %v", d, err)
	}
	d.Commit = "c0ffee"
	d.Runs["fanout"] = &Run{Args: []string{"bench", "fanout"}, Results: []json.RawMessage{json.RawMessage(`{"subscribers":1}`)}}
	if err := d.Save(p); err != nil {
		t.Fatal(err)
	}
	back, err := Load(p)
	if err != nil || back.Commit != "c0ffee" || len(back.Runs["fanout"].Results) != 1 || back.Runs["fanout"].Command() != "peets bench fanout" {
		t.Fatalf("%+v, %v", back, err)
	}
}

// TestExecute: a run keeps the command's JSON lines (not its other
// output); a failing command is kept with its error.
func TestExecute(t *testing.T) {
	d := &Data{Runs: map[string]*Run{}}
	log := slog.New(slog.DiscardHandler)
	ok := Bench{Name: "a", Args: []string{"-c", `echo starting; echo '{"subscribers":3}'; echo '{"subscribers":4}'`}, Timeout: 10 * time.Second}
	if err := d.Execute(context.Background(), "/bin/sh", ok, log); err != nil {
		t.Fatal(err)
	}
	if r := d.Runs["a"]; len(r.Results) != 2 || r.Error != "" || r.Seconds <= 0 {
		t.Fatalf("%+v", r)
	}
	// Stopped, a benchmark gets an interrupt to clean up after itself.
	trap := Bench{Name: "c", Args: []string{"-c", `trap 'kill $!; echo "{\"cleaned\":1}"; exit 0' INT; echo '{"x":1}'; sleep 20 >/dev/null & wait`}, Timeout: 500 * time.Millisecond}
	_ = d.Execute(context.Background(), "/bin/sh", trap, log)
	if r := d.Runs["c"]; len(r.Results) != 2 || !strings.Contains(string(r.Results[1]), "cleaned") || r.Seconds > 10 {
		t.Fatalf("interrupted: %+v", r)
	}
	bad := Bench{Name: "b", Args: []string{"-c", `echo '{"x":1}'; echo oops >&2; exit 3`}, Timeout: 10 * time.Second}
	if err := d.Execute(context.Background(), "/bin/sh", bad, log); err == nil || !strings.Contains(d.Runs["b"].Error, "oops") {
		t.Fatalf("%v, %+v", err, d.Runs["b"])
	}
}
