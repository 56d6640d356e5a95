package sec

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
	"github.com/named-data/ndnd/std/security"
	"github.com/named-data/ndnd/std/types/optional"

	"github.com/peets/peets/proto"
)

// Media key rotation (docs/protocol.md 4.9). A room's media key has an
// epoch: 1 when the room is made, and one more each time its owner removes
// a member (Room.Remove). The owner seals the new key for every remaining
// member key it issued, in one Data G/rekey/v=<epoch> signed by the anchor;
// members fetch it (AcceptRekey) when a heartbeat announces a newer epoch,
// keep it in their trust directory and serve it to others. The removed
// member's key is not among the recipients, and every member refuses its
// certificate from then on.
//
// A member key's X25519 key is the one its Ed25519 key maps to (RFC 7748's
// birational map; the private scalar is the clamped first half of
// SHA-512(seed), as Ed25519 itself derives it), so an invitation needs no
// second key. For each recipient:
//
//	shared = X25519(ephemeral private, recipient X25519 public)
//	kek    = HKDF-SHA256(secret = shared, salt = ephemeral public || recipient public,
//	                     info = "peets rekey v1" || epoch as 8 octets big-endian, 32 octets)
//	sealed = AES-256-GCM(kek, nonce = 12 zero octets, new media key,
//	                     AAD = TLV of the recipient's key name)

// Sentinel errors of key rotation.
var (
	// ErrRemoved: a member key the room's owner removed.
	ErrRemoved = errors.New("key removed from the room by its owner")
	// ErrNotMember: the owner issued no key to that participant.
	ErrNotMember = errors.New("no invitation was issued to this participant")
	// ErrBadRekey: a rekey Data that is malformed, not signed by the
	// anchor, or does not open.
	ErrBadRekey = errors.New("bad rekey")
)

// Files of key rotation in a room's directory.
const (
	removedFile = "removed"    // lines "<epoch> <key name>", one per removed member key
	rekeyFile   = "rekey.data" // the newest rekey Data, base64
	issuedDir   = "issued"     // the owner's record of member certificates it issued
)

// rekeyFreshness is the FreshnessPeriod of a rekey Data.
const rekeyFreshness = 10 * time.Second

// keyring is a room's media keys by epoch, the member keys removed from
// it, and (owner) the member certificates issued.
type keyring struct {
	epoch atomic.Uint64 // the newest epoch; read on every published packet

	mu      sync.RWMutex
	keys    map[uint64][]byte
	removed map[string]uint64 // key name -> epoch of its removal
	issued  map[string][]byte // key name -> certificate (owner)
	rekey   []byte            // the newest rekey Data held
}

func (k *keyring) init() {
	k.keys = map[uint64][]byte{}
	k.removed = map[string]uint64{}
	k.issued = map[string][]byte{}
}

// setKey records key as epoch's, and epoch as the newest if it is.
func (k *keyring) setKey(epoch uint64, key []byte) {
	k.mu.Lock()
	k.keys[epoch] = key
	k.mu.Unlock()
	for {
		cur := k.epoch.Load()
		if epoch <= cur || k.epoch.CompareAndSwap(cur, epoch) {
			return
		}
	}
}

// Epoch is the newest media key epoch this machine knows (0: none).
func (r *Room) Epoch() uint64 { return r.ring.epoch.Load() }

// Key is the media key of epoch, nil if not known here.
func (r *Room) Key(epoch uint64) []byte {
	r.ring.mu.RLock()
	defer r.ring.mu.RUnlock()
	return r.ring.keys[epoch]
}

// MediaKey is the room's current media key: every member's media content
// is encrypted with keys derived from it (docs/protocol.md 4.8). Nil when
// this machine does not know it.
func (r *Room) MediaKey() []byte { return r.Key(r.Epoch()) }

// IsRemoved reports whether the owner removed the member key keyName.
func (r *Room) IsRemoved(keyName enc.Name) bool {
	r.ring.mu.RLock()
	defer r.ring.mu.RUnlock()
	_, ok := r.ring.removed[keyName.String()]
	return ok
}

// RemovedKeys lists the member keys removed from the room.
func (r *Room) RemovedKeys() []enc.Name {
	r.ring.mu.RLock()
	defer r.ring.mu.RUnlock()
	out := make([]enc.Name, 0, len(r.ring.removed))
	for s := range r.ring.removed {
		if n, err := enc.NameFromStr(s); err == nil {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b enc.Name) int { return a.Compare(b) })
	return out
}

