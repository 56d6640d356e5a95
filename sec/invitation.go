package sec

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	spec "github.com/named-data/ndnd/std/ndn/spec_2022"
)

// Invitation lets a person join a room that another machine owns: a fresh
// Ed25519 key for the member, its certificate issued by the room's anchor
// for the member's participant prefix, and the anchor's certificate. It is
// a secret (it holds the member's private key): hand it over as a file or a
// link (Link) by a channel you trust.
type Invitation struct {
	Version     int    `json:"peets_invitation"`
	Room        string `json:"room"`
	Group       string `json:"group"`
	User        string `json:"user"`
	Participant string `json:"participant"`         // P = U/<room>
	Key         string `json:"key,omitempty"`       // base64 Ed25519 seed or PKCS#8; empty: a key held elsewhere (InviteKey)
	Cert        string `json:"cert"`                // base64 member certificate
	Anchor      string `json:"anchor"`              // base64 anchor certificate
	MediaKey    string `json:"media_key"`           // base64 of the room's current media key
	KeyEpoch    uint64 `json:"key_epoch,omitempty"` // its epoch; absent: 1
}

// InvitationLinkPrefix starts an invitation given as one line of text.
const InvitationLinkPrefix = "peets-invite:"

// maxInvitation bounds an invitation's size (a real one is ~1.5 KB).
const maxInvitation = 16 << 10

// ErrBadInvitation wraps every reason an invitation is refused.
var ErrBadInvitation = errors.New("bad invitation")

// ErrNeedKey: an invitation for a key held elsewhere (InviteKey), not yet
// given its private key (SetKey).
var ErrNeedKey = errors.New("the invitation is for a key you hold: give it with --safebag (ndnsec export)")

// ErrNoInvitation: a room owned elsewhere, and no invitation imported for
// this participant.
var ErrNoInvitation = errors.New("no invitation for this participant")

// Invite makes an invitation for user, whose participant prefix is
// participant, valid for validity. It needs the anchor's key.
func (r *Room) Invite(user string, participant enc.Name, validity time.Duration) (*Invitation, error) {
	if u, ok := UserOf(participant); !ok || u != user {
		return nil, fmt.Errorf("%w: participant prefix %s does not end in /%s/%s", ErrBadInvitation, participant, user, r.room)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	inv, err := r.InviteKey(user, participant, priv.Public(), nil, validity)
	if err != nil {
		return nil, err
	}
	inv.Key = base64.StdEncoding.EncodeToString(priv.Seed())
	return inv, nil
}

// InviteKey makes an invitation for a key the member holds already (an
// NDN key issued elsewhere, of any key id: kid nil is Peets's own id of the
// key). The invitation carries no private key: the member imports its own
// (SetKey, from ndnsec's SafeBag).
func (r *Room) InviteKey(user string, participant enc.Name, pub crypto.PublicKey, kid []byte, validity time.Duration) (*Invitation, error) {
	if u, ok := UserOf(participant); !ok || u != user {
		return nil, fmt.Errorf("%w: participant prefix %s does not end in /%s/%s", ErrBadInvitation, participant, user, r.room)
	}
	if err := checkKeyType(pub); err != nil {
		return nil, err
	}
	if kid == nil {
		kid = keyID(pub)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	keyName := participant.Append(enc.NewGenericComponent("KEY"), enc.NewGenericBytesComponent(kid))
	cert, err := r.issue(keyName, spki, validity)
	if err != nil {
		return nil, err
	}
	// The owner keeps the certificate: a rotation seals the new media key
	// for it (rekey.go).
	if err := r.recordIssued(keyName, cert.Join()); err != nil {
		return nil, err
	}
	b64 := base64.StdEncoding.EncodeToString
	epoch := r.Epoch()
	return &Invitation{
		Version: 1, Room: r.room, Group: r.group.String(), User: user, Participant: participant.String(),
		Cert: b64(cert.Join()), Anchor: b64(r.certWire), MediaKey: b64(r.Key(epoch)), KeyEpoch: epoch,
	}, nil
}

// SetKey puts the member's private key in an invitation made by InviteKey,
// after checking that it is the certified one.
func (inv *Invitation) SetKey(priv crypto.Signer) error {
	cert, err := inv.cert()
	if err != nil {
		return err
	}
	pub, err := certPublicKey(cert)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadInvitation, err)
	}
	if !sameKey(pub, priv.Public()) {
		return fmt.Errorf("%w: the key is not the one the invitation's certificate %s is for", ErrBadInvitation, cert.Name())
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	inv.Key = base64.StdEncoding.EncodeToString(der)
	return nil
}

// cert decodes the invitation's certificate.
func (inv *Invitation) cert() (ndn.Data, error) {
	b, err := base64.StdEncoding.DecodeString(inv.Cert)
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrBadInvitation, err)
	}
	d, _, err := spec.Spec{}.ReadData(enc.NewBufferView(b))
	if err != nil {
		return nil, fmt.Errorf("%w: certificate: %v", ErrBadInvitation, err)
	}
	return d, nil
}

