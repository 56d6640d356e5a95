package sec

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"

	"github.com/peets/peets/proto"
)

// TestX25519FromEd25519: the X25519 public key mapped from an Ed25519
// public key is the one of the X25519 private key derived from its seed,
// so a sender needs only the member's certificate.
func TestX25519FromEd25519(t *testing.T) {
	for range 20 {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		x, err := x25519Private(priv)
		if err != nil {
			t.Fatal(err)
		}
		xp, err := x25519Public(pub)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x.PublicKey().Bytes(), xp.Bytes()) {
			t.Fatalf("mapped %x, derived %x", xp.Bytes(), x.PublicKey().Bytes())
		}
	}
	if _, err := x25519Public(make([]byte, 31)); err == nil {
		t.Fatal("a short key was mapped")
	}
}

// member is an invited member's view of a room: its own trust directory.
type member struct {
	dir  string
	room *Room
	id   *Identity
}

func invite(t *testing.T, owner *Room, user string) member {
	t.Helper()
	p := mustName(t, "/peets/user/"+user+"/"+owner.room)
	inv, err := owner.Invite(user, p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := ImportInvitation(dir, inv); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRoom(dir, owner.room, owner.group)
	if err != nil {
		t.Fatal(err)
	}
	id, err := LoadMember(dir, r, p)
	if err != nil {
		t.Fatal(err)
	}
	return member{dir: dir, room: r, id: id}
}

// TestRemoveRotates: the owner removes bob; ann opens the new epoch's key
// from the rekey Data, keeps it across a restart and refuses bob's
// certificate; bob cannot open it and is told he was removed; a rekey that
// was tampered with, or signed by another anchor, is refused; the owner's
// other processes find the rotation in the trust directory; an invitation
// made afterwards carries the new key.
func TestRemoveRotates(t *testing.T) {
	ownerDir := t.TempDir()
	group := mustName(t, "/peets/room/lab")
	owner, err := CreateRoom(ownerDir, "lab", group)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadRoom(ownerDir, "lab", group) // another proxy of the owner's machine
	if err != nil {
		t.Fatal(err)
	}
	ann, bob := invite(t, owner, "ann"), invite(t, owner, "bob")
	if ann.room.Epoch() != 1 || !bytes.Equal(ann.room.MediaKey(), owner.MediaKey()) {
		t.Fatalf("ann's key epoch %d", ann.room.Epoch())
	}
	if _, _, err := owner.Remove(mustName(t, "/peets/user/carol/lab")); !errors.Is(err, ErrNotMember) {
		t.Fatalf("removing a stranger: %v", err)
	}
	epoch, gone, err := owner.Remove(bob.id.Name())
	if err != nil || epoch != 2 || len(gone) != 1 || !gone[0].Equal(bob.id.KeyName()) {
		t.Fatalf("remove bob: epoch %d, %v, %v", epoch, gone, err)
	}
	if owner.Epoch() != 2 || bytes.Equal(owner.Key(2), owner.Key(1)) || len(owner.Members()) != 1 {
		t.Fatalf("owner: epoch %d, %d members", owner.Epoch(), len(owner.Members()))
	}
	wire := owner.RekeyWire()

	// Tampered, or from an impostor anchor of the same group: refused.
	bad := bytes.Clone(wire)
	bad[len(bad)-80] ^= 1
	if _, _, err := ann.room.AcceptRekey(bad, ann.id); !errors.Is(err, ErrBadRekey) {
		t.Fatalf("tampered rekey: %v", err)
	}
	impostor, err := NewRoom("lab", group)
	if err != nil {
		t.Fatal(err)
	}
	impostor.recordIssued(ann.id.KeyName(), ann.id.CertWire().Join())
	if _, _, err := impostor.Remove(ann.id.Name()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ann.room.AcceptRekey(impostor.RekeyWire(), ann.id); !errors.Is(err, ErrBadRekey) {
		t.Fatalf("impostor's rekey: %v", err)
	}
	if ann.room.Epoch() != 1 {
		t.Fatal("a refused rekey changed the epoch")
	}

	e, removed, err := ann.room.AcceptRekey(wire, ann.id)
	if err != nil || e != 2 || len(removed) != 1 || !bytes.Equal(ann.room.Key(2), owner.Key(2)) || ann.room.Key(1) == nil {
		t.Fatalf("ann: epoch %d, removed %v, %v", e, removed, err)
	}
	if e, _, err := ann.room.AcceptRekey(wire, ann.id); e != 0 || err != nil {
		t.Fatalf("the same rekey again: %d, %v", e, err)
	}
	if !bytes.Equal(ann.room.RekeyWire(), wire) {
		t.Fatal("ann does not serve the rekey")
	}
	cert, cov, err := spec.Spec{}.ReadData(enc.NewWireView(bob.id.CertWire()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ann.room.CheckMember(cert, cov, bob.id.KeyName()); !errors.Is(err, ErrRemoved) {
		t.Fatalf("bob's certificate at ann's: %v", err)
	}
	if _, _, err := owner.CheckMember(cert, cov, bob.id.KeyName()); !errors.Is(err, ErrRemoved) {
		t.Fatalf("bob's certificate at the owner's: %v", err)
	}

	if _, _, err := bob.room.AcceptRekey(wire, bob.id); !errors.Is(err, ErrRemoved) {
		t.Fatalf("bob: %v", err)
	}
	if bob.room.Key(2) != nil || bob.room.Epoch() != 1 {
		t.Fatal("bob has the new key")
	}
	// Even with the whole rekey Data, bob's key opens no recipient's copy.
	rk, err := proto.DecodeRekey(mustContent(t, wire))
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range rk.Recipients {
		if _, err := openFor(bob.id.priv, rk, rc.KeyName, rc.Wrapped); err == nil {
			t.Fatalf("bob opened %s's copy", rc.KeyName)
		}
	}

	// Restarts: ann's directory and the owner's other process.
	ann2, err := LoadRoom(ann.dir, "lab", group)
	if err != nil || ann2.Epoch() != 2 || !ann2.IsRemoved(bob.id.KeyName()) || ann2.RekeyWire() == nil {
		t.Fatalf("ann restarted: epoch %d, %v", ann2.Epoch(), err)
	}
	e, removed, err = other.Reload()
	if err != nil || e != 2 || len(removed) != 1 || !bytes.Equal(other.MediaKey(), owner.Key(2)) || !bytes.Equal(other.RekeyWire(), wire) {
		t.Fatalf("the owner's other process: epoch %d, removed %v, %v", e, removed, err)
	}
	if e, removed, err := other.Reload(); e != 0 || len(removed) != 0 || err != nil {
		t.Fatalf("reload again: %d %v %v", e, removed, err)
	}

	dan := invite(t, owner, "dan")
	if dan.room.Epoch() != 2 || !bytes.Equal(dan.room.MediaKey(), owner.Key(2)) {
		t.Fatalf("dan, invited after the rotation: epoch %d", dan.room.Epoch())
	}
	if _, err := LoadRoom(filepath.Join(ownerDir, "nowhere"), "lab", group); !errors.Is(err, ErrNoRoom) {
		t.Fatal(err)
	}
}

func mustContent(t *testing.T, wire []byte) []byte {
	t.Helper()
	d, _, err := spec.Spec{}.ReadData(enc.NewBufferView(wire))
	if err != nil {
		t.Fatal(err)
	}
	return d.Content().Join()
}
