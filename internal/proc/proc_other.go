//go:build !unix

package proc

import (
	"os"
	"os/exec"
	"syscall"
)

func ownGroup(*exec.Cmd) {}

// signalGroup kills the process for SIGKILL and interrupts it otherwise
// (no process groups, and no other signals, on this system).
func signalGroup(p *os.Process, sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		return p.Kill()
	}
	return p.Signal(os.Interrupt)
}

func maxRSS(*os.ProcessState) int64 { return 0 }
