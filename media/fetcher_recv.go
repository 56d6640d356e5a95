package media

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/proto"
)

type tagKind uint8

const (
	tagMedia tagKind = iota + 1
	tagMeta
	tagPLI
)

// tag identifies the Interest an event answers.
type tag struct {
	kind      tagKind
	boot, seq uint64
	sent      time.Time
	existed   bool // the Data existed when asked for: the delay is an RTT
}

// event is an Express result or a verification result, queued for Run.
type event struct {
	tag      tag
	result   ndn.InterestResult
	data     ndn.Data
	covered  enc.Wire
	verified bool // verification done, with error verr
	verr     error
}

// handleEvent is handle, with a panic recovered and counted; the answer
// is then dropped as a bad one (mu held).
func (f *Fetcher) handleEvent(ev event, now time.Time) {
	defer recovered(&f.panics, &f.badLog, f.log, "fetcher event", func() { f.drop(ev, now) })
	f.handle(ev, now)
}

// handle processes one event (mu held).
func (f *Fetcher) handle(ev event, now time.Time) {
	if ev.verified {
		f.onVerified(ev, now)
		return
	}
	switch ev.tag.kind {
	case tagMedia:
		s := f.mediaSlot(ev.tag)
		if s != nil && s.pending > 0 {
			s.pending--
		}
		switch ev.result {
		case ndn.InterestResultData:
			f.onMediaData(ev, s, now)
		case ndn.InterestResultNack:
			f.st.Nacks++
			if s != nil && s.st == sWaiting {
				s.nacks++
				s.notBefore = now.Add(min(20*time.Millisecond<<min(s.nacks, 6), time.Second))
			}
		default: // timeout, error: re-expressed by repair once nothing is pending
			f.st.Timeouts++
		}
	case tagMeta:
		// metaPending stays set until the answer is verified: no new
		// query while a certificate is being fetched.
		if ev.result != ndn.InterestResultData {
			f.st.Timeouts++
			f.metaFailed(now)
			return
		}
		f.checkThenVerify(ev, now)
	case tagPLI:
		if ev.result == ndn.InterestResultData {
			f.checkThenVerify(ev, now)
		}
	}
}

// countBehind counts a Data for a seq delivery has passed: a duplicate
// when its packet was delivered (the engine hands one Data to every
// pending Interest for its name, so the original Interest and its
// retransmission both get it), late when it was skipped (or is no longer
// buffered), or from an older boot.
func (f *Fetcher) countBehind(t tag) {
	if t.boot == f.boot && f.Buffered(t.seq) != nil {
		f.st.Duplicates++
		return
	}
	f.st.Late++
}

// mediaSlot returns the window slot an event of t is about, if still there.
func (f *Fetcher) mediaSlot(t tag) *fslot {
	if t.boot != f.boot || t.seq < f.deliverSeq {
		return nil
	}
	return f.slot(t.seq)
}

func (f *Fetcher) onMediaData(ev event, s *fslot, now time.Time) {
	isNack := ev.data != nil && ev.data.ContentType().GetOr(ndn.ContentTypeBlob) == ndn.ContentTypeNack
	if ev.tag.boot != f.boot && !isNack || ev.tag.boot == f.boot && ev.tag.seq < f.deliverSeq {
		// Only a "gone" answer to an old Interest may still tell something.
		f.countBehind(ev.tag)
		return
	}
	if s != nil && s.st != sWaiting {
		f.st.Duplicates++
		return
	}
	f.checkThenVerify(ev, now)
}

// checkThenVerify runs the cheap checks on a Data, then verifies it. The
// result comes back through onVerified, at once or later as an event.
func (f *Fetcher) checkThenVerify(ev event, now time.Time) {
	if err := f.check(ev); err != nil {
		f.st.Malformed++
		f.unverified(ev, err, now)
		return
	}
	if s := f.mediaSlot(ev.tag); s != nil && ev.tag.kind == tagMedia {
		sig := ev.data.Signature()
		s.st, s.verifyAt = sVerifying, now
		s.unsigned = sig != nil && sig.SigType() == ndn.SignatureDigestSha256
	}
	// cb may run before Verify returns (on this or another goroutine) or
	// later: the state word tells which, race-free.
	var state atomic.Int32 // 0: in Verify, 1: returned first, 2: cb first
	res := &ev
	f.verifier.Verify(f.owner, ev.data, ev.covered, func(err error) {
		res.verr = err
		res.verified = true
		if state.CompareAndSwap(0, 2) {
			return
		}
		f.post(*res)
	})
	if state.CompareAndSwap(0, 1) {
		return // asynchronous: an event will follow
	}
	f.onVerified(*res, now)
}