// parseKey reads an invitation's key: an Ed25519 seed, or PKCS#8.
func parseKey(b []byte) (crypto.Signer, error) {
	if len(b) == ed25519.SeedSize {
		return ed25519.NewKeyFromSeed(b), nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b)
	if err != nil {
		return nil, err
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("a %T key", k)
	}
	return s, checkKeyType(s.Public())
}

// Link is the invitation as one line: InvitationLinkPrefix, then base64url
// of its JSON.
func (inv *Invitation) Link() string {
	b, _ := json.Marshal(inv)
	return InvitationLinkPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ReadInvitation reads an invitation given as a link or as the path of a
// file holding a link or the JSON.
func ReadInvitation(arg string) (*Invitation, error) {
	arg = strings.TrimSpace(arg)
	if !strings.HasPrefix(arg, InvitationLinkPrefix) {
		f, err := os.Open(arg)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadInvitation, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxInvitation+1))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadInvitation, err)
		}
		if len(b) > maxInvitation {
			return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrBadInvitation, arg, maxInvitation)
		}
		arg = strings.TrimSpace(string(b))
	}
	return ParseInvitation(arg)
}

// ParseInvitation decodes a link or the JSON of an invitation and checks
// its fields' shapes (Open checks the certificates).
func ParseInvitation(s string) (*Invitation, error) {
	if len(s) > 2*maxInvitation {
		return nil, fmt.Errorf("%w: too large", ErrBadInvitation)
	}
	b := []byte(s)
	if rest, ok := strings.CutPrefix(s, InvitationLinkPrefix); ok {
		var err error
		if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(rest, "=")); err != nil {
			return nil, fmt.Errorf("%w: link: %v", ErrBadInvitation, err)
		}
	}
	var inv Invitation
	if err := json.Unmarshal(b, &inv); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInvitation, err)
	}
	if inv.Version != 1 {
		return nil, fmt.Errorf("%w: version %d (this peets reads 1)", ErrBadInvitation, inv.Version)
	}
	return &inv, nil
}

