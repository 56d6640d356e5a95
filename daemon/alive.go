package daemon

import (
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
)

// aliveEvery is how often a remote stream tells the roster that its
// owner's verified media still arrive (roster.Table.Alive): heartbeats
// share the owner's uplink with its media, and a member whose stream
// arrives must not expire because its heartbeats were lost in a queue.
const aliveEvery = time.Second

// aliveTicker rate-limits those reports for one stream. due is safe from
// any goroutine.
type aliveTicker struct{ last atomic.Int64 }

func (a *aliveTicker) due(now time.Time) bool {
	n, l := now.UnixNano(), a.last.Load()
	return n-l >= int64(aliveEvery) && a.last.CompareAndSwap(l, n)
}

// mediaAlive reports that a verified media packet of owner arrived at now
// (at most once per aliveEvery per ticker).
func (d *Daemon) mediaAlive(a *aliveTicker, owner enc.Name, now time.Time) {
	if d.part == nil || !a.due(now) {
		return
	}
	d.part.Table().Alive(owner, now)
}
