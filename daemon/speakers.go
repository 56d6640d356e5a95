package daemon

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/peets/peets/media/codec"
	"github.com/peets/peets/media/speaker"
	"github.com/peets/peets/proto"
)

// Who is speaking (issue #17; docs/protocol.md 6.3 audio_level): every
// audio packet, the page's own and every member's, carries its sender's
// audio level in an RTP header extension that the stream's roster entry
// names. The proxy feeds the levels to a speaker.Tracker and tells its
// pages the dominant speaker and the order, when they change.

// speakerInterval is how often the tracker decides.
const speakerInterval = 100 * time.Millisecond

// speakerResend: the pages get the order again this often even when
// nothing changed (a page that just joined).
const speakerResend = 2 * time.Second

// SpeakerSink is a sink (a page) that shows who is speaking.
type SpeakerSink interface {
	SendSpeakers(proto.Speakers)
}

// speakers guards the tracker: levels come from fetchers' goroutines.
type speakers struct {
	mu sync.Mutex
	tr *speaker.Tracker
}

// observeLevel takes the audio level of one packet of user's audio, whose
// level rides in header extension id (any goroutine; cheap: once per
// audio packet).
func (d *Daemon) observeLevel(user string, pkt []byte, id uint8) {
	level, _, ok := codec.AudioLevel(pkt, id)
	if !ok {
		return
	}
	now := time.Now()
	d.spk.mu.Lock()
	d.spk.tr.Observe(user, level, now)
	d.spk.mu.Unlock()
}

// forgetSpeaker drops a member who left.
func (d *Daemon) forgetSpeaker(user string) {
	d.spk.mu.Lock()
	d.spk.tr.Remove(user)
	d.spk.mu.Unlock()
}

// speakerLoop decides who is speaking and tells the pages until ctx is
// done.
func (d *Daemon) speakerLoop(ctx context.Context) {
	t := time.NewTicker(speakerInterval)
	defer t.Stop()
	var sent proto.Speakers
	var sentAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			d.spk.mu.Lock()
			d.spk.tr.Update(now)
			cur := proto.Speakers{Dominant: d.spk.tr.Dominant(), Order: d.spk.tr.Order()}
			d.spk.mu.Unlock()
			if cur.Dominant == sent.Dominant && slices.Equal(cur.Order, sent.Order) && now.Sub(sentAt) < speakerResend {
				continue
			}
			if cur.Dominant != sent.Dominant {
				d.log.Debug("dominant speaker", "user", cur.Dominant)
			}
			sent, sentAt = cur, now
			for _, sk := range d.sinkList() {
				if ss, ok := sk.(SpeakerSink); ok {
					ss.SendSpeakers(cur)
				}
			}
		}
	}
}
