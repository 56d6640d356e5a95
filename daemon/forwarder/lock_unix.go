//go:build unix

package forwarder

import (
	"fmt"
	"os"
	"syscall"
)

// lockStateDir takes an exclusive advisory lock on <dir>/nfd.lock, so that
// processes racing to serve the same socket (several `peets up` starting at
// once, or taking over from a forwarder that went away) do not unlink each
// other's fresh socket. The returned func releases it.
func lockStateDir(dir string) (func(), error) {
	f, err := os.OpenFile(dir+"/nfd.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded forwarder: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded forwarder: lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
