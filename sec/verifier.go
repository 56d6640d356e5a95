package sec

import (
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/types/optional"
	"github.com/named-data/ndnd/std/utils"

	"github.com/peets/peets/internal/ratelog"
	"github.com/peets/peets/sec/fastverify"
)

// Verifier checks that a Data was signed by the key of the participant that
// owns it. The owner's certificate is fetched once (Interest <owner>/KEY) and
// its key pinned; every later Data of that owner must verify with it. In a
// room with an anchor (SetRoom) only a certificate the anchor issued for the
// owner is pinned; without one, trust is on first use: the first
// self-signed certificate fetched is believed. A Data signed by a key
// outside the owner's identity, or by a second key claiming the same
// identity, is rejected. A pin lasts until its certificate expires.
//
// Verify may be called from any goroutine, including the engine's: it never
// blocks; when the key must first be fetched the callback runs later, on the
// engine goroutine.
type Verifier struct {
	e    ndn.Engine
	log  *slog.Logger
	room *Room // nil: trust on first use
	// untrustedLog rate-limits the warning about certificates the room's
	// anchor did not issue (an impostor, or a member of another room), per
	// key.
	untrustedLog ratelog.Keyed

	mu       sync.Mutex
	pins     map[string]pin       // owner identity -> pinned key
	names    map[uint64]ownerName // pinKey's memo, by the name's hash
	pending  map[string]*fetching // key name -> waiting verifications
	negCache map[string]time.Time // key name -> retry not before

	stats verifierStats
}

type pin struct {
	keyName enc.Name
	pub     crypto.PublicKey // ed25519.PublicKey or *ecdsa.PublicKey (keys.go)
	key     *fastverify.Key  // an Ed25519 pub, prepared: ~3x faster than ed25519.Verify
	until   time.Time        // the certificate's end; zero: no end
}

// ownerName is an owner's name and its key in pins.
type ownerName struct {
	name enc.Name
	key  string
}

// maxNames bounds pinKey's memo.
const maxNames = 4096

// pinKey is owner's key in pins (v.mu held). Each packet's owner is one of
// the few whose names were seen before: a hash and a comparison instead of
// writing the name's URI.
func (v *Verifier) pinKey(owner enc.Name) string {
	h := owner.Hash()
	if n, ok := v.names[h]; ok && n.name.Equal(owner) {
		return n.key
	}
	k := owner.String()
	if len(v.names) >= maxNames {
		clear(v.names)
	}
	if _, taken := v.names[h]; !taken { // a collision keeps the first
		v.names[h] = ownerName{name: owner.Clone(), key: k}
	}
	return k
}

type fetching struct {
	waiters []func(error)
}

// maxWaiters bounds the verifications parked on one certificate fetch.
const maxWaiters = 4096

// negativeTTL is how long a failed certificate fetch is remembered.
const negativeTTL = time.Second

// NewVerifier makes a Verifier that fetches certificates through e.
func NewVerifier(e ndn.Engine, log *slog.Logger) *Verifier {
	if log == nil {
		log = slog.Default()
	}
	return &Verifier{
		e:            e,
		log:          log.With("module", "verifier"),
		untrustedLog: ratelog.Keyed{Every: ratelog.DefaultEvery},
		pins:         map[string]pin{},
		names:        map[uint64]ownerName{},
		pending:      map[string]*fetching{},
		negCache:     map[string]time.Time{},
	}
}

// SetRoom makes the verifier believe only keys that room's anchor
// certified. Call it before the first Verify.
func (v *Verifier) SetRoom(r *Room) { v.room = r }

// Pin trusts pub as the key named keyName of owner. It fails with
// ErrKeyConflict when another key is pinned for owner already.
func (v *Verifier) Pin(owner, keyName enc.Name, pub crypto.PublicKey) error {
	if err := checkKeyOwner(owner, keyName); err != nil {
		return err
	}
	if err := checkKeyType(pub); err != nil {
		return err
	}
	return v.pin(owner, keyName, pub, time.Time{})
}

