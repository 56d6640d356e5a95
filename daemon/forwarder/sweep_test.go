package forwarder

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/named-data/ndnd/fw/dispatch"
	"github.com/named-data/ndnd/fw/table"
	enc "github.com/named-data/ndnd/std/encoding"
	ndnlog "github.com/named-data/ndnd/std/log"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	sig "github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/peets/peets/internal/ratelog"
)

// refLRU is the obvious LRU the shadow must behave like.
type refLRU struct{ names []string } // oldest first

func (r *refLRU) touch(n string) {
	if i := slices.Index(r.names, n); i >= 0 {
		r.names = slices.Delete(r.names, i, i+1)
	}
	r.names = append(r.names, n)
}

func (r *refLRU) popOldest(n int) []string {
	n = min(n, len(r.names))
	out := slices.Clone(r.names[:n])
	r.names = r.names[n:]
	return out
}

// TestCSShadowIsAnLRU drives the shadow and a reference LRU with the same
// random touches and pops over a small name space (many repeats).
func TestCSShadowIsAnLRU(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s csShadow
	var ref refLRU
	for step := 0; step < 20000; step++ {
		if rng.IntN(4) == 0 {
			n := rng.IntN(5)
			got := s.popOldest(n, nil)
			want := ref.popOldest(n)
			if !slices.Equal(got, want) {
				t.Fatalf("step %d: popOldest(%d) = %q, want %q", step, n, got, want)
			}
		} else {
			name := fmt.Sprintf("n%d", rng.IntN(40))
			s.touch([]byte(name))
			ref.touch(name)
		}
		if s.len() != len(ref.names) {
			t.Fatalf("step %d: len %d, want %d", step, s.len(), len(ref.names))
		}
	}
	if got := s.popOldest(1000, nil); !slices.Equal(got, ref.names) {
		t.Fatalf("final order %q, want %q", got, ref.names)
	}
	if len(s.nodes) > 41 {
		t.Fatalf("%d nodes for at most 40 names: not reused", len(s.nodes))
	}
}

// TestSweepInterestEncoding: the sweep Interest is a valid packet that ndnd
// decodes with the exact name, nonce and lifetime; the name readers find
// the names of Data and Interests, in one buffer or across several.
func TestSweepInterestEncoding(t *testing.T) {
	n := name(t, "/peets/alice/media/v/t=1700000000/seq=42")
	nameVal := n.BytesInner() // the Name TLV-VALUE
	// a component above 252 bytes: a 3-byte TLV-LENGTH (written by hand:
	// ndnd v1.5.3 encodes component lengths as NonNegativeIntegers)
	big := make([]byte, 300)
	long := n.Append(enc.Component{Typ: enc.TypeGenericNameComponent, Val: big})
	longVal := append(slices.Clone(nameVal), append([]byte{8, 0xfd, 1, 44}, big...)...)
	for _, c := range []struct {
		nm  enc.Name
		val []byte
	}{{n, nameVal}, {long, longVal}} {
		nm, val := c.nm, c.val
		w := appendInterest(nil, string(val), 0xdeadbeef, sweepLifetime)
		if err := validatePacket(w, validateOpts{}); err != nil {
			t.Fatalf("sweep Interest invalid: %v", err)
		}
		i, _, err := spec.Spec{}.ReadInterest(enc.NewBufferView(w))
		if err != nil {
			t.Fatal(err)
		}
		if !i.Name().Equal(nm) || i.CanBePrefix() || i.MustBeFresh() {
			t.Fatalf("decoded %v cbp=%v mbf=%v", i.Name(), i.CanBePrefix(), i.MustBeFresh())
		}
		if nonce, _ := i.Nonce().Get(); nonce != 0xdeadbeef {
			t.Fatalf("nonce %x", nonce)
		}
		if lt, _ := i.Lifetime().Get(); lt != sweepLifetime {
			t.Fatalf("lifetime %v", lt)
		}
		if got := interestName(enc.Wire{w}); string(got) != string(val) {
			t.Fatalf("interestName %x, want %x", got, val)
		}
	}

	d, err := spec.Spec{}.MakeData(n, &ndn.DataConfig{}, enc.Wire{[]byte("x")}, sig.NewSha256Signer())
	if err != nil {
		t.Fatal(err)
	}
	if got := dataName(d.Wire); string(got) != string(nameVal) {
		t.Fatalf("dataName %x, want %x", got, nameVal)
	}
	joined := d.Wire.Join()
	// split inside the name: the reader joins
	if got := dataName(enc.Wire{joined[:7], joined[7:]}); string(got) != string(nameVal) {
		t.Fatalf("dataName across buffers %x, want %x", got, nameVal)
	}
	if dataName(enc.Wire{appendInterest(nil, string(nameVal), 1, time.Millisecond)}) != nil {
		t.Fatal("dataName of an Interest")
	}
	if interestName(enc.Wire{joined}) != nil {
		t.Fatal("interestName of a Data")
	}
	for _, bad := range [][]byte{nil, {6}, {6, 3, 7, 9}, {6, 2, 8, 0}} {
		if dataName(enc.Wire{bad}) != nil {
			t.Fatalf("dataName(%x) not nil", bad)
		}
	}
	local := name(t, "/localhost/nfd/rib/register").BytesInner()
	localhop := name(t, "/localhop/nfd/rib/register").BytesInner()
	if !localName(local) || !localName(localhop) || localName(nameVal) {
		t.Fatal("localName")
	}
}

