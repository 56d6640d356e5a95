//go:build e2e

package forwarder

import (
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
)

// TestE2EResumeLatency measures, over restarts of a real `ndnd fw` after
// outages of random length, the time from the forwarder's socket accepting
// again (polled every millisecond) to OnUp, for a Conn with one strategy,
// five routes and a link; and checks the ordering guarantee: an Interest
// expressed the moment OnUp fires, over the Conn's own link route, is
// answered.
//
//	PEETS_NDND=/tmp/ndnd go test -tags e2e -run E2EResume -v ./daemon/forwarder/
func TestE2EResumeLatency(t *testing.T) {
	fw := newExtFw(t)
	fw.start()
	peer := startTLVPeer(t, "L")
	c := openT(t, Options{URI: "unix://" + fw.sock, StateDir: t.TempDir()})
	ctx := ctxT(t)
	if err := c.SetStrategy(ctx, name(t, "/resume/group"), MulticastStrategy); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := c.Register(ctx, name(t, fmt.Sprintf("/resume/r%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Link(ctx, "tcp://"+peer, []enc.Name{name(t, "/resume/link")}); err != nil {
		t.Fatal(err)
	}
	if !eventually(3*time.Second, func() bool {
		_, err := fetch(c.Engine(), name(t, "/resume/link/warm"), 300*time.Millisecond)
		return err == nil
	}) {
		t.Fatal("link not working")
	}

	type upEvent struct {
		at      time.Time
		up      bool
		fetched chan error
	}
	ups := make(chan upEvent, 4)
	var round atomic.Int64
	defer c.OnUp(func() {
		ev := upEvent{at: time.Now(), up: c.Up(), fetched: make(chan error, 1)}
		n := name(t, fmt.Sprintf("/resume/link/r%d", round.Load()))
		go func() { // expressed at once; the callback returns promptly
			_, err := fetch(c.Engine(), n, 500*time.Millisecond)
			ev.fetched <- err
		}()
		ups <- ev
	})()

	const rounds = 8
	var lat []time.Duration
	for r := 1; r <= rounds; r++ {
		round.Store(int64(r))
		fw.kill()
		if !eventually(time.Second, func() bool { return !c.Up() }) {
			t.Fatalf("round %d: loss not noticed", r)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(2500 * time.Millisecond))))
		if err := startQuiet(fw); err != nil {
			t.Fatal(err)
		}
		// the moment the socket accepts again
		var back time.Time
		deadline := time.Now().Add(5 * time.Second)
		for {
			if cc, err := net.Dial("unix", fw.sock); err == nil {
				back = time.Now()
				cc.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: forwarder did not come back", r)
			}
			time.Sleep(time.Millisecond)
		}
		var ev upEvent
		select {
		case ev = <-ups:
		case <-time.After(3 * time.Second):
			t.Fatalf("round %d: no OnUp (stats %+v)", r, c.Stats())
		}
		if !ev.up {
			t.Fatalf("round %d: OnUp fired with Up() false", r)
		}
		if err := <-ev.fetched; err != nil {
			t.Fatalf("round %d: Interest expressed in OnUp over the Conn's own link route failed: %v", r, err)
		}
		d := ev.at.Sub(back)
		lat = append(lat, d)
		t.Logf("round %d: socket back -> OnUp %v (re-apply of 7 entries %.1f ms)", r, d.Round(100*time.Microsecond), c.Stats().LastReapplyMS)
	}
	slices.Sort(lat)
	t.Logf("socket back -> OnUp over %d restarts: min %v, median %v, max %v", rounds,
		lat[0].Round(100*time.Microsecond), lat[rounds/2].Round(100*time.Microsecond), lat[rounds-1].Round(100*time.Microsecond))
	if lat[rounds-1] > 500*time.Millisecond {
		t.Fatalf("resume too slow: %v", lat)
	}
}

// startQuiet launches the forwarder without waiting for its socket.
func startQuiet(f *extFw) error { return f.StartNoWait() }
