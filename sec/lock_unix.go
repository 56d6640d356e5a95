//go:build unix

package sec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	enc "github.com/named-data/ndnd/std/encoding"
)

// LockIdentity takes an exclusive lock on the identity's key in dir (the
// directory LoadOrCreate uses), held until release is called or the
// process ends: one process at a time speaks as a participant from one
// state directory. A second one gets ErrIdentityInUse, with the pid of the
// holder when known.
func LockIdentity(dir string, identity enc.Name) (release func(), err error) {
	kdir := filepath.Join(dir, "keys")
	if err := os.MkdirAll(kdir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(kdir, keyFileName(identity)+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sec: lock %s: %w", identity, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b[:n]))); perr == nil {
				return nil, fmt.Errorf("%w: pid %d", ErrIdentityInUse, pid)
			}
			return nil, ErrIdentityInUse
		}
		return nil, fmt.Errorf("sec: lock %s: %w", identity, err)
	}
	// The holder's pid, for the message of the next one.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
