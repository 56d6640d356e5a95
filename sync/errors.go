package roomsync

import (
	"errors"

	"github.com/peets/peets/proto"
	"github.com/peets/peets/sec"
)

// Sentinel errors.
var (
	ErrConfig   = errors.New("roomsync: bad configuration")
	ErrObserver = errors.New("roomsync: an observer does not publish")
	ErrClosed   = errors.New("roomsync: group closed")
	ErrBusy     = errors.New("roomsync: this engine already has a member of the group (one member per engine)")
)

// Reasons a received publication or announcement was rejected or could not
// be used, as counted in Stats.Rejected.
const (
	// The fetched Data.
	ReasonMissing     = "missing"      // announced seq not served (app Nack): forged or expired entry
	ReasonTimeout     = "timeout"      // announced seq not answered in time (forged entry, loss, member gone)
	ReasonNoRoute     = "no_route"     // network Nack
	ReasonBadName     = "bad_name"     // Data name differs from the one asked for
	ReasonTooLarge    = "too_large"    // content above proto.MaxPubSize
	ReasonUnsigned    = "unsigned"     // not signed, or not Ed25519
	ReasonWrongSigner = "wrong_signer" // signed by a key that is not the publisher's
	ReasonBadSig      = "bad_signature"
	ReasonNoKey       = "no_key"       // publisher's certificate could not be fetched
	ReasonKeyConflict = "key_conflict" // another key is pinned for the publisher
	ReasonUntrusted   = "untrusted"    // the signer's certificate was not issued by the room's anchor
	ReasonRemoved     = "removed"      // the signer's key was removed from the room by its owner
	ReasonVerify      = "verify_other"
	ReasonMalformed   = "malformed" // envelope is not valid JSON of the right shape
	ReasonVersion     = "version"   // unknown envelope version
	ReasonBadField    = "bad_field" // envelope field invalid
	ReasonMismatch    = "mismatch"  // envelope boot/seq differ from the Data name
	ReasonOldBoot     = "old_boot"  // publication of a boot older than the verified one
	// The sync announcements.
	ReasonBadVector    = "bad_vector"     // sync Interest malformed (its Data, its vector, its digest)
	ReasonOverload     = "overload"       // sync Interest dropped: too many waiting
	ReasonFutureBoot   = "future_boot"    // vector dropped: a boot more than a day ahead
	ReasonOwnEntry     = "own_entry"      // a vector claimed this member's own entry ahead of it
	ReasonBadPeer      = "bad_peer"       // vector entry name refused by AcceptPeer
	ReasonTooManyPeers = "too_many_peers" // entry beyond MaxPeers verified peers, or too many candidates
	ReasonTooManyBoots = "too_many_boots" // too many unverified boots of one peer
	// Ordered delivery.
	ReasonLost = "lost" // an ordered publication could not be fetched: skipped
)

// verifyReason maps a verification error to a reason.
func verifyReason(err error) string {
	switch {
	case errors.Is(err, sec.ErrUnsigned), errors.Is(err, sec.ErrBadSigType), errors.Is(err, sec.ErrNoKeyLocator):
		return ReasonUnsigned
	case errors.Is(err, sec.ErrWrongSigner):
		return ReasonWrongSigner
	case errors.Is(err, sec.ErrBadSignature):
		return ReasonBadSig
	case errors.Is(err, sec.ErrNoKey), errors.Is(err, sec.ErrBadCert), errors.Is(err, sec.ErrBusy):
		return ReasonNoKey
	case errors.Is(err, sec.ErrKeyConflict):
		return ReasonKeyConflict
	case errors.Is(err, sec.ErrRemoved):
		return ReasonRemoved
	case errors.Is(err, sec.ErrUntrusted):
		return ReasonUntrusted
	default:
		return ReasonVerify
	}
}

// decodeReason maps a proto decoding error to a reason.
func decodeReason(err error) string {
	switch {
	case errors.Is(err, proto.ErrPubTooLarge):
		return ReasonTooLarge
	case errors.Is(err, proto.ErrPubVersion):
		return ReasonVersion
	case errors.Is(err, proto.ErrPubField):
		return ReasonBadField
	default:
		return ReasonMalformed
	}
}
