package roomsync

import (
	"slices"
	"testing"
)

func seqs(ps []Pub) []uint64 {
	var out []uint64
	for _, p := range ps {
		out = append(out, p.Seq)
	}
	return out
}

// feed adds a publication and resolves; it returns the delivered seqs and
// the needed ones.
func feed(c *chain, seq, prev uint64, ordered bool) ([]uint64, []uint64) {
	c.add(seq, prev, ordered, Pub{Seq: seq})
	out, need := c.resolve()
	slices.Sort(need)
	return seqs(out), slices.Compact(need)
}

func TestChainInOrder(t *testing.T) {
	c := newChain(10)
	// First contact: a heartbeat that has seen no chat yet.
	if out, need := feed(c, 1, 0, false); len(out) != 0 || len(need) != 0 || !c.based {
		t.Fatalf("hb: %v %v", out, need)
	}
	// Chat 2, 3 in order, heartbeat 4 (prev 3), chat 5.
	if out, _ := feed(c, 2, 0, true); !slices.Equal(out, []uint64{2}) {
		t.Fatalf("2: %v", out)
	}
	if out, _ := feed(c, 3, 2, true); !slices.Equal(out, []uint64{3}) {
		t.Fatalf("3: %v", out)
	}
	if out, need := feed(c, 4, 3, false); len(out) != 0 || len(need) != 0 {
		t.Fatalf("4: %v %v", out, need)
	}
	if out, _ := feed(c, 5, 3, true); !slices.Equal(out, []uint64{5}) {
		t.Fatalf("5: %v", out)
	}
	// Duplicates change nothing.
	if out, need := feed(c, 3, 2, true); len(out) != 0 || len(need) != 0 {
		t.Fatalf("dup: %v %v", out, need)
	}
}

func TestChainGapFilledBackwards(t *testing.T) {
	c := newChain(10)
	feed(c, 1, 0, false)
	// Only the newest is fetched first (latest-only): heartbeat 9 says the
	// newest chat is 8.
	if out, need := feed(c, 9, 8, false); len(out) != 0 || !slices.Equal(need, []uint64{8}) {
		t.Fatalf("9: %v %v", out, need)
	}
	if out, need := feed(c, 8, 6, true); len(out) != 0 || !slices.Equal(need, []uint64{6}) {
		t.Fatalf("8: %v %v", out, need)
	}
	if out, need := feed(c, 6, 2, true); len(out) != 0 || !slices.Equal(need, []uint64{2}) {
		t.Fatalf("6: %v %v", out, need)
	}
	if out, need := feed(c, 2, 0, true); !slices.Equal(out, []uint64{2, 6, 8}) || len(need) != 0 {
		t.Fatalf("2: %v %v", out, need)
	}
	if c.done != 8 || len(c.pending) != 0 {
		t.Fatalf("state %+v", c)
	}
}

func TestChainHistoryCut(t *testing.T) {
	// A late joiner first hears of a publisher whose chat is 2, 4, 6, 8, 10:
	// it shows the last 3 only.
	c := newChain(3)
	if out, need := feed(c, 11, 10, false); len(out) != 0 || !slices.Equal(need, []uint64{10}) {
		t.Fatalf("11: %v %v", out, need)
	}
	feed(c, 10, 8, true)
	feed(c, 8, 6, true)
	out, need := feed(c, 6, 4, true)
	if !slices.Equal(out, []uint64{6, 8, 10}) || len(need) != 0 {
		t.Fatalf("cut: %v %v", out, need)
	}
	// History 0 (negative config): nothing from before the first contact.
	c = newChain(-1)
	if out, need := feed(c, 11, 10, false); len(out) != 0 || len(need) != 0 {
		t.Fatalf("no history: %v %v", out, need)
	}
	if out, _ := feed(c, 12, 10, true); !slices.Equal(out, []uint64{12}) {
		t.Fatalf("after first contact: %v", out)
	}
	// The beginning of the chain bases it too.
	c = newChain(10)
	feed(c, 5, 3, false)
	feed(c, 3, 1, true)
	if out, _ := feed(c, 1, 0, true); !slices.Equal(out, []uint64{1, 3}) {
		t.Fatalf("from start: %v", out)
	}
}

func TestChainSkipLost(t *testing.T) {
	c := newChain(10)
	feed(c, 1, 0, false)
	feed(c, 2, 0, true)
	// 3 and 4 are chat; only 5 (prev 4) arrives, 4 is lost for good.
	if _, need := feed(c, 5, 4, true); !slices.Equal(need, []uint64{4}) {
		t.Fatalf("need %v", need)
	}
	if !c.skip(4) {
		t.Fatal("skip 4")
	}
	out, need := c.resolve()
	if !slices.Equal(seqs(out), []uint64{5}) || len(need) != 0 {
		t.Fatalf("after skip: %v %v", seqs(out), need)
	}
	if c.skip(3) {
		t.Fatal("skipping below done")
	}
}

func TestChainBounded(t *testing.T) {
	c := newChain(10)
	feed(c, 1, 0, false)
	// A flood of unchained ordered messages is bounded.
	for s := uint64(10); s < 10+maxPending+10; s++ {
		c.add(s, s-1, true, Pub{Seq: s})
	}
	if len(c.pending) > maxPending {
		t.Fatalf("%d pending", len(c.pending))
	}
	// Heartbeats far ahead of the chat are not remembered.
	c = newChain(10)
	for s := uint64(1); s < 1000; s++ {
		feed(c, s, 0, false)
	}
	if len(c.unorderd) != 0 {
		t.Fatalf("%d unordered remembered", len(c.unorderd))
	}
}
