package forwarder

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"

	"github.com/peets/peets/internal/ratelog"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
)

// No packet ends the process. Everything a packet from the network or a
// local app reaches is validated first (validate.go), and the handlers that
// decode what packets carry check it; but a panic in any of them, ours or
// ndnd's, would end the process, every participant's call with it. So each
// packet's handling is also run under a recover, at each boundary where a
// packet enters code: the Interest handlers and Express callbacks of the
// engine a Conn hands out (guardedEngine), and the per-frame work of the
// app relays, the UDP guard, the TCP links and the stream face. A recovered
// panic drops that packet, is counted (Stats.HandlerPanics,
// Stats.FramePanics) and logged at warn level, rate-limited, with the
// packet's name (or first bytes) and the first frames of the stack. It is a
// last line of defence, not a substitute for validation: each one is a bug
// to fix.

// panicCounter counts the panics recovered at one kind of boundary and
// rate-limits their logs.
type panicCounter struct {
	n   atomic.Uint64
	lim ratelog.Limiter
}

// stackFrames is how many frames of the panicking stack are logged.
const stackFrames = 6

// recoverName must be deferred directly: it recovers a panic of the
// handling of the packet named name, counts it and logs it.
func (p *panicCounter) recoverName(log *slog.Logger, where string, name enc.Name) {
	if r := recover(); r != nil {
		p.note(log, where, r, "name", name.String())
	}
}

// recoverFrame must be deferred directly: it recovers a panic of the
// handling of frame, counts it and logs it.
func (p *panicCounter) recoverFrame(log *slog.Logger, where string, frame []byte) {
	if r := recover(); r != nil {
		p.note(log, where, r, "frame", frameSummary(frame))
	}
}

// recoverTask must be deferred directly: it recovers a panic of a task
// posted to the engine.
func (p *panicCounter) recoverTask(log *slog.Logger, where string) {
	if r := recover(); r != nil {
		p.note(log, where, r)
	}
}

func (p *panicCounter) note(log *slog.Logger, where string, r any, args ...any) {
	n := p.n.Add(1)
	p.lim.Warn(log, "recovered a panic while handling a packet; packet dropped",
		append(args, "where", where, "panic", fmt.Sprint(r), "stack", panicStack(stackFrames), "total", n)...)
}

// panicStack describes the first n frames of the panicking goroutine's
// stack below the runtime's panic machinery, from a deferred function.
func panicStack(n int) string {
	pcs := make([]uintptr, 64)
	k := runtime.Callers(3, pcs) // Callers, panicStack, note
	frames := runtime.CallersFrames(pcs[:k])
	var b strings.Builder
	started := false
	for count := 0; count < n; {
		f, more := frames.Next()
		// skip the recover calls and the runtime's panic frames above the
		// function that panicked
		if !started && (strings.HasPrefix(f.Function, "runtime.") || strings.Contains(f.Function, ".(*panicCounter).")) {
			if !more {
				break
			}
			continue
		}
		started = true
		if b.Len() > 0 {
			b.WriteString(" < ")
		}
		fmt.Fprintf(&b, "%s (%s:%d)", f.Function, shortFile(f.File), f.Line)
		count++
		if !more {
			break
		}
	}
	return b.String()
}

// shortFile keeps the last two elements of a source path.
func shortFile(f string) string {
	if i := strings.LastIndexByte(f, '/'); i > 0 {
		if j := strings.LastIndexByte(f[:i], '/'); j >= 0 {
			return f[j+1:]
		}
	}
	return f
}

// guardedEngine is the engine a Conn hands out: the Interest handlers
// attached through it, the callbacks of the Interests expressed through it
// and the tasks posted to it run under a recover (see above). Everything
// else is the engine's.
type guardedEngine struct {
	ndn.Engine
	log    *slog.Logger
	panics *panicCounter
}

var _ ndn.Engine = (*guardedEngine)(nil)

// EngineTrait implements ndn.Engine: code that asks for the engine (ndnd's
// object client, sync) gets the guarded one.
func (g *guardedEngine) EngineTrait() ndn.Engine { return g }

// AttachHandler implements ndn.Engine.
func (g *guardedEngine) AttachHandler(prefix enc.Name, h ndn.InterestHandler) error {
	if h == nil {
		return g.Engine.AttachHandler(prefix, h)
	}
	return g.Engine.AttachHandler(prefix, func(a ndn.InterestHandlerArgs) {
		defer g.panics.recoverName(g.log, "Interest handler", interestNameOf(a.Interest))
		h(a)
	})
}

// Express implements ndn.Engine.
func (g *guardedEngine) Express(i *ndn.EncodedInterest, cb ndn.ExpressCallbackFunc) error {
	if cb == nil || i == nil {
		return g.Engine.Express(i, cb)
	}
	return g.Engine.Express(i, func(a ndn.ExpressCallbackArgs) {
		defer g.panics.recoverName(g.log, "Express callback", i.FinalName)
		cb(a)
	})
}

// Post implements ndn.Engine.
func (g *guardedEngine) Post(task func()) {
	if task == nil {
		g.Engine.Post(task)
		return
	}
	g.Engine.Post(func() {
		defer g.panics.recoverTask(g.log, "engine task")
		task()
	})
}

// interestNameOf is the name of i, or nil.
func interestNameOf(i ndn.Interest) enc.Name {
	if i == nil {
		return nil
	}
	return i.Name()
}
