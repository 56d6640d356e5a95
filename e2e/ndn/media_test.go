//go:build e2e

package ndn

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/peets/peets/internal/bench"
	"github.com/peets/peets/internal/e2etest"
	"github.com/peets/peets/internal/proc"
)

// echo returns where worker output goes: the test log when -v.
func echo() *os.File {
	if testing.Verbose() {
		return os.Stderr
	}
	return nil
}

// TestFanout: one publisher and 1, then 8, subscriber processes on one
// forwarder, then 4 behind a second forwarder linked to the publisher's
// over UDP on 127.0.0.1 (`bench fanout --hops 2`). Every subscriber gets
// every RTP packet byte-identical and in order: none lost on loopback.
func TestFanout(t *testing.T) {
	bin := e2etest.Peets(t)
	for _, tc := range []struct{ n, hops int }{{1, 1}, {8, 1}, {4, 2}} {
		n := tc.n
		t.Run(fmt.Sprintf("subscribers=%d/hops=%d", n, tc.hops), func(t *testing.T) {
			res := runFanout(t, bench.FanoutConfig{Subscribers: n, Duration: 4 * time.Second, Bin: bin, Hops: tc.hops})
			if res.Expected < uint64(n)*200 {
				t.Fatalf("too few packets expected (%d): the stream did not flow", res.Expected)
			}
			if res.Delivered != res.Expected || res.Corrupt != 0 || res.OutOfOrder != 0 {
				t.Fatalf("delivered %d of %d, %d corrupt, %d out of order", res.Delivered, res.Expected, res.Corrupt, res.OutOfOrder)
			}
			if res.UploadFactor > 1.05 {
				t.Errorf("upload factor %.3f > 1.05", res.UploadFactor)
			}
		})
	}
}

// TestLossyLink: two subscribers behind a second forwarder whose UDP link
// to the publisher's drops 3 % of the datagrams each way and delays them by
// 10 ms (+ up to 2 ms of jitter), as a wide-area path between two hosts of a
// testbed would. The fetchers repair the losses by re-expressing their
// Interests before the packets' play-out deadline: at least 99 % of the
// packets arrive (in practice all of them), byte-identical and in order.
func TestLossyLink(t *testing.T) {
	const delay = 10 * time.Millisecond
	res := runFanout(t, bench.FanoutConfig{Subscribers: 2, Duration: 6 * time.Second, Bin: e2etest.Peets(t), Hops: 2,
		Link: bench.Impairment{Loss: 0.03, Delay: delay, Jitter: 2 * time.Millisecond, Seed: 1}})
	if res.Link == nil || res.Link.Dropped == 0 || res.Link.Stray != 0 {
		t.Fatalf("the link dropped nothing, or saw strays: %+v", res.Link)
	}
	if res.Expected < 2*300 {
		t.Fatalf("too few packets expected (%d): the stream did not flow", res.Expected)
	}
	if res.Corrupt != 0 || res.OutOfOrder != 0 {
		t.Fatalf("%d corrupt, %d out of order", res.Corrupt, res.OutOfOrder)
	}
	if res.Retransmitted == 0 {
		t.Fatal("no Interest was re-expressed over a lossy link")
	}
	if res.DeliveredRatio < 0.99 {
		t.Fatalf("delivered %d of %d (%.4f) with 3 %% loss each way; the fetchers gave up on %d",
			res.Delivered, res.Expected, res.DeliveredRatio, res.Lost)
	}
	if res.LatencyP50Ms < delay.Seconds()*1000 {
		t.Fatalf("latency p50 %.2f ms is below the link's one-way delay", res.LatencyP50Ms)
	}
}

// runFanout runs one `bench fanout` and logs its result.
func runFanout(t *testing.T, c bench.FanoutConfig) bench.FanoutResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if f := echo(); f != nil {
		c.Echo = f
	}
	res, err := bench.Fanout(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	t.Logf("%s", b)
	return res
}

var readyRe = regexp.MustCompile(`^ready$`)
var progressRe = regexp.MustCompile(`^progress n=(\d+)$`)
var fwRe = regexp.MustCompile(`^forwarder: (unix://\S+)$`)

type procs struct {
	t   *testing.T
	bin string
	dir string
	g   proc.Group
}

func newProcs(t *testing.T) *procs {
	p := &procs{t: t, bin: e2etest.Peets(t), dir: t.TempDir()}
	t.Cleanup(func() { p.g.StopAll(3 * time.Second) })
	return p
}

func (p *procs) start(name string, args ...string) *proc.Proc {
	p.t.Helper()
	return p.run(name, p.bin, args)
}

