package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLimiter: one event per interval gets through, the rest are counted.
func TestLimiter(t *testing.T) {
	r := Limiter{Every: time.Hour}
	if ok, _ := r.Allow(); !ok {
		t.Fatal("first event suppressed")
	}
	for range 10 {
		if ok, _ := r.Allow(); ok {
			t.Fatal("event not suppressed")
		}
	}
	r.next.Store(0)
	if ok, n := r.Allow(); !ok || n != 10 {
		t.Fatalf("after interval: %v %d", ok, n)
	}
}

func TestWarn(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	r := Limiter{Every: time.Hour}
	for range 3 {
		r.Warn(log, "bad thing", "from", "x")
	}
	r.Warn(nil, "no logger") // counted, not logged, no panic
	if n := strings.Count(buf.String(), "bad thing"); n != 1 {
		t.Fatalf("logged %d times:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), "suppressed_before=0") {
		t.Fatalf("log line: %s", buf.String())
	}
	r.next.Store(0)
	buf.Reset()
	r.Warn(log, "bad thing")
	if !strings.Contains(buf.String(), "suppressed_before=3") {
		t.Fatalf("log line: %s", buf.String())
	}
}
