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
