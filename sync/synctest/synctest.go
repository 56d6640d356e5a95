// Package synctest provides forwarders and members for tests and benchmarks
// of room sync: an embedded forwarder shared by the whole test binary (its
// state is global), an external `ndnd fw` process, and signing identities
// with their verifiers.
package synctest

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	gosync "sync"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
	"github.com/peets/peets/internal/ndndfw"
	"github.com/peets/peets/sec"
)

var (
	embOnce gosync.Once
	embDir  string
	embErr  error
)

// Logger is a quiet logger for tests (warnings and errors on stderr).
var Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

// Embedded opens a new connection (its own engine and face) to the embedded
// forwarder of this test binary, started on first use. The connection is
// closed when the test ends.
func Embedded(tb testing.TB) *forwarder.Conn {
	tb.Helper()
	embOnce.Do(func() {
		embDir, embErr = os.MkdirTemp("", "peets-sync")
	})
	if embErr != nil {
		tb.Fatal(embErr)
	}
	return Open(tb, forwarder.Options{URI: forwarder.URIEmbedded, StateDir: embDir, Logger: Logger})
}

// Main runs the tests of a package (call it from TestMain) and removes the
// embedded forwarder's state directory afterwards.
func Main(m *testing.M) int {
	code := m.Run()
	if embDir != "" {
		_ = os.RemoveAll(embDir)
	}
	return code
}

// Open opens a connection and closes it when the test ends.
func Open(tb testing.TB, o forwarder.Options) *forwarder.Conn {
	tb.Helper()
	if o.Logger == nil {
		o.Logger = Logger
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := forwarder.Open(ctx, o)
	if err != nil {
		tb.Fatalf("open forwarder: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// NdndPath is the ndnd binary External runs: $PEETS_NDND, else /tmp/ndnd.
func NdndPath() string {
	if p := os.Getenv("PEETS_NDND"); p != "" {
		return p
	}
	return "/tmp/ndnd"
}

// External starts `ndnd fw run` with only a unix listener in a temporary
// directory and returns its socket; the process is killed when the test
// ends. The test is skipped when the binary is missing.
func External(tb testing.TB) string {
	tb.Helper()
	bin := NdndPath()
	if _, err := os.Stat(bin); err != nil {
		tb.Skipf("no ndnd binary at %s (set PEETS_NDND)", bin)
	}
	dir, err := os.MkdirTemp("", "peets-fw")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "nfd.sock")
	cfg := ndndfw.Config{Socket: sock, UDPPort: freeUDPPort(tb), Threads: fwThreads()}.YAML()
	cfgFile := filepath.Join(dir, "fw.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "fw", "run", cfgFile)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start ndnd: %v", err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for range 200 {
		if c, err := net.Dial("unix", sock); err == nil {
			_ = c.Close()
			return sock
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("ndnd fw did not listen on %s", sock)
	return ""
}

// fwThreads is the forwarding threads of External ($PEETS_FW_THREADS,
// default 1): ndnd v1.5.3 with several threads races on its PIT-CS tree
// (go test -race shows it) and, under load, loses Interests for seconds.
func fwThreads() int {
	if n, err := strconv.Atoi(os.Getenv("PEETS_FW_THREADS")); err == nil && n > 0 {
		return n
	}
	return 1
}

// freeUDPPort finds a free UDP port (ndnd binds its unicast UDP port even
// when disabled).
func freeUDPPort(tb testing.TB) int {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// Identity makes an ephemeral identity for participant prefix p, serves its
// certificate on the connection's engine (registering p) and returns it with
// a fresh verifier on the same engine.
func Identity(tb testing.TB, c *forwarder.Conn, p enc.Name) (*sec.Identity, *sec.Verifier) {
	tb.Helper()
	id, err := sec.NewEphemeral(p)
	if err != nil {
		tb.Fatal(err)
	}
	if err := id.ServeCert(c.Engine()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = id.StopServing(c.Engine()) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Register(ctx, p); err != nil {
		tb.Fatal(err)
	}
	return id, sec.NewVerifier(c.Engine(), Logger)
}

// Name parses an NDN name or fails the test.
func Name(tb testing.TB, s string) enc.Name {
	tb.Helper()
	n, err := enc.NameFromStr(s)
	if err != nil {
		tb.Fatalf("name %q: %v", s, err)
	}
	return n
}

// Eventually polls cond every 2 ms until it holds or d elapses, and returns
// the time it took (or -1).
func Eventually(d time.Duration, cond func() bool) time.Duration {
	start := time.Now()
	for time.Since(start) < d {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if cond() {
		return time.Since(start)
	}
	return -1
}
