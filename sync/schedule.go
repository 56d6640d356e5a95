package roomsync

import (
	"fmt"
	"math/rand/v2"
	gosync "sync"
	"time"

	"github.com/robfig/cron/v3"
)

// Heartbeat timer defaults.
const (
	DefaultInterval = time.Second
	DefaultJitter   = 0.25
)

// JitterSchedule is a robfig/cron Schedule that fires at a mean interval with
// a uniform random jitter: Next(t) is uniform in [t+i-d, t+i+d], d = jitter*i.
// Randomized timers keep the members of a room from heartbeating in lockstep.
// It is safe for concurrent use.
type JitterSchedule struct {
	interval time.Duration
	spread   time.Duration // d

	mu  gosync.Mutex
	rng *rand.Rand
}

var _ cron.Schedule = (*JitterSchedule)(nil)

// NewJitterSchedule makes a schedule of mean interval and jitter a fraction
// of it in [0, 1). rng may be nil (a randomly seeded generator is used); pass
// rand.New(rand.NewPCG(seed, seed)) for a reproducible sequence.
func NewJitterSchedule(interval time.Duration, jitter float64, rng *rand.Rand) (*JitterSchedule, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("%w: interval %v", ErrConfig, interval)
	}
	if jitter < 0 || jitter >= 1 {
		return nil, fmt.Errorf("%w: jitter %v out of [0, 1)", ErrConfig, jitter)
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &JitterSchedule{
		interval: interval,
		spread:   time.Duration(float64(interval) * jitter),
		rng:      rng,
	}, nil
}

// Interval is the mean interval.
func (s *JitterSchedule) Interval() time.Duration { return s.interval }

// Bounds returns the shortest and the longest delay Next may add.
func (s *JitterSchedule) Bounds() (lo, hi time.Duration) {
	return s.interval - s.spread, s.interval + s.spread
}

// Delay draws one delay in Bounds.
func (s *JitterSchedule) Delay() time.Duration {
	if s.spread == 0 {
		return s.interval
	}
	s.mu.Lock()
	d := s.rng.Int64N(int64(2*s.spread) + 1)
	s.mu.Unlock()
	return s.interval - s.spread + time.Duration(d)
}

// Next implements cron.Schedule: t plus one random delay.
func (s *JitterSchedule) Next(t time.Time) time.Time {
	return t.Add(s.Delay())
}
