package roomsync

import (
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestJitterScheduleBounds(t *testing.T) {
	const interval = time.Second
	s, err := NewJitterSchedule(interval, 0.25, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := s.Bounds()
	if lo != 750*time.Millisecond || hi != 1250*time.Millisecond {
		t.Fatalf("bounds %v %v", lo, hi)
	}
	const n = 20000
	base := time.Unix(1700000000, 0)
	var sum time.Duration
	bins := make([]int, 10)
	distinct := map[time.Duration]bool{}
	for range n {
		d := s.Next(base).Sub(base)
		if d < lo || d > hi {
			t.Fatalf("delay %v out of [%v, %v]", d, lo, hi)
		}
		sum += d
		distinct[d] = true
		b := int(float64(d-lo) / float64(hi-lo) * 10)
		bins[min(b, 9)]++
	}
	mean := sum / n
	if mean < interval-5*time.Millisecond || mean > interval+5*time.Millisecond {
		t.Fatalf("mean %v, want ~%v", mean, interval)
	}
	// Uniform: every tenth of the range gets 10% +- 1.5% of the draws (the
	// seed is fixed, so this is deterministic).
	for i, c := range bins {
		if c < n/10*85/100 || c > n/10*115/100 {
			t.Fatalf("bin %d has %d of %d: %v", i, c, n, bins)
		}
	}
	if len(distinct) < n*9/10 {
		t.Fatalf("only %d distinct delays of %d", len(distinct), n)
	}
}

func TestJitterScheduleSeeds(t *testing.T) {
	draw := func(seed uint64) []time.Duration {
		s, _ := NewJitterSchedule(100*time.Millisecond, 0.5, rand.New(rand.NewPCG(seed, seed)))
		var out []time.Duration
		for range 8 {
			out = append(out, s.Delay())
		}
		return out
	}
	a, b, c := draw(7), draw(7), draw(8)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different sequence")
		}
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("different seeds, same sequence")
	}
	s, _ := NewJitterSchedule(time.Second, 0, nil)
	if d := s.Delay(); d != time.Second {
		t.Fatalf("no jitter: %v", d)
	}
	for _, bad := range []struct {
		i time.Duration
		j float64
	}{{0, 0.1}, {time.Second, -0.1}, {time.Second, 1}} {
		if _, err := NewJitterSchedule(bad.i, bad.j, nil); !errors.Is(err, ErrConfig) {
			t.Fatalf("%v %v: %v", bad.i, bad.j, err)
		}
	}
}

// TestJitterScheduleDrivesCron checks that the schedule works as a
// robfig/cron Schedule with sub-second delays.
func TestJitterScheduleDrivesCron(t *testing.T) {
	s, _ := NewJitterSchedule(20*time.Millisecond, 0.25, rand.New(rand.NewPCG(3, 4)))
	c := cron.New()
	var n atomic.Int32
	c.Schedule(s, cron.FuncJob(func() { n.Add(1) }))
	start := time.Now()
	c.Start()
	// At least 5 ticks, however loaded the machine (bounded wait)...
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	<-c.Stop().Done()
	el := time.Since(start)
	got := int(n.Load())
	if got < 5 {
		t.Fatalf("%d ticks in %v", got, el)
	}
	// ...and never faster than the shortest interval allows (15 ms).
	if most := int(el/(15*time.Millisecond)) + 1; got > most {
		t.Fatalf("%d ticks in %v: more than %d", got, el, most)
	}
}
