package browserproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ErrClosed is returned by Call once the connection is closed.
var ErrClosed = errors.New("browserproc: connection closed")

// Conn is a browser's automation connection, the transport both the
// DevTools protocol and WebDriver BiDi use: JSON commands over a WebSocket,
// each with a number ("id") that its answer repeats; messages without an
// id are events, handed to the onEvent callback on the read goroutine.
type Conn struct {
	ws      *websocket.Conn
	onEvent func(json.RawMessage)

	wmu     sync.Mutex // serializes writes
	nextID  atomic.Int64
	mu      sync.Mutex
	pending map[int64]chan json.RawMessage

	done chan struct{}
}

// Dial connects to url (bounded by ctx) and starts reading.
func Dial(ctx context.Context, url string, onEvent func(json.RawMessage)) (*Conn, error) {
	return DialVia(ctx, url, nil, onEvent)
}

// DialVia is Dial with the TCP connection opened by dial (nil: the
// default), e.g. from inside the browser's network namespace.
func DialVia(ctx context.Context, url string, dial func(ctx context.Context, network, addr string) (net.Conn, error), onEvent func(json.RawMessage)) (*Conn, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, NetDialContext: dial}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	ws.SetReadLimit(256 << 20) // screenshots are big
	c := &Conn{ws: ws, onEvent: onEvent, pending: make(map[int64]chan json.RawMessage), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// Call sends the command that build makes for the given id and returns
// the raw answer, waiting at most until ctx ends.
func (c *Conn) Call(ctx context.Context, build func(id int64) any) (json.RawMessage, error) {
	id := c.nextID.Add(1)
	ch := make(chan json.RawMessage, 1)
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil, ErrClosed
	default:
	}
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	c.wmu.Lock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	err := c.ws.WriteJSON(build(id))
	c.wmu.Unlock()
	if err != nil {
		return nil, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, ErrClosed
	}
}

func (c *Conn) readLoop() {
	defer close(c.done)
	for {
		var raw json.RawMessage
		if err := c.ws.ReadJSON(&raw); err != nil {
			return
		}
		var head struct {
			ID int64 `json:"id"`
		}
		if json.Unmarshal(raw, &head) != nil {
			continue
		}
		if head.ID == 0 {
			if c.onEvent != nil {
				c.onEvent(raw)
			}
			continue
		}
		c.mu.Lock()
		ch := c.pending[head.ID]
		c.mu.Unlock()
		if ch != nil {
			ch <- raw
		}
	}
}

// Close closes the connection and waits for the read goroutine.
func (c *Conn) Close() {
	_ = c.ws.Close()
	<-c.done
}

// Done is closed when the connection is closed (by either side).
func (c *Conn) Done() <-chan struct{} { return c.done }

// WaitFor calls check every 50 ms until it reports true, for at most d;
// what names the condition in the error.
func WaitFor(ctx context.Context, d time.Duration, what string, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, last := check(ctx)
		if last == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: %w (last error: %v)", what, ctx.Err(), last)
			}
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitTrue evaluates the JavaScript condition cond with eval (a page's
// Eval) every 50 ms until it is true, for at most d.
func WaitTrue(ctx context.Context, d time.Duration, cond string, eval func(context.Context, string, any) error) error {
	return WaitFor(ctx, d, cond, func(ctx context.Context) (bool, error) {
		var ok bool
		err := eval(ctx, "!!("+cond+")", &ok)
		return ok, err
	})
}