// pin prepares pub for fast verification (~0.7 ms, outside the lock) and
// pins it until until (zero: no end).
func (v *Verifier) pin(owner, keyName enc.Name, pub crypto.PublicKey, until time.Time) error {
	var fk *fastverify.Key
	if ed, ok := pub.(ed25519.PublicKey); ok {
		var err error
		if fk, err = fastverify.NewKey(ed); err != nil {
			return fmt.Errorf("%w: %v", ErrBadCert, err)
		}
	}
	k := owner.String()
	v.mu.Lock()
	defer v.mu.Unlock()
	if p, ok := v.pins[k]; ok && !p.expired(time.Now()) {
		if p.keyName.Equal(keyName) && sameKey(p.pub, pub) {
			return nil
		}
		v.stats.keyConflict.Add(1)
		return fmt.Errorf("%w: %s has %s, not %s", ErrKeyConflict, owner, p.keyName, keyName)
	}
	v.pins[k] = pin{keyName: keyName.Clone(), pub: pub, key: fk, until: until}
	return nil
}

func (p pin) expired(now time.Time) bool { return !p.until.IsZero() && now.After(p.until) }

// PinnedKey returns the key name pinned for owner, if any.
func (v *Verifier) PinnedKey(owner enc.Name) (enc.Name, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	p, ok := v.pins[owner.String()]
	return p.keyName, ok
}

// Forget drops the pin of owner (for example when it left the room for good).
func (v *Verifier) Forget(owner enc.Name) {
	v.mu.Lock()
	delete(v.pins, owner.String())
	v.mu.Unlock()
}

// Revoke drops the pins of the given keys (removed from the room): their
// next Data fetch the certificate again, which the room then refuses.
func (v *Verifier) Revoke(keys []enc.Name) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for owner, p := range v.pins {
		for _, k := range keys {
			if p.keyName.Equal(k) {
				delete(v.pins, owner)
			}
		}
	}
}

// Verify checks data, owned by the participant identity owner, and calls cb
// with nil or an error wrapping one of the sentinel errors. cb is called
// before Verify returns when the owner's key is pinned already.
func (v *Verifier) Verify(owner enc.Name, data ndn.Data, covered enc.Wire, cb func(error)) {
	keyName, err := v.precheck(owner, data)
	if err != nil {
		v.count(err)
		cb(err)
		return
	}
	v.mu.Lock()
	ownerKey := v.pinKey(owner)
	p, ok := v.pins[ownerKey]
	if ok && p.expired(time.Now()) {
		// Its certificate ended: fetch the current one.
		delete(v.pins, ownerKey)
		ok = false
	}
	if ok {
		v.mu.Unlock()
		err := v.check(p, keyName, data, covered)
		v.count(err)
		cb(err)
		return
	}
	fetchName := keyName
	if fetchName == nil {
		fetchName = owner.Append(enc.NewGenericComponent("KEY"))
	}
	kk := fetchName.String()
	if until, bad := v.negCache[kk]; bad && time.Now().Before(until) {
		v.mu.Unlock()
		err := fmt.Errorf("%w: %s (recent fetch failed)", ErrNoKey, fetchName)
		v.count(err)
		cb(err)
		return
	}
	f, inflight := v.pending[kk]
	if !inflight {
		f = &fetching{}
		v.pending[kk] = f
	}
	if len(f.waiters) >= maxWaiters {
		v.mu.Unlock()
		v.count(ErrBusy)
		cb(ErrBusy)
		return
	}
	f.waiters = append(f.waiters, func(ferr error) {
		if ferr == nil {
			v.mu.Lock()
			p, ok := v.pins[owner.String()]
			v.mu.Unlock()
			if !ok {
				ferr = fmt.Errorf("%w: %s", ErrNoKey, owner)
			} else {
				ferr = v.check(p, keyName, data, covered)
			}
		}
		v.count(ferr)
		cb(ferr)
	})
	v.mu.Unlock()
	if !inflight {
		v.fetch(owner.Clone(), fetchName)
	}
}