// RekeyWire is the newest rekey Data this machine holds, to serve; nil if
// none.
func (r *Room) RekeyWire() []byte {
	r.ring.mu.RLock()
	defer r.ring.mu.RUnlock()
	return r.ring.rekey
}

// mediaKeyFileOf is the file of epoch's media key.
func mediaKeyFileOf(epoch uint64) string {
	if epoch == 1 {
		return mediaKeyFile
	}
	return fmt.Sprintf("media-%d.key", epoch)
}

// recordIssued keeps the certificate of a member key the owner issued, so
// a rotation seals the new key for it.
func (r *Room) recordIssued(keyName enc.Name, cert []byte) error {
	r.ring.mu.Lock()
	r.ring.issued[keyName.String()] = cert
	r.ring.mu.Unlock()
	if r.dir == "" {
		return nil
	}
	dir := filepath.Join(r.dir, issuedDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return writeBase64(filepath.Join(dir, fileStem(keyName)+".cert"), cert, 0o644)
}

// Members lists the participant prefixes the owner issued keys to that are
// not removed (the owner's own proxies certify themselves and are not
// listed).
func (r *Room) Members() []enc.Name {
	r.ring.mu.RLock()
	defer r.ring.mu.RUnlock()
	var out []enc.Name
	for s := range r.ring.issued {
		if n, err := enc.NameFromStr(s); err == nil && len(n) > 2 && !slices.ContainsFunc(out, n.Prefix(-2).Equal) {
			out = append(out, n.Prefix(-2))
		}
	}
	slices.SortFunc(out, func(a, b enc.Name) int { return a.Compare(b) })
	return out
}

// Remove (owner) removes every key issued to participant: it draws the
// media key of a new epoch, seals it for every other member key issued and
// not expired, signs the rekey Data, and saves all of it in the trust
// directory, where the owner's running proxies pick it up (Reload). It
// returns the new epoch and the keys removed.
func (r *Room) Remove(participant enc.Name) (uint64, []enc.Name, error) {
	if r.signer == nil {
		return 0, nil, ErrNotOwner
	}
	r.ring.mu.Lock()
	var gone []enc.Name
	for s := range r.ring.issued {
		if n, err := enc.NameFromStr(s); err == nil && len(n) == len(participant)+2 && participant.IsPrefix(n) {
			gone = append(gone, n)
		}
	}
	if len(gone) == 0 {
		r.ring.mu.Unlock()
		return 0, nil, fmt.Errorf("%w: %s in room %s", ErrNotMember, participant, r.room)
	}
	epoch := r.ring.epoch.Load() + 1
	for _, n := range gone {
		r.ring.removed[n.String()] = epoch
		delete(r.ring.issued, n.String())
	}
	key := make([]byte, MediaKeySize)
	if _, err := rand.Read(key); err != nil {
		r.ring.mu.Unlock()
		return 0, nil, err
	}
	wire, err := r.makeRekeyLocked(epoch, key)
	if err != nil {
		r.ring.mu.Unlock()
		return 0, nil, err
	}
	r.ring.keys[epoch] = key
	r.ring.rekey = wire
	r.ring.epoch.Store(epoch)
	r.ring.mu.Unlock()
	if r.dir != "" {
		for _, n := range gone {
			_ = os.Remove(filepath.Join(r.dir, issuedDir, fileStem(n)+".cert"))
		}
		if err := r.saveRotation(epoch, key, wire); err != nil {
			return 0, nil, err
		}
	}
	return epoch, gone, nil
}

// makeRekeyLocked seals key for every issued member key still valid, and
// signs the rekey Data of epoch with the anchor (r.ring.mu held).
func (r *Room) makeRekeyLocked(epoch uint64, key []byte) ([]byte, error) {
	rk := proto.Rekey{Epoch: epoch}
	// One ephemeral key per curve the recipients' keys are on, made when
	// the first such recipient comes.
	ephs := map[ecdh.Curve]*ecdh.PrivateKey{}
	ephemeral := func(c ecdh.Curve) (*ecdh.PrivateKey, error) {
		if e := ephs[c]; e != nil {
			return e, nil
		}
		e, err := c.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		ephs[c] = e
		if c == ecdh.X25519() {
			rk.Ephemeral = e.PublicKey().Bytes()
		} else {
			rk.EphemeralP256 = e.PublicKey().Bytes()
		}
		return e, nil
	}
	for s := range r.ring.removed {
		if n, err := enc.NameFromStr(s); err == nil {
			rk.Removed = append(rk.Removed, n)
		}
	}
	slices.SortFunc(rk.Removed, func(a, b enc.Name) int { return a.Compare(b) })
	for s, certWire := range r.ring.issued {
		cert, _, err := spec.Spec{}.ReadData(enc.NewBufferView(certWire))
		if err != nil || security.CertIsExpired(cert) {
			continue // an invitation that ran out: its holder can no longer join
		}
		pub, err := certPublicKey(cert)
		if err != nil {
			continue
		}
		n, err := enc.NameFromStr(s)
		if err != nil {
			continue
		}
		xpub, err := recipientKey(pub)
		if err != nil {
			continue
		}
		eph, err := ephemeral(xpub.Curve())
		if err != nil {
			return nil, err
		}
		sealed, err := sealFor(eph, xpub, n, epoch, key)
		if err != nil {
			return nil, fmt.Errorf("seal the media key for %s: %w", n, err)
		}
		rk.Recipients = append(rk.Recipients, proto.RekeyRecipient{KeyName: n, Wrapped: sealed})
	}
	slices.SortFunc(rk.Recipients, func(a, b proto.RekeyRecipient) int { return a.KeyName.Compare(b.KeyName) })
	if len(ephs) == 0 {
		// No recipient: the owner's own proxies only. An ephemeral key
		// all the same, so the content has its usual shape.
		if _, err := ephemeral(ecdh.X25519()); err != nil {
			return nil, err
		}
	}
	content, err := rk.Encode()
	if err != nil {
		return nil, err
	}
	d, err := spec.Spec{}.MakeData(proto.RekeyName(r.group, epoch), &ndn.DataConfig{
		ContentType: optional.Some(ndn.ContentTypeBlob), Freshness: optional.Some(rekeyFreshness),
	}, enc.Wire{content}, r.signer)
	if err != nil {
		return nil, fmt.Errorf("sign the rekey: %w", err)
	}
	return d.Wire.Join(), nil
}

// saveRotation writes epoch's key, the rekey Data and the removed keys.
func (r *Room) saveRotation(epoch uint64, key, wire []byte) error {
	if err := writeBase64(filepath.Join(r.dir, mediaKeyFileOf(epoch)), key, 0o600); err != nil {
		return err
	}
	if err := writeBase64(filepath.Join(r.dir, rekeyFile), wire, 0o644); err != nil {
		return err
	}
	r.ring.mu.RLock()
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(r.ring.removed)) {
		fmt.Fprintf(&b, "%d %s\n", r.ring.removed[n], n)
	}
	r.ring.mu.RUnlock()
	return writeFileAtomic(filepath.Join(r.dir, removedFile), []byte(b.String()), 0o644)
}

