package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/spf13/cobra"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
)

// roomFlags name a room and its trust directory.
type roomFlags struct {
	trustDir string
	room     string
	group    string
}

func (f *roomFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.room, "room", "", "room id")
	fl.StringVar(&f.group, "group", "", "room sync group prefix (default /peets/room/<room>)")
	fl.StringVar(&f.trustDir, "trust-dir", "", "where rooms' trust anchors and imported invitations are kept (default $PEETS_TRUST_DIR, else "+defaultTrustDir()+")")
}

func (f *roomFlags) parse() (dir string, group enc.Name, err error) {
	if f.room == "" {
		return "", nil, fmt.Errorf("--room is required")
	}
	if err := proto.ValidIdent(f.room); err != nil {
		return "", nil, err
	}
	group = proto.DefaultGroupPrefix(f.room)
	if f.group != "" {
		if group, err = enc.NameFromStr(f.group); err != nil || len(group) == 0 {
			return "", nil, fmt.Errorf("--group %q is not an NDN name", f.group)
		}
	}
	return trustDirOr(f.trustDir), group, nil
}

// newInviteCmd issues an invitation to a room this machine owns.
func newInviteCmd() *cobra.Command {
	var f roomFlags
	var user, prefix, out string
	var valid time.Duration
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Invite a person to a room this machine owns: prints a peets-invite: link (a secret: it holds their key)",
		Long: `Invite a person to a room this machine owns (it holds the room's trust anchor,
made by the first 'peets up' in the room here, or by this command).

The invitation holds a fresh key for the person, its certificate issued by the
room's anchor for their participant prefix, and the anchor's certificate. It is
a secret: send it by a channel you trust. On their machine:

  peets up --user USER --room ROOM --invitation FILE-OR-LINK`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, group, err := f.parse()
			if err != nil {
				return err
			}
			if err := proto.ValidIdent(user); err != nil {
				return fmt.Errorf("--user: %w", err)
			}
			u := proto.DefaultUserPrefix(user)
			if prefix != "" {
				if u, err = enc.NameFromStr(prefix); err != nil || len(u) == 0 {
					return fmt.Errorf("--prefix %q is not an NDN name", prefix)
				}
			}
			if valid <= 0 {
				return fmt.Errorf("--valid %v: want a positive duration", valid)
			}
			r, err := sec.LoadRoom(dir, f.room, group)
			if errors.Is(err, sec.ErrNoRoom) {
				if r, err = sec.CreateRoom(dir, f.room, group); err == nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "made the trust anchor of room %s: %s (fingerprint %s) in %s\n", f.room, r.AnchorName(), r.Fingerprint(), dir)
				}
			}
			if err != nil {
				return err
			}
			if !r.Owner() {
				return fmt.Errorf("%w: room %s, anchor %s in %s: only its owner can invite", sec.ErrNotOwner, f.room, r.AnchorName(), dir)
			}
			inv, err := r.Invite(user, proto.ParticipantPrefix(u, f.room), valid)
			if err != nil {
				return err
			}
			if out == "" {
				fmt.Fprintln(cmd.OutOrStdout(), inv.Link())
			} else if err := os.WriteFile(out, []byte(inv.Link()+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "invitation for %s in room %s, valid until %s: on their machine, peets up --user %s --room %s --invitation FILE-OR-LINK\n",
				inv.Participant, f.room, time.Now().Add(valid).Format(time.DateOnly), user, f.room)
			return nil
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&user, "user", "", "the invited person's user id")
	fl.StringVar(&prefix, "prefix", "", "their user prefix, ending in /<user> (default /peets/user/<user>)")
	fl.StringVar(&out, "out", "", "write the invitation to this file (mode 0600) instead of standard output")
	fl.DurationVar(&valid, "valid", sec.InvitationValidity, "how long the invitation's certificate is valid")
	return cmd
}

// newRoomCmd shows a room's trust anchor, and exports its certificate for
// NDN tools.
func newRoomCmd() *cobra.Command {
	var f roomFlags
	var export, exportKey string
	cmd := &cobra.Command{
		Use:   "room",
		Short: "Show the trust anchor this machine keeps for a room (and export its certificate)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, group, err := f.parse()
			if err != nil {
				return err
			}
			r, err := sec.LoadRoom(dir, f.room, group)
			if err != nil {
				return err
			}
			owner := "no (joined by invitation)"
			if r.Owner() {
				owner = "yes (this machine holds the anchor's key: peets invite)"
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "room:        %s\nanchor:      %s\nfingerprint: %s\nowner:       %s\ntrust dir:   %s\n", f.room, r.AnchorName(), r.Fingerprint(), owner, dir)
			if export != "" {
				// ndnsec's format: base64 of the certificate's TLV.
				if err := os.WriteFile(export, []byte(base64.StdEncoding.EncodeToString(r.AnchorWire())+"\n"), 0o644); err != nil {
					return err
				}
			}
			if exportKey != "" {
				if r.MediaKey() == nil {
					return fmt.Errorf("room %s's media key is not in %s", f.room, dir)
				}
				return os.WriteFile(exportKey, []byte(base64.StdEncoding.EncodeToString(r.MediaKey())+"\n"), 0o600)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().StringVar(&export, "export-anchor", "", "write the anchor's certificate to this file (base64, as ndnsec writes certificates)")
	cmd.Flags().StringVar(&exportKey, "export-media-key", "", "write the room's media key to this file (base64, mode 0600; a secret: whoever has it decrypts the room's media)")
	return cmd
}
