package speaker

import (
	"slices"
	"testing"
	"time"
)

// sim feeds a Tracker 20 ms audio packets and runs its Update every
// 100 ms, as the daemon does.
type sim struct {
	t      *testing.T
	tr     *Tracker
	now    time.Time
	packet time.Duration // audio packet duration (default 20 ms)
	// changes records each change of dominant speaker and its time
	changes []change
}

type change struct {
	at  time.Duration
	who string
}

func newSim(t *testing.T) *sim {
	return &sim{t: t, tr: New(Config{}), now: time.Unix(1000, 0)}
}

// run plays d of audio: levels gives each member's level per packet
// (members absent from it send nothing: muted).
func (s *sim) run(d time.Duration, levels map[string]uint8) {
	start := s.now
	if s.packet == 0 {
		s.packet = 20 * time.Millisecond
	}
	lastUpdate := s.now
	for step := 0; time.Duration(step)*s.packet < d; step++ {
		s.now = s.now.Add(s.packet)
		for _, id := range sortedKeys(levels) {
			s.tr.Observe(id, levels[id], s.now)
		}
		if s.now.Sub(lastUpdate) >= 100*time.Millisecond {
			lastUpdate = s.now
			if s.tr.Update(s.now) {
				s.changes = append(s.changes, change{s.now.Sub(start), s.tr.Dominant()})
			}
		}
	}
}

func sortedKeys(m map[string]uint8) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

const (
	silent = 127
	room   = 70 // background noise: not speech
	talk   = 30
	loud   = 20
)

// TestFloor: one speaker takes the floor within 300 ms; a second one who
// starts talking over takes it after the hold; a cough (100 ms) takes
// nothing; silence keeps the floor with the last speaker; a muted speaker
// loses it to whoever speaks next.
func TestFloor(t *testing.T) {
	s := newSim(t)
	s.run(time.Second, map[string]uint8{"ann": room, "bob": room, "cy": room})
	if d := s.tr.Dominant(); d != "" {
		t.Fatalf("background noise made %q the speaker", d)
	}

	s.run(2*time.Second, map[string]uint8{"ann": talk, "bob": room, "cy": room})
	if len(s.changes) != 1 || s.changes[0].who != "ann" || s.changes[0].at > 300*time.Millisecond {
		t.Fatalf("ann speaking: changes %v", s.changes)
	}

	// bob coughs: 100 ms loud.
	s.changes = nil
	s.run(100*time.Millisecond, map[string]uint8{"ann": talk, "bob": loud, "cy": room})
	s.run(time.Second, map[string]uint8{"ann": talk, "bob": room, "cy": room})
	if len(s.changes) != 0 {
		t.Fatalf("a cough moved the floor: %v", s.changes)
	}

	// bob takes over: ann stops, bob talks.
	s.run(2*time.Second, map[string]uint8{"ann": room, "bob": talk, "cy": room})
	if len(s.changes) != 1 || s.changes[0].who != "bob" || s.changes[0].at < 200*time.Millisecond || s.changes[0].at > time.Second {
		t.Fatalf("bob speaking: changes %v", s.changes)
	}

	// Everyone silent for 5 s: bob keeps the floor, no flapping.
	s.changes = nil
	s.run(5*time.Second, map[string]uint8{"ann": silent, "bob": silent, "cy": silent})
	if len(s.changes) != 0 || s.tr.Dominant() != "bob" {
		t.Fatalf("silence: %v, dominant %q", s.changes, s.tr.Dominant())
	}
	if got := s.tr.Order(); !slices.Equal(got, []string{"bob", "ann", "cy"}) {
		t.Fatalf("order %v, want bob, ann (spoke before), cy (never)", got)
	}

	// Two people talking at once, equally loud: the floor stays.
	s.run(3*time.Second, map[string]uint8{"ann": talk, "bob": talk, "cy": room})
	if len(s.changes) != 0 {
		t.Fatalf("equal talkers moved the floor: %v", s.changes)
	}

	// bob mutes (no packets) while cy talks: cy takes it.
	s.run(2*time.Second, map[string]uint8{"ann": room, "cy": talk})
	if s.tr.Dominant() != "cy" {
		t.Fatalf("after bob muted and cy spoke: %q, changes %v", s.tr.Dominant(), s.changes)
	}
	s.tr.Remove("cy")
	if s.tr.Dominant() != "" || slices.Contains(s.tr.Order(), "cy") {
		t.Fatal("cy left but is still listed")
	}
}

// TestNoFlapping: two speakers alternating every 150 ms (crosstalk) move
// the floor at most a few times, not at every turn.
func TestNoFlapping(t *testing.T) {
	s := newSim(t)
	for i := range 40 {
		if i%2 == 0 {
			s.run(150*time.Millisecond, map[string]uint8{"ann": talk, "bob": room})
		} else {
			s.run(150*time.Millisecond, map[string]uint8{"ann": room, "bob": talk})
		}
	}
	if len(s.changes) > 2 {
		t.Fatalf("%d changes in 6 s of crosstalk: %v", len(s.changes), s.changes)
	}
}

// TestFloor40ms: with 40 ms packets (a page's Opus), a speaker takes the
// floor as quickly as with 20 ms ones, and a cough still moves nothing.
func TestFloor40ms(t *testing.T) {
	s := newSim(t)
	s.packet = 40 * time.Millisecond
	s.run(time.Second, map[string]uint8{"ann": room, "bob": room})
	s.run(2*time.Second, map[string]uint8{"ann": talk, "bob": room})
	if len(s.changes) != 1 || s.changes[0].who != "ann" || s.changes[0].at > 300*time.Millisecond {
		t.Fatalf("ann speaking: changes %v", s.changes)
	}
	s.changes = nil
	s.run(120*time.Millisecond, map[string]uint8{"ann": talk, "bob": loud})
	s.run(time.Second, map[string]uint8{"ann": talk, "bob": room})
	if len(s.changes) != 0 {
		t.Fatalf("a cough moved the floor: %v", s.changes)
	}
	s.run(2*time.Second, map[string]uint8{"ann": room, "bob": talk})
	if len(s.changes) != 1 || s.changes[0].who != "bob" || s.changes[0].at > time.Second {
		t.Fatalf("bob speaking: changes %v", s.changes)
	}
}
