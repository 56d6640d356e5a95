//go:build e2e

package forwarder

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/internal/e2etest"
)

// The e2e tests run a real `ndnd fw` process (binary from $PEETS_NDND, else
// built from the pinned module) with only a unix listener in a temp dir.
//
//	PEETS_NDND=/tmp/ndnd go test -tags e2e -run E2E -v ./daemon/forwarder/

func TestMain(m *testing.M) {
	code := m.Run()
	e2etest.Cleanup()
	os.Exit(code)
}

// extFw is an external ndnd forwarder process (internal/e2etest), with the
// names these tests use.
type extFw struct {
	*e2etest.Fw
	sock, dir string
}

func newExtFw(t *testing.T) *extFw {
	f := e2etest.NewFw(t)
	return &extFw{Fw: f, sock: f.Sock, dir: f.Dir}
}

// start launches the forwarder and waits until its socket answers.
func (f *extFw) start() time.Duration {
	t0 := time.Now()
	f.Start()
	return time.Since(t0)
}

// kill sends SIGKILL and reaps the process.
func (f *extFw) kill() { f.Kill() }

func TestE2EReconnectAfterForwarderRestart(t *testing.T) {
	fw := newExtFw(t)
	fw.start()
	peer := startTLVPeer(t, "L")

	prod := openT(t, Options{URI: "unix://" + fw.sock, StateDir: t.TempDir()})
	cons := openT(t, Options{URI: "unix://" + fw.sock, StateDir: t.TempDir()})
	if prod.Kind() != KindExternal || cons.Kind() != KindExternal {
		t.Fatalf("kinds %s %s", prod.Kind(), cons.Kind())
	}
	ctx := ctxT(t)
	serve(t, prod.Engine(), name(t, "/e2e/p"), "P")
	serve(t, cons.Engine(), name(t, "/e2e/c"), "C")
	for _, step := range []error{
		prod.Register(ctx, name(t, "/e2e/p")),
		cons.Register(ctx, name(t, "/e2e/c")),
		prod.SetStrategy(ctx, name(t, "/e2e/group"), MulticastStrategy),
		prod.Link(ctx, "tcp://"+peer, []enc.Name{name(t, "/e2e/link")}),
	} {
		if step != nil {
			t.Fatalf("setup: %v", step)
		}
	}
	exchange := func(tag string) error {
		for _, x := range []struct {
			c      *Conn
			n, tag string
		}{
			{cons, "/e2e/p/" + tag, "P"}, // consumer -> producer
			{prod, "/e2e/c/" + tag, "C"}, // and back
			{cons, "/e2e/link/" + tag, "L"},
		} {
			got, err := fetch(x.c.Engine(), name(t, x.n), 300*time.Millisecond)
			if err != nil {
				return fmt.Errorf("%s: %w", x.n, err)
			}
			if want := x.tag + ":" + name(t, x.n).String(); got != want {
				return fmt.Errorf("%s: got %q", x.n, got)
			}
		}
		return nil
	}
	if !eventually(3*time.Second, func() bool { return exchange("warm") == nil }) {
		t.Fatalf("initial exchange: %v", exchange("warm"))
	}
	prodEngine, consEngine := prod.Engine(), cons.Engine()

	ups := make(chan string, 8)
	defer prod.OnUp(func() { ups <- "prod" })()
	defer cons.OnUp(func() { ups <- "cons" })()

	// outage before the restart, per round: immediate restarts, then one long
	// enough for the redial backoff to reach its 1 s cap
	outages := []time.Duration{0, 0, 0, 1500 * time.Millisecond}
	rounds := len(outages)
	for r := 1; r <= rounds; r++ {
		tKill := time.Now()
		fw.kill()
		if !eventually(time.Second, func() bool { return !prod.Up() && !cons.Up() }) {
			t.Fatalf("round %d: Conns did not notice the forwarder's death", r)
		}
		// sends while down fail fast, the process lives on
		if _, err := fetch(consEngine, name(t, "/e2e/p/down"), 50*time.Millisecond); err == nil {
			t.Fatalf("round %d: fetch while down succeeded", r)
		}
		time.Sleep(outages[r-1] - time.Since(tKill))
		tStart := time.Now()
		boot := fw.start()

		seen := map[string]bool{}
		deadline := time.After(2 * time.Second)
		for len(seen) < 2 {
			select {
			case who := <-ups:
				seen[who] = true
			case <-deadline:
				t.Fatalf("round %d: OnUp seen %v within 2 s of restart (prod %+v, cons %+v)", r, seen, prod.Stats(), cons.Stats())
			}
		}
		tUp := time.Since(tStart)
		tag := "r" + strconv.Itoa(r)
		if !eventually(2*time.Second-time.Since(tStart), func() bool { return exchange(tag) == nil }) {
			t.Fatalf("round %d: exchange after restart: %v", r, exchange(tag))
		}
		tData := time.Since(tStart)
		if tData > 2*time.Second {
			t.Fatalf("round %d: resumed after %v (> 2 s)", r, tData)
		}
		t.Logf("round %d (down %v): forwarder boot %v; both Conns re-registered (OnUp) %v after restart; Interest/Data both ways + link %v after restart (%v after kill -9); prod resume %.1f ms",
			r, outages[r-1], boot.Round(time.Millisecond), tUp.Round(time.Millisecond), tData.Round(time.Millisecond),
			time.Since(tKill).Round(time.Millisecond), prod.Stats().LastResumeMS)
	}
	if prod.Engine() != prodEngine || cons.Engine() != consEngine || !prodEngine.IsRunning() || !consEngine.IsRunning() {
		t.Fatalf("engine replaced or stopped across reconnects")
	}
	st := prod.Stats()
	if st.Reconnects != uint64(rounds) || !st.Up || st.Routes != 1 || st.Strategies != 1 || st.Links != 1 {
		t.Fatalf("prod stats: %+v", st)
	}
	t.Logf("prod stats: %+v", st)
	t.Logf("cons stats: %+v", cons.Stats())
}

