package forwarder

import (
	"io"
	"net"
)

// readerOf reads c with raw system calls where it can (see rawIO). Use it
// from one goroutine at a time.
func readerOf(c net.Conn) io.Reader {
	if r := newRawIO(c); r != nil {
		return r
	}
	return c
}

// writerOf writes c with raw system calls where it can (see rawIO). Use it
// from one goroutine at a time.
func writerOf(c net.Conn) io.Writer {
	if r := newRawIO(c); r != nil {
		return r
	}
	return c
}
