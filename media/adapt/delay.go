package adapt

import "time"

// DelayEstimator measures queueing delay from packet arrivals.
//
// Each packet gives a relative one-way delay: its arrival time minus its
// capture time (its RTP timestamp on the stream's clock), which is the
// path's delay plus an unknown constant (the two clocks' offset). The
// smallest value seen over MinWindow is taken as the empty path; what a
// packet has above it is queueing. Per frame only the first packet counts
// (later ones wait behind the sender's own pacing, which is no queue of the
// path), and the estimate is smoothed over a few frames.
//
// A new stream (another layer, a publisher restart) is another clock: call
// Reset.
type DelayEstimator struct {
	// MinWindow is how long the smallest relative delay is remembered
	// (default 10 s): longer than any congestion episode worth reacting
	// to, short enough to follow a route change.
	MinWindow time.Duration

	clock    float64 // RTP ticks per second
	started  bool
	firstTS  uint32    // RTP timestamp of the first packet (unwrapped from here)
	base     time.Time // its arrival
	lastTS   int64     // unwrapped timestamp of the newest frame seen
	mins     []sample  // increasing relative delays, oldest first (monotonic deque)
	smoothed time.Duration
	haveOne  bool
}

type sample struct {
	at  time.Time
	rel time.Duration
}

// Reset starts over on a stream of the given RTP clock rate.
func (e *DelayEstimator) Reset(clockRate uint32) {
	*e = DelayEstimator{MinWindow: e.MinWindow, clock: float64(clockRate)}
}

// Packet records one packet that arrived at at, with RTP timestamp ts. It
// returns the smoothed queueing delay.
func (e *DelayEstimator) Packet(at time.Time, ts uint32) time.Duration {
	if e.clock <= 0 {
		return 0
	}
	if !e.started {
		e.started, e.firstTS, e.base, e.lastTS = true, ts, at, 0
	}
	// Unwrap the timestamp relative to the first one (RTP timestamps wrap
	// after 13 h at 90 kHz; a frame is at most a few seconds from the last).
	u := e.lastTS + int64(int32(ts-uint32(e.lastTS+int64(e.firstTS))))
	if e.haveOne && u <= e.lastTS {
		return e.smoothed // a later packet of a frame seen, or reordered
	}
	e.lastTS = u
	capture := time.Duration(float64(u) / e.clock * float64(time.Second))
	rel := at.Sub(e.base) - capture
	// monotonic deque of minimums over MinWindow
	for len(e.mins) > 0 && e.mins[len(e.mins)-1].rel >= rel {
		e.mins = e.mins[:len(e.mins)-1]
	}
	e.mins = append(e.mins, sample{at: at, rel: rel})
	w := e.MinWindow
	if w <= 0 {
		w = 10 * time.Second
	}
	for len(e.mins) > 1 && at.Sub(e.mins[0].at) > w {
		e.mins = e.mins[1:]
	}
	q := max(rel-e.mins[0].rel, 0)
	if !e.haveOne {
		e.smoothed, e.haveOne = q, true
	} else {
		e.smoothed += (q - e.smoothed) / 4 // ~4 frames
	}
	return e.smoothed
}

// Queue returns the current smoothed queueing delay.
func (e *DelayEstimator) Queue() time.Duration { return e.smoothed }