// precheck validates the signature info and returns the key name it names,
// or nil when the Data has no KeyLocator (then the owner's key is meant).
func (v *Verifier) precheck(owner enc.Name, data ndn.Data) (enc.Name, error) {
	sig := data.Signature()
	if sig == nil || sig.SigType() == ndn.SignatureNone {
		return nil, ErrUnsigned
	}
	if t := sig.SigType(); t != ndn.SignatureEd25519 && t != ndn.SignatureSha256WithEcdsa {
		return nil, fmt.Errorf("%w: %d", ErrBadSigType, sig.SigType())
	}
	if !owner.IsPrefix(data.Name()) {
		return nil, fmt.Errorf("%w: %s is not under %s", ErrWrongSigner, data.Name(), owner)
	}
	kl := sig.KeyName()
	if len(kl) == 0 {
		// No KeyLocator: the name says whose key it is (the owner's), as
		// in media packets, which omit it to save ~50 bytes each.
		return nil, nil
	}
	keyName, err := keyNameOf(kl)
	if err != nil {
		return nil, err
	}
	if err := checkKeyOwner(owner, keyName); err != nil {
		return nil, err
	}
	return keyName, nil
}

func (v *Verifier) check(p pin, keyName enc.Name, data ndn.Data, covered enc.Wire) error {
	if keyName != nil && !p.keyName.Equal(keyName) {
		v.stats.keyConflict.Add(1)
		return fmt.Errorf("%w: signed by %s, pinned %s", ErrKeyConflict, keyName, p.keyName)
	}
	sig := data.Signature()
	if sig.SigType() != sigTypeOf(p.pub) {
		return fmt.Errorf("%w: %d, and the key is %T", ErrBadSigType, sig.SigType(), p.pub)
	}
	if !verifyWith(p.pub, p.key, covered, sig.SigValue()) {
		return ErrBadSignature
	}
	return nil
}

// keyNameOf accepts a key name (<id>/KEY/<kid>) or a certificate name
// (<id>/KEY/<kid>/<issuer>/v=<n>) and returns the key name.
func keyNameOf(n enc.Name) (enc.Name, error) {
	if len(n) >= 3 && n.At(-2).IsGeneric("KEY") {
		return n, nil
	}
	if len(n) >= 5 && n.At(-4).IsGeneric("KEY") {
		return n.Prefix(-2), nil
	}
	return nil, fmt.Errorf("%w: %s is not a key or certificate name", ErrWrongSigner, n)
}

// checkKeyOwner requires keyName to be exactly <owner>/KEY/<kid>.
func checkKeyOwner(owner, keyName enc.Name) error {
	if len(keyName) != len(owner)+2 || !owner.IsPrefix(keyName) || !keyName.At(-2).IsGeneric("KEY") {
		return fmt.Errorf("%w: key %s, owner %s", ErrWrongSigner, keyName, owner)
	}
	return nil
}

// fetch expresses an Interest for the certificate of keyName (a key name,
// or <owner>/KEY for whichever key the owner serves) and pins it.
func (v *Verifier) fetch(owner, keyName enc.Name) {
	v.stats.certFetches.Add(1)
	cfg := &ndn.InterestConfig{
		CanBePrefix: true,
		MustBeFresh: true,
		Lifetime:    optional.Some(time.Second),
		// Forwarders drop Interests without a Nonce.
		Nonce: utils.ConvertNonce(v.e.Timer().Nonce()),
	}
	intr, err := v.e.Spec().MakeInterest(keyName, cfg, nil, nil)
	if err != nil {
		v.finish(keyName, fmt.Errorf("%w: %v", ErrNoKey, err))
		return
	}
	err = v.e.Express(intr, func(a ndn.ExpressCallbackArgs) {
		if a.Result != ndn.InterestResultData {
			v.finish(keyName, fmt.Errorf("%w: %s: %s", ErrNoKey, keyName, a.Result))
			return
		}
		certKey := keyName
		if len(keyName) == len(owner)+1 && len(a.Data.Name()) == len(owner)+4 {
			certKey = a.Data.Name().Prefix(len(owner) + 2)
		}
		var pub crypto.PublicKey
		var until time.Time
		err := checkKeyOwner(owner, certKey)
		if err == nil {
			if v.room != nil {
				pub, until, err = v.room.CheckMember(a.Data, a.SigCovered, certKey)
			} else {
				pub, err = parseSelfSigned(a.Data, a.SigCovered, certKey)
			}
		}
		if err == nil {
			err = v.pin(owner, certKey, pub, until)
		}
		if err == nil {
			v.log.Debug("pinned key", "owner", owner, "key", certKey)
		}
		v.finish(keyName, err)
	})
	if err != nil {
		v.finish(keyName, fmt.Errorf("%w: %v", ErrNoKey, err))
	}
}

