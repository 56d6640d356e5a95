package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/sec"
)

// ErrNotInvited: the room is owned by another machine and this participant
// has no invitation to it.
var ErrNotInvited = errors.New("not invited to this room")

// openTrust finds the room's anchor and this participant's certified
// identity (docs/protocol.md 3):
//   - an invitation in the config is imported first (its anchor becomes
//     the room's in the trust directory);
//   - a room with no anchor in the trust directory gets one: this machine
//     owns it from now on;
//   - the owner certifies its own key (saved in the state directory, or
//     ephemeral) at each start;
//   - anyone else uses the key and certificate of its imported invitation.
func openTrust(cfg Config, o Options, log *slog.Logger) (*sec.Room, *sec.Identity, error) {
	self, group := cfg.ParticipantPrefix(), cfg.GroupPrefix()
	room := o.Room
	dir := cfg.TrustDir
	if dir == "" {
		dir = stateDir(cfg)
	}
	if room == nil {
		if cfg.Invitation != "" {
			inv, err := sec.ReadInvitation(cfg.Invitation)
			if err != nil {
				return nil, nil, err
			}
			if inv.Room != cfg.Room || inv.Participant != self.String() {
				return nil, nil, fmt.Errorf("%w: it is for %s in room %s; this proxy is %s in room %s",
					sec.ErrBadInvitation, inv.Participant, inv.Room, self, cfg.Room)
			}
			if cfg.SafeBag != "" {
				if err := withSafeBag(inv, cfg); err != nil {
					return nil, nil, err
				}
			}
			if _, err := sec.ImportInvitation(dir, inv); err != nil {
				return nil, nil, err
			}
			log.Info("imported the invitation", "participant", self, "trust_dir", dir)
		}
		var err error
		room, err = sec.LoadRoom(dir, cfg.Room, group)
		if errors.Is(err, sec.ErrNoRoom) {
			room, err = sec.CreateRoom(dir, cfg.Room, group)
			if errors.Is(err, sec.ErrAnchorConflict) { // another process made it just now
				room, err = sec.LoadRoom(dir, cfg.Room, group)
			} else if err == nil {
				log.Info("made the room's trust anchor: this machine owns the room; `peets invite` lets others in",
					"anchor", room.AnchorName(), "fingerprint", room.Fingerprint(), "trust_dir", dir)
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("room trust: %w", err)
		}
	}
	if room.MediaKey() == nil {
		return nil, nil, fmt.Errorf("%w: room %s's media key is not here (%s): an invitation from an older peets; ask its owner for a new one",
			ErrNotInvited, cfg.Room, dir)
	}
	// The owner's machine may hold an invitation for one of its own
	// participants too: a key issued elsewhere (a testbed's) that the
	// owner invited (peets invite --key-cert) to use it here.
	id, err := sec.LoadMember(dir, room, self)
	if room.Owner() && errors.Is(err, sec.ErrNoInvitation) {
		id, err = ownKey(cfg, o, room)
		return room, id, err
	}
	if errors.Is(err, sec.ErrExpired) {
		return nil, nil, fmt.Errorf("%w: your invitation to room %s has run out (%v): ask its owner for a new one (peets invite --room %s --user %s) and start with --invitation FILE",
			ErrNotInvited, cfg.Room, err, cfg.Room, cfg.User)
	}
	if errors.Is(err, sec.ErrNoInvitation) {
		return nil, nil, fmt.Errorf("%w: room %s belongs to anchor %s (fingerprint %s), kept in %s: ask its owner for an invitation (peets invite --room %s --user %s) and start with --invitation FILE",
			ErrNotInvited, cfg.Room, room.AnchorName(), room.Fingerprint(), dir, cfg.Room, cfg.User)
	}
	return room, id, err
}

// ownKey is the owner's own key (kept in the state directory, or
// ephemeral), certified by the room at each start.
func ownKey(cfg Config, o Options, room *sec.Room) (*sec.Identity, error) {
	var id *sec.Identity
	var err error
	if o.Ephemeral {
		id, err = sec.NewEphemeral(cfg.ParticipantPrefix())
	} else {
		id, err = sec.LoadOrCreate(stateDir(cfg), cfg.ParticipantPrefix())
	}
	if err == nil {
		err = room.Certify(id, sec.MemberValidity)
	}
	return id, err
}

// withSafeBag puts the key of cfg.SafeBag in inv, an invitation made for
// it. The password is in cfg.SafeBagPasswordFile or $PEETS_SAFEBAG_PASSWORD.
func withSafeBag(inv *sec.Invitation, cfg Config) error {
	pass := []byte(os.Getenv("PEETS_SAFEBAG_PASSWORD"))
	if cfg.SafeBagPasswordFile != "" {
		b, err := os.ReadFile(cfg.SafeBagPasswordFile)
		if err != nil {
			return fmt.Errorf("safebag password: %w", err)
		}
		pass = bytes.TrimRight(b, "\r\n")
	}
	b, err := os.ReadFile(cfg.SafeBag)
	if err != nil {
		return fmt.Errorf("%w: %v", sec.ErrBadSafeBag, err)
	}
	_, priv, err := sec.ReadSafeBag(b, pass)
	if err != nil {
		return fmt.Errorf("%s: %w", cfg.SafeBag, err)
	}
	return inv.SetKey(priv)
}

func stateDir(cfg Config) string {
	if cfg.StateDir != "" {
		return cfg.StateDir
	}
	return forwarder.DefaultStateDir()
}
