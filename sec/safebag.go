package sec

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"

	"github.com/peets/peets/proto"
)

// A SafeBag is how NDN tools hand over a key with its certificate (`ndnsec
// export`; ndn-cxx's security/safe-bag):
//
//	SafeBag         = 0x80 TLV-LENGTH Data EncryptedKeyBag
//	EncryptedKeyBag = 0x81 TLV-LENGTH *OCTET   a PKCS #8 EncryptedPrivateKeyInfo (DER)
//
// ndnsec writes it as base64 text. The key is encrypted with PBES2 (RFC
// 8018): PBKDF2 with HMAC-SHA256 (or SHA-1) and AES-CBC. A testbed member
// imports it to use its own NDN key in a room (docs/protocol.md 3.1).

// ErrBadSafeBag wraps every reason a SafeBag is refused.
var ErrBadSafeBag = errors.New("bad SafeBag")

// maxSafeBag bounds a SafeBag's size (an ECDSA one is ~800 bytes of text).
const maxSafeBag = 64 << 10

// maxPBKDF2Iterations bounds the work a SafeBag may ask for (ndnsec uses
// 2048).
const maxPBKDF2Iterations = 1 << 22

var (
	oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidHMACSHA1   = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidAESCBC     = map[string]int{ // key sizes
		"2.16.840.1.101.3.4.1.2":  16,
		"2.16.840.1.101.3.4.1.22": 24,
		"2.16.840.1.101.3.4.1.42": 32,
	}
)

type encryptedPrivateKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type pbes2Params struct {
	KDF pkix.AlgorithmIdentifier
	Enc pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt   []byte
	Iter   int
	KeyLen int                      `asn1:"optional"`
	PRF    pkix.AlgorithmIdentifier `asn1:"optional"`
}

// ReadSafeBag decodes a SafeBag (base64 text, or its TLV) and decrypts its
// key with password. It returns the certificate (as issued elsewhere, for
// the key's own identity) and the key, which must be one a member may hold:
// ECDSA P-256 or Ed25519.
func ReadSafeBag(b, password []byte) (ndn.Data, crypto.Signer, error) {
	if len(b) > maxSafeBag {
		return nil, nil, fmt.Errorf("%w: larger than %d bytes", ErrBadSafeBag, maxSafeBag)
	}
	if len(b) > 0 && b[0] != 0x80 {
		raw, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(b), nil)))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: neither TLV nor base64: %v", ErrBadSafeBag, err)
		}
		b = raw
	}
	typ, val, rest, err := proto.NextTLV(b)
	if err != nil || typ != 0x80 || len(rest) != 0 {
		return nil, nil, fmt.Errorf("%w: not a SafeBag TLV", ErrBadSafeBag)
	}
	typ, certWire, rest, err := proto.NextTLV(val)
	if err != nil || typ != 0x06 {
		return nil, nil, fmt.Errorf("%w: no certificate", ErrBadSafeBag)
	}
	cert, _, err := spec.Spec{}.ReadData(enc.NewBufferView(val[:len(val)-len(rest)]))
	if err != nil || len(certWire) == 0 {
		return nil, nil, fmt.Errorf("%w: certificate: %v", ErrBadSafeBag, err)
	}
	typ, epki, rest, err := proto.NextTLV(rest)
	if err != nil || typ != 0x81 || len(rest) != 0 {
		return nil, nil, fmt.Errorf("%w: no encrypted key", ErrBadSafeBag)
	}
	der, err := decryptPKCS8(epki, password)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: key: %v", ErrBadSafeBag, err)
	}
	priv, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, fmt.Errorf("%w: a %T key", ErrBadSafeBag, k)
	}
	if err := checkKeyType(priv.Public()); err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadSafeBag, err)
	}
	pub, err := certPublicKey(cert)
	if err != nil || !sameKey(pub, priv.Public()) {
		return nil, nil, fmt.Errorf("%w: the key is not the one of its certificate %s", ErrBadSafeBag, cert.Name())
	}
	return cert, priv, nil
}

