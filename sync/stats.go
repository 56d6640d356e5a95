package roomsync

import (
	"maps"
	gosync "sync"
	"sync/atomic"
)

// Stats counts a group's traffic and rejections. Counters only grow.
type Stats struct {
	SyncSent    uint64 `json:"sync_sent"`   // sync Interests sent
	SyncRecv    uint64 `json:"sync_recv"`   // sync Interests received
	Updates     uint64 `json:"updates"`     // state vector updates (peer, boot, seq) learned
	Published   uint64 `json:"published"`   // own publications
	Served      uint64 `json:"served"`      // Interests for own publications answered with Data
	ServedNack  uint64 `json:"served_nack"` // ... answered with an application Nack
	Fetches     uint64 `json:"fetches"`     // Interests expressed for others' publications
	Prefetches  uint64 `json:"prefetches"`  // of which speculative (ordered gap fill)
	Verified    uint64 `json:"verified"`    // fetched publications that passed every check
	Delivered   uint64 `json:"delivered"`   // publications handed to the application
	Peers       int    `json:"peers"`       // publishers tracked
	Outstanding int64  `json:"outstanding"` // fetches and verifications in progress
	Superseded  uint64 `json:"superseded"`  // heartbeats already replaced when asked for (not a fault)
	Candidates  int    `json:"candidates"`  // names announced but not verified yet, being fetched
	Panics      uint64 `json:"panics"`      // packets whose handling panicked (recovered)

	// Rejected counts, by reason (Reason* constants), the publications and
	// announcements that changed nothing.
	Rejected map[string]uint64 `json:"rejected" metric:"label=reason"`
}

// counters is the live form of Stats.
type counters struct {
	syncSent, syncRecv, updates, published, served, servedNack atomic.Uint64
	fetches, prefetches, verified, delivered                   atomic.Uint64
	outstanding                                                atomic.Int64
	peers, candidates                                          atomic.Int64
	panics, superseded                                         atomic.Uint64

	mu       gosync.Mutex
	rejected map[string]uint64
}

func (c *counters) reject(reason string) {
	c.mu.Lock()
	if c.rejected == nil {
		c.rejected = make(map[string]uint64)
	}
	c.rejected[reason]++
	c.mu.Unlock()
}

// rejectedFor returns one reason's count.
func (c *counters) rejectedFor(reason string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rejected[reason]
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	rej := maps.Clone(c.rejected)
	c.mu.Unlock()
	if rej == nil {
		rej = map[string]uint64{}
	}
	return Stats{
		SyncSent: c.syncSent.Load(), SyncRecv: c.syncRecv.Load(), Updates: c.updates.Load(),
		Published: c.published.Load(), Served: c.served.Load(), ServedNack: c.servedNack.Load(),
		Fetches: c.fetches.Load(), Prefetches: c.prefetches.Load(), Verified: c.verified.Load(),
		Delivered: c.delivered.Load(), Peers: int(c.peers.Load()), Outstanding: c.outstanding.Load(),
		Candidates: int(c.candidates.Load()), Panics: c.panics.Load(), Superseded: c.superseded.Load(),
		Rejected: rej,
	}
}

// RejectedTotal sums Rejected.
func (s Stats) RejectedTotal() uint64 {
	var n uint64
	for _, v := range s.Rejected {
		n += v
	}
	return n
}
