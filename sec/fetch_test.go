package sec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
)

// TestFetchCertificate: a verifier that does not know the owner's key fetches
// its certificate through a forwarder, pins it and verifies.
func TestFetchCertificate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := forwarder.Open(ctx, forwarder.Options{URI: forwarder.URIEmbedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	alice := uniqueName(t, "/peets/user/alice")
	a, err := NewEphemeral(alice)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ServeCert(c.Engine()); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, alice); err != nil {
		t.Fatal(err)
	}
	c2, err := forwarder.Open(ctx, forwarder.Options{URI: "unix://" + c.SocketPath()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	v := NewVerifier(c2.Engine(), nil)
	d, cov := makeData(t, alice.Append(enc.NewSequenceNumComponent(3)), a.Signer())
	got := make(chan error, 1)
	v.Verify(alice, d, cov, func(err error) { got <- err })
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("no verification result")
	}
	if k, ok := v.PinnedKey(alice); !ok || !k.Equal(a.KeyName()) {
		t.Fatalf("pinned %v %v", k, ok)
	}
	// A second key for alice, served nowhere: conflict, not a fetch.
	a2, _ := NewEphemeral(alice)
	d, cov = makeData(t, alice.Append(enc.NewSequenceNumComponent(4)), a2.Signer())
	v.Verify(alice, d, cov, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrKeyConflict) {
		t.Fatalf("second key: %v", err)
	}
}

// TestNoKeyLocator: a Data without KeyLocator is checked with the owner's
// key, fetched as <owner>/KEY when not pinned yet.
func TestNoKeyLocator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := forwarder.Open(ctx, forwarder.Options{URI: forwarder.URIEmbedded, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bob := uniqueName(t, "/peets/user/bob")
	b, _ := NewEphemeral(bob)
	if err := b.ServeCert(c.Engine()); err != nil {
		t.Fatal(err)
	}
	if err := c.Register(ctx, bob); err != nil {
		t.Fatal(err)
	}
	c2, err := forwarder.Open(ctx, forwarder.Options{URI: "unix://" + c.SocketPath()})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	v := NewVerifier(c2.Engine(), nil)
	d, cov := makeData(t, bob.Append(enc.NewSequenceNumComponent(1)), NoKeyLocator(b.Signer()))
	if kl := d.Signature().KeyName(); len(kl) != 0 {
		t.Fatalf("key locator present: %s", kl)
	}
	got := make(chan error, 1)
	v.Verify(bob, d, cov, func(err error) { got <- err })
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if k, ok := v.PinnedKey(bob); !ok || !k.Equal(b.KeyName()) {
		t.Fatalf("pinned %v %v", k, ok)
	}
	// Signed by someone else without KeyLocator: bad signature.
	m, _ := NewEphemeral(mustName(t, "/peets/user/mallory/r1"))
	d, cov = makeData(t, bob.Append(enc.NewSequenceNumComponent(2)), NoKeyLocator(m.Signer()))
	v.Verify(bob, d, cov, func(err error) { got <- err })
	if err := <-got; !errors.Is(err, ErrBadSignature) {
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
