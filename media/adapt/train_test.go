package adapt

import (
	"testing"
	"time"
)

// paced sends 8 packets of bits each, the i-th at send(i), through a
// bottleneck of rate bits/s (a FIFO) with a base delay, and returns when
// each left and arrived.
func paced(send func(i int) time.Duration, bits, rate float64) (sent, arrivals []time.Time) {
	t0 := time.Unix(1_800_000_000, 0)
	free := t0
	for i := range 8 {
		s := t0.Add(send(i))
		start := s.Add(10 * time.Millisecond) // base delay to the bottleneck
		if free.After(start) {
			start = free
		}
		free = start.Add(time.Duration(bits / rate * float64(time.Second)))
		sent = append(sent, s)
		arrivals = append(arrivals, free)
	}
	return sent, arrivals
}

// A path faster than the pace keeps up with a paced train, sent evenly
// or not; one at half the pace or less does not.
func TestKeptPace(t *testing.T) {
	const bits = 8 * 1380
	const pace = 1.5e6
	gap := time.Duration(bits / pace * float64(time.Second))
	even := func(i int) time.Duration { return time.Duration(i) * gap }
	late := func(i int) time.Duration { // the last Interest 20 ms late (a busy machine's timer)
		if i == 7 {
			return time.Duration(i)*gap + 20*time.Millisecond
		}
		return time.Duration(i) * gap
	}
	bunched := func(i int) time.Duration { // the second half sent at once
		return time.Duration(min(i, 4)) * gap
	}
	for _, c := range []struct {
		name string
		send func(int) time.Duration
		rate float64
		want bool
	}{
		{"even, path 10x the pace", even, 10 * pace, true},
		{"even, path 1.1x", even, 1.1 * pace, true},
		{"late last, path 10x", late, 10 * pace, true},
		{"bunched, path 10x", bunched, 10 * pace, true},
		{"even, path at half the pace", even, pace / 2, false},
		{"late last, path at 0.4x", late, 0.4 * pace, false},
		{"bunched, path at half", bunched, pace / 2, false},
	} {
		sent, arr := paced(c.send, bits, c.rate)
		if got := KeptPace(sent, arr); got != c.want {
			t.Errorf("%s: kept pace %v, want %v", c.name, got, c.want)
		}
	}
	if KeptPace(nil, nil) {
		t.Error("an empty train kept pace")
	}
}

// TrainRate: through a token bucket, the rate after its burst; read in a
// batch by a busy receiver at the end, the first half's rate, not the
// batch's; on a fast path, fast.
func TestTrainRate(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	const size = 1100                                           // bytes
	gap := time.Duration(size * 8 / 2e6 * float64(time.Second)) // 2 Mbit/s
	train := func(at func(i int) time.Duration) ([]time.Time, []int) {
		var arr []time.Time
		var sz []int
		for i := range 12 {
			arr = append(arr, t0.Add(at(i)))
			sz = append(sz, size)
		}
		return arr, sz
	}
	near := func(got, want float64) bool { return got > 0.95*want && got < 1.05*want }

	// A 4 KB bucket: the first 3 packets at once, then 2 Mbit/s.
	arr, sz := train(func(i int) time.Duration {
		if i < 3 {
			return time.Duration(i) * 20 * time.Microsecond
		}
		return time.Duration(i-2) * gap
	})
	if r, ok := TrainRate(arr, sz); !ok || !near(r, 2e6) {
		t.Errorf("through a bucket: %.0f kbit/s (ok %v), want ~2000", r/1000, ok)
	}

	// 2 Mbit/s, the last 5 packets read together by a busy receiver.
	arr, sz = train(func(i int) time.Duration {
		if i >= 7 {
			return 7*gap + time.Duration(i-7)*10*time.Microsecond
		}
		return time.Duration(i) * gap
	})
	if r, ok := TrainRate(arr, sz); !ok || !near(r, 2e6) {
		t.Errorf("second half read in a batch: %.0f kbit/s (ok %v), want ~2000 (the first half's)", r/1000, ok)
	}

	// A fast path: 100 Mbit/s.
	arr, sz = train(func(i int) time.Duration { return time.Duration(i) * gap / 50 })
	if r, ok := TrainRate(arr, sz); !ok || !near(r, 100e6) {
		t.Errorf("fast path: %.0f kbit/s (ok %v), want ~100000", r/1000, ok)
	}

	// All read at once: too fast to measure.
	arr, sz = train(func(int) time.Duration { return 0 })
	if _, ok := TrainRate(arr, sz); ok {
		t.Error("a train read at once was measured")
	}
}
