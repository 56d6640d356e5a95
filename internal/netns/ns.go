package netns

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// NS is a named network namespace (`ip netns add`), with its loopback up.
type NS struct {
	Name string
}

// Add makes the namespace name and brings its loopback up.
func Add(name string) (*NS, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if err := run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	n := &NS{Name: name}
	if err := n.IP("link", "set", "lo", "up"); err != nil {
		_ = n.Delete()
		return nil, err
	}
	return n, nil
}

// IP runs `ip -n NS args...`.
func (n *NS) IP(args ...string) error {
	return run("ip", append([]string{"-n", n.Name}, args...)...)
}

// TC runs `tc -n NS args...`.
func (n *NS) TC(args ...string) error {
	return run("tc", append([]string{"-n", n.Name}, args...)...)
}

// Output runs `ip` or `tc` (tool) with -n NS and returns its standard output.
func (n *NS) Output(tool string, args ...string) ([]byte, error) {
	return output(tool, append([]string{"-n", n.Name}, args...)...)
}

// Command is bin and args wrapped to run inside the namespace: the program
// and arguments to exec (`ip netns exec NS bin args...`, which execs bin
// with the same pid once it has entered the namespace).
func (n *NS) Command(bin string, args ...string) (string, []string) {
	return "ip", append([]string{"netns", "exec", n.Name, bin}, args...)
}

// Pids lists the processes in the namespace.
func (n *NS) Pids() []int {
	out, err := output("ip", "netns", "pids", n.Name)
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil && p > 1 {
			pids = append(pids, p)
		}
	}
	return pids
}

// Delete kills what still runs in the namespace (its owner stops its
// processes first: this is for leftovers) and deletes it; its veth ends
// and their qdiscs go with it.
func (n *NS) Delete() error {
	for range 20 {
		pids := n.Pids()
		if len(pids) == 0 || len(pids) == 1 && pids[0] == os.Getpid() {
			break
		}
		for _, p := range pids {
			if p != os.Getpid() { // a thread of ours that entered it (see Do)
				kill(p)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return run("ip", "netns", "del", n.Name)
}

// DialContext opens a connection from inside the namespace (its loopback
// is the namespace's own). The connection is usable from any goroutine.
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = (&net.Dialer{}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen opens a listening socket in the namespace (e.g. tcp on
// 127.0.0.1:0, its own loopback).
func (n *NS) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// ListenUDP opens a UDP socket in the namespace.
func (n *NS) ListenUDP(addr *net.UDPAddr) (*net.UDPConn, error) {
	var c *net.UDPConn
	err := n.Do(func() error {
		var err error
		c, err = net.ListenUDP("udp4", addr)
		return err
	})
	return c, err
}

// Veth joins namespace a (interface ifA, address cidrA) and b (ifB, cidrB)
// with a veth pair and brings both ends up.
func Veth(a *NS, ifA, cidrA string, b *NS, ifB, cidrB string) error {
	if err := run("ip", "link", "add", ifA, "netns", a.Name, "type", "veth", "peer", "name", ifB, "netns", b.Name); err != nil {
		return err
	}
	for _, e := range []struct {
		n        *NS
		dev, net string
	}{{a, ifA, cidrA}, {b, ifB, cidrB}} {
		if err := e.n.IP("addr", "add", e.net, "dev", e.dev); err != nil {
			return err
		}
		if err := e.n.IP("link", "set", e.dev, "up"); err != nil {
			return err
		}
	}
	return nil
}

// Name is the namespace name for a member of this process's set: prefix,
// this process's pid, "-", member. Sweep recognizes such names.
func Name(prefix, member string) string {
	return fmt.Sprintf("%s%d-%s", prefix, os.Getpid(), member)
}

// Sweep deletes the namespaces named by Name with this prefix whose process
// is gone (a run that was killed before it could clean up), and kills what
// still runs in them. It returns the names it deleted.
func Sweep(prefix string) []string {
	out, err := output("ip", "netns", "list")
	if err != nil {
		return nil
	}
	var gone []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], prefix) {
			continue
		}
		rest := strings.TrimPrefix(f[0], prefix)
		i := strings.IndexByte(rest, '-')
		if i <= 0 {
			continue
		}
		pid, err := strconv.Atoi(rest[:i])
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		if (&NS{Name: f[0]}).Delete() == nil {
			gone = append(gone, f[0])
		}
	}
	return gone
}
