// Package cdp is a small Chrome DevTools Protocol client: it launches
// Chromium headless on a fresh profile, opens pages, evaluates JavaScript
// (awaiting promises), takes screenshots and kills the whole process group
// on Close. Every wait is bounded.
package cdp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peets/peets/internal/browserproc"
)

// Defaults.
const (
	DefaultChromium     = "/usr/bin/chromium"
	DefaultStartTimeout = 20 * time.Second
	DefaultCallTimeout  = 30 * time.Second
	closeTimeout        = 5 * time.Second
	maxConsoleLines     = 2000
)

// Errors.
var (
	ErrClosed      = errors.New("cdp: browser closed")
	ErrNoChromium  = errors.New("cdp: chromium not found")
	ErrStart       = errors.New("cdp: chromium did not start")
	ErrJSException = errors.New("cdp: JavaScript exception")
)

// ChromiumPath is $PEETS_CHROMIUM, or /usr/bin/chromium.
func ChromiumPath() string {
	if p := os.Getenv("PEETS_CHROMIUM"); p != "" {
		return p
	}
	return DefaultChromium
}

// DefaultFlags run Chromium headless and quiet, with a fake camera and
// microphone that need no permission prompt, autoplay with sound, and
// WebRTC allowed to use the loopback interface.
func DefaultFlags() []string {
	return []string{
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--disable-quic",
		"--no-first-run",
		"--no-default-browser-check",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--disable-extensions",
		"--disable-default-apps",
		"--disable-breakpad",
		"--disable-crash-reporter",
		"--disable-background-timer-throttling",
		"--disable-renderer-backgrounding",
		"--disable-backgrounding-occluded-windows",
		"--mute-audio",
		"--use-fake-device-for-media-stream",
		"--use-fake-ui-for-media-stream",
		"--autoplay-policy=no-user-gesture-required",
		"--allow-loopback-in-peer-connection",
		"--window-size=1280,800",
	}
}

// Options configure Launch.
type Options struct {
	// Path of the browser; default ChromiumPath().
	Path string
	// Flags replace DefaultFlags() when not nil.
	Flags []string
	// ExtraFlags are added to the flags.
	ExtraFlags []string
	// StartTimeout bounds the start (default 20 s).
	StartTimeout time.Duration
	// Logger; slog.Default() if nil.
	Logger *slog.Logger
	// Wrap, when set, turns the browser's command line into the one to
	// run, e.g. to start it in a network namespace (netns.NS.Command); the
	// process it starts must become the browser (exec it).
	Wrap func(bin string, args ...string) (string, []string)
	// DialContext, when set, opens the DevTools connection, e.g. from
	// inside that namespace (the browser listens on its loopback).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Browser is a running Chromium and its DevTools connection.
type Browser struct {
	proc *browserproc.Proc
	dir  string
	log  *slog.Logger
	conn *browserproc.Conn

	mu    sync.Mutex
	pages map[string]*Page // by session id

	closeOnce sync.Once
}

// Error is a DevTools protocol error.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    string `json:"data"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("cdp: %s (%d) %s", e.Message, e.Code, e.Data)
}