// AcceptRekey checks a rekey Data (signed by the room's anchor, named for
// its epoch), and, when its epoch is newer than ours, opens the media key
// sealed for id's key and keeps it (in memory, and in the trust directory).
// It returns the new epoch (0 if the Data was not newer) and the member keys
// it removed. A rekey that does not name id's key fails with ErrRemoved: the
// owner removed us.
func (r *Room) AcceptRekey(wire []byte, id *Identity) (uint64, []enc.Name, error) {
	d, covered, err := spec.Spec{}.ReadData(enc.NewBufferView(wire))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrBadRekey, err)
	}
	epoch, err := proto.ParseRekeyName(r.group, d.Name())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrBadRekey, err)
	}
	if epoch <= r.Epoch() {
		return 0, nil, nil
	}
	if err := r.validate(d, covered); err != nil {
		return 0, nil, fmt.Errorf("%w: %s: %v", ErrBadRekey, d.Name(), err)
	}
	rk, err := proto.DecodeRekey(d.Content().Join())
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrBadRekey, err)
	}
	if rk.Epoch != epoch {
		return 0, nil, fmt.Errorf("%w: epoch %d in %s", ErrBadRekey, rk.Epoch, d.Name())
	}
	r.ring.mu.Lock()
	var fresh []enc.Name
	for _, n := range rk.Removed {
		if _, ok := r.ring.removed[n.String()]; !ok {
			r.ring.removed[n.String()] = epoch
			fresh = append(fresh, n.Clone())
		}
	}
	r.ring.mu.Unlock()
	i := slices.IndexFunc(rk.Recipients, func(rc proto.RekeyRecipient) bool { return rc.KeyName.Equal(id.keyName) })
	if i < 0 || r.IsRemoved(id.keyName) {
		return 0, fresh, fmt.Errorf("%w: %s is not among the %d recipients of epoch %d", ErrRemoved, id.keyName, len(rk.Recipients), epoch)
	}
	key, err := openFor(id.priv, rk, id.keyName, rk.Recipients[i].Wrapped)
	if err != nil {
		return 0, fresh, fmt.Errorf("%w: %v", ErrBadRekey, err)
	}
	r.ring.mu.Lock()
	r.ring.keys[epoch] = key
	r.ring.rekey = append([]byte(nil), wire...)
	r.ring.epoch.Store(epoch)
	r.ring.mu.Unlock()
	if r.dir != "" {
		if err := r.saveRotation(epoch, key, wire); err != nil {
			return epoch, fresh, err
		}
	}
	return epoch, fresh, nil
}

