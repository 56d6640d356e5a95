package daemon

import (
	"slices"
	"testing"
	"time"
)

func TestActiveLayers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	idle := 10 * time.Second
	// A camera's layers, made at t0; the subscriber pulls m from 2 s and
	// probes h at 5 s, then never again.
	last := []layerPull{{RID: "l", Last: t0}, {RID: "m", Last: t0}, {RID: "h", Last: t0}}
	pull := func(i int, s float64) { last[i].Last = at(s) }
	cases := []struct {
		at     float64
		pulls  []int // layers asked for at this time
		active []string
	}{
		{at: 0, active: []string{"l", "m", "h"}},                     // a new camera: every layer
		{at: 2, pulls: []int{1}, active: []string{"l", "m", "h"}},    // m pulled
		{at: 5, pulls: []int{1, 2}, active: []string{"l", "m", "h"}}, // a probe of h
		{at: 14.9, pulls: []int{1}, active: []string{"l", "m", "h"}},
		{at: 15, pulls: []int{1}, active: []string{"l", "m"}}, // h: 10 s since the probe
		{at: 40, active: []string{"l"}},                       // nobody asks for m any more
		// a probe's meta Interest resumes h at once, and m with it: the
		// step down from h must find m encoding
		{at: 41, pulls: []int{2}, active: []string{"l", "m", "h"}},
		{at: 50.9, active: []string{"l", "m", "h"}}, // and keeps them at least idle
		{at: 51, active: []string{"l"}},
		{at: 60, pulls: []int{0}, active: []string{"l"}}, // the lowest is never paused anyway
		{at: 100, active: []string{"l"}},
	}
	for _, c := range cases {
		for _, i := range c.pulls {
			pull(i, c.at)
		}
		got := activeRIDs(last, activeLayers(at(c.at), idle, last))
		if !slices.Equal(got, c.active) {
			t.Errorf("at %v s: active %v, want %v", c.at, got, c.active)
		}
	}
	// idle <= 0: pausing is off.
	if got := activeRIDs(last, activeLayers(at(1000), 0, last)); len(got) != 3 {
		t.Errorf("idle 0: active %v, want all", got)
	}
	// No layers, one layer.
	if got := activeLayers(at(0), idle, nil); len(got) != 0 {
		t.Errorf("no layers: %v", got)
	}
	if got := activeLayers(at(1000), idle, last[:1]); !slices.Equal(got, []bool{true}) {
		t.Errorf("one layer: %v", got)
	}
}
