package bidi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/peets/peets/internal/browserproc"
)

// Page is one top-level browsing context (a window of its own, so that no
// page of a test is a throttled background tab).
type Page struct {
	b       *Browser
	Context string

	mu      sync.Mutex
	console []string
}

// NewPage opens a window on about:blank and, if url is not empty,
// navigates to it and waits for the load.
func (b *Browser) NewPage(ctx context.Context, url string) (*Page, error) {
	var r struct {
		Context string `json:"context"`
	}
	if err := b.Call(ctx, "browsingContext.create", map[string]any{"type": "window"}, &r); err != nil {
		return nil, err
	}
	p := &Page{b: b, Context: r.Context}
	b.mu.Lock()
	b.pages[r.Context] = p
	b.mu.Unlock()
	if url != "" {
		if err := p.Navigate(ctx, url); err != nil {
			return p, err
		}
	}
	return p, nil
}

// Navigate loads url and waits (bounded by ctx) until the document is
// complete.
func (p *Page) Navigate(ctx context.Context, url string) error {
	return p.b.Call(ctx, "browsingContext.navigate", map[string]any{
		"context": p.Context, "url": url, "wait": "complete",
	}, nil)
}

// Eval evaluates a JavaScript expression (not a statement list), awaiting
// it if it is a promise, and decodes its value into out (may be nil). The
// value travels as JSON (JSON.stringify in the page), so out gets what a
// JSON round trip keeps; undefined leaves out untouched.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Type   string `json:"type"`
		Result struct {
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	wrapped := "(async () => { const v = await (" + expr + "\n); return v === undefined ? undefined : JSON.stringify(v); })()"
	err := p.b.Call(ctx, "script.evaluate", map[string]any{
		"expression":      wrapped,
		"target":          map[string]any{"context": p.Context},
		"awaitPromise":    true,
		"resultOwnership": "none",
		"userActivation":  true,
	}, &r)
	if err != nil {
		return err
	}
	if r.Type == "exception" {
		msg := "exception"
		if r.ExceptionDetails != nil {
			msg = r.ExceptionDetails.Text
		}
		return fmt.Errorf("%w: %s", ErrJSException, msg)
	}
	if out == nil || r.Result.Type != "string" {
		return nil
	}
	var text string
	if err := json.Unmarshal(r.Result.Value, &text); err != nil {
		return fmt.Errorf("bidi: eval result: %w", err)
	}
	return json.Unmarshal([]byte(text), out)
}

// WaitFor polls a JavaScript condition every 50 ms until it is true,
// for at most d.
func (p *Page) WaitFor(ctx context.Context, cond string, d time.Duration) error {
	if err := browserproc.WaitTrue(ctx, d, cond, p.Eval); err != nil {
		return fmt.Errorf("bidi: %w", err)
	}
	return nil
}

// SetViewport sets the page's size in CSS pixels.
func (p *Page) SetViewport(ctx context.Context, width, height int) error {
	return p.b.Call(ctx, "browsingContext.setViewport", map[string]any{
		"context": p.Context, "viewport": map[string]any{"width": width, "height": height},
	}, nil)
}

// Screenshot saves a PNG of the page to path.
func (p *Page) Screenshot(ctx context.Context, path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.b.Call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": p.Context}, &r); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return fmt.Errorf("bidi: screenshot: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}

// Close closes the page.
func (p *Page) Close(ctx context.Context) error {
	err := p.b.Call(ctx, "browsingContext.close", map[string]any{"context": p.Context}, nil)
	p.b.mu.Lock()
	delete(p.b.pages, p.Context)
	p.b.mu.Unlock()
	return err
}

// Console returns the console messages and uncaught exceptions so far.
func (p *Page) Console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// event handles a BiDi event (the connection's read goroutine): console
// messages go to their page.
func (b *Browser) event(raw json.RawMessage) {
	var m struct {
		Type   string          `json:"type"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Type != "event" || m.Method != "log.entryAdded" {
		return
	}
	var e struct {
		Type   string `json:"type"`
		Level  string `json:"level"`
		Method string `json:"method"`
		Text   string `json:"text"`
		Source struct {
			Context string `json:"context"`
		} `json:"source"`
	}
	if json.Unmarshal(m.Params, &e) != nil {
		return
	}
	b.mu.Lock()
	p := b.pages[e.Source.Context]
	b.mu.Unlock()
	if p == nil {
		return
	}
	line := e.Method + ": " + e.Text
	if e.Type == "javascript" {
		line = "exception: " + e.Text
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.console) < maxConsoleLines {
		p.console = append(p.console, line)
	}
}