// heapLive is the live heap after two collections (the name tree's nodes
// go back to a sync.Pool first, which drops them at the second).
func heapLive() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// pushUnsolicited sends n unsolicited Data with new names under prefix
// through c's in-process face and waits until the forwarding thread has
// processed them (its Data counter), then until the sweeper has nothing
// due and the PIT is empty (the sweeps' entries expired).
func pushUnsolicited(t *testing.T, c *Conn, prefix enc.Name, n int) {
	t.Helper()
	signer := sig.NewSha256Signer()
	content := enc.Wire{make([]byte, 100)}
	fw := dispatch.GetFWThread(0)
	in0 := fw.Counters().NInData
	// The forwarder's queue holds 1024 packets and drops above: send in
	// chunks, each once the forwarder processed the previous ones (its
	// Data counter), else the test would measure drops.
	const chunk = 256
	for i := 0; i < n; i++ {
		d, err := spec.Spec{}.MakeData(prefix.Append(enc.NewSequenceNumComponent(uint64(i))),
			&ndn.DataConfig{Freshness: optional.Some(time.Second)}, content, signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.inproc.Send(d.Wire); err != nil {
			t.Fatal(err)
		}
		if (i+1)%chunk == 0 || i == n-1 {
			sent := uint64(i + 1)
			if !eventually(30*time.Second, func() bool { return fw.Counters().NInData >= in0+sent }) {
				t.Fatalf("forwarder processed %d of %d Data", fw.Counters().NInData-in0, sent)
			}
		}
	}
	if !eventually(60*time.Second, func() bool {
		st := c.Stats()
		return (st.CSSweep == nil || st.CSSweep.Due == 0) && fw.Counters().NPitEntries == 0
	}) {
		t.Fatalf("sweeper still busy: %+v, PIT %d", c.Stats().CSSweep, fw.Counters().NPitEntries)
	}
}

// TestSweepBoundsNameTree: names pushed through the embedded forwarder
// beyond its CS capacity leave its tables. With the sweeper off, 12000 new
// names grow the live heap by their name tree nodes and CS LRU keys (~800
// bytes each: the leaks of ndnd v1.5.3 this test must see); with it on,
// after a warm-up, another 12000 names leave the heap where it was (the
// tree alone cleaned, ~100 bytes a name would stay). Memory is the only
// view of these tables YaNFD gives.
func TestSweepBoundsNameTree(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 50k packets through the forwarder")
	}
	dir := t.TempDir()
	c := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	sw := c.emb.sweep
	if sw == nil {
		t.Fatal("embedded forwarder without a sweeper")
	}
	const n = 12000
	run := fmt.Sprintf("/peets-test/sweep/%d", time.Now().UnixNano())
	// Fill the CS first, so that both measurements start with it full.
	pushUnsolicited(t, c, name(t, run+"/warm"), table.CfgCsCapacity()+sweepMargin+100)

	sw.setOn(false)
	h0 := heapLive()
	pushUnsolicited(t, c, name(t, run+"/off"), n)
	h1 := heapLive()
	sw.setOn(true)
	// The CS is full of the "off" names, untracked: they are evicted
	// without sweeps (they stay in the tree). Then a warm-up with the
	// sweeper, whose one-time growth (the shadow, the tree's maps at
	// their peak sizes, pools) is not the per-name cost.
	pushUnsolicited(t, c, name(t, run+"/refill"), table.CfgCsCapacity()+sweepMargin+100)
	pushUnsolicited(t, c, name(t, run+"/on1"), n)
	st0 := c.Stats().CSSweep
	// Two measured phases: a Go map that grows (they double) shows as
	// growth once; a leak shows in both.
	grewOn := math.MaxFloat64
	for _, phase := range []string{"/on2", "/on3"} {
		h2 := heapLive()
		pushUnsolicited(t, c, name(t, run+phase), n)
		h3 := heapLive()
		grewOn = min(grewOn, float64(int64(h3)-int64(h2))/n)
	}
	st1 := c.Stats().CSSweep

	grewOff := float64(int64(h1)-int64(h0)) / n
	t.Logf("live heap per name: %.0f bytes without sweeping, %.0f with; sweeper %+v", grewOff, grewOn, *st1)
	if grewOff < 400 {
		t.Fatalf("without sweeping the tree grew only %.0f bytes per name: the test no longer sees the leak", grewOff)
	}
	if grewOn > 60 {
		t.Fatalf("with sweeping the heap grew %.0f bytes per name (%.0f without)", grewOn, grewOff)
	}
	if swept := st1.Swept - st0.Swept; swept < 2*n-1 {
		t.Fatalf("swept %d of %d names", swept, 2*n)
	}
	if erased := st1.LRUErased - st0.LRUErased; erased < 2*n-1 {
		t.Fatalf("erased %d LRU keys for %d names", erased, 2*n)
	}
	if st1.Tracked > table.CfgCsCapacity()+sweepMargin || st1.Lost != 0 || st1.Unsweepable != 0 {
		t.Fatalf("sweeper %+v", *st1)
	}
}