// setCipher prepares the opening of boot m.Boot's packets, sealed when the
// metadata gives a key epoch.
func (f *Fetcher) setCipher(m proto.StreamMeta) {
	f.cipher = nil
	if m.KeyEpoch == 0 {
		return
	}
	if f.cfg.MediaKeys == nil || f.cfg.MediaKeys.Epoch() == 0 {
		f.badLog.Warn(f.log, "the stream is encrypted and this proxy has no media key for the room: it cannot be played", "boot", m.Boot)
		f.cipher = &opener{}
		return
	}
	f.cipher = newOpener(f.cfg.MediaKeys, f.prefix, m.Boot, m.KeyEpoch)
}

// rtpOf is the RTP packet a checked media Data carries: its content, after
// the manifest if it has one.
func rtpOf(d ndn.Data) []byte {
	content := d.Content()
	var b []byte
	if len(content) == 1 {
		b = content[0]
	} else {
		b = content.Join()
	}
	if d.ContentType().GetOr(ndn.ContentTypeBlob) == proto.ContentTypeManifest {
		_, b, _ = proto.SplitManifest(b)
	}
	return b
}

// check validates a Data's name, type and size against the Interest of
// ev.tag.
func (f *Fetcher) check(ev event) error {
	return checkAnswer(f.prefix, ev.tag, ev.data, f.cfg.MaxPacketSize)
}

// checkAnswer validates a Data's name, type and size against the Interest
// of t, for the stream prefix (a fetcher's answers, a probe's).
func checkAnswer(prefix enc.Name, t tag, d ndn.Data, maxPacket int) error {
	if d == nil {
		return ErrMalformed
	}
	ct := d.ContentType().GetOr(ndn.ContentTypeBlob)
	content := d.Content()
	switch t.kind {
	case tagMedia:
		sn, err := proto.ParseMediaName(prefix, d.Name())
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotUnder, err)
		}
		if sn.Kind != proto.KindMedia || sn.Boot != t.boot || sn.Seq != t.seq {
			return fmt.Errorf("%w: %s is not the name asked for", ErrMalformed, d.Name())
		}
		// The RTP packet itself is checked once verified and opened
		// (onMediaVerified): here only its size, sealed or not.
		switch ct {
		case ndn.ContentTypeBlob:
			return checkMediaSize(content.Length(), maxPacket)
		case proto.ContentTypeManifest:
			_, rtp, err := proto.SplitManifest(content.Join())
			if err != nil {
				return fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			return checkMediaSize(uint64(len(rtp)), maxPacket)
		case ndn.ContentTypeNack:
			if content.Length() > proto.MaxMetaSize {
				return ErrOversized
			}
			return nil
		}
		return fmt.Errorf("%w: content type %d", ErrMalformed, ct)
	case tagMeta:
		sn, err := proto.ParseMediaName(prefix, d.Name())
		if err != nil {
			return fmt.Errorf("%w: %w", ErrNotUnder, err)
		}
		if sn.Kind != proto.KindMeta || sn.Boot == 0 || ct != ndn.ContentTypeBlob {
			return fmt.Errorf("%w: %s is not stream metadata", ErrMalformed, d.Name())
		}
	case tagPLI:
		if ct != ndn.ContentTypeBlob {
			return fmt.Errorf("%w: content type %d", ErrMalformed, ct)
		}
	}
	if content.Length() > proto.MaxMetaSize {
		return ErrOversized
	}
	return nil
}

// checkMediaSize checks the size of a media packet's RTP packet, sealed
// (up to gcmTag bytes more) or not.
func checkMediaSize(n uint64, maxSize int) error {
	if n > uint64(maxSize+gcmTag) {
		return fmt.Errorf("%w: %d bytes", ErrOversized, n)
	}
	if n < 12 {
		return fmt.Errorf("%w: %d bytes is no RTP packet", ErrMalformed, n)
	}
	return nil
}

// checkRTP checks that a content of n bytes looks like one RTP packet.
func checkRTP(n uint64, content enc.Wire, maxSize int) error {
	if n > uint64(maxSize) {
		return fmt.Errorf("%w: %d bytes", ErrOversized, n)
	}
	if n < 12 {
		return fmt.Errorf("%w: %d bytes is no RTP packet", ErrMalformed, n)
	}
	var first byte
	for _, b := range content {
		if len(b) > 0 {
			first = b[0]
			break
		}
	}
	if first>>6 != 2 {
		return fmt.Errorf("%w: RTP version %d", ErrMalformed, first>>6)
	}
	return nil
}

