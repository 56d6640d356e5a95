//go:build e2e

package ndn

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

var (
	impostorReadyRe = regexp.MustCompile(`^impostor ready$`)
	impostorDoneRe  = regexp.MustCompile(`^impostor answered (\d+)$`)
)

// TestImpostor: a bot publishes, a subscriber proxy fetches its video and
// audio, both on one `peets forwarder`. For 5 s another app on that
// forwarder (internal/e2etest/impostor) takes over the bot's media prefix
// P/media (registered with the Capture flag, so the forwarder sends it every
// media Interest) and answers everything with Data signed by its own keys:
// the stream stops, nothing crashes, and each stream is delivered again
// within 2 s of the impostor being told to stop (the figure is logged),
// although the forwarder's cache still holds the impostor's Data.
func TestImpostor(t *testing.T) {
	p := newProcs(t)
	room := fmt.Sprintf("imp%d", os.Getpid()%100000)
	fw := p.forwarder()
	alice := p.bots(room, fw, []string{"alice"})[0]
	m, err := alice.WaitLine(botRe, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	P := m[3]
	sub, out := p.worker("bob", "sub", room, fw, "--progress", "50ms")
	if !e2etest.Eventually(10*time.Second, func() bool { return progress(sub) > 100 }) {
		t.Fatalf("no media before the impostor (count %d)", progress(sub))
	}

	im := p.run("impostor", e2etest.Impostor(t), []string{"--forwarder", fw, "--prefix", P + "/media"})
	if _, err := im.WaitLine(impostorReadyRe, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // the Interests the bot held have expired
	stalled := progress(sub)
	time.Sleep(2 * time.Second)
	if n := progress(sub); n != stalled {
		t.Fatalf("the subscriber got %d packets while the impostor had the prefix: it did not take over", n-stalled)
	}
	// From the signal that stops it: the impostor answers until its
	// connection closes, so the figures below are upper bounds.
	left := time.Now()
	im.Stop(5 * time.Second)
	m, err = im.WaitLine(impostorDoneRe, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	answered, _ := strconv.Atoi(m[1])
	if answered == 0 {
		t.Fatal("the impostor answered nothing")
	}
	if !e2etest.Eventually(5*time.Second, func() bool { return progress(sub) > stalled+50 }) {
		t.Fatalf("media did not resume after the impostor left (count %d -> %d)", stalled, progress(sub))
	}
	time.Sleep(time.Second)
	if alice.Exited() || sub.Exited() {
		t.Fatalf("a proxy exited: bot %v, subscriber %v", alice.Exited(), sub.Exited())
	}
	sub.Stop(5 * time.Second)

	// When each stream resumed, from the subscriber's per-packet records.
	r := readReport(t, out)
	resumed := map[string]time.Duration{}
	for _, rec := range r.Records {
		if d := time.Unix(0, rec.TimeNs).Sub(left); d >= 0 {
			if _, ok := resumed[rec.Stream]; !ok {
				resumed[rec.Stream] = d
			}
		}
	}
	t.Logf("the impostor answered %d Interests in 5 s; the subscriber had %d packets when the stream stopped, %d in all", answered, stalled, len(r.Records))
	// Each bad answer is counted; the warnings are rate-limited (one per
	// fetcher per 5 s).
	warned := 0
	for _, l := range sub.Lines() {
		if strings.Contains(l, `msg="dropped a bad answer"`) {
			warned++
		}
	}
	if warned == 0 || warned > 2*4 {
		t.Errorf("%d warnings about bad answers (want 1 to 8: 2 fetchers, one per 5 s)", warned)
	}
	for _, s := range []string{"video", "audio"} {
		d, ok := resumed[s]
		t.Logf("%s resumed %v after the impostor left", s, d)
		if !ok || d > 2*time.Second {
			t.Errorf("%s: resumed %v (%v) after the impostor left (want <= 2s)", s, d, ok)
		}
	}
	if r.OutOfOrder != 0 {
		t.Errorf("%d packets out of order", r.OutOfOrder)
	}
	for name, fs := range r.Stats.Fetchers {
		t.Logf("%s: delivered %d, lost %d, verify failures %d, malformed %d, asked again %d", name, fs.Delivered, fs.Lost, fs.VerifyFailures, fs.Malformed, fs.Reasked)
		if fs.VerifyFailures == 0 {
			t.Errorf("%s: no verification failed: the impostor's Data did not reach it", name)
		}
	}
}

// progress is the last packet count a worker run with --progress printed
// (-1 before the first).
func progress(w *proc.Proc) int {
	n := -1
	for _, l := range w.Lines() {
		if m := progressRe.FindStringSubmatch(l); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
	}
	return n
}
