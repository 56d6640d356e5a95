// Package bidi is a small WebDriver BiDi client for Firefox, as
// internal/cdp is a DevTools client for Chromium: it launches Firefox
// headless on a fresh profile (fake camera and microphone, no permission
// prompt, WebRTC on loopback), opens pages, evaluates JavaScript (awaiting
// promises), collects console messages, takes screenshots, and kills the
// whole process group on Close. Firefox speaks BiDi itself
// (--remote-debugging-port): no geckodriver. Every wait is bounded.
package bidi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/peets/peets/internal/browserproc"
)

// Defaults.
const (
	DefaultFirefox      = "/usr/bin/firefox-esr"
	DefaultStartTimeout = 30 * time.Second
	DefaultCallTimeout  = 30 * time.Second
	closeTimeout        = 5 * time.Second
	maxConsoleLines     = 2000
)

// Errors.
var (
	ErrClosed      = errors.New("bidi: browser closed")
	ErrNoFirefox   = errors.New("bidi: firefox not found")
	ErrStart       = errors.New("bidi: firefox did not start")
	ErrJSException = errors.New("bidi: JavaScript exception")
)

// FirefoxPath is $PEETS_FIREFOX, or /usr/bin/firefox-esr.
func FirefoxPath() string {
	if p := os.Getenv("PEETS_FIREFOX"); p != "" {
		return p
	}
	return DefaultFirefox
}

// DefaultPrefs are written to the profile's user.js: a fake camera and
// microphone that need no permission prompt, autoplay with sound, ICE
// candidates on loopback with their real addresses (the proxy's pion
// resolves no mDNS names), and no timer throttling in background tabs.
// Firefox's remote agent adds its own recommended preferences (no updates,
// no telemetry, no first-run pages).
func DefaultPrefs() map[string]any {
	return map[string]any{
		"media.navigator.streams.fake":                      true,
		"media.navigator.permission.disabled":               true,
		"media.autoplay.default":                            0,
		"media.autoplay.blocking_policy":                    0,
		"media.peerconnection.ice.loopback":                 true,
		"media.peerconnection.ice.obfuscate_host_addresses": false,
		"media.volume_scale":                                "0.0",
		"dom.min_background_timeout_value":                  4,
		"dom.timeout.enable_budget_timer_throttling":        false,
	}
}

// Options configure Launch.
type Options struct {
	// Path of the browser; default FirefoxPath().
	Path string
	// Prefs replace DefaultPrefs() when not nil.
	Prefs map[string]any
	// ExtraArgs are added to the command line.
	ExtraArgs []string
	// StartTimeout bounds the start (default 30 s).
	StartTimeout time.Duration
	// Logger; slog.Default() if nil.
	Logger *slog.Logger
}

// Browser is a running Firefox and its BiDi session.
type Browser struct {
	proc *browserproc.Proc
	log  *slog.Logger
	conn *browserproc.Conn

	mu      sync.Mutex
	pages   map[string]*Page // by browsing context id
	version string

	closeOnce sync.Once
}

// Error is a WebDriver error answered to a command.
type Error struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "bidi: " + e.Code + ": " + e.Message }

// Launch starts Firefox headless with a fresh profile and opens a BiDi
// session. Close it with Close.
func Launch(ctx context.Context, opts Options) (*Browser, error) {
	path := opts.Path
	if path == "" {
		path = FirefoxPath()
	}
	if _, err := exec.LookPath(path); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoFirefox, path, err)
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	prefs := opts.Prefs
	if prefs == nil {
		prefs = DefaultPrefs()
	}
	dir, err := os.MkdirTemp("", "peets-firefox-")
	if err != nil {
		return nil, err
	}
	if err := writePrefs(filepath.Join(dir, "user.js"), prefs); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	args := []string{"--headless", "--no-remote", "--new-instance", "--remote-debugging-port=0",
		"--profile", dir, "--window-size=1280,800"}
	args = append(append(args, opts.ExtraArgs...), "about:blank")
	proc, err := browserproc.Start(path, args, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	b := &Browser{
		proc:  proc,
		log:   log.With("component", "firefox"),
		pages: make(map[string]*Page),
	}
	sctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	wsURL, err := b.serverURL(sctx)
	if err == nil {
		b.conn, err = browserproc.Dial(sctx, wsURL, b.event)
	}
	if err == nil {
		err = b.Call(sctx, "session.new", map[string]any{"capabilities": map[string]any{}}, nil)
		if err == nil {
			err = b.Call(sctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}, nil)
		}
	}
	if err != nil {
		out := proc.Output()
		b.shutdown()
		return nil, fmt.Errorf("%w: %v\n%s", ErrStart, err, out)
	}
	return b, nil
}

