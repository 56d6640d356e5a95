package media

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/peets/peets/internal/ratelog"
)

// recovered is deferred at each boundary where a packet from the network
// is handled (an Interest handler, a job of the producer's worker, one
// event of a fetcher, one delivered packet): a panic while handling that
// one packet is counted in n and logged at warn level (rate-limited by
// lim), then (if not nil) after runs, and the process goes on. It is the
// last line of defence; the handlers check everything they decode.
func recovered(n *atomic.Uint64, lim *ratelog.Limiter, log *slog.Logger, where string, after func()) {
	if r := recover(); r != nil {
		n.Add(1)
		lim.Warn(log, "recovered from a panic", "where", where, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		if after != nil {
			after()
		}
	}
}
