package proc

import (
	"errors"
	"regexp"
	"syscall"
	"testing"
	"time"
)

func TestStartWaitLine(t *testing.T) {
	p, err := Start("sh", "/bin/sh", []string{"-c", "echo hello; echo port=42; sleep 5"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := p.WaitLine(regexp.MustCompile(`port=(\d+)`), 2*time.Second)
	if err != nil || m[1] != "42" {
		t.Fatalf("%v %v", m, err)
	}
	if _, err := p.WaitLine(regexp.MustCompile(`never`), 50*time.Millisecond); !errors.Is(err, ErrTimeout) {
		t.Fatalf("want timeout, got %v", err)
	}
	st := p.Stop(time.Second)
	if st == nil || st.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("state %v", st)
	}
}

func TestWaitLineExit(t *testing.T) {
	p, err := Start("sh", "/bin/sh", []string{"-c", "echo bye"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitLine(regexp.MustCompile(`bye`), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WaitLine(regexp.MustCompile(`nothing`), 2*time.Second); err == nil || errors.Is(err, ErrTimeout) {
		t.Fatalf("want exit error, got %v", err)
	}
}

// TestOutputCompleteAtExit: once Wait returns, Lines has every line the
// process wrote, the last one too when it has no newline (the scanner gives
// it only at EOF). Before the fix, Wait could return first: an e2e test read
// no line from a `peets roster --json` that had printed its JSON.
func TestOutputCompleteAtExit(t *testing.T) {
	for i := range 20 {
		p, err := Start("sh", "/bin/sh", []string{"-c", "i=0; while [ $i -lt 50 ]; do echo line$i; i=$((i+1)); done; printf last"}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		l := p.Lines()
		if len(l) != 51 || l[50] != "last" {
			t.Fatalf("run %d: %d lines after Wait, last %q", i, len(l), l[len(l)-1:])
		}
	}
}
