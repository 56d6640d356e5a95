package media

import (
	"math"
	"math/rand/v2"
	"strings"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/internal/metric"
	"github.com/peets/peets/proto"
)

type slotState uint8

const (
	sWaiting   slotState = iota // Interest(s) outstanding or to be (re-)expressed
	sVerifying                  // a Data is being verified asynchronously
	sReceived                   // verified packet in data
	sGone                       // the publisher says it will never be served
)

// fslot is the fetcher's state of one seq in the window.
type fslot struct {
	seq       uint64 // 0: unused
	st        slotState
	data      []byte
	pending   int       // expressions awaiting their callback
	sends     int       // expressions so far (selects the Interest variant)
	retx      int       // retransmissions for loss
	lastSend  time.Time // newest expression
	holeSince time.Time // when a later packet arrived while this one is missing
	notBefore time.Time // Nack back-off
	verifyAt  time.Time // when verification started (sVerifying)
	readyAt   time.Time // when it became sReceived (verified, in order or not)
	unsigned  bool      // sVerifying: an unsigned packet waiting for its frame's manifest
	nacks     int
	bad       int // answers that failed the checks or verification
}

func (f *Fetcher) slot(seq uint64) *fslot {
	s := &f.slots[seq%uint64(len(f.slots))]
	if s.seq != seq {
		return nil
	}
	return s
}

// window is the number of Interests kept outstanding ahead of deliverSeq:
// the packets produced in the path's base RTT plus 200 ms (so a keyframe
// burst is mostly covered), bounded. The base RTT, not the smoothed one: a
// queue on the path must not grow the window. The Interests held at the
// publisher are answered whether or not the subscriber still wants them
// (a layer let go keeps coming for as long as its window reaches ahead),
// and a window grown with a queue takes more of a bottleneck the longer
// the queue is.
func (f *Fetcher) window() int {
	rate := max(f.cfg.RateHint, f.rate, float64(f.meta.Rate))
	rtt := f.srtt
	if f.minRTT > 0 {
		rtt = min(rtt, f.minRTT)
	}
	w := int(math.Ceil(rate * (rtt + 200*time.Millisecond).Seconds()))
	return min(max(w, f.cfg.MinWindow), f.cfg.MaxWindow)
}

// reorderWait is how long a hole may hold up delivery: at least long
// enough for its first retransmission and one more, each given an RTO to
// come back.
func (f *Fetcher) reorderWait() time.Duration {
	w := max(f.cfg.ReorderWait, f.retxDelay()+2*f.rto())
	return min(w, f.cfg.MaxReorderWait)
}

// retxDelay is the grace before the first retransmission of a hole (a
// later packet may only have overtaken it): half an RTT, or a quarter
// more than the reordering seen lately.
func (f *Fetcher) retxDelay() time.Duration {
	return min(max(f.srtt/2, 5*time.Millisecond, f.reoWin*5/4), 50*time.Millisecond)
}

// rto is the wait before another retransmission of the same hole:
// SRTT + 4 RTTVAR (RFC 6298, with a 5 ms floor on the variance term),
// clamped to [20 ms, 500 ms].
func (f *Fetcher) rto() time.Duration {
	r := f.srtt + max(4*f.rttvar, 5*time.Millisecond)
	return min(max(r, 20*time.Millisecond), 500*time.Millisecond)
}

