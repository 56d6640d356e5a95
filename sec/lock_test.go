//go:build unix

package sec

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestLockIdentity: one holder at a time per identity and directory; the
// second learns the holder's pid; another identity, or the same after
// release, is free.
func TestLockIdentity(t *testing.T) {
	dir := t.TempDir()
	alice := mustName(t, "/peets/user/alice/r")
	release, err := LockIdentity(dir, alice)
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to the open file: a second open in this process
	// conflicts as another process would.
	_, err = LockIdentity(dir, alice)
	if !errors.Is(err, ErrIdentityInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second lock: %v", err)
	}
	rb, err := LockIdentity(dir, mustName(t, "/peets/user/bob/r"))
	if err != nil {
		t.Fatalf("another identity: %v", err)
	}
	rb()
	release()
	again, err := LockIdentity(dir, alice)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}
