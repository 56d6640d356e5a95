package linktap

import (
	"net"
	"testing"
	"time"

	"github.com/peets/peets/internal/netns/nstest"
)

// TestTap: datagrams sent from one namespace to another over a veth are
// counted once, on the receiving end only, with their wire size.
func TestTap(t *testing.T) {
	p := nstest.NewPair(t, "peetstap", 198)
	a, b := p.A, p.B
	tapB, err := Open(b, p.DevB, port)
	if err != nil {
		t.Fatal(err)
	}
	defer tapB.Close()
	tapA, err := Open(a, p.DevA, port)
	if err != nil {
		t.Fatal(err)
	}
	defer tapA.Close()
	rx, err := b.ListenUDP(&net.UDPAddr{IP: net.IPv4(10, 198, 0, 2), Port: 40000})
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := a.ListenUDP(&net.UDPAddr{IP: net.IPv4(10, 198, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	const n, size = 50, 1000
	for range n {
		if _, err := tx.WriteToUDP(make([]byte, size), &net.UDPAddr{IP: net.IPv4(10, 198, 0, 2), Port: 40000}); err != nil {
			t.Fatal(err)
		}
	}
	want := uint64(n * (size + 28 + l2Header))
	deadline := time.Now().Add(5 * time.Second)
	var c Counts
	for time.Now().Before(deadline) {
		if c, _ = tapB.Counts(); c.UDPBytes >= want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c.UDPBytes != want {
		t.Fatalf("tap on the receiving end: %+v, want %d UDP bytes", c, want)
	}
	if ca, _ := tapA.Counts(); ca.UDPBytes != 0 {
		t.Fatalf("tap on the sending end counted its own output: %+v", ca)
	}
}
