package daemon

import (
	"testing"
	"time"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sync/synctest"
)

// TestUplinkLimitedTravels: a member that says its own uplink limits it
// (its heartbeat's uplink_limited) no longer counts, at the publisher, as
// a receiver whose lower layer could be this uplink's doing; it counts
// again when it says so no more.
func TestUplinkLimitedTravels(t *testing.T) {
	pub, sub := botAndWatcher(t, "uplinkflag")
	counts := func() [2]int { all, unlimited := pub.receivers(); return [2]int{all, unlimited} }
	if synctest.Eventually(10*time.Second, func() bool { return counts() == [2]int{1, 1} }) < 0 {
		t.Fatalf("receivers and unlimited ones: %v", counts())
	}
	set := func(on bool) {
		if err := sub.Roster().Update(func(e *proto.RosterEntry) { e.UplinkLimited = on }); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	if synctest.Eventually(3*time.Second, func() bool { return counts()[1] == 0 }) < 0 {
		t.Fatal("the flag did not reach the publisher")
	}
	if c := counts(); c[0] != 1 {
		t.Errorf("receivers %d", c[0])
	}
	set(false)
	if synctest.Eventually(3*time.Second, func() bool { return counts()[1] == 1 }) < 0 {
		t.Fatal("the flag's end did not reach the publisher")
	}
}
