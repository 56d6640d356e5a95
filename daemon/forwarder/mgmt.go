package forwarder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/named-data/ndnd/fw/defn"
	fwface "github.com/named-data/ndnd/fw/face"
	enc "github.com/named-data/ndnd/std/encoding"
	"github.com/named-data/ndnd/std/ndn"
	mgmt "github.com/named-data/ndnd/std/ndn/mgmt_2022"
	"github.com/named-data/ndnd/std/types/optional"
)

// MulticastStrategy is the forwarding strategy for sync groups
// (/localhost/nfd/strategy/multicast; the forwarder adds the version).
var MulticastStrategy = enc.Name{
	enc.NewGenericComponent("localhost"),
	enc.NewGenericComponent("nfd"),
	enc.NewGenericComponent("strategy"),
	enc.NewGenericComponent("multicast"),
}

// BestRouteStrategy is the forwarder's default strategy
// (/localhost/nfd/strategy/best-route).
var BestRouteStrategy = enc.Name{
	enc.NewGenericComponent("localhost"),
	enc.NewGenericComponent("nfd"),
	enc.NewGenericComponent("strategy"),
	enc.NewGenericComponent("best-route"),
}

// mgmtAttempts is how often a command is sent before exec gives up: a
// command that timed out, or that the forwarder refused with 403, is sent
// again (with a new SignatureTime and nonce).
const mgmtAttempts = 4

// refusedBackoff is the wait before a refused command is sent again; it
// doubles with each refusal (50, 100, 200 ms).
const refusedBackoff = 50 * time.Millisecond

// statusForbidden is NFD's answer to a command its validator rejects
// ("authorization rejected").
const statusForbidden = 403

// exec runs one management command: a command Interest under /localhost/nfd
// (/localhop/nfd on a non-local face), signed with the Conn's own key
// (command.go), 1 s lifetime. A timeout is retried at once and a 403 after a
// back-off, while ctx and the connection allow: a 403 can be transient (NFD
// refuses a command whose SignatureTime is not later than the last one it
// took from the same key, which a key shared with other processes, or a
// clock that stepped back, can cause). Other refusals are final. It must
// not be called on the engine goroutine.
func (c *Conn) exec(ctx context.Context, module, verb string, args *mgmt.ControlArgs) (*mgmt.ControlResponse, error) {
	var last error
	backoff := refusedBackoff
	for attempt := 0; attempt < mgmtAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !c.face.IsRunning() {
			return nil, ErrDown
		}
		r := c.cmd.do(ctx, c.ctx.Done(), module, verb, args)
		if r.err == nil {
			return r.resp, nil
		}
		if errors.Is(r.err, ErrClosed) || (ctx.Err() != nil && errors.Is(r.err, ctx.Err())) {
			return nil, r.err
		}
		last = r.err
		if r.resp != nil && r.resp.Val != nil {
			// the forwarder answered
			if r.resp.Val.StatusCode == statusForbidden {
				c.refusals.Add(1)
			}
			if r.resp.Val.StatusCode != statusForbidden || attempt == mgmtAttempts-1 {
				return r.resp, fmt.Errorf("%w: %s/%s: %v", ErrCommand, module, verb, r.err)
			}
			c.refusedLog.Warn(c.log, "forwarder refused a command; sending it again",
				"command", module+"/"+verb, "signer", c.cmd.keyName(), "backoff", backoff, "err", r.err)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return r.resp, fmt.Errorf("%w: %s/%s: %v", ErrCommand, module, verb, r.err)
			case <-c.ctx.Done():
				t.Stop()
				return nil, ErrClosed
			}
			backoff *= 2
			continue
		}
		if !errors.Is(r.err, ndn.ErrDeadlineExceed) {
			break
		}
	}
	if !c.face.IsRunning() {
		return nil, ErrDown
	}
	return nil, fmt.Errorf("%w: %s/%s: %v", ErrCommand, module, verb, last)
}

// register runs rib/register for prefix on this app's face.
func (c *Conn) register(ctx context.Context, prefix enc.Name) error {
	args := &mgmt.ControlArgs{Name: prefix}
	if c.announce {
		args.Origin = optional.Some(uint64(mgmt.RouteOriginClient)) // for the routing daemon (Options.Announce)
	}
	_, err := c.exec(ctx, "rib", "register", args)
	return err
}

// unregister runs rib/unregister for prefix on this app's face.
func (c *Conn) unregister(ctx context.Context, prefix enc.Name) error {
	_, err := c.exec(ctx, "rib", "unregister", &mgmt.ControlArgs{Name: prefix})
	return err
}

