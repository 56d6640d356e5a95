package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/spf13/cobra"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/roster"
	"github.com/peets/peets/sec"
)

// newRosterCmd is a passive observer of a room: it sends no heartbeats and
// never appears in the roster.
func newRosterCmd() *cobra.Command {
	var f ndnFlags
	var room, group string
	var asJSON, watch bool
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "roster",
		Short: "Show who is in a room (a passive observer: it never appears in the roster)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signalContext(cmd.Context())
			defer cancel()
			if room == "" {
				return fmt.Errorf("--room is required")
			}
			log := f.logger()
			c, err := f.open(ctx, log)
			if err != nil {
				return err
			}
			defer c.Close()
			o := roster.ObserveOptions{Logger: log}
			if group != "" {
				if o.Group, err = enc.NameFromStr(group); err != nil || len(o.Group) == 0 {
					return fmt.Errorf("--group %q is not an NDN name", group)
				}
			} else {
				o.Group = proto.DefaultGroupPrefix(room)
			}
			// The room's anchor, if this machine knows it (it owns the
			// room, or imported an invitation): members are then listed
			// only with a certificate it issued.
			switch r, err := sec.LoadRoom(f.trust(), room, o.Group); {
			case err == nil:
				o.Room = r
			case errors.Is(err, sec.ErrNoRoom):
				log.Warn("this machine does not know the room's trust anchor: members are believed on first use, not checked against the anchor", "room", room, "trust_dir", f.trust())
			default:
				return err
			}
			obsCtx, stop := context.WithCancel(ctx)
			defer stop()
			t, err := roster.Observe(obsCtx, c, room, o)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if watch {
				for ev := range t.Subscribe(obsCtx) {
					if asJSON {
						b, _ := json.Marshal(ev)
						fmt.Fprintln(out, string(b))
						continue
					}
					switch {
					case ev.Chat != nil:
						fmt.Fprintf(out, "%s chat %s: %s\n", ev.Time.Format("15:04:05.000"), ev.Chat.From.User, ev.Chat.Text)
					case ev.Type == roster.EventUserTaken:
						fmt.Fprintf(out, "%s %s %s (%s) claimed by %s, held by %s: refused\n", ev.Time.Format("15:04:05.000"), ev.Type,
							ev.Member.User, ev.Member.Name, ev.Member.Participant, ev.Holder)
					default:
						fmt.Fprintf(out, "%s %s %s (%s) %s\n", ev.Time.Format("15:04:05.000"), ev.Type, ev.Member.User, ev.Member.Name, ev.Reason)
					}
				}
				return nil
			}
			wctx, wcancel := context.WithTimeout(ctx, wait)
			_ = t.WaitSynced(wctx)
			wcancel()
			if asJSON {
				b, err := t.JSON()
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(b))
				return nil
			}
			members := t.Snapshot()
			if err := roster.WriteText(out, room, members, time.Now()); err != nil {
				return err
			}
			if len(members) == 0 {
				fmt.Fprintln(out, "Nobody. A `peets up` is listed only while its page is open; bots and --no-web proxies always are.")
			}
			if r := t.Stats().Refusals(); len(r) > 0 {
				keys := slices.Sorted(maps.Keys(r))
				parts := make([]string, len(keys))
				for i, k := range keys {
					parts[i] = fmt.Sprintf("%s %d", k, r[k])
				}
				fmt.Fprintf(out, "Refused while listening: %s (the warnings above name who).\n", strings.Join(parts, ", "))
			}
			return nil
		},
	}
	f.add(cmd)
	fl := cmd.Flags()
	f.logLevel = "warn"
	fl.Lookup("log-level").DefValue = "warn"
	fl.StringVar(&room, "room", "", "room id")
	fl.StringVar(&group, "group", "", "room sync group prefix (default /peets/room/<room>)")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object (with --watch: one JSON event per line)")
	fl.BoolVar(&watch, "watch", false, "keep watching: print every join, update, leave and chat message")
	fl.DurationVar(&wait, "wait", time.Second, "how long to listen before printing the roster")
	return cmd
}