// loadRing reads the keys, the removed keys, the newest rekey Data and
// (owner) the issued certificates from dir into a fresh keyring.
func loadRing(dir string) (*keyring, error) {
	k := &keyring{}
	k.init()
	files, err := filepath.Glob(filepath.Join(dir, "media*.key"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		base := filepath.Base(f)
		epoch := uint64(1)
		if base != mediaKeyFile {
			e, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(base, "media-"), ".key"), 10, 64)
			if err != nil || e < 2 {
				continue
			}
			epoch = e
		}
		key, err := readBase64(f)
		if err != nil || len(key) != MediaKeySize {
			return nil, fmt.Errorf("%w: %s", ErrBadKeyFile, f)
		}
		k.setKey(epoch, key)
	}
	if b, err := os.ReadFile(filepath.Join(dir, removedFile)); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			es, ns, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
			e, err := strconv.ParseUint(es, 10, 64)
			if !ok || err != nil {
				continue
			}
			if n, err := enc.NameFromStr(ns); err == nil && len(n) > 2 {
				k.removed[n.String()] = e
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if b, err := readBase64(filepath.Join(dir, rekeyFile)); err == nil {
		k.rekey = b
	}
	certs, _ := filepath.Glob(filepath.Join(dir, issuedDir, "*.cert"))
	for _, f := range certs {
		b, err := readBase64(f)
		if err != nil {
			continue
		}
		cert, _, err := spec.Spec{}.ReadData(enc.NewBufferView(b))
		if err == nil && len(cert.Name()) > 2 {
			k.issued[cert.Name().Prefix(-2).String()] = b
		}
	}
	return k, nil
}

func readBase64(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
}

// Reload reads the room's keys again from its trust directory (a removal
// made by `peets room remove` while a proxy runs, or a rekey another proxy
// of this machine accepted). It returns the new epoch (0 when it did not
// change) and the member keys newly removed.
func (r *Room) Reload() (uint64, []enc.Name, error) {
	if r.dir == "" {
		return 0, nil, nil
	}
	k, err := loadRing(r.dir)
	if err != nil {
		return 0, nil, err
	}
	r.ring.mu.Lock()
	defer r.ring.mu.Unlock()
	var fresh []enc.Name
	for s, e := range k.removed {
		if _, ok := r.ring.removed[s]; !ok {
			r.ring.removed[s] = e
			if n, err := enc.NameFromStr(s); err == nil {
				fresh = append(fresh, n)
			}
		}
	}
	for s, c := range k.issued {
		r.ring.issued[s] = c
	}
	for s := range r.ring.issued {
		if _, ok := r.ring.removed[s]; ok {
			delete(r.ring.issued, s)
		}
	}
	for e, key := range k.keys {
		r.ring.keys[e] = key
	}
	var changed uint64
	if e := k.epoch.Load(); e > r.ring.epoch.Load() {
		r.ring.epoch.Store(e)
		changed = e
		if k.rekey != nil {
			r.ring.rekey = k.rekey
		}
	}
	return changed, fresh, nil
}

