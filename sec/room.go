package sec

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
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
	"github.com/named-data/ndnd/std/object/storage"
	"github.com/named-data/ndnd/std/security"
	"github.com/named-data/ndnd/std/security/keychain"
	"github.com/named-data/ndnd/std/security/signer"
	"github.com/named-data/ndnd/std/types/optional"
)

// Room is a room's trust anchor: an Ed25519 key, named under the room's
// sync group G, whose self-signed certificate every member holds. The anchor
// certifies each member's key for its participant prefix P = U/<room>, and a
// member's Data are believed only when signed by a key so certified
// (docs/protocol.md 3). Whoever holds the anchor's private key owns the room:
// it certifies its own keys at start and invites others.
//
//	anchor certificate  G/KEY/<kid>/self/v=<ms>
//	member certificate  P/KEY/<kid>/<anchor-kid>/v=<ms>, signed by the anchor
//
// The chain is checked with ndnd's trust configuration (security.TrustConfig)
// under the schema of Check.
type Room struct {
	room     string
	group    enc.Name
	cert     ndn.Data // the anchor's self-signed certificate
	certWire []byte   // its encoding
	keyName  enc.Name // G/KEY/<kid>
	pub      ed25519.PublicKey
	priv     ed25519.PrivateKey // the anchor's private key; nil unless we own the room
	signer   ndn.Signer         // signs with priv
	tc       *security.TrustConfig
	issuerID enc.Component // <kid> of the anchor, the issuer of member certificates
	dir      string        // the room's directory in the trust directory; "" in memory
	ring     keyring       // media keys by epoch, removed and issued member keys (rekey.go)
}

// Validity periods.
const (
	// AnchorValidity is how long a room anchor's certificate is valid.
	AnchorValidity = 10 * 365 * 24 * time.Hour
	// MemberValidity is how long a certificate the owner issues to its own
	// keys at start is valid.
	MemberValidity = 365 * 24 * time.Hour
	// InvitationValidity is the default validity of an invitation's
	// certificate.
	InvitationValidity = 30 * 24 * time.Hour
)

// Sentinel errors of room trust.
var (
	// ErrNoRoom: the trust directory holds no anchor for the room.
	ErrNoRoom = errors.New("no trust anchor for this room")
	// ErrNotOwner: issuing a certificate needs the anchor's private key.
	ErrNotOwner = errors.New("this machine does not own the room (no anchor key)")
	// ErrAnchorConflict: the trust directory already trusts another anchor
	// for the room.
	ErrAnchorConflict = errors.New("another trust anchor is already kept for this room")
	// ErrUntrusted: a certificate that this room's anchor did not issue,
	// or issued for another prefix, or one not valid now (ErrExpired too).
	ErrUntrusted = errors.New("certificate not issued by the room's anchor")
	// ErrExpired: a certificate outside its validity period (an
	// invitation that ran out, or clocks more than an hour apart).
	ErrExpired = errors.New("certificate expired or not yet valid")
)

// roomDir is where a room's trust files live under the trust directory.
func roomDir(trustDir string, group enc.Name) string {
	return filepath.Join(trustDir, "rooms", fileStem(group))
}

const (
	anchorCertFile = "anchor.cert" // the anchor's certificate, base64 of its TLV
	anchorKeyFile  = "anchor.key"  // its Ed25519 seed, base64, mode 0600: the owner only
	mediaKeyFile   = "media.key"   // the room's media key, base64, mode 0600
)

// MediaKeySize is the size of a room's media key (AES-256).
const MediaKeySize = 32

// CreateRoom makes a new anchor for room (sync group group) and saves it
// under trustDir. It fails with ErrAnchorConflict when one exists.
func CreateRoom(trustDir, room string, group enc.Name) (*Room, error) {
	r, err := NewRoom(room, group)
	if err != nil {
		return nil, err
	}
	// The files are written in a fresh directory renamed into place: two
	// processes starting together make one anchor, and a reader never sees
	// half of one.
	dir := roomDir(trustDir, group)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".new-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // gone after the rename
	for _, f := range []struct {
		name string
		b    []byte
		mode os.FileMode
	}{{anchorKeyFile, r.priv.Seed(), 0o600}, {anchorCertFile, r.certWire, 0o644}, {mediaKeyFile, r.MediaKey(), 0o600}} {
		if err := writeBase64(filepath.Join(tmp, f.name), f.b, f.mode); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return nil, fmt.Errorf("%w: %s", ErrAnchorConflict, dir)
		}
		return nil, err
	}
	r.dir = dir
	return r, nil
}

