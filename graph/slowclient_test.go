package graph_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// rawConn opens a TCP connection to the test server.
func rawConn(t *testing.T, b *testenv.Billd) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(b.HTTP.URL, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// TestSlowClients proves that a client cannot hold a connection by being slow: a key
// is checked before the body is read, a body must arrive within the body timeout,
// and an idle keep-alive connection is closed after the idle timeout.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	b := testenv.StartWith(t, "sqlite", server.Config{
		Timeouts: server.Timeouts{Body: 600 * time.Millisecond, Idle: 500 * time.Millisecond}})
	body := `{"query":"{ currencies { code } }"}`

	t.Run("no key: refused before the body", func(t *testing.T) {
		conn := rawConn(t, b)
		fmt.Fprintf(conn, "POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err, "the server answers without waiting for the body")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	})

	t.Run("a trickled body times out", func(t *testing.T) {
		conn := rawConn(t, b)
		fmt.Fprintf(conn, "POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			b.Key, len(body))
		start := time.Now()
		done := make(chan struct{})
		go func() { // one byte every 100 ms: the body would take 3.5 s
			defer close(done)
			for i := 0; i < len(body); i++ {
				if _, err := conn.Write([]byte{body[i]}); err != nil {
					return
				}
				select {
				case <-time.After(100 * time.Millisecond):
				case <-t.Context().Done():
					return
				}
			}
		}()
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
		var out struct{ Errors []testenv.GQLError }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Equal(t, "REQUEST_TIMEOUT", out.Errors[0].Code())
		require.Less(t, time.Since(start), 2500*time.Millisecond)
		_ = conn.Close()
		<-done
	})

	t.Run("an idle keep-alive connection is closed", func(t *testing.T) {
		conn := rawConn(t, b)
		fmt.Fprintf(conn, "POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			b.Key, len(body), body)
		r := bufio.NewReader(conn)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
		resp, err := http.ReadResponse(r, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		// Nothing more is sent: the server closes the connection after 500 ms.
		_, err = r.ReadByte()
		require.ErrorIs(t, err, io.EOF, "the idle connection was closed by the server, not by the read deadline")
	})
}

// upgrade sends a websocket upgrade over a raw connection and returns the status.
func upgrade(t *testing.T, b *testenv.Billd) (net.Conn, int) {
	t.Helper()
	conn := rawConn(t, b)
	fmt.Fprintf(conn, "GET /query HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n")
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	return conn, resp.StatusCode
}

// TestPendingWebsocketCap proves that websockets that have not sent connection_init
// count against their address's cap, and leave it once they send it or close.
func TestPendingWebsocketCap(t *testing.T) {
	t.Parallel()
	b := testenv.StartWith(t, "sqlite", server.Config{Limits: access.Limits{PendingWebsockets: 3}})
	var open []net.Conn
	for range 3 {
		conn, status := upgrade(t, b)
		require.Equal(t, http.StatusSwitchingProtocols, status)
		open = append(open, conn)
	}
	_, status := upgrade(t, b)
	require.Equal(t, http.StatusTooManyRequests, status, "a fourth socket without connection_init")

	// One closes: its place is free again.
	_ = open[0].Close()
	require.Eventually(t, func() bool {
		conn, status := upgrade(t, b)
		if status == http.StatusSwitchingProtocols {
			open[0] = conn
			return true
		}
		return false
	}, 3*time.Second, 20*time.Millisecond)

	// Another closes, and a real client takes the place and sends connection_init:
	// an initialized socket no longer counts, so a third raw one fits again, and
	// a fourth does not.
	_ = open[1].Close()
	var ws *websocket.Conn
	require.Eventually(t, func() bool {
		c, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(b.HTTP.URL, "http")+"/query",
			http.Header{"Sec-WebSocket-Protocol": {"graphql-transport-ws"}})
		if err != nil {
			return false
		}
		require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
		ws = c
		return true
	}, 3*time.Second, 20*time.Millisecond)
	defer ws.Close()
	require.NoError(t, ws.WriteJSON(wsMessage{Type: "connection_init", Payload: b.InitPayload()}))
	require.Equal(t, "connection_ack", readWS(t, ws).Type)
	_, status = upgrade(t, b)
	require.Equal(t, http.StatusSwitchingProtocols, status, "the initialized socket left the pending ones")
	_, status = upgrade(t, b)
	require.Equal(t, http.StatusTooManyRequests, status)
}

// TestSlowSubscriberDropped proves that a subscriber that stops reading is dropped
// once a message waits longer than the websocket write timeout, which frees its
// connection slot: with one connection allowed per key, a new one then succeeds.
func TestSlowSubscriberDropped(t *testing.T) {
	t.Parallel()
	b := testenv.StartWith(t, "sqlite", server.Config{
		Limits:   access.Limits{Connections: 1},
		Timeouts: server.Timeouts{WSWrite: 300 * time.Millisecond}})
	e := &bxEnv{t: t, b: b}
	_, _, _ = bxSimple(e, "10.00", "Ada")
	run := e.run("2024-01-01", "2024-01-31", nil)

	// A client whose socket takes in little, and that never reads.
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
				var serr error
				err := c.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				})
				if err != nil {
					return err
				}
				return serr
			}}
			return nd.DialContext(ctx, network, addr)
		}}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(b.HTTP.URL, "http")+"/query", nil)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: b.InitPayload()}))
	require.Equal(t, "connection_ack", readWS(t, conn).Type)

	// Each subscription of the finished run answers at once with two events of
	// about 30 KB (the run's id under 1,500 aliases): 200 of them, 12 MB, are far
	// more than the socket buffers hold (4 MB at most on Linux).
	var aliases strings.Builder
	for i := range 1500 {
		fmt.Fprintf(&aliases, "a%d: id ", i)
	}
	sub, _ := json.Marshal(map[string]any{"query": `subscription($id: ID!) { billRunProgress(id: $id) { kind billRun { ` +
		aliases.String() + `} } }`, "variables": map[string]any{"id": run.ID}})
	for i := range 200 {
		require.NoError(t, conn.WriteJSON(wsMessage{ID: fmt.Sprint(i), Type: "subscribe", Payload: sub}))
	}

	// The server drops the client: the key's one connection is free again.
	require.Eventually(t, func() bool {
		c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(b.HTTP.URL, "http")+"/query",
			http.Header{"Sec-WebSocket-Protocol": {"graphql-transport-ws"}})
		if err != nil {
			return false
		}
		defer c.Close()
		if c.WriteJSON(wsMessage{Type: "connection_init", Payload: b.InitPayload()}) != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var m wsMessage
		return c.ReadJSON(&m) == nil && m.Type == "connection_ack"
	}, 10*time.Second, 100*time.Millisecond, "the stuck subscriber still holds the key's only connection")

	// And the stuck client's socket was closed by the server, not just forgotten.
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var m wsMessage
		err := conn.ReadJSON(&m)
		if err == nil {
			continue // what was buffered before the drop
		}
		var ne net.Error
		require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server never closed the socket")
		break
	}
}
