package bench

import (
	"slices"
	"testing"
)

// TestTreeRouting: next hops, neighbours and hop counts of the default
// tree (h0 the root, h1 and h2 its children, h3 under h1, h4 under h2).
func TestTreeRouting(t *testing.T) {
	tn := &treeNet{parents: []int{-1, 0, 0, 1, 2}}
	for _, c := range []struct{ from, to, next int }{
		{3, 4, 1}, {1, 4, 0}, {0, 4, 2}, {2, 4, 4}, {4, 3, 2}, {0, 3, 1}, {3, 0, 1}, {1, 3, 3},
	} {
		if got := tn.nextHop(c.from, c.to); got != c.next {
			t.Errorf("next hop h%d -> h%d: h%d, want h%d", c.from, c.to, got, c.next)
		}
	}
	if got := tn.neighbours(0); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("neighbours of h0: %v", got)
	}
	if got := tn.neighbours(2); !slices.Equal(got, []int{0, 4}) {
		t.Errorf("neighbours of h2: %v", got)
	}
	if got := tn.hops(3, 4); got != 4 {
		t.Errorf("h3 to h4: %d hops, want 4", got)
	}
	if got := tn.hops(2, 2); got != 0 {
		t.Errorf("h2 to itself: %d hops", got)
	}
}

func TestValidParents(t *testing.T) {
	for _, ok := range [][]int{{-1, 0}, {-1, 0, 0, 1, 2}, {-1, 0, 1, 2, 3}} {
		if err := validParents(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range [][]int{nil, {-1}, {0, 0}, {-1, -1}, {-1, 2, 0}, {-1, 1}} {
		if err := validParents(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestTreeDefaults: the defaults, and what a configuration may not ask.
func TestTreeDefaults(t *testing.T) {
	c := TreeConfig{Bin: "peets", Ndnd: "ndnd", NFD: "nfd"}
	if err := treeDefaults(&c); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Forwarders, []string{FwNFD, FwNdnd, FwPeets, FwPeets, FwNFD}) || *c.Publisher != 3 || c.Bots != 10 || c.Pages != 2 || c.Routing != "static" {
		t.Fatalf("defaults: %+v", c)
	}
	dv := TreeConfig{Bin: "peets", Ndnd: "ndnd", Routing: "dv"}
	if err := treeDefaults(&dv); err != nil || !slices.Equal(dv.Forwarders, slices.Repeat([]string{FwNdnd}, 5)) {
		t.Fatalf("dv: %v %v", err, dv.Forwarders)
	}
	zero := 0
	for name, bad := range map[string]TreeConfig{
		"dv on NFD":         {Bin: "p", Ndnd: "n", NFD: "f", Routing: "dv", Forwarders: []string{FwNFD, FwNdnd}, Parents: []int{-1, 0}},
		"no ndnd":           {Bin: "p", NFD: "f"},
		"no NFD":            {Bin: "p", Ndnd: "n"},
		"unknown kind":      {Bin: "p", Parents: []int{-1, 0}, Forwarders: []string{FwPeets, "yanfd"}},
		"forwarders count":  {Bin: "p", Parents: []int{-1, 0}, Forwarders: []string{FwPeets}},
		"publisher outside": {Bin: "p", Parents: []int{-1, 0}, Forwarders: []string{FwPeets, FwPeets}, Publisher: func() *int { p := 2; return &p }()},
		"routing":           {Bin: "p", Routing: "ospf"},
	} {
		if err := treeDefaults(&bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	root := TreeConfig{Bin: "p", Parents: []int{-1, 0}, Forwarders: []string{FwPeets, FwPeets}, Publisher: &zero}
	if err := treeDefaults(&root); err != nil || *root.Publisher != 0 {
		t.Fatalf("publisher on the root: %v %v", err, *root.Publisher)
	}
}

func TestStatusField(t *testing.T) {
	out := "General DV status:\n     version=1.5.3\n nRibEntries=4\n  nNeighbors=2\n"
	if n, err := statusField(out, "nRibEntries"); err != nil || n != 4 {
		t.Fatalf("%d %v", n, err)
	}
	if _, err := statusField(out, "nFibEntries"); err == nil {
		t.Fatal("a missing field read")
	}
}
