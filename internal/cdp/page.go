package cdp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/peets/peets/internal/browserproc"
)

// Page is one tab, attached in flattened session mode.
type Page struct {
	b         *Browser
	TargetID  string
	SessionID string

	mu      sync.Mutex
	console []string
}

// NewPage opens a tab on about:blank, enables the Runtime and Page
// domains (console messages are collected, see Console) and, if url is
// not empty, navigates to it and waits for the load.
func (b *Browser) NewPage(ctx context.Context, url string) (*Page, error) {
	var t struct {
		TargetID string `json:"targetId"`
	}
	if err := b.Call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &t); err != nil {
		return nil, err
	}
	var a struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.Call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": t.TargetID, "flatten": true}, &a); err != nil {
		return nil, err
	}
	p := &Page{b: b, TargetID: t.TargetID, SessionID: a.SessionID}
	b.mu.Lock()
	b.pages[a.SessionID] = p
	b.mu.Unlock()
	for _, m := range []string{"Runtime.enable", "Page.enable"} {
		if err := p.Call(ctx, m, nil, nil); err != nil {
			return nil, err
		}
	}
	if url != "" {
		if err := p.Navigate(ctx, url); err != nil {
			return p, err
		}
	}
	return p, nil
}

// Call sends a command to this page's session.
func (p *Page) Call(ctx context.Context, method string, params, result any) error {
	return p.b.Call(ctx, p.SessionID, method, params, result)
}

// Navigate loads url and waits (bounded by ctx, at most 30 s) until the
// document is complete.
func (p *Page) Navigate(ctx context.Context, url string) error {
	var r struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.Call(ctx, "Page.navigate", map[string]any{"url": url}, &r); err != nil {
		return err
	}
	if r.ErrorText != "" {
		return fmt.Errorf("cdp: navigate %s: %s", url, r.ErrorText)
	}
	return p.WaitFor(ctx, `document.readyState === "complete"`, 30*time.Second)
}

// Eval evaluates a JavaScript expression, awaiting it if it is a promise,
// and decodes its value (JSON) into out (may be nil).
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Type        string          `json:"type"`
			Value       json.RawMessage `json:"value"`
			Description string          `json:"description"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := p.Call(ctx, "Runtime.evaluate", map[string]any{
		"expression":    expr,
		"awaitPromise":  true,
		"returnByValue": true,
		"userGesture":   true,
	}, &r)
	if err != nil {
		return err
	}
	if d := r.ExceptionDetails; d != nil {
		msg := d.Exception.Description
		if msg == "" {
			msg = d.Text
		}
		return fmt.Errorf("%w: %s", ErrJSException, msg)
	}
	if out != nil && len(r.Result.Value) > 0 {
		return json.Unmarshal(r.Result.Value, out)
	}
	return nil
}

// WaitFor polls a JavaScript condition every 50 ms until it is true,
// for at most d.
func (p *Page) WaitFor(ctx context.Context, cond string, d time.Duration) error {
	if err := browserproc.WaitTrue(ctx, d, cond, p.Eval); err != nil {
		return fmt.Errorf("cdp: %w", err)
	}
	return nil
}

// SetViewport sets the page's size in CSS pixels.
func (p *Page) SetViewport(ctx context.Context, width, height int) error {
	return p.Call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false,
	}, nil)
}

// Screenshot saves a PNG of the page to path.
func (p *Page) Screenshot(ctx context.Context, path string) error {
	var r struct {
		Data string `json:"data"`
	}
	if err := p.Call(ctx, "Page.captureScreenshot", map[string]any{"format": "png"}, &r); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		return fmt.Errorf("cdp: screenshot: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}

// Close closes the tab.
func (p *Page) Close(ctx context.Context) error {
	err := p.b.Call(ctx, "", "Target.closeTarget", map[string]any{"targetId": p.TargetID}, nil)
	p.b.mu.Lock()
	delete(p.b.pages, p.SessionID)
	p.b.mu.Unlock()
	return err
}

// Console returns the console messages and uncaught exceptions so far.
func (p *Page) Console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

func (p *Page) event(method string, params json.RawMessage) {
	var line string
	switch method {
	case "Runtime.consoleAPICalled":
		var e struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		if json.Unmarshal(params, &e) != nil {
			return
		}
		parts := make([]string, 0, len(e.Args))
		for _, a := range e.Args {
			if a.Value != nil {
				parts = append(parts, fmt.Sprint(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		line = e.Type + ": " + strings.Join(parts, " ")
	case "Runtime.exceptionThrown":
		var e struct {
			ExceptionDetails struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		if json.Unmarshal(params, &e) != nil {
			return
		}
		line = "exception: " + e.ExceptionDetails.Text + " " + e.ExceptionDetails.Exception.Description
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.console) < maxConsoleLines {
		p.console = append(p.console, line)
	}
}