// decryptPKCS8 opens a PBES2-encrypted PKCS #8 key.
func decryptPKCS8(b, password []byte) ([]byte, error) {
	var info encryptedPrivateKeyInfo
	if rest, err := asn1.Unmarshal(b, &info); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: encrypted key: %v", ErrBadSafeBag, err)
	}
	if !info.Algorithm.Algorithm.Equal(oidPBES2) {
		return nil, fmt.Errorf("%w: key encrypted with %v (this peets reads PBES2)", ErrBadSafeBag, info.Algorithm.Algorithm)
	}
	var p pbes2Params
	if _, err := asn1.Unmarshal(info.Algorithm.Parameters.FullBytes, &p); err != nil {
		return nil, fmt.Errorf("%w: PBES2 parameters: %v", ErrBadSafeBag, err)
	}
	if !p.KDF.Algorithm.Equal(oidPBKDF2) {
		return nil, fmt.Errorf("%w: key derivation %v (this peets reads PBKDF2)", ErrBadSafeBag, p.KDF.Algorithm)
	}
	var kp pbkdf2Params
	if _, err := asn1.Unmarshal(p.KDF.Parameters.FullBytes, &kp); err != nil {
		return nil, fmt.Errorf("%w: PBKDF2 parameters: %v", ErrBadSafeBag, err)
	}
	if kp.Iter < 1 || kp.Iter > maxPBKDF2Iterations {
		return nil, fmt.Errorf("%w: %d PBKDF2 iterations", ErrBadSafeBag, kp.Iter)
	}
	var prf func() hash.Hash
	switch {
	case len(kp.PRF.Algorithm) == 0 || kp.PRF.Algorithm.Equal(oidHMACSHA1):
		prf = sha1.New
	case kp.PRF.Algorithm.Equal(oidHMACSHA256):
		prf = sha256.New
	default:
		return nil, fmt.Errorf("%w: PBKDF2 with %v", ErrBadSafeBag, kp.PRF.Algorithm)
	}
	keyLen, ok := oidAESCBC[p.Enc.Algorithm.String()]
	if !ok {
		return nil, fmt.Errorf("%w: key encrypted with %v (this peets reads AES-CBC)", ErrBadSafeBag, p.Enc.Algorithm)
	}
	if kp.KeyLen != 0 && kp.KeyLen != keyLen {
		return nil, fmt.Errorf("%w: PBKDF2 key length %d for a %d-octet key", ErrBadSafeBag, kp.KeyLen, keyLen)
	}
	var iv []byte
	if _, err := asn1.Unmarshal(p.Enc.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
		return nil, fmt.Errorf("%w: AES-CBC IV", ErrBadSafeBag)
	}
	key, err := pbkdf2.Key(prf, string(password), kp.Salt, kp.Iter, keyLen)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSafeBag, err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(info.Data) == 0 || len(info.Data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: encrypted key of %d octets", ErrBadSafeBag, len(info.Data))
	}
	out := make([]byte, len(info.Data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, info.Data)
	// PKCS #7 padding; a wrong password leaves garbage here (or, rarely,
	// valid-looking padding that PKCS #8 parsing then refuses).
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize || !bytes.Equal(out[len(out)-pad:], bytes.Repeat([]byte{byte(pad)}, pad)) {
		return nil, fmt.Errorf("%w: the key does not decrypt: wrong password?", ErrBadSafeBag)
	}
	return out[:len(out)-pad], nil
}

// ReadCertificate decodes an NDN certificate given as base64 text (what
// `ndnsec cert-dump` prints) or as its TLV.
func ReadCertificate(b []byte) (ndn.Data, error) {
	if len(b) > 0 && b[0] != 0x06 {
		raw, err := base64.StdEncoding.DecodeString(string(bytes.Join(bytes.Fields(b), nil)))
		if err != nil {
			return nil, fmt.Errorf("%w: neither TLV nor base64: %v", ErrBadCert, err)
		}
		b = raw
	}
	cert, _, err := spec.Spec{}.ReadData(enc.NewBufferView(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCert, err)
	}
	if ct, _ := cert.ContentType().Get(); ct != ndn.ContentTypeKey || len(cert.Name()) < 4 || !cert.Name().At(-4).IsGeneric("KEY") {
		return nil, fmt.Errorf("%w: %s is not a certificate", ErrBadCert, cert.Name())
	}
	return cert, nil
}

// CertKey is the member key a certificate holds: Ed25519 or ECDSA P-256.
func CertKey(cert ndn.Data) (crypto.PublicKey, error) { return certPublicKey(cert) }
