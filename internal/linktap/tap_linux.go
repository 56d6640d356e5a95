package linktap

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"unsafe"

	"github.com/peets/peets/internal/netns"
)

// Linux packet socket constants package syscall does not name.
const (
	solPacket            = 263
	packetStatistics     = 6
	packetIgnoreOutgoing = 23
	packetOutgoing       = 4
	ethPIP               = 0x0800
)

// Tap counts the IPv4 packets arriving on one interface of a namespace.
type Tap struct {
	fd   int
	wg   sync.WaitGroup
	stop chan struct{}

	mu    sync.Mutex
	c     *Counter
	drops uint64 // the kernel dropped them before the tap read them
}

// Open starts counting what arrives on dev in namespace ns (NDN on UDP
// port ndnPort) until Close.
func Open(ns *netns.NS, dev string, ndnPort uint16) (*Tap, error) {
	t := &Tap{fd: -1, stop: make(chan struct{}), c: NewCounter(ndnPort)}
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		proto := int(htons(ethPIP))
		fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, proto)
		if err != nil {
			return err
		}
		t.fd = fd
		if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(ethPIP), Ifindex: ifi.Index}); err != nil {
			return err
		}
		_ = syscall.SetsockoptInt(fd, solPacket, packetIgnoreOutgoing, 1) // Linux >= 4.20; the pkttype check covers older ones
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<20)
		tv := syscall.NsecToTimeval(200e6) // the reader looks at stop this often
		return syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	})
	if err != nil {
		if t.fd >= 0 {
			syscall.Close(t.fd)
		}
		return nil, fmt.Errorf("linktap: %s in %s: %w", dev, ns.Name, err)
	}
	t.wg.Add(1)
	go t.read()
	return t, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (t *Tap) read() {
	defer t.wg.Done()
	buf := make([]byte, 65536)
	for {
		select {
		case <-t.stop:
			return
		default:
		}
		n, from, err := syscall.Recvfrom(t.fd, buf, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == packetOutgoing {
			continue
		}
		t.mu.Lock()
		t.c.Add(buf[:n])
		t.mu.Unlock()
	}
}

// Counts returns what arrived so far, and how many packets the kernel
// dropped before the tap could read them (the counts miss those).
func (t *Tap) Counts() (Counts, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.readDropsLocked()
	return t.c.Counts(), t.drops
}

// Streams returns the media Data that arrived so far per stream id
// (Counter.Streams).
func (t *Tap) Streams() map[string]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c.Streams()
}

// readDropsLocked adds the socket's drop count (reading it resets it).
func (t *Tap) readDropsLocked() {
	if t.fd < 0 {
		return
	}
	var st struct{ packets, drops uint32 }
	l := uint32(unsafe.Sizeof(st))
	_, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, uintptr(t.fd), solPacket, packetStatistics,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&l)), 0)
	if e == 0 {
		t.drops += uint64(st.drops)
	}
}

// Close stops the tap.
func (t *Tap) Close() error {
	select {
	case <-t.stop:
		return nil
	default:
	}
	close(t.stop)
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.readDropsLocked()
	err := syscall.Close(t.fd)
	t.fd = -1
	return err
}
