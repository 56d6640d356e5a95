package sec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"
)

func newRoomT(t *testing.T, room string) *Room {
	t.Helper()
	r, err := NewRoom(room, mustName(t, "/peets/room/"+room))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// checkServed checks the certificate id serves against r.
func checkServed(r *Room, id *Identity) error {
	d, cov, err := spec.Spec{}.ReadData(enc.NewWireView(id.CertWire()))
	if err != nil {
		return err
	}
	pub, _, err := r.CheckMember(d, cov, id.KeyName())
	if err == nil && !sameKey(pub, id.PublicKey()) {
		return errors.New("another key")
	}
	return err
}

// TestRoomCertify: the anchor certifies a participant prefix of its room;
// the certificate passes the room's check, not another room's; a
// self-signed certificate and a prefix of another room do not pass.
func TestRoomCertify(t *testing.T) {
	r, other := newRoomT(t, "lab"), newRoomT(t, "lab")
	ann, err := NewEphemeral(mustName(t, "/peets/user/ann/lab"))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkServed(r, ann); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("self-signed: %v", err)
	}
	if err := r.Certify(ann, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := checkServed(r, ann); err != nil {
		t.Fatalf("certified: %v", err)
	}
	if !ann.CertName().At(-2).Equal(r.issuerID) {
		t.Fatalf("issuer of %s is not the anchor's key id", ann.CertName())
	}
	if err := checkServed(other, ann); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("another room's anchor accepted it: %v", err)
	}
	bob, _ := NewEphemeral(mustName(t, "/peets/user/bob/kitchen"))
	if err := r.Certify(bob, time.Hour); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("certified a prefix of another room: %v", err)
	}
	in, _ := NewEphemeral(mustName(t, "/peets/room/lab/x/lab"))
	if err := r.Certify(in, time.Hour); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("certified a prefix inside the group: %v", err)
	}
	if u, ok := UserOf(ann.Name()); !ok || u != "ann" {
		t.Fatalf("UserOf = %q %v", u, ok)
	}
	// A member's key cannot certify another member: the schema wants the
	// anchor as the issuer of every certificate.
	s := schema{r}
	if s.Check(mustName(t, "/peets/user/eve/lab/KEY/k/x/v=1"), ann.CertName()) {
		t.Fatal("schema lets a member issue certificates")
	}
	if !s.Check(mustName(t, "/peets/user/ann/lab/media/v/seq=1"), ann.CertName()) ||
		s.Check(mustName(t, "/peets/user/bob/lab/media/v/seq=1"), ann.CertName()) {
		t.Fatal("schema: a member signs under its own prefix only")
	}
}

