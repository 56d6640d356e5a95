//go:build unix

package browserproc

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts the browser in its own process group, so that
// Kill can end it with all its helper processes.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killProcessGroup sends SIGKILL to the browser's process group (its
// id is the browser's pid, see setProcessGroup), helpers included even
// when the browser itself has already exited.
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process == nil || cmd.Process.Pid <= 1 {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