// step advances the state machine and returns when it next needs to run.
func (f *Fetcher) step(now time.Time) time.Time {
	wake := now.Add(time.Second)
	if f.reoWin > 0 && now.Sub(f.reoAt) > reorderMemory {
		f.reoWin = 0 // no reordering lately
	}
	if f.metaPending {
		// Safety net: an answer lost in a full event queue, or a verifier
		// that never calls back.
		if giveUp := f.metaSent.Add(DefaultMetaLifetime + verifyTimeout); !now.Before(giveUp) {
			f.metaFailed(now)
		} else {
			wake = earliest(wake, giveUp)
		}
	}
	wake = earliest(wake, f.refreshStep(now))
	if f.boot == 0 {
		if !f.metaPending && !now.Before(f.metaRetry) {
			f.queryMeta(now)
		}
		if !f.metaPending {
			wake = earliest(wake, f.metaRetry)
		}
		return wake
	}
	if f.awaitKey {
		return earliest(wake, f.awaitStep(now))
	}
	f.deliver(now)
	f.fill(now)
	wake = earliest(wake, f.repair(now))
	wake = earliest(wake, f.pliStep(now))
	if f.probeWanted && !f.metaPending {
		f.probeWanted = false
		f.queryMeta(now)
	}
	// A flowing stream gives no RTT sample (its Interests wait at the
	// publisher for their packet): a metadata query, answered by the
	// publisher itself, measures the path a repair takes. It also tells
	// where the stream is.
	if !f.metaPending && now.Sub(f.lastData) < f.probeEvery {
		probeAt := f.lastSample.Add(f.cfg.RTTProbeInterval)
		if !now.Before(probeAt) {
			f.st.RTTProbes++
			f.queryMeta(now)
			f.lastSample = now // at most one query per period, answered or not
		} else {
			wake = earliest(wake, probeAt)
		}
	}
	// A stalled stream: ask where it is (catches restarts and long gaps).
	if !f.metaPending {
		probeAt := f.lastData.Add(f.probeEvery)
		if f.nextProbe.After(probeAt) {
			probeAt = f.nextProbe
		}
		if !now.Before(probeAt) {
			f.queryMeta(now)
			f.nextProbe = now.Add(f.probeEvery)
			f.probeEvery = min(2*f.probeEvery, maxStallProbe)
			probeAt = f.nextProbe
		}
		wake = earliest(wake, probeAt)
	}
	return wake
}

// awaitStep runs while the fetcher waits for a keyframe it asked for
// (AwaitKeyframe): no media Interests, the metadata polled until it names
// a newer keyframe (onMeta then starts there), the request repeated every
// second. It returns when it next needs to run.
func (f *Fetcher) awaitStep(now time.Time) time.Time {
	if now.Sub(f.lastPLI) >= time.Second {
		f.pliWanted = true
	}
	wake := earliest(now.Add(time.Second), f.pliStep(now))
	if !f.metaPending && !now.Before(f.nextKeyPoll) {
		f.queryMeta(now)
		f.nextKeyPoll = now.Add(f.cfg.KeyframePoll)
	}
	if !f.metaPending {
		wake = earliest(wake, f.nextKeyPoll)
	}
	return wake
}

// pliStep sends a wanted keyframe request unless one went within
// PLIInterval; it returns when the held one may go (zero: none held).
func (f *Fetcher) pliStep(now time.Time) time.Time {
	if !f.pliWanted {
		return time.Time{}
	}
	if now.Sub(f.lastPLI) >= f.cfg.PLIInterval {
		f.sendPLI(now)
		return time.Time{}
	}
	return f.lastPLI.Add(f.cfg.PLIInterval)
}

func earliest(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if !u.IsZero() && u.Before(t) {
			t = u
		}
	}
	return t
}

// deliver passes on the packets ready at deliverSeq and skips holes that
// waited long enough. A video packet skipped breaks the decoder's chain of
// references until the next keyframe, and the receiver cannot repair it
// (its NACK finds nothing here either): a keyframe is asked for at once,
// where the page would wait seconds before asking (Chromium: 3 s without
// a decodable frame; measured after a step down over a 1 Mbit/s link).
func (f *Fetcher) deliver(now time.Time) {
	wait := f.reorderWait()
	lost := f.st.Lost
	defer func() {
		if f.st.Lost > lost && isVideo(f.meta.MimeType) {
			f.pliWanted = true
		}
	}()
	for f.deliverSeq < f.nextExpress {
		s := f.slot(f.deliverSeq)
		switch {
		case s == nil:
			f.st.Lost++
		case s.st == sReceived:
			if f.st.Delivered == 0 {
				f.st.FirstPacket = metric.Millis(now.Sub(f.start))
			}
			f.st.Delivered++
			f.st.BytesDelivered += uint64(len(s.data))
			if len(s.data) > 1 && s.data[1]&0x80 != 0 {
				f.st.MarkersDelivered++
			}
			f.st.BufferDelay.Observe(now.Sub(s.readyAt))
			f.keep(s.seq, s.data)
			f.emit(s.data, s.seq)
		case s.st == sGone:
			f.st.Lost++
		case s.st == sWaiting && !s.holeSince.IsZero() && !now.Before(f.skipAt(s, wait)),
			s.st == sVerifying && s.unsigned && !now.Before(f.unsignedSkipAt(s, wait)):
			f.st.Lost++
		default:
			return
		}
		if s != nil {
			*s = fslot{}
		}
		f.deliverSeq++
	}
}

