package sec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"

	"github.com/peets/peets/daemon/forwarder"
)

// network is an embedded forwarder on which test identities serve their
// certificates (serve), and a second connection to it for the verifier
// (v), closed at the end of the test.
type network struct {
	t    *testing.T
	ctx  context.Context
	c, v *forwarder.Conn
}

func newNetwork(t *testing.T) *network {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	c, err := forwarder.Open(ctx, forwarder.Options{URI: forwarder.URIEmbedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	v, err := forwarder.Open(ctx, forwarder.Options{URI: "unix://" + c.SocketPath()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return &network{t: t, ctx: ctx, c: c, v: v}
}

// serve answers Interests for id's certificate and routes id's prefix.
func (n *network) serve(id *Identity) {
	n.t.Helper()
	if err := id.ServeCert(n.c.Engine()); err != nil {
		n.t.Fatal(err)
	}
	if err := n.c.Register(n.ctx, id.Name()); err != nil {
		n.t.Fatal(err)
	}
}

// verify runs v.Verify and waits for its result.
func (n *network) verify(v *Verifier, owner enc.Name, d ndn.Data, cov enc.Wire) error {
	n.t.Helper()
	got := make(chan error, 1)
	v.Verify(owner, d, cov, func(err error) { got <- err })
	select {
	case err := <-got:
		return err
	case <-n.ctx.Done():
		n.t.Fatal("no verification result")
		return nil
	}
}

// TestFetchCertificate: a verifier that does not know the owner's key fetches
// its certificate through a forwarder, pins it and verifies.
func TestFetchCertificate(t *testing.T) {
	n := newNetwork(t)
	alice := uniqueName(t, "/peets/user/alice")
	a, err := NewEphemeral(alice)
	if err != nil {
		t.Fatal(err)
	}
	n.serve(a)
	v := NewVerifier(n.v.Engine(), nil)
	d, cov := makeData(t, alice.Append(enc.NewSequenceNumComponent(3)), a.Signer())
	if err := n.verify(v, alice, d, cov); err != nil {
		t.Fatal(err)
	}
	if k, ok := v.PinnedKey(alice); !ok || !k.Equal(a.KeyName()) {
		t.Fatalf("pinned %v %v", k, ok)
	}
	// A second key for alice, served nowhere: conflict, not a fetch.
	a2, _ := NewEphemeral(alice)
	d, cov = makeData(t, alice.Append(enc.NewSequenceNumComponent(4)), a2.Signer())
	if err := n.verify(v, alice, d, cov); !errors.Is(err, ErrKeyConflict) {
		t.Fatalf("second key: %v", err)
	}
}

// TestNoKeyLocator: a Data without KeyLocator is checked with the owner's
// key, fetched as <owner>/KEY when not pinned yet.
func TestNoKeyLocator(t *testing.T) {
	n := newNetwork(t)
	bob := uniqueName(t, "/peets/user/bob")
	b, _ := NewEphemeral(bob)
	n.serve(b)
	v := NewVerifier(n.v.Engine(), nil)
	d, cov := makeData(t, bob.Append(enc.NewSequenceNumComponent(1)), NoKeyLocator(b.Signer()))
	if kl := d.Signature().KeyName(); len(kl) != 0 {
		t.Fatalf("key locator present: %s", kl)
	}
	if err := n.verify(v, bob, d, cov); err != nil {
		t.Fatal(err)
	}
	if k, ok := v.PinnedKey(bob); !ok || !k.Equal(b.KeyName()) {
		t.Fatalf("pinned %v %v", k, ok)
	}
	// Signed by someone else without KeyLocator: bad signature.
	m, _ := NewEphemeral(mustName(t, "/peets/user/mallory/r1"))
	d, cov = makeData(t, bob.Append(enc.NewSequenceNumComponent(2)), NoKeyLocator(m.Signer()))
	if err := n.verify(v, bob, d, cov); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: %v", err)
	}
}

// uniqueName returns prefix/<random>: the embedded forwarder's content store
// is process-wide, so a repeated run (go test -count=2) would otherwise be
// served the certificate of the previous run's key.
func uniqueName(t *testing.T, prefix string) enc.Name {
	t.Helper()
	return mustName(t, fmt.Sprintf("%s/r%d", prefix, rand.Uint64()))
}
