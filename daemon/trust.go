package daemon

import (
	"errors"
	"fmt"
	"log/slog"

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
	if !room.Owner() {
		id, err := sec.LoadMember(dir, room, self)
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
	var id *sec.Identity
	var err error
	if o.Ephemeral {
		id, err = sec.NewEphemeral(self)
	} else {
		id, err = sec.LoadOrCreate(stateDir(cfg), self)
	}
	if err == nil {
		err = room.Certify(id, sec.MemberValidity)
	}
	return room, id, err
}

func stateDir(cfg Config) string {
	if cfg.StateDir != "" {
		return cfg.StateDir
	}
	return forwarder.DefaultStateDir()
}