// run starts bin with args as the process name, stopped at the end of the
// test; its output goes to the log if the test fails.
func (p *procs) run(name, bin string, args []string) *proc.Proc {
	p.t.Helper()
	o := proc.Options{}
	if f := echo(); f != nil {
		o.Echo = f
	}
	pr, err := proc.Start(name, bin, args, o)
	if err != nil {
		p.t.Fatal(err)
	}
	p.g.Add(pr)
	p.t.Cleanup(func() {
		if p.t.Failed() {
			p.t.Logf("%s output:\n%s", name, pr.Output())
		}
	})
	return pr
}

// forwarder starts a `peets forwarder` process and returns its URI.
func (p *procs) forwarder() string {
	p.t.Helper()
	fw := p.start("fw", "forwarder", "--state-dir", filepath.Join(p.dir, "fw"), "--log-level", "warn")
	m, err := fw.WaitLine(fwRe, 10*time.Second)
	if err != nil {
		p.t.Fatal(err)
	}
	return m[1]
}

func (p *procs) worker(name, mode, room, fw string, extra ...string) (*proc.Proc, string) {
	p.t.Helper()
	out := filepath.Join(p.dir, name+".json")
	args := append([]string{"bench", "worker", "--mode", mode, "--user", name, "--room", room, "--forwarder", fw,
		"--state-dir", filepath.Join(p.dir, name), "--out", out, "--log-level", "info"}, extra...)
	w := p.start(name, args...)
	if _, err := w.WaitLine(readyRe, 20*time.Second); err != nil {
		p.t.Fatal(err)
	}
	return w, out
}

func readReport(t *testing.T, file string) bench.WorkerReport {
	t.Helper()
	var r bench.WorkerReport
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestJoinMidStream: a subscriber that joins mid-stream starts at a
// keyframe, within 200 ms of starting to fetch (the keyframe is in the
// publisher's ring or the forwarder's cache).
func TestJoinMidStream(t *testing.T) {
	p := newProcs(t)
	fw := p.forwarder()
	p.worker("pub", "pub", "mid", fw)
	time.Sleep(3 * time.Second) // past the first keyframe: mid-GOP
	sub, out := p.worker("sub", "sub", "mid", fw)
	time.Sleep(2 * time.Second)
	sub.Stop(5 * time.Second)
	r := readReport(t, out)
	var first *bench.Record
	for i := range r.Records {
		if r.Records[i].Stream == "video" {
			first = &r.Records[i]
			break
		}
	}
	if first == nil {
		t.Fatal("no video packet received")
	}
	if !first.Key {
		t.Fatalf("first video packet (seq %d) is not a keyframe", first.Seq)
	}
	for name, fs := range r.Stats.Fetchers {
		t.Logf("%s: first packet after %v, delivered %d, lost %d", name, fs.FirstPacket, fs.Delivered, fs.Lost)
		if fs.FirstPacket <= 0 || fs.FirstPacket.D() > 200*time.Millisecond {
			t.Errorf("%s: first packet after %v (want <= 200ms)", name, fs.FirstPacket)
		}
	}
}

// TestForwarderRestart: the external forwarder (an ndnd fw process, then
// NFD) is killed and restarted; publisher and subscriber resume within 2 s
// and neither exits.
func TestForwarderRestart(t *testing.T) {
	for _, kind := range []string{"ndnd", "nfd"} {
		t.Run(kind, func(t *testing.T) {
			var fw restartableFw
			if kind == "nfd" {
				fw = e2etest.NewNFD(t)
			} else {
				fw = e2etest.NewFw(t)
			}
			fw.Start()
			testRestart(t, fw)
		})
	}
}

// restartableFw is an external forwarder process (e2etest.Fw, e2etest.NFD).
type restartableFw interface {
	Start()
	Kill()
	URI() string
}

// testRestart runs a publisher and a subscriber on the running forwarder
// fw, kills and restarts it twice, and checks media resumes.
func testRestart(t *testing.T, fw restartableFw) {
	uri := fw.URI()
	p := newProcs(t)
	pub, _ := p.worker("pub", "pub", "restart", uri)
	sub, _ := p.worker("sub", "sub", "restart", uri, "--progress", "50ms")
	count := func() int { return progress(sub) }
	if !e2etest.Eventually(5*time.Second, func() bool { return count() > 50 }) {
		t.Fatalf("no media before the restart (count %d)", count())
	}
	for round := 1; round <= 2; round++ {
		fw.Kill()
		time.Sleep(500 * time.Millisecond)
		before := count()
		fw.Start()
		restarted := time.Now()
		if !e2etest.Eventually(5*time.Second, func() bool { return count() > before+10 }) {
			t.Fatalf("round %d: media did not resume (count %d -> %d)", round, before, count())
		}
		resume := time.Since(restarted)
		t.Logf("round %d: media resumed %v after the forwarder restarted", round, resume)
		if resume > 2*time.Second {
			t.Errorf("round %d: resumed after %v (want <= 2s)", round, resume)
		}
		if pub.Exited() || sub.Exited() {
			t.Fatalf("a proxy exited: pub %v sub %v", pub.Exited(), sub.Exited())
		}
	}
}
