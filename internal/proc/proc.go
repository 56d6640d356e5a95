// Package proc starts and watches child processes for the multi-process
// tests and benchmarks: each child in its own process group, its output
// captured line by line, every wait bounded.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// ErrTimeout is returned by the waits that run out of time.
var ErrTimeout = errors.New("timed out")

// maxLines bounds the output kept per process.
const maxLines = 100000

// Proc is a running child process.
type Proc struct {
	Name string
	cmd  *exec.Cmd

	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on each new line
	done    chan struct{}
	state   *os.ProcessState
	waitErr error
	echo    io.Writer
}

// Options of Start.
type Options struct {
	Env  []string  // added to the environment
	Echo io.Writer // copy every output line here, prefixed by the name (nil: no copy)
	Dir  string
}

// Start runs bin with args. Standard output and standard error are merged.
func Start(name, bin string, args []string, o Options) (*Proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), o.Env...)
	cmd.Dir = o.Dir
	ownGroup(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	p := &Proc{Name: name, cmd: cmd, changed: make(chan struct{}), done: make(chan struct{}), echo: o.Echo}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		p.read(pr)
	}()
	go func() {
		err := cmd.Wait()
		pw.Close()
		// The output is complete only once read has taken its last line
		// (cmd.Wait returns as soon as the reader has the bytes).
		<-readDone
		p.mu.Lock()
		p.state, p.waitErr = cmd.ProcessState, err
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *Proc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if p.echo != nil {
			fmt.Fprintf(p.echo, "[%s] %s\n", p.Name, line)
		}
		p.mu.Lock()
		if len(p.lines) < maxLines {
			p.lines = append(p.lines, line)
		}
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r)
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Lines returns a copy of the output so far.
func (p *Proc) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// Output is the output so far as one string.
func (p *Proc) Output() string {
	var b bytes.Buffer
	for _, l := range p.Lines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// WaitLine waits until an output line matches re and returns its
// submatches. It fails when the process exits first or after timeout.
func (p *Proc) WaitLine(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	seen := 0
	for {
		p.mu.Lock()
		lines, ch := p.lines, p.changed
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if m := re.FindStringSubmatch(lines[seen]); m != nil {
				return m, nil
			}
		}
		select {
		case <-ch:
		case <-p.done:
			// drain the lines written just before exit
			time.Sleep(20 * time.Millisecond)
			p.mu.Lock()
			lines = p.lines
			p.mu.Unlock()
			for ; seen < len(lines); seen++ {
				if m := re.FindStringSubmatch(lines[seen]); m != nil {
					return m, nil
				}
			}
			return nil, fmt.Errorf("%s exited before a line matched %q", p.Name, re)
		case <-deadline.C:
			return nil, fmt.Errorf("%w: %s: no line matched %q within %v", ErrTimeout, p.Name, re, timeout)
		}
	}
}

// Signal sends sig to the child's process group (to the child alone where
// there are no process groups).
func (p *Proc) Signal(sig syscall.Signal) error {
	return signalGroup(p.cmd.Process, sig)
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits for the process to exit, at most timeout, and returns its
// state.
func (p *Proc) Wait(timeout time.Duration) (*os.ProcessState, error) {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.state, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("%w: %s still running after %v", ErrTimeout, p.Name, timeout)
	}
}

// Stop sends SIGTERM, waits up to grace, then kills the group.
func (p *Proc) Stop(grace time.Duration) *os.ProcessState {
	if p.Exited() {
		st, _ := p.Wait(0)
		return st
	}
	_ = p.Signal(syscall.SIGTERM)
	if st, err := p.Wait(grace); err == nil {
		return st
	}
	_ = p.Signal(syscall.SIGKILL)
	st, _ := p.Wait(5 * time.Second)
	return st
}

// Kill sends SIGKILL to the group and waits for the exit.
func (p *Proc) Kill() {
	_ = p.Signal(syscall.SIGKILL)
	_, _ = p.Wait(5 * time.Second)
}

// CPU returns the user+system CPU time and the peak RSS in bytes of an
// exited process.
func CPU(st *os.ProcessState) (time.Duration, int64) {
	if st == nil {
		return 0, 0
	}
	cpu := st.UserTime() + st.SystemTime()
	return cpu, maxRSS(st)
}

// Group stops a set of processes together.
type Group struct {
	mu    sync.Mutex
	procs []*Proc
}

// Add remembers p.
func (g *Group) Add(p *Proc) *Proc {
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p
}

// StopAll stops every process, in reverse order of start.
func (g *Group) StopAll(grace time.Duration) {
	g.mu.Lock()
	ps := g.procs
	g.procs = nil
	g.mu.Unlock()
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i].Stop(grace)
	}
}

// WithTimeout is context.WithTimeout, re-exported for brevity in tests.
func WithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
