package bridge

import "errors"

// Sentinel errors of the bridge.
var (
	ErrClosed             = errors.New("bridge: session closed")
	ErrBusy               = errors.New("bridge: session operation queue full")
	ErrUnsupportedCodec   = errors.New("bridge: unsupported codec")
	ErrDuplicateRemote    = errors.New("bridge: remote stream already added")
	ErrUnknownRemote      = errors.New("bridge: unknown remote stream")
	ErrUnknownStream      = errors.New("bridge: unknown local stream")
	ErrRoleNoReceive      = errors.New("bridge: this role receives no remote streams")
	ErrUnexpectedSignal   = errors.New("bridge: unexpected signaling message")
	ErrBadPacket          = errors.New("bridge: malformed RTP packet")
	ErrNegotiationTimeout = errors.New("bridge: no answer to offer")
	ErrConnectionFailed   = errors.New("bridge: peer connection failed")
	ErrConnectTimeout     = errors.New("bridge: media did not connect")
	ErrConfig             = errors.New("bridge: bad configuration")
)
