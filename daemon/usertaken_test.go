package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peets/peets/daemon/web"
	"github.com/peets/peets/internal/testlog"
	"github.com/peets/peets/media/bridge"
	"github.com/peets/peets/proto"
	"github.com/peets/peets/sync/synctest"
)

// fakePage is a web.PageConn that keeps what the backend sends.
type fakePage struct {
	mu   sync.Mutex
	msgs []proto.Message
	done chan struct{}
	once sync.Once
}

func (p *fakePage) ID() string { return "c1" }
func (p *fakePage) Send(m proto.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	return nil
}
func (p *fakePage) Close(string)          { p.once.Do(func() { close(p.done) }) }
func (p *fakePage) Done() <-chan struct{} { return p.done }

// openPage joins a fake page to d's backend, left at the end of the test.
func openPage(t *testing.T, ctx context.Context, d *Daemon) *fakePage {
	t.Helper()
	api, err := bridge.NewAPI(bridge.APIConfig{})
	if err != nil {
		t.Fatal(err)
	}
	page := &fakePage{done: make(chan struct{})}
	h, err := NewBackend(d, api).Join(ctx, web.JoinRequest{}, page)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Leave)
	return page
}

// errors returns the error messages sent so far with code.
func (p *fakePage) errors(code string) []proto.Error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []proto.Error
	for _, m := range p.msgs {
		if m.Type != proto.TypeError {
			continue
		}
		if e, err := proto.DataAs[proto.Error](m); err == nil && e.Code == code {
			out = append(out, e)
		}
	}
	return out
}

// TestUserTakenTold: two participants with the same user id under
// different prefixes (two machines, or a second --prefix): each proxy warns
// in its log that another participant claims its id, and a page that opens
// later is told (error user-taken) who claims it.
func TestUserTakenTold(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := func(prefix string, logs *testlog.Buffer) *Daemon {
		return runDaemon(t, ctx, cancel, Options{
			Config:    Config{User: "alice", Name: "Alice " + prefix, Room: "twins", Prefix: prefix, Heartbeat: 100 * time.Millisecond},
			Ephemeral: true,
			Logger:    logs.Logger(slog.LevelWarn),
		})
	}
	var logA, logB testlog.Buffer
	a := start("/peets/user/alice", &logA)
	b := start("/ndn/elsewhere/alice", &logB)
	const warning = "another participant claims this user id"
	if synctest.Eventually(5*time.Second, func() bool {
		return strings.Contains(logA.String(), warning) && strings.Contains(logB.String(), warning)
	}) < 0 {
		t.Fatalf("no warning in both logs:\nA: %s\nB: %s", logA.String(), logB.String())
	}
	if !strings.Contains(logA.String(), b.Participant().String()) {
		t.Errorf("A's warning does not name the claimant %s: %s", b.Participant(), logA.String())
	}
	if n := strings.Count(logA.String(), warning); n != 1 {
		t.Errorf("A warned %d times for one claimant", n)
	}

	page := openPage(t, ctx, a)
	if synctest.Eventually(3*time.Second, func() bool { return len(page.errors(proto.CodeUserTaken)) > 0 }) < 0 {
		t.Fatal("the page was not told that its user id is claimed")
	}
	e := page.errors(proto.CodeUserTaken)[0]
	if !strings.Contains(e.Message, b.Participant().String()) || !strings.Contains(e.Message, `"alice"`) {
		t.Errorf("message %q", e.Message)
	}
}

// TestSameParticipantRefused: a second proxy of the same participant from
// the same state directory (the same user run twice) would shadow the first
// in every roster; it is refused at start, and welcome once the first ended.
func TestSameParticipantRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{User: "alice", Room: "twice", StateDir: dir, Heartbeat: 100 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	first, err := New(ctx, Options{Config: cfg, Conn: synctest.Embedded(t), Logger: synctest.Logger})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = first.Run(ctx); close(done) }()
	_, err = New(context.Background(), Options{Config: cfg, Conn: synctest.Embedded(t), Logger: synctest.Logger})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "--user") {
		t.Fatalf("second proxy: %v", err)
	}
	t.Logf("second proxy: %v", err)
	cancel()
	<-done
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	again, err := New(ctx2, Options{Config: cfg, Conn: synctest.Embedded(t), Logger: synctest.Logger})
	if err != nil {
		t.Fatalf("after the first ended: %v", err)
	}
	again.closeAll()
}
