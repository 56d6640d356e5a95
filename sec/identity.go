// Package sec holds a participant's signing identity (an Ed25519 key and its
// self-signed NDN certificate) and the verifier that checks Data from other
// participants: trust on first use, one key per participant identity.
package sec

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security"
)

// Identity is a participant's signing key bound to an identity name (the
// participant prefix <user-prefix>/<room>). Its key name is
// <identity>/KEY/<key-id>; it serves one certificate: the one its room's
// anchor issued (Room.Certify), or its self-signed one
// <identity>/KEY/<key-id>/self/v=<ms> (rooms without an anchor).
type Identity struct {
	name    enc.Name
	keyName enc.Name
	priv    crypto.Signer // ed25519.PrivateKey or *ecdsa.PrivateKey (keys.go)
	signer  ndn.Signer
	self    enc.Wire // the self-signed certificate
	cert    enc.Wire // the certificate served: self, or issued by the room
	certNm  enc.Name
}

// certValidity is how long a self-signed certificate is valid.
const certValidity = 365 * 24 * time.Hour

// NewEphemeral makes an identity with a fresh key that lives in memory only.
func NewEphemeral(identity enc.Name) (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return newIdentity(identity, priv, nil)
}

// LoadOrCreate loads the Ed25519 key kept for identity under dir/keys, or
// makes and saves one (mode 0600). The same user keeps the same key across
// restarts, so peers that pinned it keep trusting it.
func LoadOrCreate(dir string, identity enc.Name) (*Identity, error) {
	kdir := filepath.Join(dir, "keys")
	if err := os.MkdirAll(kdir, 0o700); err != nil {
		return nil, err
	}
	file := filepath.Join(kdir, keyFileName(identity))
	b, err := os.ReadFile(file)
	switch {
	case err == nil:
		seed, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: %s", ErrBadKeyFile, file)
		}
		return newIdentity(identity, ed25519.NewKeyFromSeed(seed), nil)
	case errors.Is(err, os.ErrNotExist):
		_, priv, gerr := ed25519.GenerateKey(rand.Reader)
		if gerr != nil {
			return nil, gerr
		}
		if werr := writeBase64(file, priv.Seed(), 0o600); werr != nil {
			return nil, werr
		}
		return newIdentity(identity, priv, nil)
	default:
		return nil, err
	}
}

func keyFileName(identity enc.Name) string { return fileStem(identity) + ".key" }

// fileStem is a file name made of a name's characters.
func fileStem(n enc.Name) string {
	s := strings.Trim(n.String(), "/")
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		}
		return '_'
	}, s)
	return s
}

// newIdentity makes the identity of priv, named <identity>/KEY/<kid>; a
// nil kid is the key's own (keyID).
func newIdentity(identity enc.Name, priv crypto.Signer, kid []byte) (*Identity, error) {
	if err := checkKeyType(priv.Public()); err != nil {
		return nil, err
	}
	if kid == nil {
		// Derived from the public key, so a reloaded key keeps its name.
		kid = keyID(priv.Public())
	}
	keyName := identity.Append(enc.NewGenericComponent("KEY"), enc.NewGenericBytesComponent(kid))
	s, err := newSigner(keyName, priv)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	cert, err := security.SelfSign(security.SignCertArgs{
		Signer:    s,
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(certValidity),
	})
	if err != nil {
		return nil, fmt.Errorf("self-sign: %w", err)
	}
	d, _, err := spec.Spec{}.ReadData(enc.NewWireView(cert))
	if err != nil {
		return nil, fmt.Errorf("self-signed cert: %w", err)
	}
	return &Identity{
		name:    identity.Clone(),
		keyName: keyName,
		priv:    priv,
		signer:  s,
		self:    cert,
		cert:    cert,
		certNm:  d.Name(),
	}, nil
}

// setCert makes wire, a certificate of id's key, the one id serves.
func (id *Identity) setCert(wire enc.Wire) error {
	d, _, err := spec.Spec{}.ReadData(enc.NewWireView(wire))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	if !id.keyName.IsPrefix(d.Name()) || len(d.Name()) != len(id.keyName)+2 {
		return fmt.Errorf("%w: %s is not a certificate of %s", ErrBadCert, d.Name(), id.keyName)
	}
	id.cert, id.certNm = enc.Wire{wire.Join()}, d.Name()
	return nil
}

// keyID is a key's id: the first 8 bytes of an Ed25519 key (unique enough
// for a name, and stable), or of the SHA-256 of another key's
// SubjectPublicKeyInfo.
func keyID(pub crypto.PublicKey) []byte {
	if ed, ok := pub.(ed25519.PublicKey); ok {
		return append([]byte(nil), ed[:8]...)
	}
	spki, _ := x509.MarshalPKIXPublicKey(pub)
	h := sha256.Sum256(spki)
	return h[:8]
}

// Name is the identity name.
func (id *Identity) Name() enc.Name { return id.name }

// KeyName is <identity>/KEY/<key-id>.
func (id *Identity) KeyName() enc.Name { return id.keyName }

// Signer signs with the identity's key; its key locator is KeyName.
func (id *Identity) Signer() ndn.Signer { return id.signer }

// PublicKey is the identity's public key: ed25519.PublicKey, or
// *ecdsa.PublicKey for an imported key.
func (id *Identity) PublicKey() crypto.PublicKey { return id.priv.Public() }

// CertName is the full name of the certificate served.
func (id *Identity) CertName() enc.Name { return id.certNm }

// CertWire is the encoded certificate served.
func (id *Identity) CertWire() enc.Wire { return id.cert }

// ServeCert answers Interests for <identity>/KEY (CanBePrefix), the key name
// or the certificate name with the certificate. The participant prefix route
// covers it.
func (id *Identity) ServeCert(e ndn.Engine) error {
	return e.AttachHandler(id.keyName.Prefix(-1), func(a ndn.InterestHandlerArgs) {
		n := a.Interest.Name()
		if n.Equal(id.certNm) || (a.Interest.CanBePrefix() && n.IsPrefix(id.certNm)) {
			_ = a.Reply(id.cert)
		}
	})
}

// StopServing detaches the certificate handler.
func (id *Identity) StopServing(e ndn.Engine) error {
	return e.DetachHandler(id.keyName.Prefix(-1))
}
