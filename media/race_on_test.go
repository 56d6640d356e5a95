//go:build race

package media

// raceEnabled: the race detector slows everything ~10x; tests widen their
// playout deadlines accordingly.
const raceEnabled = true
