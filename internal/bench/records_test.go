package bench

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/peets/peets/daemon"
	"github.com/peets/peets/media"
)

// TestWriteReport: a report assembled from the record log reads back as
// the same WorkerReport, records in order (more than one buffer of them),
// and the log keeps no more than its bound.
func TestWriteReport(t *testing.T) {
	const n = 5000
	dir := t.TempDir()
	s, err := newRecordLog(filepath.Join(dir, "r.records"), n)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var want []Record
	for i := range n + 5 {
		r := Record{Stream: []string{"video", "audio", `odd"name`}[i%3], Seq: uint64(i + 1),
			TimeNs: 1_700_000_000_000_000_000 + int64(i)*1000, Size: 100 + i%1400,
			Hash: uint64(i) * 0x9e3779b97f4a7c15, Key: i%50 == 0}
		kept := s.add(r)
		if kept != (i < n) {
			t.Fatalf("record %d: kept %v with bound %d", i, kept, n)
		}
		if kept {
			want = append(want, r)
		}
	}
	if s.len() != n {
		t.Fatalf("len %d, want %d", s.len(), n)
	}
	rep := WorkerReport{Mode: "sub", User: "u", StopNs: 42, Streams: 3, OutOfOrder: 1,
		Stats: daemon.Stats{Fetchers: map[string]media.FetcherStats{"x": {Retransmitted: 7}}}}
	file := filepath.Join(dir, "r.json")
	if err := writeReport(file, rep, s); err != nil {
		t.Fatal(err)
	}
	var got WorkerReport
	if err := readReport(file, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Records, want) {
		t.Fatalf("records differ: got %d, want %d", len(got.Records), len(want))
	}
	got.Records = nil
	if got.Mode != rep.Mode || got.User != rep.User || got.StopNs != rep.StopNs || got.Streams != rep.Streams ||
		got.OutOfOrder != rep.OutOfOrder || got.Stats.Fetchers["x"].Retransmitted != 7 {
		t.Fatalf("report fields differ: %+v", got)
	}

	// No records: an empty list, not null.
	e, err := newRecordLog(filepath.Join(dir, "e.records"), 10)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	file2 := filepath.Join(dir, "e.json")
	if err := writeReport(file2, rep, e); err != nil {
		t.Fatal(err)
	}
	var empty WorkerReport
	if err := readReport(file2, &empty); err != nil || empty.Records == nil || len(empty.Records) != 0 {
		t.Fatalf("empty report: %v, records %v", err, empty.Records)
	}
}

// TestAppendRecord: a record written by hand is what json.Marshal writes.
func TestAppendRecord(t *testing.T) {
	for _, r := range []Record{
		{Stream: "video", Seq: 1, TimeNs: 1796652919903123456, Size: 1200, Hash: 18446744073709551615, Key: true},
		{Stream: "cam.h", Seq: 0, TimeNs: -1, Size: 0, Hash: 0},
	} {
		want, _ := json.Marshal(r)
		if got := appendRecord(nil, r); string(got) != string(want) {
			t.Errorf("%s, want %s", got, want)
		}
	}
}