// TestRoomFiles: a room made on disk loads back owned; a second create
// refuses; the anchor's certificate alone loads back not owned.
func TestRoomFiles(t *testing.T) {
	dir := t.TempDir()
	g := mustName(t, "/peets/room/lab")
	r, err := CreateRoom(dir, "lab", g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateRoom(dir, "lab", g); !errors.Is(err, ErrAnchorConflict) {
		t.Fatalf("second create: %v", err)
	}
	l, err := LoadRoom(dir, "lab", g)
	if err != nil || !l.Owner() || l.Fingerprint() != r.Fingerprint() {
		t.Fatalf("load: %v owner %v", err, l != nil && l.Owner())
	}
	st, err := os.Stat(filepath.Join(roomDir(dir, g), anchorKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("anchor key file: %v %v", err, st)
	}
	if err := os.Remove(filepath.Join(roomDir(dir, g), anchorKeyFile)); err != nil {
		t.Fatal(err)
	}
	l, err = LoadRoom(dir, "lab", g)
	if err != nil || l.Owner() {
		t.Fatalf("load without key: %v owner %v", err, l != nil && l.Owner())
	}
	if _, err := LoadRoom(dir, "kitchen", mustName(t, "/peets/room/kitchen")); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("no room: %v", err)
	}
}

// TestInvitation: an invitation travels as a link, imports into another
// trust directory (not owned there), and gives the member its certified
// key; tampering and a directory that trusts another anchor refuse it.
func TestInvitation(t *testing.T) {
	r := newRoomT(t, "lab")
	p := mustName(t, "/peets/user/bob/lab")
	if _, err := r.Invite("ann", p, time.Hour); !errors.Is(err, ErrBadInvitation) {
		t.Fatalf("invitation for a prefix of another user: %v", err)
	}
	inv, err := r.Invite("bob", p, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	link := inv.Link()
	if !strings.HasPrefix(link, InvitationLinkPrefix) || strings.ContainsAny(link, " \n/+") {
		t.Fatalf("link %q", link)
	}
	file := filepath.Join(t.TempDir(), "bob.invitation")
	if err := os.WriteFile(file, []byte(link+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadInvitation(file)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ir, err := ImportInvitation(dir, got)
	if err != nil {
		t.Fatal(err)
	}
	if ir.Owner() || ir.Fingerprint() != r.Fingerprint() {
		t.Fatalf("imported room: owner %v, fingerprint %s want %s", ir.Owner(), ir.Fingerprint(), r.Fingerprint())
	}
	lr, err := LoadRoom(dir, "lab", r.Group())
	if err != nil {
		t.Fatal(err)
	}
	bob, err := LoadMember(dir, lr, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkServed(r, bob); err != nil {
		t.Fatalf("bob's certificate: %v", err)
	}
	if _, err := LoadMember(dir, lr, mustName(t, "/peets/user/carol/lab")); !errors.Is(err, ErrNoInvitation) {
		t.Fatalf("carol: %v", err)
	}
	// Another anchor for the same room in that directory: refused.
	other := newRoomT(t, "lab")
	inv2, _ := other.Invite("bob", p, time.Hour)
	if _, err := ImportInvitation(dir, inv2); !errors.Is(err, ErrAnchorConflict) {
		t.Fatalf("second anchor: %v", err)
	}
	// Tampering: bob's certificate with another room's anchor; garbage.
	bad := *inv
	bad.Anchor = inv2.Anchor
	if _, _, err := bad.Open(); !errors.Is(err, ErrBadInvitation) {
		t.Fatalf("swapped anchor: %v", err)
	}
	bad = *inv
	bad.Key = inv2.Key
	if _, _, err := bad.Open(); !errors.Is(err, ErrBadInvitation) {
		t.Fatalf("swapped key: %v", err)
	}
	for _, s := range []string{"", "{}", InvitationLinkPrefix + "!!", `{"peets_invitation":2}`, strings.Repeat("x", 1<<20)} {
		if _, err := ParseInvitation(s); !errors.Is(err, ErrBadInvitation) {
			t.Errorf("%.20q: %v", s, err)
		}
	}
}

// TestVerifierRoom: a verifier of a room with an anchor pins a member's key
// only from a certificate the anchor issued: an impostor serving a
// self-signed certificate for the member's prefix is refused (and counted),
// the real member is believed.
func TestVerifierRoom(t *testing.T) {
	n := newNetwork(t)
	r := newRoomT(t, "lab")
	// uniqueName appends a random component: ann's user id is that one.
	real := uniqueName(t, "/peets/user/ann").Append(enc.NewGenericComponent("lab"))
	imp, _ := NewEphemeral(real)
	n.serve(imp)
	v := NewVerifier(n.v.Engine(), nil)
	v.SetRoom(r)
	verify := func(id *Identity, seq uint64) error {
		d, cov := makeData(t, real.Append(enc.NewSequenceNumComponent(seq)), id.Signer())
		return n.verify(v, real, d, cov)
	}
	if err := verify(imp, 1); !errors.Is(err, ErrUntrusted) {
		t.Fatalf("impostor's self-signed certificate: %v", err)
	}
	if s := v.Stats(); s.Untrusted == 0 {
		t.Fatalf("not counted: %+v", s)
	}
	if err := imp.StopServing(n.c.Engine()); err != nil {
		t.Fatal(err)
	}
	ann, _ := NewEphemeral(real)
	if err := r.Certify(ann, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := ann.ServeCert(n.c.Engine()); err != nil {
		t.Fatal(err)
	}
	if err := verify(ann, 2); err != nil {
		t.Fatalf("certified member: %v", err)
	}
	if err := verify(imp, 3); !errors.Is(err, ErrKeyConflict) {
		t.Fatalf("impostor after the member: %v", err)
	}
}

// TestTrustConfigChain: ndnd's TrustConfig with the room's schema and
// anchor, and nothing of Peets' Verifier, validates a member's Data end to
// end, fetching the member's certificate over NDN through the Data's
// KeyLocator (what any NDN library does with its stock verifier); it
// refuses a self-signed impostor's Data and a member's Data outside its
// prefix.
func TestTrustConfigChain(t *testing.T) {
	n := newNetwork(t)
	r := newRoomT(t, "lab")
	ann, _ := NewEphemeral(uniqueName(t, "/peets/user/ann").Append(enc.NewGenericComponent("lab")))
	if err := r.Certify(ann, time.Hour); err != nil {
		t.Fatal(err)
	}
	mal, _ := NewEphemeral(uniqueName(t, "/peets/user/mal").Append(enc.NewGenericComponent("lab")))
	n.serve(ann)
	n.serve(mal)
	e := n.v.Engine()
	fetch := func(name enc.Name, cfg *ndn.InterestConfig, cb ndn.ExpressCallbackFunc) {
		cfg.Nonce = utils.ConvertNonce(e.Timer().Nonce())
		cfg.Lifetime = optional.Some(time.Second)
		i, err := e.Spec().MakeInterest(name, cfg, nil, nil)
		if err == nil {
			err = e.Express(i, cb)
		}
		if err != nil {
			cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultError, Error: err})
		}
	}
	validate := func(name enc.Name, id *Identity) error {
		d, cov := makeData(t, name, id.Signer())
		got := make(chan error, 1)
		r.tc.Validate(security.TrustConfigValidateArgs{Data: d, DataSigCov: cov, Fetch: fetch,
			Callback: func(ok bool, err error) {
				if !ok && err == nil {
					err = errors.New("not valid")
				}
				got <- err
			}})
		select {
		case err := <-got:
			return err
		case <-n.ctx.Done():
			t.Fatal("no validation result")
			return nil
		}
	}
	if err := validate(ann.Name().Append(enc.NewGenericComponent("sync"), enc.NewSequenceNumComponent(1)), ann); err != nil {
		t.Fatalf("member's Data: %v", err)
	}
	if err := validate(mal.Name().Append(enc.NewSequenceNumComponent(1)), mal); err == nil {
		t.Fatal("a self-signed impostor's Data validated")
	}
	if err := validate(mal.Name().Append(enc.NewSequenceNumComponent(2)), ann); err == nil {
		t.Fatal("a member's Data outside its prefix validated")
	}
}

// TestExpiredMember: a certificate that ran out is refused as expired, and
// an invitation that ran out no longer loads.
func TestExpiredMember(t *testing.T) {
	r := newRoomT(t, "lab")
	ann, _ := NewEphemeral(mustName(t, "/peets/user/ann/lab"))
	if err := r.Certify(ann, -30*time.Minute); err != nil { // issued an hour back, ended 30 min ago
		t.Fatal(err)
	}
	if err := checkServed(r, ann); !errors.Is(err, ErrExpired) || !errors.Is(err, ErrUntrusted) {
		t.Fatalf("expired certificate: %v", err)
	}
	inv, err := r.Invite("bob", mustName(t, "/peets/user/bob/lab"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lr, err := ImportInvitation(dir, inv)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := r.Invite("bob", mustName(t, "/peets/user/bob/lab"), -30*time.Minute)
	if _, _, err := old.Open(); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired invitation: %v", err)
	}
	if _, err := LoadMember(dir, lr, mustName(t, "/peets/user/bob/lab")); err != nil {
		t.Fatal(err)
	}
}
