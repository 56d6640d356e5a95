package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
)

// Media key rotation, the daemon's part (docs/protocol.md 4.9; the keys
// and the rekey Data are sec's):
//   - every heartbeat announces the newest key epoch this proxy holds;
//   - a member that hears of a newer one fetches G/rekey/v=<epoch> (from
//     whoever holds it: the owner, or any member that fetched it), opens
//     its own copy of the new key, and keeps it in its trust directory;
//   - every proxy serves the newest rekey Data it holds;
//   - the owner's proxies find a removal made by `peets room remove` by
//     reading the trust directory every rekeyPoll;
//   - a removed key loses its pin and its roster entry at once.
//
// Publishers seal with the newest epoch from their next packet on, and
// fetchers open either epoch (media/crypt.go): nothing else restarts.

// NoticeSink is a sink (a page) that shows the proxy's notices.
type NoticeSink interface {
	SendNotice(code, msg string)
}

// rekeyPoll is how often the rekey loop reads the trust directory, and
// retries a rekey fetch that failed.
const rekeyPoll = 2 * time.Second

// rekeyLifetime is the lifetime of a rekey Interest.
const rekeyLifetime = time.Second

// attachRekey answers Interests for G/rekey with the newest rekey Data held.
func (d *Daemon) attachRekey(e ndn.Engine) error {
	return e.AttachHandler(proto.RekeyPrefix(d.cfg.GroupPrefix()), func(a ndn.InterestHandlerArgs) {
		wire := d.room.RekeyWire()
		if wire == nil {
			return
		}
		want := a.Interest.Name()
		if epoch, err := proto.ParseRekeyName(d.cfg.GroupPrefix(), want); err == nil {
			if epoch != d.room.Epoch() {
				return
			}
		} else if !a.Interest.CanBePrefix() {
			return
		}
		_ = a.Reply(enc.Wire{wire})
	})
}

// noteEpoch is called when a member announces its key epoch.
func (d *Daemon) noteEpoch(epoch uint64) {
	if epoch <= d.room.Epoch() {
		return
	}
	select {
	case d.rekeyWant <- epoch:
	default: // the loop is busy; the next heartbeat says it again
	}
}

// rekeyLoop reads the trust directory and fetches newer rekeys until ctx
// is done.
func (d *Daemon) rekeyLoop(ctx context.Context) {
	t := time.NewTicker(rekeyPoll)
	defer t.Stop()
	var want uint64   // the newest epoch a member announced
	var removed bool  // a rekey left us out: stop asking
	var inflight bool // one fetch at a time
	done := make(chan []byte, 1)
	fetch := func() {
		if inflight || removed || want <= d.room.Epoch() {
			return
		}
		inflight = true
		d.fetchRekey(want, done)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-d.rekeyWant:
			want = max(want, e)
			fetch()
		case wire := <-done:
			inflight = false
			if wire == nil {
				continue // retried at the next tick
			}
			epoch, gone, err := d.room.AcceptRekey(wire, d.id)
			d.applyRemovals(gone)
			switch {
			case errors.Is(err, sec.ErrRemoved):
				removed = true
				d.log.Error("the room's owner removed this participant from the room: its media can no longer be opened here, and members refuse ours",
					"epoch", want, "err", err)
				msg := fmt.Sprintf("The owner of room %s removed you from it: the others no longer see or hear you, and you no longer receive them. Ask the owner for a new invitation to come back.", d.cfg.Room)
				d.removed.Store(&msg)
				for _, sk := range d.sinkList() {
					if ns, ok := sk.(NoticeSink); ok {
						ns.SendNotice(proto.CodeRemoved, msg)
					}
				}
			case err != nil:
				d.rekeyLog.Warn(d.log, "refused a rekey", "err", err)
			case epoch != 0:
				d.rotated(epoch, gone)
			}
		case <-t.C:
			epoch, gone, err := d.room.Reload()
			if err != nil {
				d.rekeyLog.Warn(d.log, "reading the room's keys", "err", err)
			}
			d.applyRemovals(gone)
			if epoch != 0 {
				d.rotated(epoch, gone)
			}
			fetch()
		}
	}
}

// fetchRekey expresses an Interest for epoch's rekey Data; done gets its
// wire, or nil.
func (d *Daemon) fetchRekey(epoch uint64, done chan<- []byte) {
	e := d.conn.Engine()
	fail := func() { done <- nil }
	intr, err := e.Spec().MakeInterest(proto.RekeyName(d.cfg.GroupPrefix(), epoch), &ndn.InterestConfig{
		Lifetime: optional.Some(rekeyLifetime),
		Nonce:    utils.ConvertNonce(e.Timer().Nonce()),
	}, nil, nil)
	if err != nil {
		fail()
		return
	}
	err = e.Express(intr, func(a ndn.ExpressCallbackArgs) {
		if a.Result != ndn.InterestResultData {
			d.log.Debug("rekey fetch", "epoch", epoch, "result", a.Result)
			fail()
			return
		}
		done <- a.RawData.Join()
	})
	if err != nil {
		fail()
	}
}

// applyRemovals drops the pins and roster entries of removed member keys.
func (d *Daemon) applyRemovals(gone []enc.Name) {
	if len(gone) == 0 {
		return
	}
	d.ver.Revoke(gone)
	for _, k := range gone {
		if len(k) < 3 {
			continue
		}
		p := k.Prefix(-2)
		if d.part.Table().Remove(p) {
			d.log.Warn("removed from the roster: the room's owner removed its key", "participant", p, "key", k)
		}
	}
}

// rotated logs a new epoch and tells the room with a heartbeat at once.
func (d *Daemon) rotated(epoch uint64, gone []enc.Name) {
	d.log.Info("media key rotated: media from now on is sealed with the new key", "epoch", epoch, "removed", len(gone))
	_ = d.part.Update(func(*proto.RosterEntry) {})
}
