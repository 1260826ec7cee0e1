package graph

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
)

// DefaultWSWriteTimeout is how long a websocket message may take to be written to a
// client before the client is dropped.
const DefaultWSWriteTimeout = 10 * time.Second

// wsInitTimeout is how long a websocket may stay open without sending
// connection_init.
const wsInitTimeout = 10 * time.Second

// dropSlowReaders accepts websockets like the wrapped implementation, and closes a
// connection whose client does not take a message within timeout: a subscriber that
// stops reading fills its socket's buffers, and would otherwise hold its connection,
// its subscriptions and the goroutines sending to it for as long as it lives.
type dropSlowReaders struct {
	transport.WebsocketImplementation
	timeout time.Duration
}

func (d dropSlowReaders) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	conn, err := d.WebsocketImplementation.Accept(w, r, opts)
	if err != nil {
		return nil, err
	}
	return &writeTimeoutConn{WebsocketConn: conn, timeout: d.timeout}, nil
}

// errSlowReader is the write error of a message the client did not take in time.
var errSlowReader = errors.New("the client did not read a message in time: connection closed")

// writeTimeoutConn closes its connection when a write outlasts the timeout; the
// blocked write then fails, and gqlgen tears the connection down.
type writeTimeoutConn struct {
	transport.WebsocketConn
	timeout time.Duration
	once    sync.Once
}

func (c *writeTimeoutConn) WriteJSON(v any) error {
	var slow atomic.Bool
	t := time.AfterFunc(c.timeout, func() {
		slow.Store(true)
		c.once.Do(func() { _ = c.WebsocketConn.Close() })
	})
	err := c.WebsocketConn.WriteJSON(v)
	if !t.Stop() && slow.Load() {
		return errSlowReader
	}
	return err
}

// SetReadLimit passes the read limit gqlgen sets to the connection.
func (c *writeTimeoutConn) SetReadLimit(limit int64) {
	if l, ok := c.WebsocketConn.(transport.WebsocketReadLimiter); ok {
		l.SetReadLimit(limit)
	}
}

// SetReadDeadline passes the read deadline gqlgen sets to the connection.
func (c *writeTimeoutConn) SetReadDeadline(t time.Time) error {
	if d, ok := c.WebsocketConn.(transport.WebsocketReadDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return nil
}
