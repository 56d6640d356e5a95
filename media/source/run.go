package source

import (
	"context"
	"math"
	"sync"
	"time"
)

// defaultMaxLag is how far a paced stream may fall behind its schedule (a slow out
// callback, a suspended process) before it stops trying to catch up: the
// schedule is moved forward and the RTP timestamps jump by the lost time,
// as with a live capture, instead of bursting the backlog.
const defaultMaxLag = 500 * time.Millisecond

// Run emits the packets of every stream, paced at Options.Speed times real
// time per stream (video by the IVF timestamps, audio by each Opus packet's
// duration), until the files end (when not looping) or ctx is done. The
// streams run concurrently but out is never called concurrently; it should
// return quickly, since it delays the streams. Run returns nil at the end
// of the media and ctx.Err() when ctx is done. Run may be called again
// after it returned: the streams continue where they stopped, with
// continuous sequence numbers and timestamps. A concurrent Run fails with
// ErrRunning.
func (s *Source) Run(ctx context.Context, out func(Packet)) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	so := &serialOut{out: out}
	tracks := s.tracks()
	errs := make([]error, len(tracks))
	var wg sync.WaitGroup
	for i, t := range tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.play(ctx, t, so)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// play paces one track until its end (not looping) or ctx is done.
func (s *Source) play(ctx context.Context, t *track, so *serialOut) error {
	paced := !math.IsInf(s.opts.Speed, 1)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	base := time.Now()
	var ticks uint64 // media time sent since base, in clock ticks
	loops := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if t.next >= len(t.frames) {
			if !s.opts.Loop {
				return nil
			}
			t.next = 0
			loops++
			s.log.Debug("media source loop", "stream", t.info.ID, "loop", loops)
		}
		if paced {
			due := base.Add(s.scale(samplesToDuration(ticks, t.info.ClockRate)))
			wait := time.Until(due)
			if wait > 0 {
				timer.Reset(wait)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-timer.C:
				}
			} else if lag := -wait; lag > s.maxLag {
				base = base.Add(lag)
				skip := uint32(lag.Seconds() * s.opts.Speed * float64(t.info.ClockRate))
				t.pk.SkipSamples(skip)
				s.log.Warn("media source fell behind; skipping", "stream", t.info.ID, "lag", lag)
			}
		}
		if t.info.Kind == StreamVideo && t.keyReq.CompareAndSwap(true, false) {
			if k := t.keyframeFrom(t.next, s.opts.Loop); k != t.next {
				s.log.Debug("media source keyframe request", "from", t.next, "to", k)
				t.next = k
			}
		}
		f := t.frames[t.next]
		t.next++
		so.emit(t.packetize(f, time.Now(), s.opts.Talk))
		ticks += uint64(f.samples)
	}
}

// scale converts media time to wall time at the configured speed.
func (s *Source) scale(d time.Duration) time.Duration {
	if s.opts.Speed == 1 {
		return d
	}
	return time.Duration(float64(d) / s.opts.Speed)
}