// unverified handles an answer that was dropped (it failed the checks or
// verification, or its content did not decode): it moves nothing. Its
// seq makes no hole and is not skipped, the window, boot, RTT and
// metadata stay as they were; the seq is asked again after a back-off,
// and the metadata query is over. Whoever answered may be an impostor
// registered for a longer prefix than the publisher's, or a forwarder's
// cache holding an impostor's Data: only Data that verify move the stream.
func (f *Fetcher) unverified(ev event, err error, now time.Time) {
	name := "(none)"
	if ev.data != nil {
		name = ev.data.Name().String()
	}
	f.badLog.Warn(f.log, "dropped a bad answer", "name", name, "err", err)
	f.drop(ev, now)
}

// drop ends the handling of an answer that was not used: its seq is asked
// again after a back-off, a metadata query is over.
func (f *Fetcher) drop(ev event, now time.Time) {
	switch ev.tag.kind {
	case tagMedia:
		if s := f.mediaSlot(ev.tag); s != nil && (s.st == sWaiting || s.st == sVerifying) {
			f.rejected(s, now)
		}
	case tagMeta:
		f.metaFailed(now)
	}
}

// Back-off of a seq whose answers fail (badBackoff).
const (
	minBadBackoff = 20 * time.Millisecond
	maxBadBackoff = 500 * time.Millisecond
)

// rejected puts s back to waiting after a bad answer, to be asked again
// after a back-off (badBackoff); nothing else about it changes.
func (f *Fetcher) rejected(s *fslot, now time.Time) {
	s.st = sWaiting
	s.bad++
	s.notBefore = later(s.notBefore, now.Add(f.badBackoff(s.bad)))
}

// badBackoff is the wait before asking again for a seq after its n-th bad
// answer: an RTO, doubling with each bad answer, at most maxBadBackoff.
// While an impostor answers, each seq of the window is asked at most ~2
// times a second; once it is gone, every seq is asked again within
// maxBadBackoff, with MustBeFresh (expressMedia), and gets the publisher's
// Data. An impostor's Data that carry a FreshnessPeriod still answer
// MustBeFresh Interests from forwarders' caches until they go stale: that
// is the forwarders' to bound, not the fetcher's.
func (f *Fetcher) badBackoff(n int) time.Duration {
	d := max(f.rto(), minBadBackoff) << min(n-1, 8)
	return min(d, maxBadBackoff)
}

func later(t, u time.Time) time.Time {
	if u.After(t) {
		return u
	}
	return t
}

// metaFailed ends a metadata query that got no usable answer; discovery
// retries with back-off.
func (f *Fetcher) metaFailed(now time.Time) {
	f.metaPending = false
	if f.boot == 0 {
		f.metaRetry = now.Add(f.metaBackoff)
		f.metaBackoff = min(2*f.metaBackoff, time.Second)
	}
}

func (f *Fetcher) onVerified(ev event, now time.Time) {
	if ev.verr != nil {
		f.st.VerifyFailures++
		f.unverified(ev, ev.verr, now)
		return
	}
	if !ev.tag.sent.Before(f.refreshStart) {
		f.refreshOK = true // the path to the publisher works again
	}
	switch ev.tag.kind {
	case tagMedia:
		if ev.data.ContentType().GetOr(ndn.ContentTypeBlob) == ndn.ContentTypeNack {
			f.onGone(ev, now)
			return
		}
		f.onMediaVerified(ev, now)
	case tagMeta:
		m, err := f.readMeta(ev)
		if err != nil {
			f.st.Malformed++
			f.unverified(ev, err, now)
			return
		}
		f.metaPending = false
		f.metaBackoff = 100 * time.Millisecond
		f.sampleRTT(now.Sub(ev.tag.sent), now)
		f.onMeta(m, now)
	case tagPLI:
		if m, err := f.readMeta(ev); err == nil && m.Boot == f.boot {
			f.learn(m)
		}
	}
}

func (f *Fetcher) readMeta(ev event) (proto.StreamMeta, error) {
	m, err := proto.DecodeStreamMeta(ev.data.Content().Join())
	if err != nil {
		return m, err
	}
	if ev.tag.kind == tagMeta {
		sn, _ := proto.ParseMediaName(f.prefix, ev.data.Name())
		if sn.Boot != m.Boot || sn.Seq != m.Latest {
			return m, fmt.Errorf("%w: name and content disagree", proto.ErrBadMeta)
		}
	}
	return m, nil
}