// NewRoom makes an anchor that lives in memory only (tests, benchmarks).
func NewRoom(room string, group enc.Name) (*Room, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	wire, err := security.SelfSign(security.SignCertArgs{Signer: anchorSigner(group, priv), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(AnchorValidity)})
	if err != nil {
		return nil, fmt.Errorf("self-sign the anchor: %w", err)
	}
	r, err := newRoom(room, group, wire.Join(), priv)
	if err != nil {
		return nil, err
	}
	key := make([]byte, MediaKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	r.ring.setKey(1, key)
	return r, nil
}

// LoadRoom reads the room's anchor from trustDir: ErrNoRoom when there is
// none. The room is owned (Owner) when the anchor's key is there too.
func LoadRoom(trustDir, room string, group enc.Name) (*Room, error) {
	dir := roomDir(trustDir, group)
	b, err := os.ReadFile(filepath.Join(dir, anchorCertFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w %s in %s", ErrNoRoom, group, trustDir)
	}
	if err != nil {
		return nil, err
	}
	wire, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadCert, filepath.Join(dir, anchorCertFile), err)
	}
	var priv ed25519.PrivateKey
	kb, err := os.ReadFile(filepath.Join(dir, anchorKeyFile))
	switch {
	case err == nil:
		seed, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(kb)))
		if derr != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: %s", ErrBadKeyFile, filepath.Join(dir, anchorKeyFile))
		}
		priv = ed25519.NewKeyFromSeed(seed)
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, err
	}
	r, err := newRoom(room, group, wire, priv)
	if err != nil {
		return nil, err
	}
	ring, err := loadRing(dir)
	if err != nil {
		return nil, err
	}
	r.ring.keys, r.ring.removed, r.ring.issued, r.ring.rekey = ring.keys, ring.removed, ring.issued, ring.rekey
	r.ring.epoch.Store(ring.epoch.Load())
	r.dir = dir
	if r.Epoch() == 0 && r.Owner() {
		// An anchor made before rooms had a media key: its owner makes one.
		key := make([]byte, MediaKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		if err := writeBase64(filepath.Join(dir, mediaKeyFile), key, 0o600); err != nil {
			return nil, err
		}
		r.ring.setKey(1, key)
	}
	return r, nil
}

// anchorSigner signs with priv under the anchor's key name G/KEY/<kid>.
func anchorSigner(group enc.Name, priv ed25519.PrivateKey) ndn.Signer {
	return signer.NewEd25519Signer(group.Append(enc.NewGenericComponent("KEY"), enc.NewGenericBytesComponent(keyID(priv.Public().(ed25519.PublicKey)))), priv)
}

// newRoom checks an anchor certificate (self-signed Ed25519, named under
// group, valid now) and, when priv is not nil, that priv is its key.
func newRoom(room string, group enc.Name, certWire []byte, priv ed25519.PrivateKey) (*Room, error) {
	cert, covered, err := spec.Spec{}.ReadData(enc.NewBufferView(certWire))
	if err != nil {
		return nil, fmt.Errorf("%w: anchor: %v", ErrBadCert, err)
	}
	n := cert.Name()
	if len(n) != len(group)+4 || !group.IsPrefix(n) || !n.At(-4).IsGeneric("KEY") {
		return nil, fmt.Errorf("%w: anchor %s is not a certificate of %s", ErrBadCert, n, group)
	}
	keyName := n.Prefix(-2)
	pub, err := parseSelfSigned(cert, covered, keyName)
	if err != nil {
		return nil, fmt.Errorf("anchor: %w", err)
	}
	if security.CertIsExpired(cert) {
		return nil, fmt.Errorf("%w: anchor %s is expired or not yet valid", ErrBadCert, n)
	}
	edPub, ok := pub.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: anchor %s is not an Ed25519 key", ErrBadCert, n)
	}
	r := &Room{room: room, group: group.Clone(), cert: cert, certWire: certWire, keyName: keyName.Clone(),
		pub: edPub, issuerID: keyName.At(-1)}
	r.ring.init()
	if priv != nil {
		if !priv.Public().(ed25519.PublicKey).Equal(pub) {
			return nil, fmt.Errorf("%w: the anchor key does not match its certificate %s", ErrBadKeyFile, n)
		}
		r.priv, r.signer = priv, anchorSigner(group, priv)
	}
	kc := keychain.NewKeyChainMem(storage.NewMemoryStore())
	if err := kc.InsertCert(certWire); err != nil {
		return nil, fmt.Errorf("%w: anchor: %v", ErrBadCert, err)
	}
	if r.tc, err = security.NewTrustConfig(kc, schema{r}, []enc.Name{n}); err != nil {
		return nil, fmt.Errorf("%w: anchor: %v", ErrBadCert, err)
	}
	return r, nil
}

