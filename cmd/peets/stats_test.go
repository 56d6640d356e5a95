package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStatsCommand: peets stats reads the proxy's /api/stats with the
// page URL's token and prints a line per remote stream, as a table or as
// JSON with the vocabulary's names.
func TestStatsCommand(t *testing.T) {
	const token = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/stats" || r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"backend":{"daemon":{"participant":"/peets/user/me/lab","forwarder":{"up":true,"uri":"unix:///x"},
			"roster":{"members":2},"quality":[
			{"participant":"bob","stream":"cam","kind":"video","layer":"m","target":"h","top":"h","layers":3,"layer_index":1,
			 "packets_per_s":120,"loss_pct":1.5,"holes_pct":3,"bitrate_bps":812000,"frames_per_s":24.5,"buffer_delay_ms":3.25,"stalled_ms":0,"srtt_ms":12.5},
			{"participant":"alice","stream":"mic","kind":"audio","packets_per_s":25,"bitrate_bps":34000,"stalled_ms":2500,"srtt_ms":9}]}}}`))
	}))
	defer srv.Close()
	url := srv.URL + "/?token=" + token
	out, err := run(t, "stats", "--url", url, "--count", "1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "members 2") {
		t.Fatalf("output:\n%s", out)
	}
	// Sorted by participant: alice first.
	for i, want := range [][]string{{"alice", "mic", "34", "2.5"}, {"bob", "cam", "m (2/3) -> h", "812", "24.5", "1.5", "12.5", "3.2"}} {
		for _, w := range want {
			if !strings.Contains(lines[2+i], w) {
				t.Errorf("line %q lacks %q", lines[2+i], w)
			}
		}
	}
	out, err = run(t, "stats", "--url", url, "--count", "2", "--interval", "10ms", "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("json output:\n%s", out)
	}
	var l statsLine
	if err := json.Unmarshal([]byte(lines[1]), &l); err != nil || len(l.Streams) != 2 || l.Streams[0].FrameRate != 24.5 || l.Members != 2 {
		t.Fatalf("%v: %+v", err, l)
	}
	if !strings.Contains(lines[0], `"bitrate_bps":812000`) {
		t.Errorf("names: %s", lines[0])
	}
	if _, err := run(t, "stats", "--url", srv.URL+"/?token=WRONGWRONGWRONGWRONGWRONGW", "--count", "1"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v", err)
	}
}

// TestFindPageURL: peets stats finds the one running proxy of a state
// directory, or asks which.
func TestFindPageURL(t *testing.T) {
	dir := t.TempDir()
	if _, err := findPageURL(dir, "", ""); err == nil || !strings.Contains(err.Error(), "no running peets up") {
		t.Fatalf("empty: %v", err)
	}
	rm, err := writePageURL(dir, "alice", "lab", "http://127.0.0.1:1/?token=a")
	if err != nil {
		t.Fatal(err)
	}
	if u, err := findPageURL(dir, "", ""); err != nil || u != "http://127.0.0.1:1/?token=a" {
		t.Fatalf("one: %q, %v", u, err)
	}
	if _, err := writePageURL(dir, "bob", "lab", "http://127.0.0.1:2/?token=b"); err != nil {
		t.Fatal(err)
	}
	if _, err := findPageURL(dir, "", "lab"); err == nil || !strings.Contains(err.Error(), "alice@lab, bob@lab") {
		t.Fatalf("two: %v", err)
	}
	if u, err := findPageURL(dir, "bob", ""); err != nil || u != "http://127.0.0.1:2/?token=b" {
		t.Fatalf("bob: %q, %v", u, err)
	}
	rm()
	if u, err := findPageURL(dir, "", ""); err != nil || !strings.Contains(u, ":2/") {
		t.Fatalf("after alice left: %q, %v", u, err)
	}
}