// emit passes one packet to OnPacket; a panic there is recovered and
// counted.
func (f *Fetcher) emit(pkt []byte, seq uint64) {
	defer recovered(&f.panics, &f.badLog, f.log, "OnPacket", nil)
	f.cfg.OnPacket(pkt, seq)
}

// unsignedSkipAt is when an unsigned packet whose frame's manifest has not
// come may be skipped: as late as a hole found when it arrived (the
// manifest is one, or comes after one), so that a lost manifest stalls the
// stream no longer than a lost packet would.
func (f *Fetcher) unsignedSkipAt(s *fslot, wait time.Duration) time.Time {
	return s.verifyAt.Add(3*wait + f.rto())
}

// skipAt is when the hole s may be skipped: once the reorder wait is over
// and the last retransmission had an RTO to come back (so that a fetcher
// descheduled for a while does not skip holes it never asked again for).
func (f *Fetcher) skipAt(s *fslot, wait time.Duration) time.Time {
	t := s.holeSince.Add(wait)
	switch {
	case s.retx == 0 && s.sends > 0:
		// repair retransmits long before this
		t = s.holeSince.Add(3 * wait)
	case s.retx > 0:
		if u := s.lastSend.Add(f.rto()); u.After(t) {
			t = u
		}
	}
	return t
}

// fill expresses Interests for new seqs up to the window, rounded up to a
// multiple of InterestBatch. The window counts from the next seq to
// deliver, and never from beyond the newest seq a verified Data vouched
// for (a packet, metadata, a "gone" answer): answers that failed
// verification move nothing, so an impostor cannot draw the window ahead.
func (f *Fetcher) fill(now time.Time) {
	w := uint64(f.window())
	f.st.Window = int(w)
	end := sat(min(f.deliverSeq, sat(f.knownLatest(), 1)), w)
	if b := uint64(f.cfg.InterestBatch); b > 1 && end <= math.MaxUint64-b {
		end = (end + b - 1) / b * b
	}
	for f.nextExpress < end {
		seq := f.nextExpress
		s := &f.slots[seq%uint64(len(f.slots))]
		*s = fslot{seq: seq}
		f.nextExpress++
		f.expressMedia(s, now)
	}
}

// repair re-expresses what needs it and returns when it next needs to look.
func (f *Fetcher) repair(now time.Time) time.Time {
	var wake time.Time
	wait := f.reorderWait()
	// Interests for packets not known to exist are renewed when they
	// expire only up to a lifetime's worth of packets ahead at the measured
	// rate, and one batch when the stream is idle (no Data for a lifetime):
	// those beyond would expire again and again, unanswered, before their
	// packet exists. They are renewed as the stream moves on.
	renewTo := f.nextExpress
	batch := uint64(f.cfg.InterestBatch)
	switch {
	case now.Sub(f.lastData) > f.cfg.Lifetime:
		renewTo = f.deliverSeq + batch
	case f.rate > 0:
		renewTo = f.deliverSeq + max(batch, uint64(f.rate*f.cfg.Lifetime.Seconds()))
	}
	netLife := f.cfg.Lifetime + time.Second // Interest lifetime, with a margin
	stale := now.Add(-netLife)
	var oldest time.Time // oldest expression still pending, nothing known missing
	for seq := f.deliverSeq; seq < f.nextExpress; seq++ {
		s := f.slot(seq)
		if s != nil && s.st == sWaiting && s.pending > 0 && s.holeSince.IsZero() && !s.lastSend.Before(stale) {
			// The common case (most of a large window): an Interest is
			// out and nothing says it is lost.
			if oldest.IsZero() || s.lastSend.Before(oldest) {
				oldest = s.lastSend
			}
			continue
		}
		if s != nil && s.st == sVerifying && s.unsigned {
			wake = earliest2(wake, f.unsignedSkipAt(s, f.reorderWait()))
			continue
		}
		if s != nil && s.st == sVerifying {
			// A verifier that never calls back must not stall the stream.
			if now.Sub(s.verifyAt) < verifyTimeout {
				wake = earliest2(wake, s.verifyAt.Add(verifyTimeout))
				continue
			}
			f.st.VerifyFailures++
			f.badLog.Warn(f.log, "verification timed out", "seq", seq)
			f.rejected(s, now)
		}
		if s == nil || s.st != sWaiting {
			continue
		}
		// Safety net: a callback that never came (event dropped).
		if s.pending > 0 && s.lastSend.Before(stale) {
			s.pending = 0
		}
		switch {
		case s.pending == 0:
			if now.Before(s.notBefore) {
				wake = earliest2(wake, s.notBefore)
			} else if f.renew(s, seq, renewTo) {
				f.expressMedia(s, now)
			}
		case !s.holeSince.IsZero() && s.retx < f.cfg.Retries:
			due := s.holeSince.Add(f.retxDelay())
			if s.retx > 0 {
				due = s.lastSend.Add(f.rto())
			}
			if due.Before(s.notBefore) {
				due = s.notBefore
			}
			if now.Before(due) {
				wake = earliest2(wake, due)
				continue
			}
			s.retx++
			f.st.Retransmitted++
			f.expressMedia(s, now)
		}
		if !s.holeSince.IsZero() {
			if seq == f.deliverSeq {
				wake = earliest2(wake, f.skipAt(s, wait))
			}
			if s.retx < f.cfg.Retries {
				due := s.holeSince.Add(f.retxDelay())
				if s.retx > 0 || due.Before(now) {
					due = s.lastSend.Add(f.rto())
				}
				if due.Before(s.notBefore) {
					due = s.notBefore // a Nack's or a bad answer's back-off
				}
				wake = earliest2(wake, due)
			}
		}
		if s.pending > 0 {
			wake = earliest2(wake, s.lastSend.Add(netLife))
		}
	}
	if !oldest.IsZero() {
		wake = earliest2(wake, oldest.Add(netLife))
	}
	return wake
}

