// Package speaker decides who is speaking from the audio levels that ride
// on every participant's audio packets (RFC 6464's ssrc-audio-level header
// extension, written by the sender's browser: no audio is decoded).
//
// Each member's activity is a moving average of how loud its packets are
// when they are speech; the dominant speaker changes only when another
// member's activity leads it by a margin for a while (hysteresis), so a
// cough or a laugh does not move the floor, and a pause does not either:
// the floor stays with the last speaker until someone else speaks. The
// order is the dominant speaker, then the others by when they last spoke.
//
// A Tracker is a pure state machine: time is an argument, nothing runs by
// itself. It is not safe for concurrent use.
package speaker

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Config tunes a Tracker; zero fields take the defaults.
type Config struct {
	// Threshold: a packet whose level (-dBov) is at or below it is speech
	// (default 50: conversation is ~20-45, a quiet room 60 and above).
	Threshold uint8
	// Window is the time constant of the activity average (default 400 ms).
	Window time.Duration
	// Hold: a challenger takes the floor after leading this long
	// (default 250 ms).
	Hold time.Duration
	// Margin: and by this factor over the current speaker's activity
	// (default 1.25).
	Margin float64
	// MinActivity: below it, a member is not speaking (default 0.05).
	MinActivity float64
}

func (c *Config) fill() {
	if c.Threshold == 0 {
		c.Threshold = 50
	}
	if c.Window <= 0 {
		c.Window = 400 * time.Millisecond
	}
	if c.Hold <= 0 {
		c.Hold = 250 * time.Millisecond
	}
	if c.Margin <= 1 {
		c.Margin = 1.25
	}
	if c.MinActivity <= 0 {
		c.MinActivity = 0.05
	}
}

type member struct {
	activity  float64   // moving average of loudness in [0, 1]
	at        time.Time // when activity was last brought up to date
	last      time.Time // the newest packet
	spoke     time.Time // the newest packet that was speech
	leadSince time.Time // leading the dominant speaker since (zero: not leading)
}

// Tracker follows the members' audio levels.
type Tracker struct {
	cfg      Config
	members  map[string]*member
	dominant string
}

// New makes a Tracker.
func New(cfg Config) *Tracker {
	cfg.fill()
	return &Tracker{cfg: cfg, members: map[string]*member{}}
}

// Observe takes the level of one audio packet of member id, received at
// now.
func (t *Tracker) Observe(id string, level uint8, now time.Time) {
	m := t.members[id]
	if m == nil {
		m = &member{at: now, last: now}
		t.members[id] = m
	}
	x := 0.0
	if level <= t.cfg.Threshold {
		// 0 dBov is 1; the threshold is just above 0.
		x = float64(t.cfg.Threshold+1-min(level, t.cfg.Threshold)) / float64(t.cfg.Threshold+1)
		m.spoke = now
	}
	// Each packet pulls the average towards its loudness, weighted by the
	// time it stands for: since the member's previous packet (20 ms or
	// 40 ms, Opus's usual packets), within [10 ms, 100 ms].
	dt := min(max(now.Sub(m.last), 10*time.Millisecond), 100*time.Millisecond)
	t.decay(m, now)
	m.last = now
	m.activity += (x - m.activity) * (1 - math.Exp(-float64(dt)/float64(t.cfg.Window)))
}

// decay brings m's activity to now: it fades when packets stop (a muted
// microphone, a sender's discontinuous transmission).
func (t *Tracker) decay(m *member, now time.Time) {
	// Packets come every 20 to 60 ms: a longer gap is silence, from 100 ms
	// after the last packet.
	from := m.last.Add(100 * time.Millisecond)
	if from.Before(m.at) {
		from = m.at
	}
	if now.After(from) {
		m.activity *= math.Exp(-float64(now.Sub(from)) / float64(t.cfg.Window))
	}
	if now.After(m.at) {
		m.at = now
	}
}

// Remove forgets member id (it left).
func (t *Tracker) Remove(id string) {
	delete(t.members, id)
	if t.dominant == id {
		t.dominant = ""
	}
}

// Update decides the dominant speaker at now and reports whether it
// changed.
func (t *Tracker) Update(now time.Time) bool {
	var best string
	bestAct := 0.0
	for _, id := range t.ids() {
		m := t.members[id]
		t.decay(m, now)
		if m.activity > bestAct {
			best, bestAct = id, m.activity
		}
	}
	if best == "" || bestAct < t.cfg.MinActivity || best == t.dominant {
		for _, m := range t.members {
			m.leadSince = time.Time{}
		}
		return false
	}
	for id, m := range t.members {
		if id != best {
			m.leadSince = time.Time{}
		}
	}
	if cur := t.members[t.dominant]; cur != nil && bestAct < cur.activity*t.cfg.Margin {
		t.members[best].leadSince = time.Time{}
		return false
	}
	b := t.members[best]
	if t.members[t.dominant] != nil {
		if b.leadSince.IsZero() {
			b.leadSince = now
		}
		if now.Sub(b.leadSince) < t.cfg.Hold {
			return false
		}
	}
	t.dominant = best
	b.leadSince = time.Time{}
	return true
}

// Dominant is the dominant speaker ("" until someone speaks).
func (t *Tracker) Dominant() string { return t.dominant }

// Order is every member known: the dominant speaker first, then the others
// by when they last spoke, newest first, then those who never spoke, by
// id.
func (t *Tracker) Order() []string {
	ids := t.ids()
	slices.SortStableFunc(ids, func(a, b string) int {
		switch {
		case a == t.dominant:
			return -1
		case b == t.dominant:
			return 1
		}
		return t.members[b].spoke.Compare(t.members[a].spoke)
	})
	return ids
}

// Activity is member id's activity in [0, 1] as of the last Update.
func (t *Tracker) Activity(id string) float64 {
	if m := t.members[id]; m != nil {
		return m.activity
	}
	return 0
}

// ids lists the members by id, for a deterministic iteration.
func (t *Tracker) ids() []string {
	out := make([]string, 0, len(t.members))
	for id := range t.members {
		out = append(out, id)
	}
	slices.SortFunc(out, strings.Compare)
	return out
}
