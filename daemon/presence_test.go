package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/peets/peets/roster"
	"github.com/peets/peets/sync/synctest"
)

// TestPresenceFollowsPages: with PresenceFollowsPages the daemon starts
// absent, is present while a page is connected, and goes away only after
// the grace: a page that comes back within it (a reload) does not flap.
func TestPresenceFollowsPages(t *testing.T) {
	const grace = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	newDaemon := func(user string, follow bool) *Daemon {
		return runDaemon(t, ctx, cancel, Options{
			Config:               Config{User: user, Room: "presence", Heartbeat: 100 * time.Millisecond},
			Ephemeral:            true,
			Logger:               synctest.Logger,
			PresenceFollowsPages: follow,
			PresenceGrace:        grace,
		})
	}
	web := newDaemon("web", true)
	other := newDaemon("other", false)
	listed := func() bool { _, ok := other.Roster().Table().Get(web.Participant()); return ok }

	if web.Roster().Present() {
		t.Fatal("present before any page")
	}
	if synctest.Eventually(2*time.Second, func() bool { return web.Roster().Table().Len() == 1 }) < 0 {
		t.Fatal("the absent daemon does not follow the room")
	}
	time.Sleep(300 * time.Millisecond)
	if listed() {
		t.Fatal("listed before any page")
	}

	web.pageOpened()
	if !web.Roster().Present() || synctest.Eventually(time.Second, listed) < 0 {
		t.Fatal("not present with a page open")
	}
	web.pageOpened() // a second tab
	web.pageClosed()
	time.Sleep(2 * grace)
	if !web.Roster().Present() {
		t.Fatal("away with a page still open")
	}

	// A reload: the last page closes and a new one opens within the grace.
	web.pageClosed()
	time.Sleep(grace / 2)
	web.pageOpened()
	time.Sleep(2 * grace)
	if !web.Roster().Present() || !listed() {
		t.Fatal("a reload made the participant flap")
	}

	// The last page closes for good: away after the grace.
	closed := time.Now()
	web.pageClosed()
	took := synctest.Eventually(time.Second, func() bool { return !listed() })
	t.Logf("gone from the other's roster %v after the last page closed (grace %v)", time.Since(closed), grace)
	if took < 0 || time.Since(closed) < grace || web.Roster().Present() {
		t.Fatalf("not away properly after %v (present %v)", time.Since(closed), web.Roster().Present())
	}
	if web.Roster().Table().Len() != 1 {
		t.Fatal("the away daemon stopped following the room")
	}
	ev := other.Roster().Table().Stats()
	if ev.Byes != 1 || ev.Expired != 0 || ev.Rejected[roster.ReasonStale] != 0 {
		t.Fatalf("the other saw %+v", ev)
	}
}

// runDaemon makes a daemon on a connection of its own to the test's
// embedded forwarder and runs it until the test ends (cancel stops it).
func runDaemon(t *testing.T, ctx context.Context, cancel context.CancelFunc, o Options) *Daemon {
	t.Helper()
	o.Conn = synctest.Embedded(t)
	d, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return d
}
