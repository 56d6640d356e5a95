package roster

import (
	"context"
	"log/slog"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
	roomsync "github.com/peets/peets/sync"
)

// ObserveOptions configures Observe.
type ObserveOptions struct {
	// Group is the room's sync group (default proto.DefaultGroupPrefix(room)).
	Group enc.Name
	// Verifier checks heartbeats (default: a sec.Verifier on the engine,
	// trusting the Room's anchor if set).
	Verifier roomsync.Verifier
	// Room is the room's anchor, if known: members are believed only with
	// a certificate it issued, and their user ids are bound to their
	// prefixes (Config.BindUsers). Nil: trust on first use.
	Room *sec.Room
	// ExpireAfter is how many intervals a silent member stays (default 3).
	ExpireAfter int
	// ChatHistory: see Config.ChatHistory.
	ChatHistory int
	// Sync tunes the sync group (see Config.Sync).
	Sync   roomsync.GroupConfig
	Logger *slog.Logger
}

// Observe builds a room's roster without taking part: it joins the sync
// group as an observer, which sends sync Interests (so members answer with
// the state vector within SVS's suppression period, ~200 ms) but publishes
// nothing, so it never appears in anyone's roster. The table is kept up to
// date, and its Subscribe works, until ctx is done; then the table's Done is
// closed. Call WaitSynced for a one-shot listing.
func Observe(ctx context.Context, conn roomsync.Conn, room string, o ObserveOptions) (*Table, error) {
	if conn == nil {
		return nil, ErrConfig
	}
	if err := proto.ValidIdent(room); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.Group) == 0 {
		o.Group = proto.DefaultGroupPrefix(room)
	}
	if o.Verifier == nil {
		v := sec.NewVerifier(conn.Engine(), o.Logger)
		if o.Room != nil {
			v.SetRoom(o.Room)
		}
		o.Verifier = v
	}
	t := newTable(room, o.ExpireAfter, o.Logger.With("module", "roster", "room", room, "observer", true))
	t.bindUsers = o.Room != nil
	gc := o.Sync
	gc.Conn, gc.Group, gc.Self, gc.Signer = conn, o.Group, nil, nil
	gc.Verifier = o.Verifier
	gc.OnPub = t.apply
	gc.AcceptPeer = roomPeer(room)
	gc.History = o.ChatHistory
	if gc.Logger == nil {
		gc.Logger = o.Logger
	}
	g, err := roomsync.Join(ctx, gc)
	if err != nil {
		t.close()
		return nil, err
	}
	t.group.Store(g)
	go func() {
		<-ctx.Done()
		g.Close()
		t.close()
	}()
	return t, nil
}
