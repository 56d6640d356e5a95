package sec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"fmt"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	"github.com/named-data/ndnd/std/security/signer"

	"github.com/peets/peets/sec/fastverify"
)

// Member keys are Ed25519 (the keys Peets makes) or ECDSA on P-256 (keys
// issued elsewhere and imported, as ndnsec makes them; docs/protocol.md 3).
// A key's signatures are of its type: SignatureEd25519 (5) or
// SignatureSha256WithEcdsa (3, ASN.1 DER over the SHA-256 of what is
// covered).

// checkKeyType accepts the two kinds of member key.
func checkKeyType(k crypto.PublicKey) error {
	switch k := k.(type) {
	case ed25519.PublicKey:
		if len(k) == ed25519.PublicKeySize {
			return nil
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return nil
		}
		return fmt.Errorf("%w: ECDSA on %s (Peets takes P-256)", ErrBadCert, k.Curve.Params().Name)
	}
	return fmt.Errorf("%w: a %T key (Peets takes Ed25519 or ECDSA P-256)", ErrBadCert, k)
}

// sameKey reports whether a and b are the same public key.
func sameKey(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// sigTypeOf is the signature type a key makes.
func sigTypeOf(k crypto.PublicKey) ndn.SigType {
	if _, ok := k.(*ecdsa.PublicKey); ok {
		return ndn.SignatureSha256WithEcdsa
	}
	return ndn.SignatureEd25519
}

// newSigner signs with priv under keyName.
func newSigner(keyName enc.Name, priv crypto.Signer) (ndn.Signer, error) {
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		return signer.NewEd25519Signer(keyName, k), nil
	case *ecdsa.PrivateKey:
		if err := checkKeyType(&k.PublicKey); err != nil {
			return nil, err
		}
		return signer.NewEccSigner(keyName, k), nil
	}
	return nil, fmt.Errorf("%w: a %T key", ErrBadKeyFile, priv)
}

// verifyWith checks sig over covered with k (fast, if set, is k prepared
// for fastverify).
func verifyWith(k crypto.PublicKey, fast *fastverify.Key, covered enc.Wire, sig []byte) bool {
	switch k := k.(type) {
	case ed25519.PublicKey:
		if fast != nil {
			return fastverify.VerifyParts(fast, sig, covered)
		}
		return ed25519.Verify(k, covered.Join(), sig)
	case *ecdsa.PublicKey:
		h := sha256.New()
		for _, p := range covered {
			h.Write(p)
		}
		return ecdsa.VerifyASN1(k, h.Sum(nil), sig)
	}
	return false
}

// parsePublicKey reads a certificate's content (a DER
// SubjectPublicKeyInfo) as a member key.
func parsePublicKey(spki []byte) (crypto.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	if err := checkKeyType(k); err != nil {
		return nil, err
	}
	return k, nil
}