// Open checks the invitation: the anchor is a valid self-signed certificate
// of the group, the member certificate was issued by it for the
// participant, and the key is the certified one. It returns the room (not
// owned) and the member's identity.
func (inv *Invitation) Open() (*Room, *Identity, error) {
	group, err := enc.NameFromStr(inv.Group)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: group %q: %v", ErrBadInvitation, inv.Group, err)
	}
	p, err := enc.NameFromStr(inv.Participant)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: participant %q: %v", ErrBadInvitation, inv.Participant, err)
	}
	if u, ok := UserOf(p); !ok || u != inv.User {
		return nil, nil, fmt.Errorf("%w: participant %s is not user %s's", ErrBadInvitation, p, inv.User)
	}
	dec := base64.StdEncoding.DecodeString
	anchor, err := dec(inv.Anchor)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: anchor: %v", ErrBadInvitation, err)
	}
	r, err := newRoom(inv.Room, group, anchor, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadInvitation, err)
	}
	key, err := dec(inv.MediaKey)
	if err != nil || len(key) != MediaKeySize {
		return nil, nil, fmt.Errorf("%w: media key (an invitation from an older peets: ask for a new one)", ErrBadInvitation)
	}
	r.ring.setKey(inv.epoch(), key)
	if inv.Key == "" {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadInvitation, ErrNeedKey)
	}
	kb, err := dec(inv.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: key", ErrBadInvitation)
	}
	priv, err := parseKey(kb)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: key: %v", ErrBadInvitation, err)
	}
	certWire, err := dec(inv.Cert)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: certificate: %v", ErrBadInvitation, err)
	}
	cert, covered, err := spec.Spec{}.ReadData(enc.NewBufferView(certWire))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: certificate: %v", ErrBadInvitation, err)
	}
	// The key id is the certificate's: a key issued elsewhere keeps its own.
	if len(cert.Name()) != len(p)+4 || !p.IsPrefix(cert.Name()) {
		return nil, nil, fmt.Errorf("%w: certificate %s is not for %s", ErrBadInvitation, cert.Name(), p)
	}
	id, err := newIdentity(p, priv, cert.Name().At(len(p)+1).Val)
	if err != nil {
		return nil, nil, err
	}
	pub, _, err := r.CheckMember(cert, covered, id.keyName)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrBadInvitation, err)
	}
	if !sameKey(pub, id.PublicKey()) {
		return nil, nil, fmt.Errorf("%w: the certificate is for another key", ErrBadInvitation)
	}
	if err := id.setCert(enc.Wire{certWire}); err != nil {
		return nil, nil, err
	}
	return r, id, nil
}

// epoch is the epoch of the invitation's media key.
func (inv *Invitation) epoch() uint64 {
	if inv.KeyEpoch == 0 {
		return 1
	}
	return inv.KeyEpoch
}

// membersDir holds the invitations imported for a room.
func membersDir(trustDir string, group enc.Name) string {
	return filepath.Join(roomDir(trustDir, group), "members")
}

// ImportInvitation checks inv and keeps it under trustDir: the anchor
// becomes the room's, the member's key and certificate are found by
// LoadMember. A trust directory that already holds another anchor for the
// room refuses it (ErrAnchorConflict).
func ImportInvitation(trustDir string, inv *Invitation) (*Room, error) {
	r, id, err := inv.Open()
	if err != nil {
		return nil, err
	}
	old, err := LoadRoom(trustDir, inv.Room, r.group)
	switch {
	case err == nil:
		if !old.keyName.Equal(r.keyName) {
			return nil, fmt.Errorf("%w: %s has anchor %s, the invitation is for %s", ErrAnchorConflict,
				roomDir(trustDir, r.group), old.keyName, r.keyName)
		}
		if old.Key(inv.epoch()) == nil {
			key := r.Key(inv.epoch())
			if err := writeBase64(filepath.Join(old.dir, mediaKeyFileOf(inv.epoch())), key, 0o600); err != nil {
				return nil, err
			}
			old.ring.setKey(inv.epoch(), key)
		}
		r = old
	case errors.Is(err, ErrNoRoom):
		dir := roomDir(trustDir, r.group)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := writeBase64(filepath.Join(dir, anchorCertFile), r.certWire, 0o644); err != nil {
			return nil, err
		}
		if err := writeBase64(filepath.Join(dir, mediaKeyFileOf(inv.epoch())), r.MediaKey(), 0o600); err != nil {
			return nil, err
		}
		r.dir = dir
	default:
		return nil, err
	}
	dir := membersDir(trustDir, r.group)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(inv, "", "  ")
	if err := writeFileAtomic(filepath.Join(dir, fileStem(id.name)+".invitation"), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	return r, nil
}

// LoadMember returns the identity of participant from the invitation
// imported for it under trustDir (ErrNoInvitation when there is none).
func LoadMember(trustDir string, r *Room, participant enc.Name) (*Identity, error) {
	file := filepath.Join(membersDir(trustDir, r.group), fileStem(participant)+".invitation")
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s in room %s (anchor %s)", ErrNoInvitation, participant, r.room, r.keyName)
	}
	inv, err := ReadInvitation(file)
	if err != nil {
		return nil, err
	}
	ir, id, err := inv.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if !ir.keyName.Equal(r.keyName) || !id.name.Equal(participant) {
		return nil, fmt.Errorf("%w: %s is for %s under anchor %s", ErrBadInvitation, file, id.name, ir.keyName)
	}
	return id, nil
}
