package roomsync

import gosync "sync"

// inbox is the queue of events for run: posting never blocks, so the
// engine's goroutine is never held up. Events of our own doing (fetch
// results, publications) are few and all posted; events from the network
// (sync Interests) are bounded (postBounded).
type inbox struct {
	mu      gosync.Mutex
	q       []any
	bounded int // events in q posted by postBounded
	sig     chan struct{}
}

func (b *inbox) init() { b.sig = make(chan struct{}, 1) }

func (b *inbox) post(ev any) {
	b.mu.Lock()
	b.q = append(b.q, ev)
	b.mu.Unlock()
	select {
	case b.sig <- struct{}{}:
	default:
	}
}

// postBounded posts ev unless limit events posted by postBounded are
// already waiting; it reports whether ev was posted. Events from strangers
// (sync Interests) go through it, so a flood never grows the queue.
func (b *inbox) postBounded(ev any, limit int) bool {
	b.mu.Lock()
	if b.bounded >= limit {
		b.mu.Unlock()
		return false
	}
	b.bounded++
	b.q = append(b.q, ev)
	b.mu.Unlock()
	select {
	case b.sig <- struct{}{}:
	default:
	}
	return true
}

func (b *inbox) drain() []any {
	b.mu.Lock()
	q := b.q
	b.q = nil
	b.bounded = 0
	b.mu.Unlock()
	return q
}
