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
	if synctest.Eventually(10*time.Second, func() bool { return pub.receivers() == 1 && pub.unlimitedReceivers() == 1 }) < 0 {
		t.Fatalf("receivers %d, unlimited %d", pub.receivers(), pub.unlimitedReceivers())
	}
	set := func(on bool) {
		if err := sub.Roster().Update(func(e *proto.RosterEntry) { e.UplinkLimited = on }); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	if synctest.Eventually(3*time.Second, func() bool { return pub.unlimitedReceivers() == 0 }) < 0 {
		t.Fatal("the flag did not reach the publisher")
	}
	if pub.receivers() != 1 {
		t.Errorf("receivers %d", pub.receivers())
	}
	set(false)
	if synctest.Eventually(3*time.Second, func() bool { return pub.unlimitedReceivers() == 1 }) < 0 {
		t.Fatal("the flag's end did not reach the publisher")
	}
}
