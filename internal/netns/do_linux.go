package netns

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
)

func supported() error { return nil }

// Do runs fn on an OS thread that has entered the namespace. Sockets fn
// opens belong to the namespace for their whole life, whichever thread
// uses them later. The thread goes back to this process's namespace
// afterwards; if it cannot, it is never given back to the Go scheduler (it
// ends with fn's goroutine), so no other goroutine runs in the namespace by
// accident.
func (n *NS) Do(fn func() error) error {
	target, err := os.Open("/var/run/netns/" + n.Name)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: %w", err)
			return
		}
		defer home.Close()
		if err := setns(target); err != nil {
			errc <- fmt.Errorf("netns: setns %s: %w", n.Name, err)
			return // the thread may be anywhere: it ends with the goroutine
		}
		err = fn()
		if setns(home) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func setns(f *os.File) error {
	if _, _, e := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		return e
	}
	return nil
}

// kill sends SIGKILL to pid.
func kill(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }

// alive says whether process pid exists.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}
