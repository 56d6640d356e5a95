//go:build !unix

package forwarder

import (
	"errors"
	"net"
)

// socketPair is unavailable here: local apps' frames reach the embedded
// forwarder unfiltered (see relay.go).
func socketPair() (a, b *net.UnixConn, err error) {
	return nil, nil, errors.New("socketpair not supported on this platform")
}
