package daemon

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peets/peets/sec"
)

// TestOpenTrust: the first proxy of a room makes the anchor and certifies
// its key, keeping it across restarts; another machine joins only with an
// invitation for its own participant prefix, kept after the first start;
// without one it is refused with what to do.
func TestOpenTrust(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	cfgFor := func(user, state, trust string) Config {
		c := Config{User: user, Room: "lab", StateDir: state, TrustDir: trust}
		if err := c.Normalize(); err != nil {
			t.Fatal(err)
		}
		return c
	}
	owner := t.TempDir()
	ann := cfgFor("ann", filepath.Join(owner, "state"), filepath.Join(owner, "trust"))
	r, id, err := openTrust(ann, Options{}, log)
	if err != nil || !r.Owner() {
		t.Fatalf("first start: %v", err)
	}
	r2, id2, err := openTrust(ann, Options{}, log)
	if err != nil || r2.Fingerprint() != r.Fingerprint() || !id2.KeyName().Equal(id.KeyName()) {
		t.Fatalf("restart: %v (anchor %s -> %s, key %s -> %s)", err, r.Fingerprint(), r2.Fingerprint(), id.KeyName(), id2.KeyName())
	}
	if !id.CertName().At(-2).Equal(r.AnchorName().At(-3)) {
		t.Fatalf("ann's certificate %s is not the anchor's", id.CertName())
	}

	// bob, elsewhere, invited; carol, on bob's machine, not.
	other := t.TempDir()
	bobCfg := cfgFor("bob", "", "")
	inv, err := r.Invite("bob", bobCfg.ParticipantPrefix(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(other, "bob.invitation")
	if err := os.WriteFile(file, []byte(inv.Link()), 0o600); err != nil {
		t.Fatal(err)
	}
	carol := cfgFor("carol", filepath.Join(other, "carol"), filepath.Join(other, "trust"))
	carol.Invitation = file
	if _, _, err := openTrust(carol, Options{}, log); !errors.Is(err, sec.ErrBadInvitation) {
		t.Fatalf("carol with bob's invitation: %v", err)
	}
	bob := cfgFor("bob", filepath.Join(other, "bob"), filepath.Join(other, "trust"))
	bob.Invitation = file
	br, bid, err := openTrust(bob, Options{Ephemeral: true}, log)
	if err != nil || br.Owner() || br.Fingerprint() != r.Fingerprint() {
		t.Fatalf("bob: %v", err)
	}
	bob.Invitation = ""
	if _, bid2, err := openTrust(bob, Options{}, log); err != nil || !bid2.KeyName().Equal(bid.KeyName()) {
		t.Fatalf("bob again, without --invitation: %v", err)
	}
	carol.Invitation = ""
	if _, _, err := openTrust(carol, Options{}, log); !errors.Is(err, ErrNotInvited) {
		t.Fatalf("carol: %v", err)
	}
}