func (f *Fetcher) onMediaVerified(ev event, now time.Time) {
	s := f.mediaSlot(ev.tag)
	if s == nil {
		if ev.tag.boot == f.boot && ev.tag.seq < f.deliverSeq {
			f.countBehind(ev.tag)
		}
		return
	}
	if s.st == sReceived {
		f.st.Duplicates++
		return
	}
	pkt := rtpOf(ev.data)
	if f.cipher != nil {
		var err error
		if pkt, err = f.cipher.open(ev.tag.seq, pkt); err != nil {
			f.st.VerifyFailures++
			f.unverified(ev, err, now)
			return
		}
	}
	if err := checkRTP(uint64(len(pkt)), enc.Wire{pkt}, f.cfg.MaxPacketSize); err != nil {
		f.st.Malformed++
		f.unverified(ev, err, now)
		return
	}
	if !s.holeSince.IsZero() && f.overtaken(s, now) {
		f.st.Reordered++
		f.noteReorder(now.Sub(s.holeSince), now)
	}
	s.st, s.data, s.readyAt = sReceived, pkt, now
	f.st.Received++
	f.lastData = now
	f.probeEvery = stallProbe
	f.nextProbe = time.Time{}
	if ev.tag.existed && s.sends == 1 {
		// Karn's rule: an answer to a slot asked more than once may be
		// the answer to an earlier Interest.
		f.sampleRTT(now.Sub(ev.tag.sent), now)
	}
	f.sampleRate(now)
	f.sampleJitter(pkt, now)
	if ev.tag.seq > f.highest {
		f.highest = ev.tag.seq
	}
	// Earlier seqs whose Interest went out no later than this one's, or
	// has been out for longer than an RTO (re-expressed after this one's,
	// e.g. by Refresh), are missing: mark the holes. One waiting out the
	// back-off of a bad answer is asked again now: this packet came
	// through, so the path to the publisher works again (an impostor
	// left), and the hole would otherwise be skipped before its back-off
	// is over.
	rto := f.rto()
	for seq := f.deliverSeq; seq < ev.tag.seq; seq++ {
		h := f.slot(seq)
		if h != nil && h.st == sWaiting && h.holeSince.IsZero() &&
			(!h.lastSend.After(ev.tag.sent) || now.Sub(h.lastSend) > rto) {
			h.holeSince = now
			f.st.Holes++
			if h.bad > 0 {
				h.notBefore = time.Time{}
			}
		}
	}
}

// onGone handles the publisher's answer that a seq will never be served.
func (f *Fetcher) onGone(ev event, now time.Time) {
	m, err := proto.DecodeStreamMeta(ev.data.Content().Join())
	if err != nil {
		f.st.Malformed++
		f.unverified(ev, err, now)
		return
	}
	f.st.Gone++
	switch {
	case m.Boot > f.boot:
		f.onMeta(m, now)
	case m.Boot == f.boot && ev.tag.boot == f.boot:
		f.learn(m)
		if s := f.mediaSlot(ev.tag); s != nil && s.st != sReceived {
			s.st = sGone
		}
		if m.Oldest > f.deliverSeq {
			f.resync(m)
		}
	}
}

// onMeta acts on fresh metadata: discovery, restart or catching up.
func (f *Fetcher) onMeta(m proto.StreamMeta, now time.Time) {
	switch {
	case f.boot == 0 || m.Boot > f.boot ||
		m.Boot < f.boot && now.Sub(f.lastData) > bootRegressAfter:
		// A lower boot is normally a stale answer, but after a long
		// silence it is a publisher whose clock went back.
		if f.boot != 0 {
			f.st.Restarts++
			f.log.Info("publisher restarted", "old", f.boot, "new", m.Boot)
		}
		f.boot = m.Boot
		f.meta = m
		f.highest = 0
		f.setCipher(m)
		// The buffer is keyed by seq, which starts again at 1: packets of
		// the old boot must not answer a NACK for the new one.
		f.resetBuffer()
		f.lastData = now
		f.probeEvery = stallProbe
		seq, atKey := f.startSeq(m)
		f.jumpTo(seq)
		f.awaitKey = false
		if !atKey && isVideo(m.MimeType) {
			f.pliWanted = true
			if f.cfg.AwaitKeyframe {
				f.awaitKey, f.awaitAfter, f.nextKeyPoll = true, m.KeySeq, now.Add(f.cfg.KeyframePoll)
			}
		}
	case m.Boot == f.boot:
		f.learn(m)
		if f.awaitKey && m.KeySeq > f.awaitAfter && m.KeySeq <= m.Latest && m.KeySeq >= m.Oldest {
			// the keyframe asked for is out: start at it
			f.awaitKey = false
			f.st.KeyframesAwaited++
			f.jumpTo(m.KeySeq)
			return
		}
		if m.Latest >= f.deliverSeq && m.Latest-f.deliverSeq > f.maxLag() || m.Oldest > f.deliverSeq {
			f.resync(m)
		}
	}
	// An older boot (a stale cached answer) is ignored.
}

