package bench

import (
	"math"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// TestGilbert: the loss model drops the fraction asked for, in runs of the
// mean length asked for.
func TestGilbert(t *testing.T) {
	for _, c := range []struct{ loss, burst float64 }{{0.03, 1}, {0.05, 4}, {0.2, 2}} {
		g := newGilbert(c.loss, c.burst)
		rng := rand.New(rand.NewPCG(7, 1))
		const n = 400000
		drops, runs := 0, 0
		prev := false
		for range n {
			d := g.drop(rng)
			if d {
				drops++
				if !prev {
					runs++
				}
			}
			prev = d
		}
		loss, burst := float64(drops)/n, float64(drops)/float64(runs)
		if math.Abs(loss-c.loss) > 0.1*c.loss {
			t.Errorf("loss %v burst %v: dropped %.4f", c.loss, c.burst, loss)
		}
		// Independent drops still make runs of 1/(1-loss) on average.
		want := max(c.burst, 1/(1-c.loss))
		if math.Abs(burst-want) > 0.1*want {
			t.Errorf("loss %v burst %v: mean run %.2f, want %.2f", c.loss, c.burst, burst, want)
		}
	}
	if g := newGilbert(0, 3); g.drop(rand.New(rand.NewPCG(1, 1))) {
		t.Error("loss 0 dropped a datagram")
	}
}

func TestImpairmentValidate(t *testing.T) {
	for _, m := range []Impairment{{Loss: -0.1}, {Loss: 0.6}, {Burst: 101}, {Delay: -time.Millisecond}, {Delay: 2 * time.Second}, {Jitter: 2 * time.Second}} {
		if m.Validate() == nil {
			t.Errorf("%+v accepted", m)
		}
	}
	if (Impairment{}).Active() || !(Impairment{Jitter: time.Millisecond}).Active() {
		t.Error("Active")
	}
}

// TestImpairedLink relays datagrams between two sockets standing for the
// forwarders, on loopback: each side sees the other's datagrams come from
// its own side of the link, delayed, some dropped; a stranger is ignored.
func TestImpairedLink(t *testing.T) {
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	fwA, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	defer fwA.Close()
	fwB, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	defer fwB.Close()
	const delay = 30 * time.Millisecond
	l, err := newImpairedLink(Impairment{Loss: 0.25, Delay: delay, Jitter: 5 * time.Millisecond, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.start(fwA.LocalAddr().(*net.UDPAddr).Port, fwB.LocalAddr().(*net.UDPAddr).Port)
	pa, pb := l.Ports()
	sideA := &net.UDPAddr{IP: lo.IP, Port: pa}
	sideB := &net.UDPAddr{IP: lo.IP, Port: pb}

	stranger, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	if _, err := stranger.WriteToUDP([]byte("x"), sideA); err != nil {
		t.Fatal(err)
	}

	const n = 200
	sent := time.Now()
	for i := range n {
		if _, err := fwA.WriteToUDP([]byte{byte(i)}, sideA); err != nil {
			t.Fatal(err)
		}
		if _, err := fwB.WriteToUDP([]byte{byte(i)}, sideB); err != nil {
			t.Fatal(err)
		}
	}
	recv := func(c *net.UDPConn, from *net.UDPAddr) (int, time.Duration) {
		got, first := 0, time.Duration(0)
		buf := make([]byte, 16)
		for {
			_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			_, src, err := c.ReadFromUDP(buf)
			if err != nil {
				return got, first
			}
			if src.Port != from.Port {
				t.Errorf("datagram from %v, want %v", src, from)
			}
			if got == 0 {
				first = time.Since(sent)
			}
			got++
		}
	}
	gotB, firstB := recv(fwB, sideB)
	gotA, firstA := recv(fwA, sideA)
	for _, c := range []struct {
		got   int
		first time.Duration
	}{{gotB, firstB}, {gotA, firstA}} {
		if c.got < n/2 || c.got > n*9/10 {
			t.Errorf("%d of %d datagrams through at 25%% loss", c.got, n)
		}
		if c.first < delay {
			t.Errorf("first datagram after %v, delay is %v", c.first, delay)
		}
	}
	r := l.Result()
	if r.Datagrams != 2*n || r.Dropped != uint64(2*n-gotA-gotB) || r.Stray != 1 {
		t.Errorf("result %+v: got %d + %d", r, gotA, gotB)
	}
}
