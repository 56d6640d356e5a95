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

// TestKeyed: one warning per key per interval, each key on its own; the
// keys remembered are bounded.
func TestKeyed(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	k := Keyed{Every: time.Hour, Max: 2}
	for range 3 {
		k.Warn(log, "/a", "bad", "who", "/a")
		k.Warn(log, "/b", "bad", "who", "/b")
	}
	if n := strings.Count(buf.String(), "msg=bad"); n != 2 {
		t.Fatalf("%d warnings for two keys:\n%s", n, buf.String())
	}
	k.Warn(log, "/c", "bad", "who", "/c") // a third key: one forgotten
	if len(k.keys) != 2 || strings.Count(buf.String(), "msg=bad") != 3 {
		t.Fatalf("%d keys kept, log:\n%s", len(k.keys), buf.String())
	}
}
