package sec

import "errors"

// Sentinel errors of verification. Every failure wraps one of them, so the
// caller can count by reason.
var (
	ErrUnsigned     = errors.New("data is not signed")
	ErrBadSigType   = errors.New("signature type is not Ed25519")
	ErrNoKeyLocator = errors.New("key locator is missing")
	ErrWrongSigner  = errors.New("signed by a key that does not belong to the owner")
	ErrBadSignature = errors.New("signature is invalid")
	ErrNoKey        = errors.New("owner's key is not known and could not be fetched")
	ErrKeyConflict  = errors.New("a different key is already pinned for the owner")
	ErrBadCert      = errors.New("malformed or invalid certificate")
	ErrBusy         = errors.New("too many verifications waiting for a certificate")
	ErrBadKeyFile   = errors.New("malformed key file")
	// ErrIdentityInUse: another process holds the identity's lock
	// (LockIdentity).
	ErrIdentityInUse = errors.New("identity in use by another process")
)
