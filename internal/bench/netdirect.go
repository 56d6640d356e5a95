package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/peets/peets/internal/cdp"
)

// runDirect is the baseline: the same pages' cameras and microphones over
// the same shaped links, the pages connected to each other directly by
// WebRTC (the publisher's page offers to each receiver's; with a hub, the
// receivers only receive), signaled through the DevTools protocol.
func (e *netEnv) runDirect(ctx context.Context) (*PhaseResult, error) {
	c, topo := e.c, e.topo
	if err := topo.shapeAt(0); err != nil {
		return nil, err
	}
	ms := &measurement{env: e, pages: map[string]*cdp.Page{}, flows: topo.flows(), senderID: func(h *netHost) string { return h.name }}
	var servers []*http.Server
	defer func() {
		ms.closePages(`window.nb && window.nb.close()`)
		for _, s := range servers {
			s.Close()
		}
	}()
	// Each host serves the page on its own loopback (a secure origin, so
	// the page may open the camera).
	started := time.Now()
	for _, h := range topo.pageHosts() {
		l, err := h.ns.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(directHTML))
		}), ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(l)
		p, err := e.browsers[h.name].NewPage(ctx, "")
		if err != nil {
			return nil, err
		}
		ms.pages[h.name] = p
		if err := p.Navigate(ctx, "http://"+l.Addr().String()+"/"); err != nil {
			return nil, err
		}
	}
	a := topo.hosts[0]
	for _, h := range topo.pageHosts()[1:] {
		both := topo.hub == nil // two hosts: a call; a hub: A broadcasts
		if err := connectDirect(ctx, ms.pages[a.name], a.name, ms.pages[h.name], h.name, both); err != nil {
			return nil, fmt.Errorf("%s to %s: %w", a.name, h.name, err)
		}
	}
	ms.waitFirstFrames(ctx, started, c.FirstFrameWait)
	var before, after map[string]linkCounters
	if err := ms.run(ctx, c.Warmup, c.Duration,
		func() { before = readLinks(topo) }, func() { after = readLinks(topo) }); err != nil {
		return nil, err
	}
	return ms.result(c.Duration, before, after), nil
}

// connectDirect connects page a (named an) to page b (bn): a offers and
// sends, b answers and sends too when both.
func connectDirect(ctx context.Context, a *cdp.Page, an string, b *cdp.Page, bn string, both bool) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var offer, answer string
	if err := a.Eval(ctx, fmt.Sprintf(`window.nb.offer(%q, true)`, bn), &offer); err != nil {
		return fmt.Errorf("offer: %w", err)
	}
	if offer == "" {
		return errors.New("empty offer")
	}
	if err := b.Eval(ctx, fmt.Sprintf(`window.nb.answer(%q, %s, %t)`, an, jsString(offer), both), &answer); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if err := a.Eval(ctx, fmt.Sprintf(`window.nb.accept(%q, %s)`, bn, jsString(answer)), nil); err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	return nil
}

// jsString quotes s as a JavaScript string literal (JSON's is one).
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
