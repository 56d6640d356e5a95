//go:build !linux

package forwarder

import (
	"net"

	enc "github.com/named-data/ndnd/std/encoding"
)

// rawIO is Linux-only; elsewhere the face uses net.Conn.
type rawIO struct{}

func newRawIO(net.Conn) *rawIO { return nil }

func (*rawIO) Read([]byte) (int, error) { panic("unreachable") }

func (*rawIO) writev(enc.Wire) error { panic("unreachable") }

func (*rawIO) Write([]byte) (int, error) { panic("unreachable") }
