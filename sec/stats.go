package sec

import (
	"errors"
	"sync/atomic"
)

type verifierStats struct {
	ok, unsigned, badSigType, wrongSigner, badSignature, noKey, keyConflict, badCert, untrusted, removed, busy, other atomic.Uint64
	certFetches                                                                                                       atomic.Uint64
}

// VerifierStats counts verifications by outcome.
type VerifierStats struct {
	OK           uint64 `json:"ok"`
	Unsigned     uint64 `json:"unsigned"`
	BadSigType   uint64 `json:"bad_sig_type"`
	WrongSigner  uint64 `json:"wrong_signer"`
	BadSignature uint64 `json:"bad_signature"`
	NoKey        uint64 `json:"no_key"`
	KeyConflict  uint64 `json:"key_conflict"`
	BadCert      uint64 `json:"bad_cert"`
	Untrusted    uint64 `json:"untrusted"` // certificates the room's anchor did not issue
	Removed      uint64 `json:"removed"`   // keys the room's owner removed
	Busy         uint64 `json:"busy"`
	Other        uint64 `json:"other"`
	CertFetches  uint64 `json:"cert_fetches"`
}

// Stats returns the counters.
func (v *Verifier) Stats() VerifierStats {
	s := &v.stats
	return VerifierStats{
		OK: s.ok.Load(), Unsigned: s.unsigned.Load(), BadSigType: s.badSigType.Load(),
		WrongSigner: s.wrongSigner.Load(), BadSignature: s.badSignature.Load(), NoKey: s.noKey.Load(),
		KeyConflict: s.keyConflict.Load(), BadCert: s.badCert.Load(), Untrusted: s.untrusted.Load(), Removed: s.removed.Load(), Busy: s.busy.Load(),
		Other: s.other.Load(), CertFetches: s.certFetches.Load(),
	}
}

func (v *Verifier) count(err error) {
	s := &v.stats
	switch {
	case err == nil:
		s.ok.Add(1)
	case errors.Is(err, ErrUnsigned):
		s.unsigned.Add(1)
	case errors.Is(err, ErrBadSigType):
		s.badSigType.Add(1)
	case errors.Is(err, ErrWrongSigner):
		s.wrongSigner.Add(1)
	case errors.Is(err, ErrBadSignature):
		s.badSignature.Add(1)
	case errors.Is(err, ErrNoKey):
		s.noKey.Add(1)
	case errors.Is(err, ErrKeyConflict):
		// counted where detected
	case errors.Is(err, ErrRemoved):
		s.removed.Add(1)
	case errors.Is(err, ErrUntrusted):
		s.untrusted.Add(1)
	case errors.Is(err, ErrBadCert):
		s.badCert.Add(1)
	case errors.Is(err, ErrBusy):
		s.busy.Add(1)
	default:
		s.other.Add(1)
	}
}
