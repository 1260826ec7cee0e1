package graph_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// wsMessage is a message of either GraphQL websocket protocol.
type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialWS opens a websocket to /query offering the given subprotocols (none for nil).
func dialWS(t *testing.T, b *testenv.Billd, subprotocols []string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: subprotocols, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws"+strings.TrimPrefix(b.HTTP.URL, "http")+"/query", nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// readWS reads the next message that is not a keep-alive.
func readWS(t *testing.T, conn *websocket.Conn) wsMessage {
	t.Helper()
	for {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		var m wsMessage
		require.NoError(t, conn.ReadJSON(&m))
		if m.Type == "ka" {
			continue
		}
		return m
	}
}

// TestWebsocketProtocols proves the websocket transport with a real gorilla client on
// both protocols: the handshake, an operation over the socket, and its completion.
func TestWebsocketProtocols(t *testing.T) {
	t.Parallel()
	b := testenv.Start(t, "sqlite")
	const query = `{"query":"{ currencies { code } }"}`

	tests := []struct {
		name        string
		offer       []string
		wantProto   string
		subscribe   string // message type that starts an operation
		result      string // message type that carries a result
		pingMessage string // a client ping and the server's answer, graphql-transport-ws only
	}{
		{"graphql-transport-ws", []string{"graphql-transport-ws"}, "graphql-transport-ws", "subscribe", "next", "ping"},
		{"graphql-ws (legacy)", []string{"graphql-ws"}, "graphql-ws", "start", "data", ""},
		{"both offered, modern preferred", []string{"graphql-ws", "graphql-transport-ws"}, "graphql-transport-ws", "subscribe", "next", "ping"},
		{"none offered, legacy", nil, "", "start", "data", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn := dialWS(t, b, tc.offer)
			require.Equal(t, tc.wantProto, conn.Subprotocol())

			require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: b.InitPayload()}))
			require.Equal(t, "connection_ack", readWS(t, conn).Type)

			if tc.pingMessage != "" {
				require.NoError(t, conn.WriteJSON(wsMessage{Type: "ping"}))
				require.Equal(t, "pong", readWS(t, conn).Type)
			}

			require.NoError(t, conn.WriteJSON(wsMessage{ID: "1", Type: tc.subscribe, Payload: json.RawMessage(query)}))
			m := readWS(t, conn)
			require.Equal(t, tc.result, m.Type, "payload %s", m.Payload)
			require.Equal(t, "1", m.ID)
			var res struct {
				Data struct {
					Currencies []struct{ Code string }
				}
			}
			require.NoError(t, json.Unmarshal(m.Payload, &res))
			require.Len(t, res.Data.Currencies, 5)
			done := readWS(t, conn)
			require.Equal(t, "complete", done.Type)
			require.Equal(t, "1", done.ID)
		})
	}
}
