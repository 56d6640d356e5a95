package roster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
	roomsync "github.com/peets/peets/sync"
)

// BenchConfig configures Bench.
type BenchConfig struct {
	// Members is the room size (>= 2).
	Members int
	// Connect opens one forwarder connection per member (each member needs a
	// face of its own, as separate processes would have); closeFn is called
	// when the member is done.
	Connect func(ctx context.Context) (conn roomsync.Conn, closeFn func(), err error)
	// Room is the room id (default "bench-<unix ms>").
	Room string
	// Interval, Jitter, ExpireAfter: see Config (defaults 1 s, 0.25, 3).
	Interval    time.Duration
	Jitter      float64
	ExpireAfter int
	// Steady is how long traffic is measured with the room idle (default 3 s).
	Steady time.Duration
	// LateJoins is how many times one more member joins, then leaves with a
	// bye (default 3).
	LateJoins int
	Logger    *slog.Logger
}

// Dist summarizes samples, in milliseconds.
type Dist struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	Max float64 `json:"max_ms"`
}

func dist(samples []time.Duration) Dist {
	if len(samples) == 0 {
		return Dist{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Dist{N: len(s), P50: ms(s[len(s)/2]), Max: ms(s[len(s)-1])}
}

// BenchResult is what Bench measured. Rates are per member per second
// during the idle phase.
type BenchResult struct {
	Members    int     `json:"members"`
	IntervalMs float64 `json:"interval_ms"`
	Jitter     float64 `json:"jitter"`
	ExpireK    int     `json:"expire_after"`

	// Converge: from a member's Join until it sees all the others, with all
	// members joining at once.
	Converge Dist `json:"converge"`
	// JoinSeen: from a late joiner's Join until each member sees it.
	JoinSeen Dist `json:"join_seen"`
	// LateLearn: from a late joiner's Join until it sees every member.
	LateLearn Dist `json:"late_learn"`
	// Bye: from Leave until each member dropped the leaver.
	Bye Dist `json:"bye"`
	// Crash: from a silent stop (no bye) until each member dropped it.
	Crash Dist `json:"crash"`

	SyncSentPerSec   float64 `json:"sync_sent_per_s"`  // sync Interests sent
	SyncRecvPerSec   float64 `json:"sync_recv_per_s"`  // sync Interests received
	HeartbeatsPerSec float64 `json:"heartbeats_per_s"` // own heartbeats published
	FetchesPerSec    float64 `json:"fetches_per_s"`    // Interests for others' publications
	ServedPerSec     float64 `json:"served_per_s"`     // Data answered for own publications
	Rejected         uint64  `json:"rejected"`         // anything rejected (should be 0)
	// RejectedBy splits Rejected by layer and reason ("sync/timeout",
	// "roster/stale"...).
	RejectedBy map[string]uint64 `json:"rejected_by,omitempty"`
	DurationS  float64           `json:"duration_s"`
}

// benchMember is one member of the bench room.
type benchMember struct {
	p      *Participant
	close  func()
	cancel context.CancelFunc
	start  time.Time

	mu     sync.Mutex
	joined map[string]time.Time
	left   map[string]time.Time
	done   chan struct{}
}

func (m *benchMember) record(ctx context.Context) {
	defer close(m.done)
	for ev := range m.p.Table().Subscribe(ctx) {
		key := ev.Member.Key()
		m.mu.Lock()
		switch ev.Type {
		case EventJoin:
			if _, ok := m.joined[key]; !ok {
				m.joined[key] = ev.Time
			}
		case EventLeave:
			m.left[key] = ev.Time
		}
		m.mu.Unlock()
	}
}

func (m *benchMember) joinedAt(key string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.joined[key]
	return t, ok
}

func (m *benchMember) leftAt(key string) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.left[key]
	return t, ok
}

// Bench runs a room of cfg.Members participants in this process and
// measures convergence, join and leave detection and the steady traffic.
func Bench(ctx context.Context, cfg BenchConfig) (BenchResult, error) {
	if cfg.Members < 2 || cfg.Connect == nil {
		return BenchResult{}, fmt.Errorf("%w: bench needs Members >= 2 and Connect", ErrConfig)
	}
	if cfg.Room == "" {
		cfg.Room = fmt.Sprintf("bench-%d", time.Now().UnixMilli())
	}
	if cfg.Interval == 0 {
		cfg.Interval = roomsync.DefaultInterval
	}
	if cfg.Jitter == 0 {
		cfg.Jitter = roomsync.DefaultJitter
	}
	if cfg.ExpireAfter == 0 {
		cfg.ExpireAfter = DefaultExpireAfter
	}
	if cfg.Steady == 0 {
		cfg.Steady = 3 * time.Second
	}
	if cfg.LateJoins == 0 {
		cfg.LateJoins = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	res := BenchResult{Members: cfg.Members, IntervalMs: float64(cfg.Interval.Microseconds()) / 1000,
		Jitter: cfg.Jitter, ExpireK: cfg.ExpireAfter}
	began := time.Now()
	ctx, cancelAll := context.WithCancel(ctx)
	defer cancelAll()

	var all []*benchMember
	defer func() {
		for _, m := range all {
			m.p.Close()
			m.cancel()
			<-m.done
			m.close()
		}
	}()
	var allMu sync.Mutex
	join := func(n int) (*benchMember, error) {
		user := fmt.Sprintf("bench%03d", n)
		start := time.Now()
		conn, closeFn, err := cfg.Connect(ctx)
		if err != nil {
			return nil, err
		}
		pp := proto.ParticipantPrefix(proto.DefaultUserPrefix(user), cfg.Room)
		id, err := sec.NewEphemeral(pp)
		if err == nil {
			err = id.ServeCert(conn.Engine())
		}
		if err == nil {
			err = conn.Register(ctx, pp)
		}
		if err != nil {
			closeFn()
			return nil, err
		}
		mctx, cancel := context.WithCancel(ctx)
		p, err := Join(mctx, Config{
			Conn: conn, Room: cfg.Room, User: user,
			Signer:   id.Signer(),
			Verifier: sec.NewVerifier(conn.Engine(), cfg.Logger),
			Interval: cfg.Interval, Jitter: cfg.Jitter, ExpireAfter: cfg.ExpireAfter,
			Logger: cfg.Logger,
		})
		if err != nil {
			cancel()
			closeFn()
			return nil, err
		}
		m := &benchMember{p: p, close: closeFn, cancel: cancel, start: start,
			joined: map[string]time.Time{}, left: map[string]time.Time{}, done: make(chan struct{})}
		go m.record(mctx)
		allMu.Lock()
		all = append(all, m)
		allMu.Unlock()
		return m, nil
	}
	waitFor := func(d time.Duration, cond func() bool) error {
		deadline := time.Now().Add(d)
		for !cond() {
			if time.Now().After(deadline) {
				return errors.New("roster bench: timed out")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return nil
	}
	sees := func(obs *benchMember, others []*benchMember) bool {
		for _, o := range others {
			if o != obs {
				if _, ok := obs.joinedAt(o.p.Prefix().String()); !ok {
					return false
				}
			}
		}
		return true
	}

	// 1. Everybody joins at once.
	var wg sync.WaitGroup
	room := make([]*benchMember, cfg.Members)
	errs := make([]error, cfg.Members)
	for i := range cfg.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			room[i], errs[i] = join(i + 1)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return res, err
	}
	if err := waitFor(10*time.Second+time.Duration(cfg.Members)*100*time.Millisecond, func() bool {
		for _, m := range room {
			if !sees(m, room) {
				return false
			}
		}
		return true
	}); err != nil {
		return res, fmt.Errorf("convergence: %w", err)
	}
	var conv []time.Duration
	for _, m := range room {
		var last time.Time
		for _, o := range room {
			if o != m {
				t, _ := m.joinedAt(o.p.Prefix().String())
				if t.After(last) {
					last = t
				}
			}
		}
		conv = append(conv, last.Sub(m.start))
	}
	res.Converge = dist(conv)

	// 2. Idle traffic.
	before := make([]roomsync.Stats, len(room))
	for i, m := range room {
		before[i] = m.p.Group().Stats()
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(cfg.Steady):
	}
	el := time.Since(t0).Seconds()
	var sent, recv, hb, fetch, served float64
	for i, m := range room {
		a, b := before[i], m.p.Group().Stats()
		sent += float64(b.SyncSent - a.SyncSent)
		recv += float64(b.SyncRecv - a.SyncRecv)
		hb += float64(b.Published - a.Published)
		fetch += float64(b.Fetches - a.Fetches)
		served += float64(b.Served - a.Served)
	}
	per := el * float64(len(room))
	res.SyncSentPerSec, res.SyncRecvPerSec = sent/per, recv/per
	res.HeartbeatsPerSec, res.FetchesPerSec, res.ServedPerSec = hb/per, fetch/per, served/per

	// 3. Late joiners, each leaving with a bye.
	var seen, learn, bye []time.Duration
	for r := range cfg.LateJoins {
		l, err := join(cfg.Members + 1 + r)
		if err != nil {
			return res, err
		}
		key := l.p.Prefix().String()
		if err := waitFor(5*time.Second, func() bool {
			if !sees(l, room) {
				return false
			}
			for _, m := range room {
				if _, ok := m.joinedAt(key); !ok {
					return false
				}
			}
			return true
		}); err != nil {
			known, seenBy := 0, 0
			for _, m := range room {
				if _, ok := l.joinedAt(m.p.Prefix().String()); ok {
					known++
				}
				if _, ok := m.joinedAt(key); ok {
					seenBy++
				}
			}
			return res, fmt.Errorf("late join: knows %d, seen by %d of %d (sync %+v): %w",
				known, seenBy, len(room), l.p.Stats().Sync, err)
		}
		var last time.Time
		for _, m := range room {
			t, _ := m.joinedAt(key)
			seen = append(seen, t.Sub(l.start))
			u, _ := l.joinedAt(m.p.Prefix().String())
			if u.After(last) {
				last = u
			}
		}
		learn = append(learn, last.Sub(l.start))

		leaveAt := time.Now()
		lctx, lcancel := context.WithTimeout(ctx, time.Second)
		err = l.p.Leave(lctx)
		lcancel()
		if err != nil {
			return res, err
		}
		if err := waitFor(5*time.Second, func() bool {
			for _, m := range room {
				if _, ok := m.leftAt(key); !ok {
					return false
				}
			}
			return true
		}); err != nil {
			return res, fmt.Errorf("bye: %w", err)
		}
		for _, m := range room {
			t, _ := m.leftAt(key)
			bye = append(bye, t.Sub(leaveAt))
		}
	}
	res.JoinSeen, res.LateLearn, res.Bye = dist(seen), dist(learn), dist(bye)

	// 4. A crash: the last member stops without a bye.
	victim := room[len(room)-1]
	rest := room[:len(room)-1]
	key := victim.p.Prefix().String()
	crashAt := time.Now()
	victim.p.Close()
	limit := time.Duration(cfg.ExpireAfter+2) * cfg.Interval * 2
	if err := waitFor(limit, func() bool {
		for _, m := range rest {
			if _, ok := m.leftAt(key); !ok {
				return false
			}
		}
		return true
	}); err != nil {
		return res, fmt.Errorf("crash detection: %w", err)
	}
	var crash []time.Duration
	for _, m := range rest {
		t, _ := m.leftAt(key)
		crash = append(crash, t.Sub(crashAt))
	}
	res.Crash = dist(crash)

	for _, m := range all {
		st := m.p.Stats()
		for layer, rej := range map[string]map[string]uint64{"sync": st.Sync.Rejected, "roster": st.Rejected} {
			for reason, v := range rej {
				if v == 0 {
					continue
				}
				if res.RejectedBy == nil {
					res.RejectedBy = map[string]uint64{}
				}
				res.RejectedBy[layer+"/"+reason] += v
				res.Rejected += v
			}
		}
	}
	res.DurationS = time.Since(began).Seconds()
	return res, nil
}
