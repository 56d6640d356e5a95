package roomsync

import gosync "sync"

// inbox is an unbounded queue of events for run: posting never blocks, so
// the engine and SVS goroutines are never held up.
type inbox struct {
	mu  gosync.Mutex
	q   []any
	sig chan struct{}
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

func (b *inbox) drain() []any {
	b.mu.Lock()
	q := b.q
	b.q = nil
	b.mu.Unlock()
	return q
}