// Room is the room id.
func (r *Room) Room() string { return r.room }

// Group is the room's sync group, the anchor's identity.
func (r *Room) Group() enc.Name { return r.group }

// Owner reports whether the anchor's private key is here.
func (r *Room) Owner() bool { return r.signer != nil }

// AnchorName is the full name of the anchor's certificate.
func (r *Room) AnchorName() enc.Name { return r.cert.Name() }

// AnchorWire is the anchor's certificate, encoded.
func (r *Room) AnchorWire() []byte { return r.certWire }

// Fingerprint is a short printable id of the anchor's key, for people to
// compare (the hex of its key id).
func (r *Room) Fingerprint() string { return fmt.Sprintf("%x", r.issuerID.Val) }

// Certify issues id a certificate of the room, valid for validity from
// now, and makes it the one id serves. It needs the anchor's key.
func (r *Room) Certify(id *Identity, validity time.Duration) error {
	spki, err := x509.MarshalPKIXPublicKey(id.PublicKey())
	if err != nil {
		return err
	}
	wire, err := r.issue(id.keyName, spki, validity)
	if err != nil {
		return err
	}
	return id.setCert(wire)
}

// issue signs a certificate P/KEY/<kid>/<anchor-kid>/v=<ms> for the key
// spki (a DER SubjectPublicKeyInfo) named keyName = P/KEY/<kid>, valid
// from an hour ago (clocks differ) for validity.
func (r *Room) issue(keyName enc.Name, spki []byte, validity time.Duration) (enc.Wire, error) {
	if r.signer == nil {
		return nil, ErrNotOwner
	}
	if len(keyName) < 3 || !keyName.At(-2).IsGeneric("KEY") || !memberIdentity(keyName.Prefix(-2), r) {
		return nil, fmt.Errorf("%w: %s is not a key of a participant prefix of room %s (want <user-prefix>/%s)", ErrUntrusted, keyName, r.room, r.room)
	}
	if _, err := parsePublicKey(spki); err != nil {
		return nil, err
	}
	// SignCert takes the key from a Data of ContentType KEY named for it.
	req, err := spec.Spec{}.MakeData(keyName.Append(enc.NewGenericComponent("self"), enc.NewVersionComponent(0)),
		&ndn.DataConfig{ContentType: optional.Some(ndn.ContentTypeKey)}, enc.Wire{spki}, signer.NewSha256Signer())
	if err != nil {
		return nil, err
	}
	d, _, err := spec.Spec{}.ReadData(enc.NewWireView(req.Wire))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	wire, err := security.SignCert(security.SignCertArgs{
		Signer: r.signer, Data: d, IssuerId: r.issuerID,
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validity),
	})
	if err != nil {
		return nil, fmt.Errorf("issue a certificate: %w", err)
	}
	return wire, nil
}