// setStrategy runs strategy-choice/set.
func (c *Conn) setStrategy(ctx context.Context, prefix, strategy enc.Name) error {
	_, err := c.exec(ctx, "strategy-choice", "set", &mgmt.ControlArgs{
		Name:     prefix,
		Strategy: &mgmt.Strategy{Name: strategy},
	})
	return err
}

// applyLink creates (or finds) the face to a remote forwarder and routes the
// given prefixes over it. It records the face id in l (if not nil) and
// whether this Conn created the face.
func (c *Conn) applyLink(ctx context.Context, lt linkTarget, routes []enc.Name, l *linkEntry) error {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	uri, err := lt.canonical(rctx)
	cancel()
	if err != nil {
		return err
	}
	faceID, created, release, err := c.linkFace(ctx, lt, uri)
	if err != nil {
		return err
	}
	if l != nil {
		c.mu.Lock()
		if l.faceID != faceID {
			l.faceID = faceID
			l.created = created
		}
		if release != nil && l.release == nil {
			l.release, release = release, nil
		}
		c.mu.Unlock()
	}
	if release != nil {
		release() // held already (or no entry to hold it)
	}
	for _, r := range routes {
		if _, err := c.exec(ctx, "rib", "register", &mgmt.ControlArgs{
			Name:   r,
			FaceId: optional.Some(faceID),
			Origin: optional.Some(uint64(mgmt.RouteOriginStatic)),
			Cost:   optional.Some(uint64(0)),
		}); err != nil {
			return fmt.Errorf("link %s: route %s: %w", uri, r, err)
		}
	}
	return nil
}

// linkFace makes (or finds) the face of a link. A link of this process's
// embedded forwarder goes through its UDP guard (udpguard.go) or a TCP link
// relay (tcplink.go): YaNFD's own UDP and TCP faces would read the network
// unchecked. An external forwarder gets faces/create.
//
// An embedded link comes with release, which lets it go (Close calls it).
func (c *Conn) linkFace(ctx context.Context, lt linkTarget, uri string) (faceID uint64, created bool, release func(), err error) {
	c.mu.Lock()
	e := c.emb
	embedded := c.kind == KindEmbedded
	c.mu.Unlock()
	if e != nil && embedded {
		id, _, rel, err := e.networkLink(uri)
		return id, false, rel, err
	}
	resp, err := c.exec(ctx, "faces", "create", &mgmt.ControlArgs{
		Uri:             optional.Some(uri),
		FacePersistency: optional.Some(uint64(mgmt.PersistencyPermanent)),
	})
	// 409 "conflicts with existing face" still carries the face id
	if resp == nil || resp.Val == nil || resp.Val.Params == nil || !resp.Val.Params.FaceId.IsSet() {
		if err == nil {
			err = fmt.Errorf("%w: faces/create %s: no face id in response", ErrCommand, uri)
		}
		return 0, false, nil, err
	}
	faceID = resp.Val.Params.FaceId.Unwrap()
	if lt.proto == "tcp" {
		c.waitLinkConnected(ctx, uri, faceID, resp.Val.Params.LocalUri.GetOr(""))
	}
	return faceID, resp.Val.StatusCode == 200, nil, nil
}

// linkConnectWait bounds how long a link waits for its tcp face to connect.
const linkConnectWait = 500 * time.Millisecond

// waitLinkConnected waits, at most linkConnectWait, until the forwarder's
// tcp face faceID is connected. YaNFD answers faces/create at once and
// connects in the background, dropping what it is asked to send meanwhile
// (its local URI stays tcp://127.0.0.1:0 until then); NFD connects before
// it answers. Without the wait, an Interest expressed right after Link or
// OnUp over the link would be lost. A remote that does not accept costs
// the full wait, once per reconnect.
func (c *Conn) waitLinkConnected(ctx context.Context, uri string, faceID uint64, localURI string) {
	connected := func(local string) bool { return local != "" && !strings.HasSuffix(local, ":0") }
	if connected(localURI) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, linkConnectWait)
	defer cancel()
	c.mu.Lock()
	inProcess := c.emb != nil
	c.mu.Unlock()
	for wait := 500 * time.Microsecond; ; wait = min(wait*2, 20*time.Millisecond) {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			c.log.Debug("link face not connected yet", "link", uri, "faceid", faceID)
			return
		case <-t.C:
		}
		var local string
		if inProcess {
			// our own forwarder: look (its send condition), rather than
			// log a conflict per poll
			if f := fwface.FaceTable.Get(faceID); f == nil || f.State() == defn.Up {
				return
			}
		} else {
			// the conflict answer of faces/create carries the face's
			// current local URI; nothing is changed
			resp, _ := c.exec(ctx, "faces", "create", &mgmt.ControlArgs{
				Uri:             optional.Some(uri),
				FacePersistency: optional.Some(uint64(mgmt.PersistencyPermanent)),
			})
			if resp != nil && resp.Val != nil && resp.Val.Params != nil {
				local = resp.Val.Params.LocalUri.GetOr("")
			}
		}
		if connected(local) {
			return
		}
	}
}