// renew tells whether s (nothing pending, no back-off) is to be expressed
// again now, and counts why.
func (f *Fetcher) renew(s *fslot, seq, renewTo uint64) bool {
	known := seq <= f.knownLatest()
	switch {
	case !s.holeSince.IsZero():
		// Known missing: bounded retries, then it is skipped.
		if s.retx >= f.cfg.Retries {
			return false
		}
		s.retx++
		f.st.Retransmitted++
	case !known && seq >= renewTo:
		return false // see renewTo
	case s.bad > 0:
		f.st.Reasked++ // its last answer was bad; its back-off is over
	case known:
		f.st.Retransmitted++
	default:
		f.st.Refreshed++
	}
	return true
}

func earliest2(t, u time.Time) time.Time {
	if t.IsZero() || u.Before(t) {
		return u
	}
	return t
}

func (f *Fetcher) knownLatest() uint64 { return max(f.meta.Latest, f.highest) }

// sat is a + b, or the largest uint64 if that overflows.
func sat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// expressMedia expresses an Interest for s.seq. Successive expressions of one
// seq cycle through the four (CanBePrefix, MustBeFresh) variants: forwarders
// key their PIT entries on them, so a retransmission is not suppressed as a
// duplicate of the still-pending first Interest (YaNFD suppresses those for
// 400 ms) and reaches the publisher's ring at once. Once the seq got a bad
// answer every expression has MustBeFresh: forwarders cache the bad Data
// like any other and would give it again to an Interest without it (the
// publisher's packets carry no FreshnessPeriod, nor do an impostor's unless
// it chooses to: see badBackoff).
func (f *Fetcher) expressMedia(s *fslot, now time.Time) {
	v := s.sends % 4
	if s.bad > 0 {
		v |= 2
	}
	s.sends++
	s.pending++
	s.lastSend = now
	t := tag{kind: tagMedia, boot: f.boot, seq: s.seq, sent: now, existed: s.seq <= f.knownLatest()}
	f.express(proto.MediaName(f.prefix, f.boot, s.seq), v&1 != 0, v&2 != 0, f.cfg.Lifetime, t)
}

// refreshNow acts on Refresh: it re-expresses every Interest of the window
// still waiting for its Data, and the metadata query if one is pending or
// due, at once and again after 50, 100, 200... ms until one of these
// Interests is answered or an Interest lifetime has passed (the connection
// may be up before the publisher's route is back in the forwarder, and an
// Interest without a route waits there for its whole lifetime). The old
// Interests, if they still get an answer, count as duplicates.
func (f *Fetcher) refreshNow(now time.Time) {
	f.st.Refreshes++
	f.refreshStart, f.refreshGap, f.refreshOK = now, refreshFirstGap, false
	f.refreshNext = now.Add(f.refreshGap)
	f.reexpress(now)
}

