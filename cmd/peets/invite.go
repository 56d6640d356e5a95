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

// memberFlags name a room and one of its members.
type memberFlags struct {
	roomFlags
	user, prefix string
}

func (f *memberFlags) add(cmd *cobra.Command, who string) {
	f.roomFlags.add(cmd)
	cmd.Flags().StringVar(&f.user, "user", "", who+" user id")
	cmd.Flags().StringVar(&f.prefix, "prefix", "", "their user prefix, ending in /<user> (default /peets/user/<user>)")
}

// parse also returns the member's user prefix.
func (f *memberFlags) parse() (dir string, group, user enc.Name, err error) {
	if dir, group, err = f.roomFlags.parse(); err != nil {
		return "", nil, nil, err
	}
	if err := proto.ValidIdent(f.user); err != nil {
		return "", nil, nil, fmt.Errorf("--user: %w", err)
	}
	if f.prefix == "" {
		return dir, group, proto.DefaultUserPrefix(f.user), nil
	}
	user, err = enc.NameFromStr(f.prefix)
	if err != nil || len(user) == 0 {
		return "", nil, nil, fmt.Errorf("--prefix %q is not an NDN name", f.prefix)
	}
	return dir, group, user, nil
}

// newInviteCmd issues an invitation to a room this machine owns.
func newInviteCmd() *cobra.Command {
	var f memberFlags
	var out, keyCert string
	var valid time.Duration
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Invite a person to a room this machine owns: prints a peets-invite: link (a secret: it holds their key)",
		Long: `Invite a person to a room this machine owns (it holds the room's trust anchor,
made by the first 'peets up' in the room here, or by this command).

The invitation holds a fresh key for the person, its certificate issued by the
room's anchor for their participant prefix, and the anchor's certificate. It is
a secret: send it by a channel you trust. On their machine:

  peets up --user USER --room ROOM --invitation FILE-OR-LINK

For a person who has an NDN key already (a testbed's, made with ndnsec), give
its certificate with --key-cert (ndnsec cert-dump -i IDENTITY > FILE; it holds
no secret) and --prefix: the invitation certifies that key for the room and
carries no key; they join with their own:

  peets up --user USER --prefix PREFIX --room ROOM --invitation FILE --safebag SAFEBAG`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, group, u, err := f.parse()
			if err != nil {
				return err
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
			var inv *sec.Invitation
			if keyCert != "" {
				inv, err = inviteKey(r, f.user, proto.ParticipantPrefix(u, f.room), keyCert, valid)
			} else {
				inv, err = r.Invite(f.user, proto.ParticipantPrefix(u, f.room), valid)
			}
			if err != nil {
				return err
			}
			if out == "" {
				fmt.Fprintln(cmd.OutOrStdout(), inv.Link())
			} else if err := os.WriteFile(out, []byte(inv.Link()+"\n"), 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "invitation for %s in room %s, valid until %s: on their machine, peets up --user %s --room %s --invitation FILE-OR-LINK\n",
				inv.Participant, f.room, time.Now().Add(valid).Format(time.DateOnly), f.user, f.room)
			return nil
		},
	}
	f.add(cmd, "the invited person's")
	fl := cmd.Flags()
	fl.StringVar(&keyCert, "key-cert", "", "invite the key of this NDN certificate (ndnsec cert-dump), which the person holds, instead of a fresh one")
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
			fmt.Fprintf(w, "room:        %s\nanchor:      %s\nfingerprint: %s\nowner:       %s\ntrust dir:   %s\nkey epoch:   %d\n",
				f.room, r.AnchorName(), r.Fingerprint(), owner, dir, r.Epoch())
			if r.Owner() {
				fmt.Fprintf(w, "invited:     %d\n", len(r.Members()))
				for _, m := range r.Members() {
					fmt.Fprintf(w, "  %s\n", m)
				}
			}
			if gone := r.RemovedKeys(); len(gone) > 0 {
				fmt.Fprintf(w, "removed:     %d keys\n", len(gone))
				for _, k := range gone {
					fmt.Fprintf(w, "  %s\n", k)
				}
			}
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
	cmd.AddCommand(newRoomRemoveCmd())
	cmd.Flags().StringVar(&export, "export-anchor", "", "write the anchor's certificate to this file (base64, as ndnsec writes certificates)")
	cmd.Flags().StringVar(&exportKey, "export-media-key", "", "write the room's media key to this file (base64, mode 0600; a secret: whoever has it decrypts the room's media)")
	return cmd
}

// newRoomRemoveCmd removes a member from a room this machine owns and
// rotates the room's media key.
func newRoomRemoveCmd() *cobra.Command {
	var f memberFlags
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove a member from a room this machine owns: a new media key that the member does not get, and its certificate refused",
		Long: `Remove a member from a room this machine owns.

Every key invited for the member is removed: the room's media key moves to a
new epoch, sealed for each remaining invited member, and published by this
machine's running proxies of the room (they read the trust directory every
2 s). Members fetch it when a heartbeat announces the new epoch, refuse the
removed member's certificate and drop it from their rosters. From then on the
removed member opens none of the media sent. Invite it again for a new key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, group, u, err := f.parse()
			if err != nil {
				return err
			}
			r, err := sec.LoadRoom(dir, f.room, group)
			if err != nil {
				return err
			}
			if !r.Owner() {
				return fmt.Errorf("%w: room %s, anchor %s in %s: only its owner can remove members", sec.ErrNotOwner, f.room, r.AnchorName(), dir)
			}
			epoch, gone, err := r.Remove(proto.ParticipantPrefix(u, f.room))
			if err != nil {
				return err
			}
			for _, k := range gone {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", k)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "media key epoch %d sealed for %d members; this machine's running proxies of room %s publish it within 2 s\n",
				epoch, len(r.Members()), f.room)
			return nil
		},
	}
	f.add(cmd, "the member's")
	return cmd
}

// inviteKey invites the key of the certificate in file (an NDN key the
// person holds, as ndnsec made it), keeping its key id.
func inviteKey(r *sec.Room, user string, participant enc.Name, file string, valid time.Duration) (*sec.Invitation, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cert, err := sec.ReadCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("--key-cert %s: %w", file, err)
	}
	pub, err := sec.CertKey(cert)
	if err != nil {
		return nil, fmt.Errorf("--key-cert %s: %w", file, err)
	}
	return r.InviteKey(user, participant, pub, cert.Name().At(-3).Val, valid)
}