// recipientKey is the key-agreement key of a member key: X25519 for
// Ed25519, the same point for ECDSA P-256.
func recipientKey(pub crypto.PublicKey) (*ecdh.PublicKey, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return x25519Public(k)
	case *ecdsa.PublicKey:
		return k.ECDH()
	}
	return nil, fmt.Errorf("%w: a %T key", ErrBadCert, pub)
}

// sealFor seals key for the member key whose key-agreement key is xpub,
// named keyName (see the comment of rotation above).
func sealFor(eph *ecdh.PrivateKey, xpub *ecdh.PublicKey, keyName enc.Name, epoch uint64, key []byte) ([]byte, error) {
	shared, err := eph.ECDH(xpub)
	if err != nil {
		return nil, err
	}
	aead, err := rekeyAEAD(shared, eph.PublicKey().Bytes(), xpub.Bytes(), epoch)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, make([]byte, aead.NonceSize()), key, keyName.Bytes()), nil
}

// openFor opens the media key of rk sealed for the member key priv (named
// keyName).
func openFor(priv crypto.Signer, rk *proto.Rekey, keyName enc.Name, sealed []byte) ([]byte, error) {
	var xpriv *ecdh.PrivateKey
	var ephPub []byte
	var err error
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		xpriv, err = x25519Private(k)
		ephPub = rk.Ephemeral
	case *ecdsa.PrivateKey:
		xpriv, err = k.ECDH()
		ephPub = rk.EphemeralP256
	default:
		err = fmt.Errorf("a %T key", priv)
	}
	if err != nil {
		return nil, err
	}
	if ephPub == nil {
		return nil, errors.New("no ephemeral key for this member's kind of key")
	}
	eph, err := xpriv.Curve().NewPublicKey(ephPub)
	if err != nil {
		return nil, err
	}
	shared, err := xpriv.ECDH(eph)
	if err != nil {
		return nil, err
	}
	aead, err := rekeyAEAD(shared, ephPub, xpriv.PublicKey().Bytes(), rk.Epoch)
	if err != nil {
		return nil, err
	}
	key, err := aead.Open(nil, make([]byte, aead.NonceSize()), sealed, keyName.Bytes())
	if err != nil {
		return nil, errors.New("the media key sealed for this member does not open")
	}
	if len(key) != MediaKeySize {
		return nil, fmt.Errorf("media key of %d octets", len(key))
	}
	return key, nil
}

func rekeyAEAD(shared, ephPub, recipientPub []byte, epoch uint64) (cipher.AEAD, error) {
	info := binary.BigEndian.AppendUint64([]byte("peets rekey v1"), epoch)
	kek, err := hkdf.Key(sha256.New, shared, append(append([]byte(nil), ephPub...), recipientPub...), string(info), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// x25519Private is the X25519 key of an Ed25519 key: the clamped first
// half of SHA-512(seed), Ed25519's own secret scalar.
func x25519Private(priv ed25519.PrivateKey) (*ecdh.PrivateKey, error) {
	h := sha512.Sum512(priv.Seed())
	s := h[:32]
	s[0] &= 248
	s[31] &= 127
	s[31] |= 64
	return ecdh.X25519().NewPrivateKey(s)
}

// p25519 is the field prime 2^255 - 19.
var p25519 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// x25519Public maps an Ed25519 public key (the Edwards y, little-endian,
// with x's sign in the top bit) to its X25519 public key u = (1+y)/(1-y)
// mod p. Public data only: math/big's timing does not matter here.
func x25519Public(pub ed25519.PublicKey) (*ecdh.PublicKey, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%w: Ed25519 public key of %d octets", ErrBadCert, len(pub))
	}
	be := make([]byte, 32)
	for i := range be {
		be[i] = pub[31-i]
	}
	be[0] &= 0x7f
	y := new(big.Int).SetBytes(be)
	den := new(big.Int).Sub(big.NewInt(1), y)
	den.Mod(den, p25519)
	if y.Cmp(p25519) >= 0 || den.Sign() == 0 {
		return nil, fmt.Errorf("%w: not an Ed25519 public key", ErrBadCert)
	}
	u := new(big.Int).Add(big.NewInt(1), y)
	u.Mul(u, den.ModInverse(den, p25519))
	u.Mod(u, p25519)
	ub := u.FillBytes(make([]byte, 32))
	slices.Reverse(ub)
	return ecdh.X25519().NewPublicKey(ub)
}