// refreshFirstGap is the wait before the first follow-up of a Refresh.
const refreshFirstGap = 50 * time.Millisecond

// refreshStep runs the follow-ups of a Refresh and returns when it next
// needs to run (zero: none).
func (f *Fetcher) refreshStep(now time.Time) time.Time {
	switch {
	case f.refreshNext.IsZero():
	case f.refreshOK || f.refreshGap > f.cfg.Lifetime:
		f.refreshNext = time.Time{} // answered, or given up: normal repair
	case !now.Before(f.refreshNext):
		f.reexpress(now)
		f.refreshGap *= 2
		f.refreshNext = now.Add(f.refreshGap)
	}
	return f.refreshNext
}

// reexpress expresses again the window's Interests still waiting for their
// Data and the metadata query (see refreshNow).
func (f *Fetcher) reexpress(now time.Time) {
	switch {
	case f.metaPending:
		f.queryMeta(now)
	case f.boot == 0:
		f.metaRetry, f.metaBackoff = now, 100*time.Millisecond
	}
	f.probeEvery = stallProbe
	for seq := f.deliverSeq; seq < f.nextExpress; seq++ {
		s := f.slot(seq)
		if s == nil || s.st != sWaiting {
			continue
		}
		s.notBefore = time.Time{}
		f.st.Refreshed++
		f.expressMedia(s, now)
	}
}

func (f *Fetcher) queryMeta(now time.Time) {
	f.metaPending, f.metaSent = true, now
	f.st.MetaQueries++
	t := tag{kind: tagMeta, boot: f.boot, sent: now, existed: true}
	f.express(proto.MetaInterestName(f.prefix), true, true, DefaultMetaLifetime, t)
}

func (f *Fetcher) sendPLI(now time.Time) {
	f.pliWanted = false
	f.lastPLI = now
	f.st.PLISent++
	f.log.Debug("keyframe request sent", "stream", f.cfg.Stream, "known", f.meta.KeySeq, "deliver", f.deliverSeq)
	name := proto.PLIName(f.owner, f.cfg.Stream, f.boot, f.meta.KeySeq)
	t := tag{kind: tagPLI, boot: f.boot, sent: now}
	f.express(name, false, true, time.Second, t)
}

// express sends an Interest whose result comes back as an event.
func (f *Fetcher) express(name enc.Name, cbp, mbf bool, life time.Duration, t tag) {
	intr, err := f.engine.Spec().MakeInterest(name, &ndn.InterestConfig{
		CanBePrefix: cbp,
		MustBeFresh: mbf,
		Lifetime:    optional.Some(life),
		Nonce:       optional.Some(rand.Uint32()),
	}, nil, nil)
	if err != nil {
		f.log.Error("make interest", "name", name.String(), "err", err)
		f.post(event{tag: t, result: ndn.InterestResultError})
		return
	}
	// On a send error the PIT entry stays and times out: the callback
	// still comes.
	_ = f.engine.Express(intr, func(a ndn.ExpressCallbackArgs) {
		f.post(event{tag: t, result: a.Result, data: a.Data, covered: a.SigCovered})
	})
}

// post queues an event and handles it at once if the state is free (it
// runs on the engine goroutine, a timer's or the verifier's). It never
// blocks.
func (f *Fetcher) post(ev event) {
	select {
	case f.events <- ev:
	default:
		f.dropped.Add(1)
		return
	}
	f.pump()
}

// jumpTo restarts the window at seq (a resync or a new boot).
func (f *Fetcher) jumpTo(seq uint64) {
	clear(f.slots)
	f.haveTS = false
	if seq == 0 {
		seq = 1
	}
	f.deliverSeq, f.nextExpress = seq, seq
}

// startSeq is where to start in a stream described by m: its latest
// keyframe if recent enough, else the next packet.
func (f *Fetcher) startSeq(m proto.StreamMeta) (seq uint64, atKey bool) {
	if m.KeySeq > 0 && m.KeySeq <= m.Latest && m.KeySeq >= m.Oldest && m.Latest-m.KeySeq <= f.cfg.MaxStartLag {
		return m.KeySeq, true
	}
	return m.Latest + 1, false
}

func isVideo(mime string) bool {
	return strings.HasPrefix(strings.ToLower(mime), "video/")
}