// undoLinks withdraws the routes this Conn put on link faces and destroys
// the faces it created, so that a forwarder that outlives the Conn (an
// external one, or the embedded one of this process) keeps no stale route.
func (c *Conn) undoLinks(ctx context.Context) {
	c.mu.Lock()
	links := make([]linkEntry, 0, len(c.links))
	for _, l := range c.links {
		links = append(links, *l)
	}
	c.mu.Unlock()
	for _, l := range links {
		if l.faceID == 0 {
			continue
		}
		for _, r := range l.routes {
			if _, err := c.exec(ctx, "rib", "unregister", &mgmt.ControlArgs{
				Name:   r,
				FaceId: optional.Some(l.faceID),
				Origin: optional.Some(uint64(mgmt.RouteOriginStatic)),
			}); err != nil {
				c.log.Debug("link route withdrawal failed", "link", l.uri, "route", r, "err", err)
			}
		}
		if l.created {
			if _, err := c.exec(ctx, "faces", "destroy", &mgmt.ControlArgs{FaceId: optional.Some(l.faceID)}); err != nil {
				c.log.Debug("link face destruction failed", "link", l.uri, "err", err)
			}
		}
		if l.release != nil {
			l.release()
		}
	}
}

// reapply re-runs every remembered strategy, route and link after a
// reconnect. It returns false if the connection dropped meanwhile (the next
// reconnect starts over).
func (c *Conn) reapply(ctx context.Context) bool {
	c.mu.Lock()
	strategies := make([]strategyEntry, 0, len(c.strategies))
	for _, s := range c.strategies {
		strategies = append(strategies, s)
	}
	routes := make([]enc.Name, 0, len(c.routes))
	for _, r := range c.routes {
		routes = append(routes, r)
	}
	links := make([]*linkEntry, 0, len(c.links))
	routesOf := make([][]enc.Name, 0, len(c.links))
	for _, l := range c.links {
		links = append(links, l)
		routesOf = append(routesOf, append([]enc.Name(nil), l.routes...))
	}
	c.mu.Unlock()

	fail := func(what string, err error) bool {
		if errors.Is(err, ErrDown) || ctx.Err() != nil {
			return false
		}
		c.registerErrors.Add(1)
		c.setLastErr(err)
		c.log.Warn("re-applying forwarder state failed", "what", what, "err", err)
		return true
	}
	// Strategies first (a group prefix must not see traffic under the
	// default strategy), then routes, then links. One command at a time: a
	// command costs one round trip (~0.3 ms), and forwarders that check
	// signed-command timestamps (NFD) reject commands that arrive reordered.
	for _, s := range strategies {
		if err := c.setStrategy(ctx, s.prefix, s.strategy); err != nil && !fail("strategy "+s.prefix.String(), err) {
			return false
		}
	}
	for _, r := range routes {
		if err := c.register(ctx, r); err != nil && !fail("route "+r.String(), err) {
			return false
		}
	}
	for i, l := range links {
		if err := c.applyLink(ctx, l.target, routesOf[i], l); err != nil && !fail("link "+l.uri, err) {
			return false
		}
	}
	return c.face.IsRunning()
}

// Retry of remembered state that the forwarder did not take.
const (
	retryFirst = 500 * time.Millisecond
	retryMax   = 30 * time.Second
)

// retryLater runs do again in the background, with a doubling backoff,
// until it succeeds, still reports that the state is no longer wanted, or
// the Conn closes: a route or strategy the forwarder refused (NFD refuses
// a command it cannot validate) or did not answer is not given up, so a
// proxy never stops working because one command failed. While the
// connection is down there is nothing to do: the reconnect re-applies
// everything remembered.
func (c *Conn) retryLater(what string, still func() bool, do func(context.Context) error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	go func() {
		wait := retryFirst
		for {
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(wait):
			}
			if !still() {
				return
			}
			if !c.up.Load() {
				return // the reconnect re-applies it
			}
			ctx, cancel := context.WithTimeout(c.ctx, 3*cmdLifetime)
			err := do(ctx)
			cancel()
			if err == nil {
				c.log.Info("forwarder took a command it had refused", "what", what)
				return
			}
			c.noteErr(err)
			c.log.Debug("forwarder still refuses a command", "what", what, "err", err, "retry_in", 2*wait)
			wait = min(2*wait, retryMax)
		}
	}()
}
