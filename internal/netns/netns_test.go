package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

func needNetns(t *testing.T) {
	t.Helper()
	if err := Check(); err != nil {
		t.Skip(err)
	}
}

// TestDialListen: a socket opened with Listen is on the namespace's own
// loopback: Dial in the namespace reaches it, and the veth carries
// traffic between two namespaces.
func TestDialListen(t *testing.T) {
	needNetns(t)
	a, err := Add(Name("peetstest", "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Delete()
	b, err := Add(Name("peetstest", "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Delete()
	if err := Veth(a, "nta", "10.199.0.1/24", b, "ntb", "10.199.0.2/24"); err != nil {
		t.Fatal(err)
	}
	l, err := a.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "hello\n")
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, d := range []struct {
		ns   *NS
		addr string
	}{{a, "127.0.0.1"}, {b, "10.199.0.1"}} {
		c, err := d.ns.DialContext(ctx, "tcp", fmt.Sprintf("%s:%d", d.addr, port))
		if err != nil {
			t.Fatalf("dial %s from %s: %v", d.addr, d.ns.Name, err)
		}
		msg, _ := io.ReadAll(c)
		c.Close()
		if string(msg) != "hello\n" {
			t.Fatalf("got %q", msg)
		}
	}
	// b's loopback is not a's.
	if c, err := b.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Fatal("b's loopback reached a's listener")
	}
	bin, args := a.Command("true")
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v %s", bin, args, err, out)
	}
}

// TestSweep: a namespace left by a process that is gone is deleted; this
// process's own are kept.
func TestSweep(t *testing.T) {
	needNetns(t)
	// A pid that does not exist (above the kernel's largest pid_max, 2^22),
	// and is this test process's own, for tests running at once.
	stale := fmt.Sprintf("peetssweep%d-x", 1<<23+os.Getpid())
	if err := run("ip", "netns", "add", stale); err != nil {
		t.Fatal(err)
	}
	mine, err := Add(Name("peetssweep", "y"))
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Delete()
	gone := Sweep("peetssweep")
	if !slices.Contains(gone, stale) || slices.Contains(gone, mine.Name) {
		_ = run("ip", "netns", "del", stale)
		t.Fatalf("swept %v, want [%s]", gone, stale)
	}
	out, _ := output("ip", "netns", "list")
	if strings.Contains(string(out), stale) || !strings.Contains(string(out), mine.Name) {
		t.Fatalf("after the sweep:\n%s", out)
	}
}

func TestCheckNotRoot(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs as root")
	}
	if err := Check(); !errors.Is(err, ErrNotRoot) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Check: %v", err)
	}
}
