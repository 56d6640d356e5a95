package browserproc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// fakeBrowser answers {"id": n, "method": "echo"} with {"id": n,
// "result": ...}, sends an event before each answer, never answers
// "hang", and closes the connection on "bye".
func fakeBrowser(t *testing.T) string {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			var m struct {
				ID     int64  `json:"id"`
				Method string `json:"method"`
			}
			if ws.ReadJSON(&m) != nil {
				return
			}
			switch m.Method {
			case "hang":
				continue
			case "bye":
				return
			}
			_ = ws.WriteJSON(map[string]any{"method": "tick", "params": m.ID})
			_ = ws.WriteJSON(map[string]any{"id": m.ID, "result": m.Method + "!"})
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestConn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	events := make(chan string, 16)
	c, err := Dial(ctx, fakeBrowser(t), func(raw json.RawMessage) { events <- string(raw) })
	if err != nil {
		t.Fatal(err)
	}
	call := func(ctx context.Context, method string) (string, error) {
		raw, err := c.Call(ctx, func(id int64) any { return map[string]any{"id": id, "method": method} })
		if err != nil {
			return "", err
		}
		var r struct {
			Result string `json:"result"`
		}
		err = json.Unmarshal(raw, &r)
		return r.Result, err
	}
	for _, m := range []string{"a", "b"} {
		if got, err := call(ctx, m); err != nil || got != m+"!" {
			t.Fatalf("call %s = %q, %v", m, got, err)
		}
	}
	if e := <-events; !strings.Contains(e, `"tick"`) {
		t.Errorf("event %s", e)
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if _, err := call(short, "hang"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unanswered call: %v", err)
	}
	if _, err := call(ctx, "bye"); !errors.Is(err, ErrClosed) {
		t.Errorf("call as the browser went away: %v", err)
	}
	<-c.Done()
	if _, err := call(ctx, "a"); !errors.Is(err, ErrClosed) {
		t.Errorf("call after close: %v", err)
	}
	c.Close()
}

func TestWaitFor(t *testing.T) {
	n := 0
	err := WaitFor(context.Background(), 5*time.Second, "three", func(context.Context) (bool, error) {
		n++
		return n == 3, nil
	})
	if err != nil || n != 3 {
		t.Fatalf("WaitFor = %v after %d checks", err, n)
	}
	boom := errors.New("boom")
	err = WaitFor(context.Background(), 120*time.Millisecond, "never", func(context.Context) (bool, error) { return false, boom })
	if err == nil || !strings.Contains(err.Error(), "never") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("WaitFor = %v", err)
	}
}

func TestProcKill(t *testing.T) {
	dir := t.TempDir() + "/profile"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A shell that starts a helper in its process group, as browsers do.
	// The helper holds the output pipe: Kill returns only once it is gone
	// too (exec waits for the pipe to close).
	p, err := Start("/bin/sh", []string{"-c", "echo started; sleep 60 & sleep 60"}, dir)
	if err != nil {
		t.Skipf("no /bin/sh: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.Output(), "started") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.WaitExit(50 * time.Millisecond) {
		t.Fatal("exited by itself")
	}
	if err := p.Kill(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	p.RemoveDir()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("profile left behind: %v", err)
	}
	if p.Output() != "started\n" {
		t.Errorf("output %q", p.Output())
	}
}