// Launch starts Chromium with a fresh profile directory and connects to
// it. Close it with Close.
func Launch(ctx context.Context, opts Options) (*Browser, error) {
	path := opts.Path
	if path == "" {
		path = ChromiumPath()
	}
	if _, err := exec.LookPath(path); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoChromium, path, err)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	dir, err := os.MkdirTemp("", "peets-chromium-")
	if err != nil {
		return nil, err
	}
	flags := opts.Flags
	if flags == nil {
		flags = DefaultFlags()
	}
	args := append(append([]string{}, flags...), opts.ExtraFlags...)
	args = append(args, "--user-data-dir="+dir, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", "about:blank")
	bin := path
	if opts.Wrap != nil {
		bin, args = opts.Wrap(path, args...)
	}
	proc, err := browserproc.Start(bin, args, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	b := &Browser{
		proc:  proc,
		dir:   dir,
		log:   log.With("component", "chromium"),
		pages: make(map[string]*Page),
	}
	sctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	wsURL, err := b.devToolsURL(sctx)
	if err == nil {
		b.conn, err = browserproc.DialVia(sctx, wsURL, opts.DialContext, b.event)
	}
	if err != nil {
		b.kill()
		proc.RemoveDir()
		return nil, fmt.Errorf("%w: %v\n%s", ErrStart, err, proc.Output())
	}
	return b, nil
}

// devToolsURL waits for DevToolsActivePort in the profile directory.
func (b *Browser) devToolsURL(ctx context.Context) (string, error) {
	file := filepath.Join(b.dir, "DevToolsActivePort")
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(file); err == nil {
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) == 2 {
				port, err := strconv.Atoi(strings.TrimSpace(lines[0]))
				if err == nil && port > 0 {
					return fmt.Sprintf("ws://127.0.0.1:%d%s", port, strings.TrimSpace(lines[1])), nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no DevToolsActivePort: %w", ctx.Err())
		case <-b.proc.Exited():
			return "", fmt.Errorf("chromium exited: %v", b.proc.Err())
		case <-tick.C:
		}
	}
}

// Output returns the last 64 KiB of the browser's stdout and stderr.
func (b *Browser) Output() string { return b.proc.Output() }

// Pid is the browser's process id, also its process group's (its helper
// processes are in it; browserproc starts it in a group of its own).
func (b *Browser) Pid() int { return b.proc.Pid() }

// Version returns the browser's product string.
func (b *Browser) Version(ctx context.Context) (string, error) {
	var v struct {
		Product string `json:"product"`
	}
	err := b.Call(ctx, "", "Browser.getVersion", nil, &v)
	return v.Product, err
}

// Call sends one command (to a page session when sessionID is set) and
// decodes its result into result (may be nil). Without a deadline in ctx
// it waits at most 30 s.
func (b *Browser) Call(ctx context.Context, sessionID, method string, params, result any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	raw, err := b.conn.Call(ctx, func(id int64) any {
		msg := map[string]any{"id": id, "method": method}
		if params != nil {
			msg["params"] = params
		}
		if sessionID != "" {
			msg["sessionId"] = sessionID
		}
		return msg
	})
	if errors.Is(err, browserproc.ErrClosed) {
		err = ErrClosed
	}
	if err != nil {
		return fmt.Errorf("cdp: %s: %w", method, err)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *Error          `json:"error"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("cdp: %s answer: %w", method, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%s: %w", method, r.Error)
	}
	if result != nil && len(r.Result) > 0 {
		if err := json.Unmarshal(r.Result, result); err != nil {
			return fmt.Errorf("cdp: %s result: %w", method, err)
		}
	}
	return nil
}

// event hands an event of a page's session to the page (the connection's
// read goroutine).
func (b *Browser) event(raw json.RawMessage) {
	var m struct {
		Method    string          `json:"method"`
		Params    json.RawMessage `json:"params"`
		SessionID string          `json:"sessionId"`
	}
	if json.Unmarshal(raw, &m) != nil || m.SessionID == "" {
		return
	}
	b.mu.Lock()
	p := b.pages[m.SessionID]
	b.mu.Unlock()
	if p != nil {
		p.event(m.Method, m.Params)
	}
}

// Close closes the browser: Browser.close, then SIGKILL to its process
// group if it lingers, and removes the profile directory.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = b.Call(ctx, "", "Browser.close", nil, nil)
		cancel()
		if !b.proc.WaitExit(closeTimeout) {
			b.log.Warn("chromium did not exit: killing its process group")
		}
		b.kill()
		if b.conn != nil {
			b.conn.Close()
		}
		b.proc.RemoveDir()
	})
	return nil
}

// kill ends the process group (helpers and renderers included) and waits
// for the browser process.
func (b *Browser) kill() {
	if err := b.proc.Kill(closeTimeout); err != nil {
		b.log.Error("kill", "err", err)
	}
}
