// Package e2etest helps the multi-process end-to-end tests: it finds (or
// builds once) the peets and ndnd binaries and runs an external ndnd
// forwarder that a test may kill and restart.
package e2etest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/peets/peets/internal/ndndfw"
)

var (
	buildMu  sync.Mutex
	built    = map[string]string{}
	buildDir string
)

// repoRoot is the module root (this file is internal/e2etest/e2etest.go).
func repoRoot() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(f), "..", ".."))
}

// build returns env's binary, else builds pkg once per test process.
func build(t testing.TB, env, name, pkg string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[name]; ok {
		return p
	}
	if buildDir == "" {
		d, err := os.MkdirTemp("", "peets-e2e-bin-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	out := filepath.Join(buildDir, name)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	built[name] = out
	return out
}

// Peets is the peets binary ($PEETS_BIN, else built once).
func Peets(t testing.TB) string { return build(t, "PEETS_BIN", "peets", "./cmd/peets") }

// Ndnd is the ndnd binary ($PEETS_NDND, else built once from the pinned
// module).
func Ndnd(t testing.TB) string {
	return build(t, "PEETS_NDND", "ndnd", "github.com/named-data/ndnd/cmd/ndnd")
}

// Main runs an end-to-end test package (call it from TestMain): every
// process the tests start shares one trust directory (PEETS_TRUST_DIR), so
// the first proxy of each room owns the room's anchor and the others of the
// room find it, as on one person's machine; tests of invitations give their
// processes other directories. Then it removes what it made.
func Main(m *testing.M) {
	dir, err := os.MkdirTemp("", "peets-e2e-trust-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	os.Setenv("PEETS_TRUST_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	Cleanup()
	os.Exit(code)
}

// Cleanup removes binaries built by this process (call from TestMain).
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Fw is an external `ndnd fw` process with only a unix listener.
type Fw struct {
	Netns string // run in this network namespace (set before Start)

	t       testing.TB
	Dir     string
	Sock    string
	cfg     string
	bin     string
	udpPort int
	log     *os.File
	cmd     *exec.Cmd
}

// NewFw prepares an ndnd forwarder in a temp dir (Start runs it).
func NewFw(t testing.TB) *Fw { return NewFwUDP(t, 0) }

// NewFwUDP is NewFw with UDP unicast faces on udpPort (0: none), on all
// interfaces: use it in a network namespace of the test's own.
func NewFwUDP(t testing.TB, udpPort int) *Fw {
	t.Helper()
	dir := t.TempDir()
	f := &Fw{t: t, Dir: dir, Sock: filepath.Join(dir, "nfd.sock"), cfg: filepath.Join(dir, "fw.yml"), bin: Ndnd(t), udpPort: udpPort}
	yml := ndndfw.Config{Socket: f.Sock, UDP: udpPort > 0, UDPPort: udpPort}.YAML()
	if err := os.WriteFile(f.cfg, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	f.log = processLog(t, filepath.Join(dir, "fw.log"), "ndnd fw", f.Kill)
	return f
}

// Readvertise makes the forwarder hand the routes apps register with
// origin client to a routing daemon on /localhost/nlsr (ndnd dv, NLSR):
// call it before Start.
func (f *Fw) Readvertise() {
	f.t.Helper()
	err := os.WriteFile(f.cfg, []byte(ndndfw.Config{Socket: f.Sock, UDP: f.udpPort > 0, UDPPort: f.udpPort, Readvertise: true}.YAML()), 0o600)
	if err != nil {
		f.t.Fatal(err)
	}
}

// processLog creates the log file of a forwarder process and, at the end
// of the test, kills the process, closes the file and, if the test failed,
// logs the file's last 64 KiB.
func processLog(t testing.TB, path, what string, kill func()) *os.File {
	t.Helper()
	log, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		kill()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(path)
			if len(b) > 64<<10 {
				b = b[len(b)-64<<10:]
			}
			t.Logf("%s log:\n%s", what, b)
		}
	})
	return log
}

// waitUnix waits up to 10 s until a unix socket accepts connections.
func waitUnix(sock string) bool {
	return Eventually(10*time.Second, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// URI is the forwarder's unix URI.
func (f *Fw) URI() string { return "unix://" + f.Sock }

// StartNoWait runs the forwarder without waiting for its socket.
func (f *Fw) StartNoWait() error {
	f.cmd = exec.Command(f.bin, "fw", "run", f.cfg)
	if f.Netns != "" {
		f.cmd = exec.Command("ip", "netns", "exec", f.Netns, f.bin, "fw", "run", f.cfg)
	}
	f.cmd.Stdout, f.cmd.Stderr = f.log, f.log
	return f.cmd.Start()
}

// Start runs the forwarder and waits until its socket answers.
func (f *Fw) Start() {
	f.t.Helper()
	if err := f.StartNoWait(); err != nil {
		f.t.Fatalf("start ndnd fw: %v", err)
	}
	if !waitUnix(f.Sock) {
		f.t.Fatalf("ndnd fw did not come up at %s", f.Sock)
	}
}

// Kill kills the forwarder with SIGKILL and reaps it.
func (f *Fw) Kill() {
	kill(f.cmd)
	f.cmd = nil
}

// kill kills cmd's process with SIGKILL and reaps it (nil: nothing).
func kill(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Kill()
	_, _ = cmd.Process.Wait()
}

// Eventually polls cond every 10 ms until it holds or timeout passes.
func Eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