// maxLag is how far behind the newest packet the fetcher may be before it
// jumps to the latest keyframe: ~2 s of packets, at least two windows.
func (f *Fetcher) maxLag() uint64 {
	rate := max(f.cfg.RateHint, f.rate, float64(f.meta.Rate))
	return max(uint64(2*rate), 2*uint64(f.cfg.MaxWindow))
}

// resync jumps forward within the boot: to the latest keyframe if it is
// ahead, else to the next packet (asking for a keyframe).
func (f *Fetcher) resync(m proto.StreamMeta) {
	seq, atKey := f.startSeq(m)
	if seq <= f.deliverSeq {
		return
	}
	f.st.Resyncs++
	f.st.Lost += seq - f.deliverSeq
	f.jumpTo(seq)
	if !atKey && isVideo(m.MimeType) {
		f.pliWanted = true
	}
}

// learn keeps what m says about the current boot.
func (f *Fetcher) learn(m proto.StreamMeta) {
	if m.Latest >= f.meta.Latest {
		f.meta = m
	}
}

// sampleRTT feeds the RTT estimator of RFC 6298 (SRTT and RTTVAR, gains
// 1/8 and 1/4). The variance matters here more than in TCP: samples mix
// Data from the publisher with Data a nearby cache had, so the mean alone
// underestimates the RTT of a repair, which must reach the publisher
// whenever the loss was upstream of every cache.
// overtaken says whether the packet of hole s, arriving now, had only
// been overtaken by the later one: nothing was asked again for it, or its
// last retransmission went out too recently to have been answered yet
// (less than half the smallest RTT seen: this is the first Interest's
// answer, and the retransmission was spurious).
func (f *Fetcher) overtaken(s *fslot, now time.Time) bool {
	return s.retx == 0 || f.minRTT > 0 && now.Sub(s.lastSend) < f.minRTT/2
}

// Reordering (RFC 8985's reordering window, from the fetcher's own view):
// a packet overtaken by d widens the window to d; the window is
// forgotten after reorderMemory without reordering; the smallest RTT is
// renewed every rttMemory.
const (
	reorderMemory = 10 * time.Second
	rttMemory     = 10 * time.Second
)

// noteReorder records a packet overtaken by d (step forgets the window).
func (f *Fetcher) noteReorder(d time.Duration, now time.Time) {
	f.reoWin, f.reoAt = max(f.reoWin, d), now
}

func (f *Fetcher) sampleRTT(d time.Duration, now time.Time) {
	f.lastSample = now
	f.st.RTT.Observe(d)
	if f.minRTT == 0 || d < f.minRTT || now.Sub(f.minRTTAt) > rttMemory {
		f.minRTT, f.minRTTAt = d, now
	}
	if !f.rttSampled {
		f.srtt, f.rttvar, f.rttSampled = d, d/2, true
		return
	}
	dev := f.srtt - d
	if dev < 0 {
		dev = -dev
	}
	f.rttvar += (dev - f.rttvar) / 4
	f.srtt += (d - f.srtt) / 8
}

func (f *Fetcher) sampleRate(now time.Time) {
	if f.rateStart.IsZero() {
		f.rateStart = now
	}
	f.rateCount++
	if el := now.Sub(f.rateStart); el >= time.Second {
		r := float64(f.rateCount) / el.Seconds()
		if f.rate == 0 {
			f.rate = r
		} else {
			f.rate += (r - f.rate) / 4
		}
		f.rateCount, f.rateStart = 0, now
	}
}

// sampleJitter updates the RFC 3550 interarrival jitter estimate.
func (f *Fetcher) sampleJitter(pkt []byte, now time.Time) {
	if f.meta.ClockRate == 0 || len(pkt) < 12 {
		return
	}
	ts := binary.BigEndian.Uint32(pkt[4:8])
	if f.haveTS {
		transit := now.Sub(f.lastArrival).Seconds() - float64(int32(ts-f.lastTS))/float64(f.meta.ClockRate)
		f.jitter += (math.Abs(transit) - f.jitter) / 16
	}
	f.lastArrival, f.lastTS, f.haveTS = now, ts, true
}