// TestSweepHitRetracks: a name whose Data a consumer refreshed in the CS
// is swept too early; the CS answers the sweep, the name is tracked again,
// and its next sweep (after a full CS of newer names) prunes it.
func TestSweepHitRetracks(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, Options{URI: URIEmbedded, StateDir: dir})
	sw := c.emb.sweep
	if sw == nil {
		t.Fatal("embedded forwarder without a sweeper")
	}
	capacity := table.CfgCsCapacity()
	run := fmt.Sprintf("/peets-test/hit/%d", time.Now().UnixNano())
	// clear what earlier tests left in the shadow: everything is due
	pushUnsolicited(t, c, name(t, run+"/warm"), capacity+sweepMargin+100)
	h0 := sw.hits.Load()

	x := name(t, run+"/x")
	d, err := spec.Spec{}.MakeData(x, &ndn.DataConfig{}, enc.Wire{[]byte("x")}, sig.NewSha256Signer())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.inproc.Send(d.Wire); err != nil {
		t.Fatal(err)
	}
	// capacity-1 newer names: x is the oldest in the CS, then a CS hit
	// makes it the youngest there (the shadow does not see hits)
	pushUnsolicited(t, c, name(t, run+"/a"), capacity-1)
	got, err := fetchAny(c.Engine(), x)
	if err != nil || got != "x" {
		t.Fatalf("CS hit on x: %q %v", got, err)
	}
	// sweepMargin+1 more: the shadow sweeps x while the CS holds it
	pushUnsolicited(t, c, name(t, run+"/b"), sweepMargin+1)
	if !eventually(5*time.Second, func() bool { return sw.hits.Load() == h0+1 }) {
		t.Fatalf("hits %d, want %d", sw.hits.Load()-h0, 1)
	}
	// a full CS of newer names: x is swept again, and this time it is gone
	pushUnsolicited(t, c, name(t, run+"/c"), capacity+sweepMargin)
	if h := sw.hits.Load() - h0; h != 1 {
		t.Fatalf("hits %d after the second sweep of x, want 1", h)
	}
	if _, err := fetchAny(c.Engine(), x); err == nil {
		t.Fatal("x still cached")
	}
}

// TestFwTablesFound: the sweeper reaches the CS LRU and the dead nonce list
// of the embedded forwarder (fwtables.go); an ndnd whose layout differs
// fails here.
func TestFwTablesFound(t *testing.T) {
	c := openT(t, Options{URI: URIEmbedded, StateDir: t.TempDir()})
	st := c.Stats().CSSweep
	if st == nil || st.TablesErr != "" || c.emb.sweep.tbl == nil {
		t.Fatalf("sweeper %+v", st)
	}
}

// TestLogBridgeQueueDrops: the forwarder's queue-drop errors (one line per
// packet) are counted by kind and logged once per interval; the sweeper's
// intended drops (INFO) are not logged; lines below the asked level are not
// passed on.
func TestLogBridgeQueueDrops(t *testing.T) {
	var buf strings.Builder
	var drops queueDrops
	b := &logBridge{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		min: ndnlog.LevelWarn, drops: &drops, dropLog: ratelog.Limiter{Every: time.Hour}}
	for range 100 {
		b.Write([]byte(`time=x level=ERROR msg="Interest dropped due to full queue" tag=fw-thread-0` + "\n"))
	}
	b.Write([]byte(`time=x level=ERROR msg="Data dropped due to full queue" tag=fw-thread-0` + "\n"))
	b.Write([]byte(`time=x level=INFO msg="Non-existent face specified in NextHopFaceId for Interest" name=/a faceid=18446744073709551615` + "\n"))
	b.Write([]byte(`time=x level=INFO msg="Setting CS capacity" capacity=10` + "\n"))
	b.Write([]byte(`time=x level=WARN msg="Face DOWN" faceid=7` + "\n"))
	if drops.interests.Load() != 100 || drops.data.Load() != 1 {
		t.Fatalf("drops %d %d", drops.interests.Load(), drops.data.Load())
	}
	out := buf.String()
	if n := strings.Count(out, "forwarding queue full"); n != 1 {
		t.Fatalf("%d queue-drop logs, want 1: %s", n, out)
	}
	if strings.Contains(out, "NextHopFaceId") || strings.Contains(out, "CS capacity") || !strings.Contains(out, "Face DOWN") {
		t.Fatalf("bridge output: %s", out)
	}
}