// writePrefs writes a user.js, sorted for a stable file.
func writePrefs(path string, prefs map[string]any) error {
	keys := make([]string, 0, len(prefs))
	for k := range prefs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		v, err := json.Marshal(prefs[k])
		if err != nil {
			return fmt.Errorf("bidi: pref %s: %w", k, err)
		}
		kq, _ := json.Marshal(k)
		fmt.Fprintf(&sb, "user_pref(%s, %s);\n", kq, v)
	}
	return os.WriteFile(path, []byte(sb.String()), 0o644)
}

// serverURL waits for WebDriverBiDiServer.json in the profile directory,
// which Firefox writes once its BiDi server listens.
func (b *Browser) serverURL(ctx context.Context) (string, error) {
	file := filepath.Join(b.proc.Dir(), "WebDriverBiDiServer.json")
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if data, err := os.ReadFile(file); err == nil {
			var s struct {
				Host string `json:"ws_host"`
				Port int    `json:"ws_port"`
			}
			if json.Unmarshal(data, &s) == nil && s.Host != "" && s.Port > 0 {
				return fmt.Sprintf("ws://%s:%d/session", s.Host, s.Port), nil
			}
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no WebDriverBiDiServer.json: %w", ctx.Err())
		case <-b.proc.Exited():
			return "", fmt.Errorf("firefox exited: %v", b.proc.Err())
		case <-tick.C:
		}
	}
}

// Output returns the last 64 KiB of the browser's stdout and stderr.
func (b *Browser) Output() string { return b.proc.Output() }

// Version returns the browser's name and version from the session's
// capabilities, e.g. "firefox 153.8.0".
func (b *Browser) Version() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.version
}

func (b *Browser) noteVersion(result json.RawMessage) {
	var r struct {
		Capabilities struct {
			Name    string `json:"browserName"`
			Version string `json:"browserVersion"`
		} `json:"capabilities"`
	}
	if json.Unmarshal(result, &r) == nil {
		b.mu.Lock()
		b.version = strings.TrimSpace(r.Capabilities.Name + " " + r.Capabilities.Version)
		b.mu.Unlock()
	}
}

// Call sends one command and decodes its result into result (may be nil).
// Without a deadline in ctx it waits at most 30 s.
func (b *Browser) Call(ctx context.Context, method string, params, result any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	if params == nil {
		params = map[string]any{}
	}
	raw, err := b.conn.Call(ctx, func(id int64) any {
		return map[string]any{"id": id, "method": method, "params": params}
	})
	if errors.Is(err, browserproc.ErrClosed) {
		err = ErrClosed
	}
	if err != nil {
		return fmt.Errorf("bidi: %s: %w", method, err)
	}
	var r struct {
		Type    string          `json:"type"`
		Result  json.RawMessage `json:"result"`
		Error   string          `json:"error"`
		Message string          `json:"message"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("bidi: %s answer: %w", method, err)
	}
	if r.Type == "error" {
		return fmt.Errorf("%s: %w", method, &Error{Code: r.Error, Message: r.Message})
	}
	if method == "session.new" {
		b.noteVersion(r.Result)
	}
	if result != nil && len(r.Result) > 0 {
		if err := json.Unmarshal(r.Result, result); err != nil {
			return fmt.Errorf("bidi: %s result: %w", method, err)
		}
	}
	return nil
}

// Close closes the browser: browser.close, then SIGKILL to its process
// group if it lingers, and removes the profile directory.
func (b *Browser) Close() error {
	b.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = b.Call(ctx, "browser.close", nil, nil)
		cancel()
		if !b.proc.WaitExit(closeTimeout) {
			b.log.Warn("firefox did not exit: killing its process group")
		}
		b.shutdown()
	})
	return nil
}

// shutdown kills the process group, closes the connection and removes the
// profile.
func (b *Browser) shutdown() {
	if err := b.proc.Kill(closeTimeout); err != nil {
		b.log.Error("kill", "err", err)
	}
	if b.conn != nil {
		b.conn.Close()
	}
	b.proc.RemoveDir()
}