// TestE2EAutoDiscoversExternal: with NDN_CLIENT_TRANSPORT naming a live
// forwarder, auto mode uses it rather than starting the embedded one.
func TestE2EAutoDiscoversExternal(t *testing.T) {
	fw := newExtFw(t)
	fw.start()
	t.Setenv("NDN_CLIENT_TRANSPORT", "unix://"+fw.sock)
	c := openT(t, Options{StateDir: t.TempDir()})
	if c.Kind() != KindExternal || c.URI() != "unix://"+fw.sock {
		t.Fatalf("got %s %s", c.Kind(), c.URI())
	}
	if err := c.Register(ctxT(t), name(t, "/e2e/auto")); err != nil {
		t.Fatal(err)
	}
}

// TestE2EHelperProcess is not a test: it is the body of the helper
// processes of TestE2ETakeoverAcrossProcesses (a minimal `peets up`).
func TestE2EHelperProcess(t *testing.T) {
	id := os.Getenv("PEETS_FW_HELPER")
	if id == "" {
		t.Skip("helper process only")
	}
	in := bufio.NewReader(os.Stdin)
	if os.Getenv("PEETS_FW_HELPER_WAIT") != "" {
		// start on the parent's word, with the other helpers
		fmt.Println("WAITING")
		if _, err := in.ReadString('\n'); err != nil {
			os.Exit(1)
		}
	}
	c, err := Open(context.Background(), Options{StateDir: os.Getenv("PEETS_STATE"), Logger: testLog})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	serve(t, c.Engine(), name(t, "/h/"+id), id)
	c.OnUp(func() { fmt.Println("UP", c.Kind()) })
	if err := c.Register(context.Background(), name(t, "/h/"+id)); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("READY", c.Kind())
	_, _ = io.Copy(io.Discard, in) // until the parent goes away
	c.Close()
	os.Exit(0)
}

type helper struct {
	cmd   *exec.Cmd
	lines chan string
	stdin io.WriteCloser
}

