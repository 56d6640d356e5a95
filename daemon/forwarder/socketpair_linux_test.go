package forwarder

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// socketPair returns the two connected ends of a unix stream socketpair.
func socketPair() (a, b *net.UnixConn, err error) {
	syscall.ForkLock.RLock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	conv := func(fd int) (*net.UnixConn, error) {
		f := os.NewFile(uintptr(fd), "peets-relay")
		defer f.Close() // FileConn dups the descriptor
		c, err := net.FileConn(f)
		if err != nil {
			return nil, err
		}
		uc, ok := c.(*net.UnixConn)
		if !ok {
			c.Close()
			return nil, fmt.Errorf("socketpair: unexpected %T", c)
		}
		return uc, nil
	}
	if a, err = conv(fds[0]); err != nil {
		syscall.Close(fds[1])
		return nil, nil, err
	}
	if b, err = conv(fds[1]); err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}
