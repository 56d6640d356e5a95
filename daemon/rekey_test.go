package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/testlog"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
	"github.com/peets/peets/sync/synctest"
)

// TestRemoveMember: the owner of a room removes carol (as `peets room
// remove` does, in the trust directory) while ann (the owner's proxy), bob
// and carol run. Ann's proxy finds the rotation, bob fetches the new
// epoch's key from the room, and both drop carol from their rosters and
// keep refusing her heartbeats; carol is told she was removed and never
// gets the new key; her pages are told (an error "removed", shown as a
// notice), including one opened afterwards.
func TestRemoveMember(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ownerDir := t.TempDir()
	cfg := func(user, trust string) Config {
		return Config{User: user, Room: "rot", TrustDir: trust, Heartbeat: 100 * time.Millisecond}
	}
	ann := runDaemon(t, ctx, cancel, Options{Config: cfg("ann", ownerDir), Ephemeral: true, Logger: synctest.Logger})
	annCfg := ann.Config()
	owner, err := sec.LoadRoom(ownerDir, "rot", annCfg.GroupPrefix())
	if err != nil {
		t.Fatal(err)
	}
	join := func(user string, logs *testlog.Buffer) *Daemon {
		c := cfg(user, t.TempDir())
		if err := c.Normalize(); err != nil {
			t.Fatal(err)
		}
		inv, err := owner.Invite(user, c.ParticipantPrefix(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c.Invitation = filepath.Join(t.TempDir(), user+".invitation")
		if err := os.WriteFile(c.Invitation, []byte(inv.Link()), 0o600); err != nil {
			t.Fatal(err)
		}
		log := synctest.Logger
		if logs != nil {
			log = logs.Logger(slog.LevelInfo)
		}
		return runDaemon(t, ctx, cancel, Options{Config: c, Ephemeral: true, Logger: log})
	}
	var carolLog testlog.Buffer
	bob, carol := join("bob", nil), join("carol", &carolLog)
	carolPage := openPage(t, ctx, carol)
	all := []*Daemon{ann, bob, carol}
	for _, d := range all {
		if synctest.Eventually(5*time.Second, func() bool { return d.Roster().Table().Len() == 2 }) < 0 {
			t.Fatalf("%s sees %d members", d.Participant(), d.Roster().Table().Len())
		}
	}

	epoch, gone, err := owner.Remove(carol.Participant())
	if err != nil || epoch != 2 || len(gone) != 1 {
		t.Fatalf("remove carol: %d %v %v", epoch, gone, err)
	}
	for _, d := range []*Daemon{ann, bob} {
		if synctest.Eventually(8*time.Second, func() bool {
			_, listed := d.Roster().Table().Get(carol.Participant())
			return d.Room().Epoch() == 2 && !listed
		}) < 0 {
			_, listed := d.Roster().Table().Get(carol.Participant())
			t.Fatalf("%s: key epoch %d, carol listed %v", d.Participant(), d.Room().Epoch(), listed)
		}
		if !bytes.Equal(d.Room().MediaKey(), owner.Key(2)) {
			t.Fatalf("%s holds another key for epoch 2", d.Participant())
		}
	}
	if synctest.Eventually(5*time.Second, func() bool {
		return strings.Contains(carolLog.String(), "removed this participant")
	}) < 0 {
		t.Fatalf("carol was not told: %s", carolLog.String())
	}
	if synctest.Eventually(3*time.Second, func() bool { return len(carolPage.errors(proto.CodeRemoved)) > 0 }) < 0 {
		t.Fatal("carol's page was not told she was removed")
	}
	// A page that opens afterwards is told too.
	late := openPage(t, ctx, carol)
	if len(late.errors(proto.CodeRemoved)) == 0 {
		t.Fatal("a page opened after the removal was not told")
	}
	// Carol keeps beating: her heartbeats are refused, she stays out.
	time.Sleep(time.Second)
	for _, d := range []*Daemon{ann, bob} {
		if _, listed := d.Roster().Table().Get(carol.Participant()); listed {
			t.Fatalf("%s lists carol again", d.Participant())
		}
		if d.Roster().Table().Len() != 1 {
			t.Fatalf("%s lists %d members", d.Participant(), d.Roster().Table().Len())
		}
	}
	if n := bob.ver.Stats().Removed; n == 0 {
		t.Errorf("bob counted no refusal of carol's removed key: %+v", bob.ver.Stats())
	}
	if carol.Room().Epoch() != 1 || carol.Room().Key(2) != nil {
		t.Fatalf("carol: epoch %d", carol.Room().Epoch())
	}
}
