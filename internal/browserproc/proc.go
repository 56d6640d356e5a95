// Package browserproc runs a browser for tests and benchmarks and carries
// its automation connection (Conn). The browser runs in a
// process group of its own (so that Kill ends its helper processes too),
// with its output kept in a bounded tail, on a throwaway profile directory.
// internal/cdp (Chromium) and internal/bidi (Firefox) drive what it starts.
package browserproc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// maxOutput is how much of the browser's output is kept.
const maxOutput = 64 << 10

// Proc is a running browser process.
type Proc struct {
	cmd     *exec.Cmd
	dir     string
	out     *tailBuffer
	exited  chan struct{}
	waitErr error
}

// Start runs path with args in a new process group; dir is the profile
// directory that RemoveDir deletes (made by the caller).
func Start(path string, args []string, dir string) (*Proc, error) {
	cmd := exec.Command(path, args...)
	setProcessGroup(cmd)
	p := &Proc{cmd: cmd, dir: dir, out: &tailBuffer{max: maxOutput}, exited: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// Exited is closed when the browser process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended; valid once Exited is closed.
func (p *Proc) Err() error { return p.waitErr }

// Pid is the browser's process id, also its process group's: its helper
// processes (renderers, GPU, utility) are in that group.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Dir is the profile directory.
func (p *Proc) Dir() string { return p.dir }

// Output returns the last 64 KiB of the browser's stdout and stderr.
func (p *Proc) Output() string { return p.out.String() }

// WaitExit waits at most d for the process to exit by itself.
func (p *Proc) WaitExit(d time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(d):
		return false
	}
}

// Kill sends SIGKILL to the whole process group (helpers included, even
// when the browser itself has exited) and waits at most d for the browser;
// an error says it survived.
func (p *Proc) Kill(d time.Duration) error {
	killProcessGroup(p.cmd)
	if !p.WaitExit(d) {
		return fmt.Errorf("browserproc: %s survived SIGKILL", p.cmd.Path)
	}
	return nil
}

// RemoveDir deletes the profile directory, retrying for a second while
// dying helpers still write into it.
func (p *Proc) RemoveDir() {
	for range 10 {
		if err := os.RemoveAll(p.dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	sc := bufio.NewScanner(strings.NewReader(string(t.buf)))
	var b strings.Builder
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return b.String()
}
