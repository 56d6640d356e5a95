// Package linkshape limits a link's rate on a schedule with Linux's token
// bucket filter (tc qdisc tbf) on one end of a veth, and reads what the
// link carried (interface and qdisc counters). The schedule is a small
// pure value (parse, query); the Shaper is the thin part that runs tc.
package linkshape

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ErrBadSchedule is returned for a schedule that does not parse.
var ErrBadSchedule = errors.New("linkshape: bad schedule")

// Limits of a schedule.
const (
	MinRate  = 16_000         // bit/s
	MaxRate  = 10_000_000_000 // bit/s
	MaxSteps = 32
	MaxAt    = time.Hour
)

// Step is a rate that holds from At (since the measured window's start) to
// the next step. Rate 0 is no limit.
type Step struct {
	At   time.Duration
	Rate int64 // bit/s, 0: unlimited
}

// Schedule is a link's rate over time: steps in increasing time, the first
// at 0.
type Schedule []Step

// ParseSchedule parses a schedule: comma-separated RATE[@TIME] entries,
// where RATE is "none" (no limit) or a number with the unit bit, kbit,
// mbit or gbit (powers of 1000, as tc counts them), and TIME a Go duration
// since the start of the measured window; the first entry may leave out
// its time (0). Examples: "none", "1mbit", "none,1mbit@20s,none@40s".
// The empty string is "none".
func ParseSchedule(s string) (Schedule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Schedule{{}}, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxSteps {
		return nil, fmt.Errorf("%w: %d steps, at most %d", ErrBadSchedule, len(parts), MaxSteps)
	}
	var sch Schedule
	for i, p := range parts {
		rate, at, hasAt := strings.Cut(strings.TrimSpace(p), "@")
		var st Step
		var err error
		if st.Rate, err = ParseRate(rate); err != nil {
			return nil, err
		}
		switch {
		case hasAt:
			if st.At, err = time.ParseDuration(at); err != nil || st.At < 0 || st.At > MaxAt {
				return nil, fmt.Errorf("%w: time %q", ErrBadSchedule, at)
			}
		case i > 0:
			return nil, fmt.Errorf("%w: %q: every entry but the first needs @TIME", ErrBadSchedule, p)
		}
		if i > 0 && st.At <= sch[i-1].At {
			return nil, fmt.Errorf("%w: %q: times must increase", ErrBadSchedule, p)
		}
		sch = append(sch, st)
	}
	if sch[0].At != 0 {
		sch = append(Schedule{{}}, sch...)
	}
	return sch, nil
}

// ParseRate parses "none" (0) or a rate in bit, kbit, mbit or gbit.
func ParseRate(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "none", "unlimited", "off":
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1}}
	for _, u := range units {
		num, ok := strings.CutSuffix(s, u.suffix)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || v <= 0 {
			break
		}
		r := int64(v*u.mult + 0.5)
		if r < MinRate || r > MaxRate {
			return 0, fmt.Errorf("%w: rate %q out of [%d, %d] bit/s", ErrBadSchedule, s, int64(MinRate), int64(MaxRate))
		}
		return r, nil
	}
	return 0, fmt.Errorf("%w: rate %q (want none, or e.g. 500kbit, 1.5mbit)", ErrBadSchedule, s)
}

// FormatRate writes a rate the way ParseRate reads it.
func FormatRate(r int64) string {
	switch {
	case r <= 0:
		return "none"
	case r%1_000_000_000 == 0:
		return fmt.Sprintf("%dgbit", r/1_000_000_000)
	case r%1_000_000 == 0:
		return fmt.Sprintf("%dmbit", r/1_000_000)
	case r%1000 == 0:
		return fmt.Sprintf("%dkbit", r/1000)
	}
	return fmt.Sprintf("%dbit", r)
}

// String is the schedule in ParseSchedule's syntax.
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, st := range s {
		parts[i] = FormatRate(st.Rate)
		if i > 0 {
			parts[i] += "@" + st.At.String()
		}
	}
	return strings.Join(parts, ",")
}

// At is the rate in force at t.
func (s Schedule) At(t time.Duration) int64 {
	i := sort.Search(len(s), func(i int) bool { return s[i].At > t })
	if i == 0 {
		return 0
	}
	return s[i-1].Rate
}

// Limited says whether any step limits the rate.
func (s Schedule) Limited() bool {
	for _, st := range s {
		if st.Rate > 0 {
			return true
		}
	}
	return false
}

// Change is a step of the schedule after the start, and which way it goes.
type Change struct {
	At       time.Duration
	From, To int64 // bit/s, 0: unlimited
	Down     bool  // to a lower rate (a limit where there was none counts as lower)
}

// Changes lists the steps after the start that change the rate.
func (s Schedule) Changes() []Change {
	var out []Change
	for i := 1; i < len(s); i++ {
		from, to := s[i-1].Rate, s[i].Rate
		if from == to {
			continue
		}
		down := to != 0 && (from == 0 || to < from)
		out = append(out, Change{At: s[i].At, From: from, To: to, Down: down})
	}
	return out
}