// CheckMember checks that cert, fetched for keyName, is a certificate of
// this room for keyName, valid now, and returns its key and expiry. The
// chain (member certificate, then anchor) is checked by ndnd's
// TrustConfig under the room's schema.
func (r *Room) CheckMember(cert ndn.Data, covered enc.Wire, keyName enc.Name) (crypto.PublicKey, time.Time, error) {
	if err := checkCertShape(cert, keyName); err != nil {
		return nil, time.Time{}, err
	}
	if security.CertIsExpired(cert) {
		nb, na := cert.Signature().Validity()
		return nil, time.Time{}, fmt.Errorf("%w: %w: %s is valid from %s to %s", ErrUntrusted, ErrExpired, cert.Name(),
			nb.GetOr(time.Time{}).Format(time.DateTime), na.GetOr(time.Time{}).Format(time.DateTime))
	}
	if r.IsRemoved(keyName) {
		return nil, time.Time{}, fmt.Errorf("%w: %s", ErrRemoved, keyName)
	}
	if err := r.validate(cert, covered); err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: %s: %v", ErrUntrusted, cert.Name(), err)
	}
	pub, err := certPublicKey(cert)
	if err != nil {
		return nil, time.Time{}, err
	}
	_, notAfter := cert.Signature().Validity()
	return pub, notAfter.GetOr(time.Time{}), nil
}

// validate checks d's signature chain with ndnd's TrustConfig under the
// room's schema. The anchor is the only issuer: a Data whose chain needs a
// certificate fetched is refused.
func (r *Room) validate(d ndn.Data, covered enc.Wire) error {
	var verr error
	done := false
	r.tc.Validate(security.TrustConfigValidateArgs{
		Data: d, DataSigCov: covered,
		Fetch: func(n enc.Name, _ *ndn.InterestConfig, cb ndn.ExpressCallbackFunc) {
			cb(ndn.ExpressCallbackArgs{Result: ndn.InterestResultError, Error: fmt.Errorf("signed by %s", n)})
		},
		IgnoreValidity: optional.Some(false),
		Callback: func(ok bool, err error) {
			done = true
			if !ok && err == nil {
				err = errors.New("not valid")
			}
			verr = err
		},
	})
	if !done {
		return errors.New("validation did not finish")
	}
	return verr
}

// memberIdentity: a participant prefix of the room is <user-prefix>/<room>
// with a user prefix of at least one component, outside the room's group.
func memberIdentity(p enc.Name, r *Room) bool {
	return len(p) >= 2 && p.At(-1).IsGeneric(r.room) && !r.group.IsPrefix(p)
}

// UserOf is the user id a certified participant prefix P = U/<room> stands
// for: the last component of U. In a room with an anchor, a member's
// heartbeat must claim that user id (docs/protocol.md 3).
func UserOf(participant enc.Name) (string, bool) {
	if len(participant) < 2 || participant.At(-2).Typ != enc.TypeGenericNameComponent {
		return "", false
	}
	return string(participant.At(-2).Val), true
}

// schema is the room's trust schema (ndn.TrustSchema), the rule ndnd's
// TrustConfig applies at each step of a chain:
//   - a certificate (<id>/KEY/<kid>/<issuer>/<version>) must be signed by the
//     anchor, and name a participant prefix of the room;
//   - any other Data must be signed by a key whose identity is a proper
//     prefix of the Data's name (a participant signs only under P).
type schema struct{ r *Room }

func (s schema) Check(pkt, cert enc.Name) bool {
	if len(cert) < 4 || !cert.At(-4).IsGeneric("KEY") {
		return false
	}
	if len(pkt) >= 4 && pkt.At(-4).IsGeneric("KEY") {
		return s.r.keyName.IsPrefix(cert) && memberIdentity(pkt.Prefix(-4), s.r)
	}
	id := cert.Prefix(-4)
	return len(pkt) > len(id) && id.IsPrefix(pkt)
}

// Suggest is not used: each participant signs with its own identity.
func (schema) Suggest(enc.Name, ndn.KeyChain) ndn.Signer { return nil }

// writeBase64 writes b to file as one line of base64 (the format of every
// key and certificate file here, and ndnsec's), through writeFileAtomic.
func writeBase64(file string, b []byte, mode os.FileMode) error {
	return writeFileAtomic(file, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), mode)
}

// writeFileAtomic writes b to file through a temporary file and a rename.
func writeFileAtomic(file string, b []byte, mode os.FileMode) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
