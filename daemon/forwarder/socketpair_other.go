//go:build !unix

package forwarder

import (
	"errors"
	"net"
)

// socketPair is unavailable here: the embedded forwarder makes no UDP or
// TCP link faces (udpguard.go, tcplink.go) on this platform.
func socketPair() (a, b *net.UnixConn, err error) {
	return nil, nil, errors.New("socketpair not supported on this platform")
}
