package linkshape

import (
	"net"
	"testing"
	"time"

	"github.com/peets/peets/internal/netns/nstest"
)

// TestShaper: a 1 Mbit/s token bucket on a veth lets about 1 Mbit/s
// through while 4 Mbit/s is offered and drops the rest; taken away, the
// link carries all; its counters add up over both qdiscs it set.
func TestShaper(t *testing.T) {
	p := nstest.NewPair(t, "peetsshape", 197)
	a, b := p.A, p.B
	rx, err := b.ListenUDP(&net.UDPAddr{IP: net.IPv4(10, 197, 0, 2), Port: 40000})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := a.ListenUDP(&net.UDPAddr{IP: net.IPv4(10, 197, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	// blast offers 4 Mbit/s for d (1000-byte datagrams every 2 ms) and
	// returns the bytes the receiver's interface got.
	blast := func(d time.Duration) uint64 {
		before, err := ReadDev(b, p.DevB)
		if err != nil {
			t.Fatal(err)
		}
		dst := &net.UDPAddr{IP: net.IPv4(10, 197, 0, 2), Port: 40000}
		end := time.Now().Add(d)
		for next := time.Now(); next.Before(end); next = next.Add(2 * time.Millisecond) {
			_, _ = tx.WriteToUDP(make([]byte, 1000), dst)
			time.Sleep(time.Until(next))
		}
		time.Sleep(300 * time.Millisecond) // the queue drains
		after, _ := ReadDev(b, p.DevB)
		return after.RxBytes - before.RxBytes
	}
	s := &Shaper{NS: a, Dev: p.DevA}
	if err := s.Set(1_000_000); err != nil {
		t.Fatal(err)
	}
	const d = time.Second
	got := blast(d)
	// At most the rate over the run plus the bucket and the 100 ms queue;
	// at least most of the rate (a loaded machine may send less).
	if hi := uint64(1_000_000/8*(d+400*time.Millisecond)/time.Second) + 4096; got > hi || got < 60_000 {
		t.Fatalf("1 Mbit/s for %v let %d bytes through, want 60000..%d", d, got, hi)
	}
	q := s.Qdisc()
	if q.Drops == 0 || q.Bytes == 0 {
		t.Fatalf("qdisc %+v: no drops at 4x the rate", q)
	}
	if err := s.Set(0); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(0); err != nil { // no qdisc to take away: no error
		t.Fatal(err)
	}
	// the bucket sent what it held before it went (lifted, not deleted
	// with its queue)
	lifted := s.Qdisc()
	if lifted.Bytes < q.Bytes || lifted.Drops != q.Drops {
		t.Fatalf("counters went back, or drops while lifting: %+v -> %+v", q, lifted)
	}
	q = lifted
	if got := blast(500 * time.Millisecond); got < 200_000 {
		t.Fatalf("unlimited: %d bytes in 0.5 s of 4 Mbit/s", got)
	}
	if q2 := s.Qdisc(); q2 != q {
		t.Fatalf("counters changed without a qdisc: %+v -> %+v", q, q2)
	}
	if err := s.Set(2_000_000); err != nil {
		t.Fatal(err)
	}
	blast(200 * time.Millisecond)
	if q3 := s.Qdisc(); q3.Bytes <= q.Bytes {
		t.Fatalf("a second qdisc's counters did not add: %+v -> %+v", q, q3)
	}

	// A limit lifted with a full queue: what the queue held still arrives
	// (deleting the qdisc would drop it, ~12 KB at 1 Mbit/s).
	if err := s.Set(1_000_000); err != nil {
		t.Fatal(err)
	}
	before, err := ReadDev(b, p.DevB)
	if err != nil {
		t.Fatal(err)
	}
	q = s.Qdisc()
	dst := &net.UDPAddr{IP: net.IPv4(10, 197, 0, 2), Port: 40000}
	const sent = 30
	for range sent {
		_, _ = tx.WriteToUDP(make([]byte, 1000), dst)
	}
	if err := s.Set(0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	after, _ := ReadDev(b, p.DevB)
	dropped := s.Qdisc().Drops - q.Drops
	if got, want := (after.RxBytes-before.RxBytes)/1000, uint64(sent)-dropped; got < want {
		t.Fatalf("lifting the limit lost the queue: %d of %d datagrams arrived, %d dropped on the way in", got, sent, dropped)
	}
}
