package ratelog

import (
	"log/slog"
	"sync"
	"time"
)

// Keyed lets one event per key through per interval: a warning per
// offending prefix, so that one stranger's flood does not hide another's.
// It remembers at most Max keys (default 256); beyond, the least recently
// logged is forgotten. The zero value with Every set is ready; safe for
// concurrent use.
type Keyed struct {
	Every time.Duration
	Max   int

	mu   sync.Mutex
	keys map[string]*keyState
}

type keyState struct {
	next       time.Time
	suppressed uint64
}

// Warn logs msg at warn level on log, with "suppressed_before", when key
// has not been logged within Every.
func (k *Keyed) Warn(log *slog.Logger, key, msg string, args ...any) {
	now := time.Now()
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[string]*keyState{}
	}
	st := k.keys[key]
	if st != nil && now.Before(st.next) {
		st.suppressed++
		k.mu.Unlock()
		return
	}
	if st == nil {
		max := k.Max
		if max <= 0 {
			max = 256
		}
		if len(k.keys) >= max {
			var oldest string
			var at time.Time
			for kk, s := range k.keys {
				if oldest == "" || s.next.Before(at) {
					oldest, at = kk, s.next
				}
			}
			delete(k.keys, oldest)
		}
		st = &keyState{}
		k.keys[key] = st
	}
	more := st.suppressed
	st.suppressed, st.next = 0, now.Add(k.Every)
	k.mu.Unlock()
	if log != nil {
		log.Warn(msg, append(args, "suppressed_before", more)...)
	}
}
