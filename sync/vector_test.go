package roomsync

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/proto"
)

var t0 = time.Unix(1_800_000_000, 0)

func vname(t *testing.T, s string) enc.Name {
	t.Helper()
	n, err := enc.NameFromStr(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newTestVector(t *testing.T, self string) *vectorState {
	var n enc.Name
	if self != "" {
		n = vname(t, self)
	}
	return newVectorState(n, 100, 30*time.Second, 200*time.Millisecond, DefaultVectorBudget, 5*time.Minute,
		rand.New(rand.NewPCG(1, 2)), t0)
}

func entry(n enc.Name, boot, seq uint64) proto.SVEntry {
	return proto.SVEntry{Name: n, Boots: []proto.SVBoot{{Boot: boot, Seq: seq}}}
}

// Nobody but the member moves its own entry: a claim about it ahead of it
// (the 2^64-1 attack) is reported and changes nothing.
func TestVectorOwnEntryIsOurs(t *testing.T) {
	v := newTestVector(t, "/u/a/r")
	v.published(5, t0)
	for _, sv := range []proto.StateVector{
		{entry(v.self, 100, math.MaxUint64)},
		{entry(v.self, 101, 1)}, // a newer boot of ours
	} {
		hints, verdict := v.receive(sv, t0)
		if len(hints) != 0 || !verdict.ownClaim {
			t.Fatalf("%v: hints %v verdict %+v", sv, hints, verdict)
		}
	}
	got := v.vector(t0)
	if len(got) != 1 || got[0].Boots[0] != (proto.SVBoot{Boot: 100, Seq: 5}) {
		t.Fatalf("own entry moved: %v", got)
	}
	// An older seq of ours is no claim: the sender is behind.
	if _, verdict := v.receive(proto.StateVector{entry(v.self, 100, 3)}, t0); verdict.ownClaim || !v.suppress {
		t.Fatalf("outdated sender: verdict %+v suppress %v", verdict, v.suppress)
	}
}

// A received entry is a hint until learn: it is never carried on.
func TestVectorHintsUntilVerified(t *testing.T) {
	v := newTestVector(t, "/u/a/r")
	b := vname(t, "/u/b/r")
	hints, _ := v.receive(proto.StateVector{entry(b, 7, 3)}, t0)
	if len(hints) != 1 || hints[0].seq != 3 || hints[0].boot != 7 {
		t.Fatalf("hints %v", hints)
	}
	if sv := v.vector(t0); len(sv) != 0 {
		t.Fatalf("unverified entry carried: %v", sv)
	}
	v.learn(b, b.TlvStr(), 7, 3, t0)
	if sv := v.vector(t0); len(sv) != 1 || !sv[0].Name.Equal(b) {
		t.Fatalf("verified entry not carried: %v", sv)
	}
	// Not newer: no hint; an older boot: no hint; newer boot or seq: hint.
	for _, c := range []struct {
		boot, seq uint64
		hint      bool
	}{{7, 3, false}, {7, 2, false}, {6, 9, false}, {7, 4, true}, {8, 1, true}} {
		hints, _ := v.receive(proto.StateVector{entry(b, c.boot, c.seq)}, t0)
		if (len(hints) == 1) != c.hint {
			t.Fatalf("boot %d seq %d: hints %v", c.boot, c.seq, hints)
		}
	}
	// learn: an older boot changes nothing, a newer one replaces.
	v.learn(b, b.TlvStr(), 6, 50, t0)
	if boot, seq, _ := v.position(b.TlvStr()); boot != 7 || seq != 3 {
		t.Fatalf("older boot moved the position: %d %d", boot, seq)
	}
	v.learn(b, b.TlvStr(), 8, 1, t0)
	if boot, seq, _ := v.position(b.TlvStr()); boot != 8 || seq != 1 {
		t.Fatalf("newer boot: %d %d", boot, seq)
	}
}

// However many members it verified, a sent vector stays within budget,
// with the own entry first and the most recently updated peers.
func TestVectorBudget(t *testing.T) {
	v := newTestVector(t, "/u/a/r")
	v.published(1, t0)
	for i := range 300 {
		n := vname(t, fmt.Sprintf("/peets/user/member-%03d/room", i))
		v.learn(n, n.TlvStr(), 1_700_000_000, uint64(i+1), t0.Add(time.Duration(i)*time.Millisecond))
	}
	now := t0.Add(time.Second)
	sv := v.vector(now)
	size := len(proto.EncodeStateVector(sv))
	if size > DefaultVectorBudget+8 || len(sv) < 50 {
		t.Fatalf("%d entries, %d bytes", len(sv), size)
	}
	if !sv[0].Name.Equal(v.self) {
		t.Fatalf("own entry not first: %v", sv[0].Name)
	}
	if !sv[1].Name.Equal(vname(t, "/peets/user/member-299/room")) {
		t.Fatalf("newest peer not carried first: %v", sv[1].Name)
	}
	wire := proto.EncodeSyncData(vname(t, "/peets/room/room"), sv, [8]byte{})
	if len(wire) > 8800-200 {
		t.Fatalf("sync Data of %d bytes", len(wire))
	}
	t.Logf("%d of 301 entries in %d bytes", len(sv), size)
	// Idle peers are neither carried nor counted.
	later := t0.Add(10 * time.Minute)
	if sv := v.vector(later); len(sv) != 1 || len(v.idlePeers(later)) != 300 {
		t.Fatalf("idle peers carried: %d", len(sv))
	}
}

// A vector that lacks what this member knows (a newcomer's empty one) makes
// it answer after the suppression timeout, unless someone else answered.
func TestVectorSuppression(t *testing.T) {
	v := newTestVector(t, "/u/a/r")
	b := vname(t, "/u/b/r")
	v.published(3, t0)
	v.learn(b, b.TlvStr(), 7, 4, t0)
	if fire, send := v.due(t0); !fire || !send {
		t.Fatal("the first announcement is not due at once")
	}
	now := t0.Add(time.Second)
	v.receive(nil, now) // an observer's empty vector
	if !v.suppress || v.deadline.Before(now) || v.deadline.After(now.Add(200*time.Millisecond)) {
		t.Fatalf("suppress %v deadline %v", v.suppress, v.deadline.Sub(now))
	}
	// Someone else answers with everything we know: we stay quiet.
	v.receive(proto.StateVector{entry(v.self, 100, 3), entry(b, 7, 4)}, now.Add(10*time.Millisecond))
	if fire, send := v.due(now.Add(200 * time.Millisecond)); !fire || send {
		t.Fatalf("fire %v send %v: answered though suppressed", fire, send)
	}
	// Nobody answers: we do.
	now = now.Add(time.Minute)
	v.receive(proto.StateVector{entry(b, 7, 4)}, now) // lacks our own entry
	if fire, send := v.due(now.Add(200 * time.Millisecond)); !fire || !send {
		t.Fatalf("fire %v send %v: not answered", fire, send)
	}
	// An up-to-date vector in steady state pushes the periodic timer.
	now = now.Add(time.Second)
	v.receive(proto.StateVector{entry(v.self, 100, 3), entry(b, 7, 4)}, now)
	if d := v.deadline.Sub(now); d < 27*time.Second || d > 33*time.Second || v.suppress {
		t.Fatalf("periodic timer %v suppress %v", d, v.suppress)
	}
	// A peer updated within the suppression period may look outdated in
	// others' vectors: that alone does not make us answer.
	v.learn(b, b.TlvStr(), 7, 5, now)
	v.receive(proto.StateVector{entry(v.self, 100, 3), entry(b, 7, 4)}, now.Add(50*time.Millisecond))
	if v.suppress {
		t.Fatal("suppression entered for a peer updated just now")
	}
}

// SVS v3: a vector with a boot more than a day ahead is dropped whole.
func TestVectorFutureBoot(t *testing.T) {
	v := newTestVector(t, "/u/a/r")
	b, c := vname(t, "/u/b/r"), vname(t, "/u/c/r")
	hints, verdict := v.receive(proto.StateVector{
		entry(b, uint64(t0.Unix()), 1),
		entry(c, uint64(t0.Unix())+maxFutureBoot+1, 1),
	}, t0)
	if len(hints) != 0 || !verdict.futureBoot {
		t.Fatalf("hints %v verdict %+v", hints, verdict)
	}
}

func TestVectorTimers(t *testing.T) {
	v := newTestVector(t, "")
	for range 1000 {
		if d := v.periodicTimeout(); d < 27*time.Second || d >= 33*time.Second {
			t.Fatalf("periodic %v", d)
		}
		if d := v.suppressionTimeout(); d < 0 || d >= 200*time.Millisecond {
			t.Fatalf("suppression %v", d)
		}
	}
	// An observer announces nothing of its own.
	v.published(9, t0)
	if sv := v.vector(t0); len(sv) != 0 {
		t.Fatalf("observer vector %v", sv)
	}
}
