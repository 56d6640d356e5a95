package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestUploadCopies: a bot's upload per stream from two scrapes of its
// /metrics: media Data sent per packet published in between.
func TestUploadCopies(t *testing.T) {
	page := `# TYPE peets_publisher_packets_published_total counter
peets_publisher_packets_published_total{stream="cam.h"} %d
peets_publisher_packets_published_total{stream="cam.l"} %d
peets_publisher_packets_published_total{stream="audio"} 50
# TYPE peets_publisher_interests_served_from_ring_total counter
peets_publisher_interests_served_from_ring_total{stream="cam.h"} %d
peets_publisher_interests_served_from_ring_total{stream="cam.l"} 0
peets_publisher_interests_served_from_ring_total{stream="audio"} 0
# TYPE peets_publisher_held_interests_answered_total counter
peets_publisher_held_interests_answered_total{stream="cam.h"} %d
peets_publisher_held_interests_answered_total{stream="cam.l"} %d
peets_publisher_held_interests_answered_total{stream="audio"} 0
`
	n := 0
	vals := [][]any{{100, 100, 10, 80, 90}, {300, 200, 30, 262, 140}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := vals[min(n, 1)]
		n++
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = fmt.Fprintf(w, page, v...)
	}))
	defer srv.Close()
	a, err := scrapeUpload(context.Background(), nil, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := scrapeUpload(context.Background(), nil, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got := uploadCopies(a, b)
	// cam.h: 200 published, 20 + 182 sent; cam.l: 100 published, 50 sent
	// (pulled half the time); audio published nothing in between.
	if len(got) != 2 || got["cam.h"] != 1.01 || got["cam.l"] != 0.5 {
		t.Fatalf("copies %v", got)
	}
}
