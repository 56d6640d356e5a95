package sec

import (
	"crypto/ecdsa"
	"errors"
	"os"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
)

// The testdata are ndnsec's own (ndn-cxx 0.9, ../shared/tools/nfd):
//
//	ndnsec key-gen -t e /ndn/edu/ucla/alice
//	ndnsec export -P secret -o alice-ecdsa.safebag -i /ndn/edu/ucla/alice
//	ndnsec cert-dump -i /ndn/edu/ucla/alice > alice-ecdsa.cert
func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSafeBagMember: a testbed member's ECDSA key, exported by ndnsec,
// joins a room as is. The owner invites the key from its certificate alone
// (no private key travels); the member puts its SafeBag's key in the
// invitation and imports it; its identity keeps the key's id under its
// participant prefix, signs ECDSA, and a verifier with the room's anchor
// fetches its certificate and accepts its Data; the media key rotates to it
// like to an Ed25519 member. A wrong password, or another key, is refused.
func TestSafeBagMember(t *testing.T) {
	bag := readTestdata(t, "alice-ecdsa.safebag")
	if _, _, err := ReadSafeBag(bag, []byte("wrong")); !errors.Is(err, ErrBadSafeBag) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, _, err := ReadSafeBag(bag[:200], []byte("secret")); !errors.Is(err, ErrBadSafeBag) {
		t.Fatalf("truncated: %v", err)
	}
	bagCert, priv, err := ReadSafeBag(bag, []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := priv.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("a %T key", priv)
	}
	cert, err := ReadCertificate(readTestdata(t, "alice-ecdsa.cert"))
	if err != nil || !cert.Name().Equal(bagCert.Name()) {
		t.Fatalf("ndnsec's certificate: %v", err)
	}
	pub, err := certPublicKey(cert)
	if err != nil {
		t.Fatal(err)
	}
	kid := cert.Name().At(-3).Val

	ownerDir := t.TempDir()
	group := mustName(t, "/peets/room/lab")
	owner, err := CreateRoom(ownerDir, "lab", group)
	if err != nil {
		t.Fatal(err)
	}
	p := mustName(t, "/ndn/edu/ucla/alice/lab")
	inv, err := owner.InviteKey("alice", p, pub, kid, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Key != "" {
		t.Fatal("an invitation for a key held elsewhere carries a key")
	}
	dir := t.TempDir()
	if _, err := ImportInvitation(dir, inv); !errors.Is(err, ErrNeedKey) {
		t.Fatalf("imported without its key: %v", err)
	}
	other, _ := NewEphemeral(p)
	if err := inv.SetKey(other.priv); !errors.Is(err, ErrBadInvitation) {
		t.Fatalf("another key: %v", err)
	}
	if err := inv.SetKey(priv); err != nil {
		t.Fatal(err)
	}
	// Through its link, as a person would hand it over.
	inv, err = ParseInvitation(inv.Link())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ImportInvitation(dir, inv); err != nil {
		t.Fatal(err)
	}
	room, err := LoadRoom(dir, "lab", group)
	if err != nil {
		t.Fatal(err)
	}
	id, err := LoadMember(dir, room, p)
	if err != nil {
		t.Fatal(err)
	}
	want := p.Append(enc.NewGenericComponent("KEY"), enc.NewGenericBytesComponent(kid))
	if !id.KeyName().Equal(want) || !sameKey(id.PublicKey(), pub) {
		t.Fatalf("identity %s, want %s with the SafeBag's key", id.KeyName(), want)
	}

	// A receiver fetches the certificate and checks alice's ECDSA Data.
	n := newNetwork(t)
	n.serve(id)
	v := NewVerifier(n.v.Engine(), nil)
	v.SetRoom(owner)
	d, cov := makeData(t, p.Append(enc.NewGenericComponent("media"), enc.NewSequenceNumComponent(1)), id.Signer())
	if err := n.verify(v, p, d, cov); err != nil {
		t.Fatalf("alice's ECDSA-signed Data: %v", err)
	}
	forged, _ := NewEphemeral(p)
	d, cov = makeData(t, p.Append(enc.NewGenericComponent("media"), enc.NewSequenceNumComponent(2)), forged.Signer())
	if err := n.verify(v, p, d, cov); err == nil {
		t.Fatal("an Ed25519 signature accepted for alice's ECDSA key")
	}

	// The media key rotates to her.
	bob := invite(t, owner, "bob")
	if _, _, err := owner.Remove(bob.id.Name()); err != nil {
		t.Fatal(err)
	}
	if e, _, err := room.AcceptRekey(owner.RekeyWire(), id); err != nil || e != 2 || string(room.Key(2)) != string(owner.Key(2)) {
		t.Fatalf("alice's rekey: epoch %d, %v", e, err)
	}
}
