// Package nstest gives tests two network namespaces joined by a veth
// pair, deleted at the end of the test (skipped where namespaces cannot
// be made: not Linux, not root, no iproute2).
package nstest

import (
	"fmt"
	"testing"

	"github.com/peets/peets/internal/netns"
)

// Pair is two namespaces joined by a veth: A's end DevA has address IPA,
// B's DevB has IPB (a /24).
type Pair struct {
	A, B       *netns.NS
	DevA, DevB string
	IPA, IPB   string
}

// NewPair makes a pair named after prefix on the private net 10.<octet>.0.0/24.
func NewPair(t testing.TB, prefix string, octet int) Pair {
	t.Helper()
	if err := netns.Check(); err != nil {
		t.Skip(err)
	}
	p := Pair{DevA: prefix + "a", DevB: prefix + "b", IPA: fmt.Sprintf("10.%d.0.1", octet), IPB: fmt.Sprintf("10.%d.0.2", octet)}
	var err error
	if p.A, err = netns.Add(netns.Name(prefix, "a")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.A.Delete() })
	if p.B, err = netns.Add(netns.Name(prefix, "b")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.B.Delete() })
	if err := netns.Veth(p.A, p.DevA, p.IPA+"/24", p.B, p.DevB, p.IPB+"/24"); err != nil {
		t.Fatal(err)
	}
	return p
}