// parseSelfSigned checks a self-signed Ed25519 certificate of keyName and
// returns its public key.
func parseSelfSigned(cert ndn.Data, covered enc.Wire, keyName enc.Name) (crypto.PublicKey, error) {
	if err := checkCertShape(cert, keyName); err != nil {
		return nil, err
	}
	pub, err := certPublicKey(cert)
	if err != nil {
		return nil, err
	}
	sig := cert.Signature()
	if sig == nil || sig.SigType() != sigTypeOf(pub) {
		return nil, fmt.Errorf("%w: not signed by its own key's type", ErrBadCert)
	}
	kl, err := keyNameOf(sig.KeyName())
	if err != nil || !kl.Equal(keyName) {
		return nil, fmt.Errorf("%w: not self-signed", ErrBadCert)
	}
	if !verifyWith(pub, nil, covered, sig.SigValue()) {
		return nil, fmt.Errorf("%w: bad self-signature", ErrBadCert)
	}
	return pub, nil
}

// checkCertShape checks that cert is a certificate (ContentType KEY) of
// keyName: <keyName>/<issuer>/<version>.
func checkCertShape(cert ndn.Data, keyName enc.Name) error {
	if ct, ok := cert.ContentType().Get(); !ok || ct != ndn.ContentTypeKey {
		return fmt.Errorf("%w: content type is not KEY", ErrBadCert)
	}
	if !keyName.IsPrefix(cert.Name()) || len(cert.Name()) != len(keyName)+2 {
		return fmt.Errorf("%w: name %s", ErrBadCert, cert.Name())
	}
	return nil
}

// certPublicKey is the member key a certificate holds (a DER
// SubjectPublicKeyInfo): Ed25519 or ECDSA P-256.
func certPublicKey(cert ndn.Data) (crypto.PublicKey, error) {
	return parsePublicKey(cert.Content().Join())
}

func (v *Verifier) finish(keyName enc.Name, err error) {
	kk := keyName.String()
	v.mu.Lock()
	f := v.pending[kk]
	delete(v.pending, kk)
	if err != nil {
		v.negCache[kk] = time.Now().Add(negativeTTL)
		if len(v.negCache) > 1024 {
			now := time.Now()
			for k, t := range v.negCache {
				if now.After(t) {
					delete(v.negCache, k)
				}
			}
		}
	}
	v.mu.Unlock()
	switch {
	case errors.Is(err, ErrRemoved):
		v.untrustedLog.Warn(v.log, kk, "refused a certificate: its key was removed from the room by the room's owner", "key", keyName)
	case errors.Is(err, ErrExpired):
		v.untrustedLog.Warn(v.log, kk, "refused a certificate: expired or not yet valid (an invitation that ran out, or clocks more than an hour apart)", "key", keyName, "err", err)
	case errors.Is(err, ErrUntrusted):
		v.untrustedLog.Warn(v.log, kk, "refused a certificate: not issued by this room's anchor (an impostor, or a member of another room: ask the room's owner for an invitation)", "key", keyName, "err", err)
	case err != nil:
		v.log.Debug("certificate fetch failed", "key", keyName, "err", err)
	}
	if f == nil {
		return
	}
	for _, w := range f.waiters {
		w(err)
	}
}

// ParseData decodes a Data wire, for callers that hold raw bytes.
func ParseData(wire []byte) (ndn.Data, enc.Wire, error) {
	return spec.Spec{}.ReadData(enc.NewBufferView(wire))
}
