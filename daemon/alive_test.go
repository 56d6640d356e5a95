package daemon

import (
	"testing"
	"time"
)

// An aliveTicker lets one report through per aliveEvery.
func TestAliveTicker(t *testing.T) {
	var a aliveTicker
	t0 := time.Unix(1_800_000_000, 0)
	n := 0
	for i := range 350 { // 3.49 s of packets every 10 ms
		if a.due(t0.Add(time.Duration(i) * 10 * time.Millisecond)) {
			n++
		}
	}
	if n != 4 { // at 0, 1, 2 and 3 s
		t.Fatalf("%d reports in 3.49 s, want 4", n)
	}
}
