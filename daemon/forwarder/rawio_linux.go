package forwarder

import (
	"io"
	"net"
	"syscall"
	"unsafe"

	enc "github.com/named-data/ndnd/std/encoding"
)

// rawIO reads and writes a connected non-blocking socket with raw system
// calls, using the runtime's poller (syscall.RawConn) only to wait for
// readiness.
//
// Why: each read or write through net.Conn enters the runtime's syscall
// state, and the first one after the process went idle wakes the
// runtime's monitor thread (sysmon), which then polls every 20 us for a
// while. A media proxy goes idle between packets tens of times a second,
// so that wake-up chain was ~17 % of a proxy's CPU (perf, bench fanout).
// A read or write on a non-blocking socket returns at once (data, or
// EAGAIN), so it needs no syscall state; on EAGAIN the poller waits for
// readiness as net.Conn would, deadlines included.
//
// One goroutine may read while another writes; reads must not be
// concurrent with reads, nor writes with writes (the face's receive
// goroutine reads; its sendMu serializes writes).
type rawIO struct {
	rc syscall.RawConn

	// read state, used by readFn
	rbuf   []byte
	rn     uintptr
	rerrno syscall.Errno
	readFn func(fd uintptr) bool

	// write state, used by writeFn
	iov     [maxIovecs]syscall.Iovec
	iovCnt  int
	wn      uintptr
	werrno  syscall.Errno
	writeFn func(fd uintptr) bool
}

// maxIovecs bounds one writev (Linux's UIO_MAXIOV is 1024).
const maxIovecs = 16

// newRawIO returns nil when c has no file descriptor (net.Pipe in tests):
// the caller then uses c itself.
func newRawIO(c net.Conn) *rawIO {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawIO{rc: rc}
	r.readFn = func(fd uintptr) bool {
		for {
			r.rn, _, r.rerrno = syscall.RawSyscall(syscall.SYS_READ, fd,
				uintptr(unsafe.Pointer(&r.rbuf[0])), uintptr(len(r.rbuf)))
			if r.rerrno != syscall.EINTR {
				return r.rerrno != syscall.EAGAIN
			}
		}
	}
	r.writeFn = func(fd uintptr) bool {
		for {
			r.wn, _, r.werrno = syscall.RawSyscall(syscall.SYS_WRITEV, fd,
				uintptr(unsafe.Pointer(&r.iov[0])), uintptr(r.iovCnt))
			if r.werrno != syscall.EINTR {
				return r.werrno != syscall.EAGAIN
			}
		}
	}
	return r
}

// Write implements io.Writer: all of p, or an error.
func (r *rawIO) Write(p []byte) (int, error) {
	if err := r.writev(enc.Wire{p}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Read implements io.Reader.
func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rbuf = p
	err := r.rc.Read(r.readFn)
	r.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case r.rerrno != 0:
		return 0, r.rerrno
	case r.rn == 0:
		return 0, io.EOF
	}
	// A short read means the socket's queue is empty, so the next Read's
	// first read fails with EAGAIN. It cannot be skipped: RawConn.Read
	// clears the poller's pending readiness before it calls readFn (Go
	// expects a read attempt first), so waiting without reading would miss
	// data that arrived in between (tried; it hangs).
	return int(r.rn), nil
}

// writev writes all of bufs, waiting for room in the socket buffer through
// the poller (and so the connection's write deadline).
func (r *rawIO) writev(bufs enc.Wire) error {
	defer clear(r.iov[:]) // drop the references to the caller's buffers
	for len(bufs) > 0 {
		r.iovCnt = 0
		for _, b := range bufs {
			if r.iovCnt == maxIovecs {
				break
			}
			if len(b) == 0 {
				continue
			}
			r.iov[r.iovCnt].Base = &b[0]
			r.iov[r.iovCnt].SetLen(len(b))
			r.iovCnt++
		}
		if r.iovCnt == 0 {
			return nil
		}
		if err := r.rc.Write(r.writeFn); err != nil {
			return err
		}
		if r.werrno != 0 {
			return r.werrno
		}
		bufs = consume(bufs, int(r.wn))
	}
	return nil
}

// consume drops the first n written bytes from bufs (re-slicing, never
// writing into the caller's buffers).
func consume(bufs enc.Wire, n int) enc.Wire {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && n > 0 {
		bufs = append(enc.Wire{bufs[0][n:]}, bufs[1:]...)
	}
	return bufs
}
