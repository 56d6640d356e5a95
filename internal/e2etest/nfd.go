package e2etest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peets/peets/internal/nfdtools"
)

// NFDTools returns the directory of the NFD 24.07 build the tests use
// (bin/nfd, bin/nfdc, run-nfd.sh: see its README): $PEETS_NFD, else
// shared/tools/nfd beside the repository or beside one of its parents (CI
// has ../shared beside the clone). It skips t, saying why, when there is
// none or it cannot run (its libraries are installed by
// scripts/install-deps.sh).
func NFDTools(t testing.TB) string {
	t.Helper()
	nfdMu.Lock()
	defer nfdMu.Unlock()
	if nfdDir != "" {
		return nfdDir
	}
	dir := nfdtools.Find(filepath.Dir(repoRoot()))
	if dir == "" {
		t.Skip("NFD not found: set PEETS_NFD to a directory holding NFD 24.07's bin/nfd, bin/nfdc and run-nfd.sh, or put shared/tools/nfd beside the repository")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(dir, "bin", "nfd"), "--version").CombinedOutput(); err != nil {
		t.Skipf("NFD in %s does not run (%v: %s): its libraries are missing? bash scripts/install-deps.sh installs them",
			dir, err, bytes.TrimSpace(out))
	}
	nfdDir = dir
	return dir
}

var (
	nfdMu  sync.Mutex
	nfdDir string // NFDTools' answer, once it found a working NFD
)

// NFD is an NFD process run by run-nfd.sh in a temp dir: its unix socket
// there, and UDP unicast faces on UDPPort when set (NFD binds 0.0.0.0:
// only in a network namespace of the test's own).
type NFD struct {
	Netns   string // run in this network namespace (set before Start)
	UDPPort int    // > 0: listen for UDP faces on this port (set before Start)

	t     testing.TB
	tools string
	Dir   string
	Sock  string
	log   *os.File
	cmd   *exec.Cmd
}

// NewNFD prepares an NFD in a temp dir (Start runs it); it skips t when
// NFD is not at hand (NFDTools).
func NewNFD(t testing.TB) *NFD {
	t.Helper()
	tools := NFDTools(t)
	dir := t.TempDir()
	n := &NFD{t: t, tools: tools, Dir: dir, Sock: filepath.Join(dir, "nfd.sock")}
	n.log = processLog(t, filepath.Join(dir, "nfd.log"), "NFD", n.Kill)
	return n
}

// URI is the forwarder's unix URI.
func (n *NFD) URI() string { return "unix://" + n.Sock }

// command is cmd in the NFD's namespace, if any.
func (n *NFD) command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	if n.Netns != "" {
		return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Netns, bin}, args...)...)
	}
	return exec.CommandContext(ctx, bin, args...)
}

// Start runs NFD and waits until its socket answers.
func (n *NFD) Start() {
	n.t.Helper()
	args := []string{filepath.Join(n.tools, "run-nfd.sh"), n.Dir}
	if n.UDPPort > 0 {
		args = append(args, "--udp", fmt.Sprint(n.UDPPort))
	}
	_ = os.Remove(n.Sock)
	n.cmd = n.command(context.Background(), "bash", args...)
	n.cmd.Stdout, n.cmd.Stderr = n.log, n.log
	if err := n.cmd.Start(); err != nil {
		n.t.Fatalf("start NFD: %v", err)
	}
	if !waitUnix(n.Sock) {
		n.t.Fatalf("NFD did not come up at %s", n.Sock)
	}
}

// Kill kills NFD with SIGKILL and reaps it (run-nfd.sh, and ip netns
// exec, exec NFD: the process started is NFD).
func (n *NFD) Kill() {
	kill(n.cmd)
	n.cmd = nil
}

// Nfdc runs nfdc with args against this NFD and returns its output,
// failing t on error.
func (n *NFD) Nfdc(args ...string) string {
	n.t.Helper()
	return Nfdc(n.t, n.Sock, args...)
}

// NfdcCommand is nfdc with args against the forwarder on sock, to run:
// for a command that may fail (Nfdc fails t).
func NfdcCommand(ctx context.Context, t testing.TB, sock string, args ...string) *exec.Cmd {
	t.Helper()
	keys := filepath.Join(filepath.Dir(sock), "nfdc-keys")
	cmd := exec.CommandContext(ctx, filepath.Join(NFDTools(t), "bin", "nfdc"), args...)
	cmd.Env = append(os.Environ(), "NDN_CLIENT_TRANSPORT=unix://"+sock,
		"NDN_CLIENT_PIB=pib-sqlite3:"+keys, "NDN_CLIENT_TPM=tpm-file:"+filepath.Join(keys, "tpm"))
	return cmd
}

// Nfdc runs NFD's nfdc with args against the forwarder on the unix socket
// sock (NFD, ndnd fw or peets', which all speak NFD's management protocol)
// and returns its output, failing t on error. Its key storage is beside
// the socket, never ~/.ndn.
func Nfdc(t testing.TB, sock string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := NfdcCommand(ctx, t, sock, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("nfdc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
