package roomsync

// chain puts the ordered publications of one publisher boot back in order.
// Every publication (ordered or not) names, in its signed "prev" field, the
// seq of the publisher's previous ordered publication; so the ordered ones
// form a singly linked list from the newest back to the first (prev = 0).
//
// A chain is "based" once it knows where delivery starts: at the beginning
// of the list, or, for a publisher first heard of late, `history` messages
// back from the newest one it knew then. It then delivers every message whose
// prev is the last delivered one, and asks for the missing links.
//
// chain does no I/O and is owned by the group's goroutine.
type chain struct {
	history  int
	based    bool
	head     uint64               // newest ordered seq known from verified data
	done     uint64               // last delivered (or skipped) ordered seq
	pending  map[uint64]chainItem // fetched, verified, not yet delivered
	byPrev   map[uint64]uint64    // prev -> seq, for pending
	unorderd map[uint64]bool      // seqs known to be unordered (not to prefetch)
}

type chainItem struct {
	prev uint64
	pub  Pub
}

// maxPending bounds the undelivered messages kept per publisher boot.
const maxPending = 1024

func newChain(history int) *chain {
	return &chain{
		history:  history,
		pending:  make(map[uint64]chainItem),
		byPrev:   make(map[uint64]uint64),
		unorderd: make(map[uint64]bool),
	}
}

// add records a verified publication of seq whose prev field is prev.
// It reports false when an ordered publication was dropped because too many
// are pending.
func (c *chain) add(seq, prev uint64, ordered bool, pub Pub) bool {
	c.head = max(c.head, prev)
	if !ordered {
		if seq > c.done && seq < c.head {
			c.unorderd[seq] = true
		}
		return true
	}
	c.head = max(c.head, seq)
	if c.based && seq <= c.done {
		return true // delivered already
	}
	if _, ok := c.pending[seq]; ok {
		return true
	}
	if len(c.pending) >= maxPending {
		return false
	}
	c.pending[seq] = chainItem{prev: prev, pub: pub}
	c.byPrev[prev] = seq
	return true
}

// known reports whether seq need not be fetched for the chain.
func (c *chain) known(seq uint64) bool {
	if c.based && seq <= c.done {
		return true
	}
	_, ok := c.pending[seq]
	return ok || c.unorderd[seq]
}

// resolve delivers what can be delivered, in order, and returns the seqs the
// chain needs next (each a verified pointer to an existing ordered message).
func (c *chain) resolve() (out []Pub, need []uint64) {
	if !c.based {
		x, n := c.head, 0
		for x != 0 {
			it, ok := c.pending[x]
			if !ok {
				break
			}
			n++
			if n >= c.history {
				c.base(it.prev)
				break
			}
			x = it.prev
		}
		switch {
		case c.based:
		case x == 0:
			c.base(0)
		case c.history <= 0:
			c.base(c.head)
		default:
			return nil, []uint64{x}
		}
	}
	for {
		seq, ok := c.byPrev[c.done]
		if !ok {
			break
		}
		it := c.pending[seq]
		delete(c.pending, seq)
		delete(c.byPrev, c.done)
		c.done = seq
		out = append(out, it.pub)
	}
	c.prune()
	if c.head > c.done {
		if _, ok := c.pending[c.head]; !ok {
			need = append(need, c.head)
		}
	}
	for _, it := range c.pending {
		if it.prev > c.done {
			if _, ok := c.pending[it.prev]; !ok {
				need = append(need, it.prev)
			}
		}
	}
	return out, need
}

// skip gives up on seq: delivery goes on after it. Returns whether anything
// was skipped (seq had not been delivered).
func (c *chain) skip(seq uint64) bool {
	if !c.based {
		c.base(seq)
		return false
	}
	if seq <= c.done {
		return false
	}
	c.done = seq
	c.prune()
	return true
}

// base starts delivery after seq.
func (c *chain) base(seq uint64) {
	c.based = true
	c.done = seq
	c.prune()
}

// prune drops state at or below done.
func (c *chain) prune() {
	for seq, it := range c.pending {
		if seq <= c.done {
			delete(c.pending, seq)
			if c.byPrev[it.prev] == seq {
				delete(c.byPrev, it.prev)
			}
		}
	}
	for seq := range c.unorderd {
		if seq <= c.done {
			delete(c.unorderd, seq)
		}
	}
}
