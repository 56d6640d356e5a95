package roster

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/peets/peets/daemon/forwarder"
	roomsync "github.com/peets/peets/sync"
	"github.com/peets/peets/sync/synctest"
)

func benchConnect(t *testing.T) func(context.Context) (roomsync.Conn, func(), error) {
	return func(context.Context) (roomsync.Conn, func(), error) {
		return synctest.Embedded(t), func() {}, nil
	}
}

// TestBenchQuick runs the bench at small scale and fast heartbeats.
func TestBenchQuick(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Bench(ctx, BenchConfig{
		Members: 5, Connect: benchConnect(t), Room: newRoom(),
		Interval: 100 * time.Millisecond, Steady: 500 * time.Millisecond, LateJoins: 2,
		Logger: synctest.Logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s", b)
	if res.Converge.N != 5 || res.JoinSeen.N != 10 || res.Bye.N != 10 || res.Crash.N != 4 {
		t.Fatalf("samples: %+v", res)
	}
	// A clean room has no rejection. (A publisher serves only its two
	// newest heartbeats; a fetch slower than two intervals asks for a
	// superseded one, whose Nack names the newest: sync counts it as
	// superseded, not as a fault.)
	if len(res.RejectedBy) != 0 {
		t.Errorf("rejections in a clean room: %v", res.RejectedBy)
	}
	// Expiry is K = 3 of the 100 ms intervals; the bound is loose on
	// purpose (a correctness check, not a speed test: the machine may be
	// loaded). `peets bench roster` measures the figure.
	if res.Crash.Max > 2000 {
		t.Fatalf("crash detection %v ms", res.Crash.Max)
	}
}

// TestBenchDefaults measures at the default timers, for the report: run with
// PEETS_BENCH=5,50 (member counts); PEETS_BENCH_EXT=1 puts the members on an
// external `ndnd fw` (one forwarding thread) instead of the embedded one.
func TestBenchDefaults(t *testing.T) {
	env := os.Getenv("PEETS_BENCH")
	if env == "" {
		t.Skip("set PEETS_BENCH=5,50")
	}
	connect := benchConnect(t)
	if os.Getenv("PEETS_BENCH_EXT") != "" {
		sock := synctest.External(t)
		connect = func(ctx context.Context) (roomsync.Conn, func(), error) {
			c, err := forwarder.Open(ctx, forwarder.Options{URI: "unix://" + sock, Logger: synctest.Logger})
			if err != nil {
				return nil, nil, err
			}
			return c, func() { _ = c.Close() }, nil
		}
	}
	for _, f := range splitComma(env) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		res, err := Bench(ctx, BenchConfig{Members: n, Connect: connect, Room: newRoom(), Logger: synctest.Logger})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res)
		t.Logf("members=%d %s", n, b)
	}
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