func startHelper(t *testing.T, id, stateDir string, env ...string) *helper {
	cmd := exec.Command(os.Args[0], "-test.run=^TestE2EHelperProcess$")
	cmd.Env = append(os.Environ(), "PEETS_FW_HELPER="+id, "PEETS_STATE="+stateDir,
		"HOME="+t.TempDir(), "NDN_CLIENT_TRANSPORT=unix://"+filepath.Join(stateDir, "none.sock"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	h := &helper{cmd: cmd, lines: make(chan string, 16)}
	if h.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	t.Cleanup(h.kill)
	return h
}

func (h *helper) kill() {
	if h.cmd.Process != nil {
		_ = h.cmd.Process.Kill()
		_, _ = h.cmd.Process.Wait()
	}
}

// expect waits for a line with the given prefix and returns it.
func (h *helper) expect(t *testing.T, prefix string, d time.Duration) string {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-h.lines:
			if !ok {
				t.Fatalf("helper exited while waiting for %q", prefix)
			}
			if strings.HasPrefix(l, "ERR") {
				t.Fatalf("helper: %s", l)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timeout:
			t.Fatalf("helper: no %q within %v", prefix, d)
		}
	}
}

// TestE2ETakeoverAcrossProcesses: two peets-like processes share the
// forwarder at <StateDir>/nfd.sock. When it is killed, one of them takes the
// socket over with its embedded forwarder, the other joins it, and both
// serve again; when that one is killed in turn, the survivor takes over.
func TestE2ETakeoverAcrossProcesses(t *testing.T) {
	fw := newExtFw(t)
	fw.start()
	hs := map[string]*helper{"1": startHelper(t, "1", fw.dir), "2": startHelper(t, "2", fw.dir)}
	for id, h := range hs {
		if l := h.expect(t, "READY", 10*time.Second); l != "READY "+KindExternal {
			t.Fatalf("helper %s: %s", id, l)
		}
	}
	// the observer follows whoever serves the socket (explicit URI: it
	// never takes over itself)
	q := openT(t, Options{URI: "unix://" + fw.sock, StateDir: t.TempDir(), OpenTimeout: 5 * time.Second})
	fetchAll := func(tag string, ids ...string) error {
		for _, id := range ids {
			n := "/h/" + id + "/" + tag
			got, err := fetch(q.Engine(), name(t, n), 300*time.Millisecond)
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			if want := id + ":" + name(t, n).String(); got != want {
				return fmt.Errorf("%s: got %q", n, got)
			}
		}
		return nil
	}
	if err := fetchAll("before", "1", "2"); err != nil {
		t.Fatal(err)
	}

	t0 := time.Now()
	fw.kill()
	kinds := map[string]string{}
	for id, h := range hs {
		kinds[id] = strings.TrimPrefix(h.expect(t, "UP", 3*time.Second), "UP ")
	}
	if !eventually(3*time.Second, func() bool { return fetchAll("after1", "1", "2") == nil }) {
		t.Fatalf("after takeover: %v (kinds %v)", fetchAll("after1", "1", "2"), kinds)
	}
	t.Logf("takeover 1: kinds %v; both helpers serving again %v after kill -9 of ndnd fw",
		kinds, time.Since(t0).Round(time.Millisecond))
	winner, loser := "", ""
	for id, k := range kinds {
		if k == KindEmbedded {
			winner = id
		} else {
			loser = id
		}
	}
	if winner == "" || loser == "" {
		t.Fatalf("want exactly one host, got %v", kinds)
	}

	t0 = time.Now()
	hs[winner].kill()
	if l := hs[loser].expect(t, "UP", 3*time.Second); l != "UP "+KindEmbedded {
		t.Fatalf("survivor: %s", l)
	}
	if !eventually(3*time.Second, func() bool { return fetchAll("after2", loser) == nil }) {
		t.Fatalf("after second takeover: %v", fetchAll("after2", loser))
	}
	t.Logf("takeover 2: survivor %s serving again %v after kill -9 of the host", loser, time.Since(t0).Round(time.Millisecond))
	hs[loser].stdin.Close()
}

// TestE2EConcurrentStarts: several peets-like processes start at the same
// instant on a state directory with no forwarder (as several `peets up`
// launched together). Each Open works: exactly one embeds the forwarder
// (the state directory's lock elects it), the others connect to its socket,
// and every one of them is reachable through it. Before, the losers of the
// race exited with "socket already in use by a live forwarder".
func TestE2EConcurrentStarts(t *testing.T) {
	const n = 5
	for round := range 3 {
		dir := t.TempDir()
		hs := make([]*helper, n)
		for i := range hs {
			hs[i] = startHelper(t, strconv.Itoa(i), dir, "PEETS_FW_HELPER_WAIT=1")
		}
		for _, h := range hs {
			h.expect(t, "WAITING", 10*time.Second)
		}
		for _, h := range hs { // as close together as the pipes allow
			_, _ = io.WriteString(h.stdin, "go\n")
		}
		embedded := 0
		for i, h := range hs {
			switch l := h.expect(t, "READY", 10*time.Second); l {
			case "READY " + KindEmbedded:
				embedded++
			case "READY " + KindExternal:
			default:
				t.Fatalf("round %d: helper %d: %s", round, i, l)
			}
		}
		if embedded != 1 {
			t.Fatalf("round %d: %d helpers embed a forwarder, want 1", round, embedded)
		}
		q := openT(t, Options{URI: "unix://" + filepath.Join(dir, "nfd.sock"), StateDir: t.TempDir()})
		for i := range hs {
			n := "/h/" + strconv.Itoa(i) + "/x"
			if !eventually(3*time.Second, func() bool {
				got, err := fetch(q.Engine(), name(t, n), 300*time.Millisecond)
				return err == nil && got == strconv.Itoa(i)+":"+name(t, n).String()
			}) {
				t.Fatalf("round %d: helper %d not reachable through the shared forwarder", round, i)
			}
		}
		q.Close()
		for _, h := range hs {
			h.kill()
		}
	}
}
