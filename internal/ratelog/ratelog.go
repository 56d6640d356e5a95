// Package ratelog keeps logs of bad input readable: whatever a stranger
// sends (malformed packets, forged vectors, bad signatures), the daemon
// counts every event and logs it at warn level at most once per interval,
// with the number of events it did not log in between.
package ratelog

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// DefaultEvery is the interval the daemon's components use.
const DefaultEvery = 5 * time.Second

// Limiter lets one event through per interval and counts the others. It is
// lock-free and allocation-free; the zero value with Every unset lets every
// event through. Safe for concurrent use.
type Limiter struct {
	Every      time.Duration
	next       atomic.Int64 // unix nanos before which events are suppressed
	suppressed atomic.Uint64
}

// Allow reports whether to log now and how many events were suppressed
// since the last one that was let through.
func (r *Limiter) Allow() (ok bool, suppressed uint64) {
	now := time.Now().UnixNano()
	n := r.next.Load()
	if now < n || !r.next.CompareAndSwap(n, now+int64(r.Every)) {
		r.suppressed.Add(1)
		return false, 0
	}
	return true, r.suppressed.Swap(0)
}

// Warn logs msg at warn level on log (if not nil) when l allows it, adding
// the count of the events suppressed before it as "suppressed_before".
func (r *Limiter) Warn(log *slog.Logger, msg string, args ...any) {
	ok, more := r.Allow()
	if !ok || log == nil {
		return
	}
	log.Warn(msg, append(args, "suppressed_before", more)...)
}
