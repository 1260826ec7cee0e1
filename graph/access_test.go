package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent/apikey"
	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/seed"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// acxKey is an API key created through createApiKey.
type acxKey struct {
	ID     string
	Prefix string
	Key    string
}

// acxCreateKey creates a key as admin; extra adds input fields (partnerId, expiresAt).
func acxCreateKey(t *testing.T, admin *testenv.Billd, name, role string, extra map[string]any) acxKey {
	t.Helper()
	in := map[string]any{"name": name, "role": role}
	for k, v := range extra {
		in[k] = v
	}
	var out struct {
		CreateApiKey struct {
			ApiKey struct{ ID, Prefix string }
			Key    string
		}
	}
	admin.MustQuery(`mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { apiKey { id prefix } key } }`,
		map[string]any{"in": in}, &out)
	c := out.CreateApiKey
	return acxKey{ID: c.ApiKey.ID, Prefix: c.ApiKey.Prefix, Key: c.Key}
}

// acxRevoke revokes a key as admin.
func acxRevoke(t *testing.T, admin *testenv.Billd, id string) {
	t.Helper()
	var out struct{ RevokeApiKey struct{ RevokedAt *string } }
	admin.MustQuery(`mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`, map[string]any{"id": id}, &out)
	require.NotNil(t, out.RevokeApiKey.RevokedAt)
}

// acxCreatePartner creates a partner as admin and returns its id.
func acxCreatePartner(t *testing.T, admin *testenv.Billd, name string) string {
	t.Helper()
	var out struct{ CreatePartner struct{ ID string } }
	admin.MustQuery(`mutation($name: String!) { createPartner(input: {name: $name}) { id } }`,
		map[string]any{"name": name}, &out)
	return out.CreatePartner.ID
}

// acxPost posts a raw body to /query with the given headers and returns the HTTP
// response (body consumed) and the decoded GraphQL response.
func acxPost(t *testing.T, b *testenv.Billd, body string, headers map[string]string) (*http.Response, testenv.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.HTTP.URL+"/query", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out testenv.Response
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	if buf.Len() > 0 {
		require.NoError(t, json.Unmarshal(buf.Bytes(), &out), "body %s", buf.String())
	}
	return resp, out
}

// acxBody is a JSON request body for a document.
func acxBody(t *testing.T, query string) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query})
	require.NoError(t, err)
	return string(b)
}

// acxInit dials /query, sends connection_init with payload and returns the socket.
func acxInit(t *testing.T, b *testenv.Billd, proto string, payload json.RawMessage) *websocket.Conn {
	t.Helper()
	conn := dialWS(t, b, []string{proto})
	require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: payload}))
	return conn
}

// acxReadUntilClosed reads messages (keep-alives skipped) until the socket fails or
// within is over; err is the read error, nil if the socket stayed open (it is
// unusable then).
func acxReadUntilClosed(conn *websocket.Conn, within time.Duration) (msgs []wsMessage, err error) {
	deadline := time.Now().Add(within)
	for {
		_ = conn.SetReadDeadline(deadline)
		var m wsMessage
		if err := conn.ReadJSON(&m); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return msgs, nil
			}
			return msgs, err
		}
		if m.Type != "ka" {
			msgs = append(msgs, m)
		}
	}
}

// acxStaysOpen waits d, then requires the socket (graphql-transport-ws) to answer a
// ping. (A read deadline would do, but gorilla breaks a socket whose read timed out.)
func acxStaysOpen(t *testing.T, conn *websocket.Conn, d time.Duration, why string) {
	t.Helper()
	time.Sleep(d)
	require.NoError(t, conn.WriteJSON(wsMessage{Type: "ping"}), why)
	msgs, err := acxReadUntil(conn, "pong")
	require.NoError(t, err, "%s; messages %v", why, msgs)
}

// acxReadUntil reads until a message of type typ (returned last) or an error.
func acxReadUntil(conn *websocket.Conn, typ string) ([]wsMessage, error) {
	var msgs []wsMessage
	for {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m wsMessage
		if err := conn.ReadJSON(&m); err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
		if m.Type == typ {
			return msgs, nil
		}
	}
}

// acxRequireRefused asserts a socket got no connection_ack and was closed by the
// server; on the legacy protocol the connection_error must name code.
func acxRequireRefused(t *testing.T, conn *websocket.Conn, proto, code string) {
	t.Helper()
	msgs, err := acxReadUntilClosed(conn, 5*time.Second)
	require.Error(t, err, "the server keeps the socket open; messages %v", msgs)
	var sawError bool
	for _, m := range msgs {
		require.NotEqual(t, "connection_ack", m.Type)
		if m.Type == "connection_error" {
			sawError = true
			require.Contains(t, string(m.Payload), code)
		}
	}
	if proto == "graphql-ws" {
		require.True(t, sawError, "the legacy protocol reports why: %v", msgs)
	}
}

// acxSubscribe starts an operation on a graphql-transport-ws socket.
func acxSubscribe(t *testing.T, conn *websocket.Conn, id, query string, vars map[string]any) {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	require.NoError(t, conn.WriteJSON(wsMessage{ID: id, Type: "subscribe", Payload: payload}))
}

// acxErrorCode returns the first error code of a next or error message's payload.
func acxErrorCode(t *testing.T, m wsMessage) string {
	t.Helper()
	var one testenv.Response
	if json.Unmarshal(m.Payload, &one) == nil && len(one.Errors) > 0 {
		return one.Errors[0].Code()
	}
	var many []testenv.GQLError
	if json.Unmarshal(m.Payload, &many) == nil && len(many) > 0 {
		return many[0].Code()
	}
	return ""
}

// acxEachDialect starts an instance with cfg per database, as parallel subtests.
func acxEachDialect(t *testing.T, cfg server.Config, fn func(t *testing.T, b *testenv.Billd)) {
	t.Helper()
	for _, d := range testenv.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, testenv.StartWith(t, d, cfg))
		})
	}
}

var acxKeyPattern = regexp.MustCompile(`^billd_([a-z0-9]{12})_([A-Za-z0-9_-]{32,})$`)

const acxCreateCurrency = `mutation { createCurrency(input: {code: "XTS", name: "Testing", precision: 2}) { code } }`

// TestAccessAuthentication: every request needs a live key; a refused one is 401
// UNAUTHENTICATED and writes nothing.
func TestAccessAuthentication(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		start := b.Clock.Now()
		good := acxCreateKey(t, b, "integration", "OPERATOR", nil)
		m := acxKeyPattern.FindStringSubmatch(good.Key)
		require.NotNil(t, m, "key %q", good.Key)
		require.Equal(t, good.Prefix, m[1])
		secret := m[2]

		// The secret works at once.
		var v struct {
			Viewer struct{ Role, KeyName string }
		}
		b.As(good.Key).MustQuery(`{ viewer { role keyName } }`, nil, &v)
		require.Equal(t, "OPERATOR", v.Viewer.Role)
		require.Equal(t, "integration", v.Viewer.KeyName)

		// Used once (so cached) before revocation: revoking must still take effect.
		revoked := acxCreateKey(t, b, "revoked", "READ_ONLY", nil)
		b.As(revoked.Key).MustQuery(`{ viewer { role } }`, nil, nil)
		acxRevoke(t, b, revoked.ID)

		// Used while valid (cached until it expires), then the clock passes expiry.
		expiring := acxCreateKey(t, b, "expiring", "READ_ONLY",
			map[string]any{"expiresAt": start.Add(2 * time.Second).Format(time.RFC3339)})
		b.As(expiring.Key).MustQuery(`{ viewer { role } }`, nil, nil)
		b.Clock.Set(start.Add(3 * time.Second))

		snapshot, audits, keys := b.Snapshot(), b.Count("audit_entries"), b.Count("api_keys")
		tests := []struct{ name, header string }{
			{"no header", ""},
			{"bearer without key", "Bearer"},
			{"malformed key", "Bearer not-a-key"},
			{"other scheme", "Basic YWRtaW46c2VjcmV0"},
			{"unknown prefix", "Bearer billd_zzzzzzzzzzzz_" + strings.Repeat("y", 43)},
			{"wrong secret", "Bearer billd_" + good.Prefix + "_" + strings.Repeat("x", 43)},
			{"prefix alone", "Bearer billd_" + good.Prefix},
			{"expired", "Bearer " + expiring.Key},
			{"revoked", "Bearer " + revoked.Key},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				h := map[string]string{}
				if tc.header != "" {
					h["Authorization"] = tc.header
				}
				resp, out := acxPost(t, b, acxBody(t, acxCreateCurrency), h)
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.True(t, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer"),
					"WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
				require.Len(t, out.Errors, 1)
				require.Equal(t, "UNAUTHENTICATED", out.Errors[0].Code())
				require.True(t, len(out.Data) == 0 || string(out.Data) == "null", "data %s", out.Data)
			})
		}
		require.Equal(t, snapshot, b.Snapshot(), "a refused request writes nothing")
		require.Equal(t, audits, b.Count("audit_entries"))
		require.Equal(t, keys, b.Count("api_keys"))

		// The good key still works after the clock moved, and the admin key too.
		b.As(good.Key).MustQuery(`{ viewer { role } }`, nil, nil)
		b.MustQuery(`{ viewer { role } }`, nil, nil)

		// The secret is never shown again: not in listings, no field could carry it.
		r := b.Query(`{ apiKeys { edges { node { id name prefix role createdAt expiresAt revokedAt } } } }`, nil)
		require.Empty(t, r.Errors)
		require.NotContains(t, string(r.Data), secret)
		var typ struct {
			Type struct{ Fields []struct{ Name string } } `json:"__type"`
		}
		b.MustQuery(`{ __type(name: "ApiKey") { fields { name } } }`, nil, &typ)
		require.NotEmpty(t, typ.Type.Fields)
		for _, f := range typ.Type.Fields {
			require.NotRegexp(t, `(?i)secret|hash|^key$`, f.Name)
		}
		e := b.MustFail(`{ apiKeys { edges { node { secret } } } }`, nil, "BAD_USER_INPUT")
		require.Equal(t, "GRAPHQL_VALIDATION_FAILED", e.Extensions["reason"])

		// Only the SHA-256 of the secret is stored.
		row, err := b.DB.Client.APIKey.Query().Where(apikey.Prefix(good.Prefix)).Only(context.Background())
		require.NoError(t, err)
		require.Len(t, row.SecretHash, 32)
		require.NotEqual(t, []byte(secret), row.SecretHash)
		require.NotContains(t, string(row.SecretHash), secret)
		sum := sha256.Sum256([]byte(secret))
		require.Equal(t, sum[:], row.SecretHash)
	})
}

// TestAccessBootstrap: the bootstrap key is added only to a database without keys,
// and a malformed one stops the start.
func TestAccessBootstrap(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			url := testenv.DatabaseURL(t, d)
			first := testenv.StartWith(t, d, server.Config{DatabaseURL: url, NoWorkers: true})
			require.Equal(t, 1, first.Count("api_keys"))

			other := "billd_otheradmin00_" + strings.Repeat("o", 40)
			second := testenv.StartWith(t, d, server.Config{DatabaseURL: url, NoWorkers: true, BootstrapAdminKey: other})
			require.Equal(t, 1, second.Count("api_keys"), "a second start adds no key")
			second.As(other).MustFail(`{ viewer { role } }`, nil, "UNAUTHENTICATED")
			var v struct {
				Viewer struct{ Role, KeyName string }
			}
			second.MustQuery(`{ viewer { role keyName } }`, nil, &v)
			require.Equal(t, "ADMIN", v.Viewer.Role)
			require.Equal(t, "bootstrap admin", v.Viewer.KeyName)

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := server.Open(ctx, server.Config{DatabaseURL: testenv.DatabaseURL(t, d), BootstrapAdminKey: "admin", NoWorkers: true})
			if s != nil {
				_ = s.Close()
			}
			require.Error(t, err, "a malformed bootstrap key is refused")
			require.Contains(t, err.Error(), "bootstrap admin key")
		})
	}
}

// TestAccessBootstrapConcurrent: nodes of a cluster starting together on a fresh
// database with the same bootstrap key must all start and add the key once. The
// bootstraps are raced directly (full starts are staggered by the migration lock);
// on PostgreSQL a table lock holds them all at their first read, then lets go.
func TestAccessBootstrapConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := server.Open(ctx, server.Config{DatabaseURL: testenv.DatabaseURL(t, d), NoWorkers: true})
			require.NoError(t, err)
			defer s.Close()

			const nodes = 8
			var lock *sql.Tx
			if d == "postgres" {
				lock, err = s.DB.SQL.BeginTx(ctx, nil)
				require.NoError(t, err)
				defer lock.Rollback()
				_, err = lock.ExecContext(ctx, "LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE")
				require.NoError(t, err)
			}
			errs := make(chan error, nodes)
			for range nodes {
				go func() { errs <- s.Keys.Bootstrap(ctx, testenv.AdminKey) }()
			}
			if lock != nil {
				// Let go once all wait on the table, or after a while: a bootstrap that
				// serializes some other way never has them all waiting there.
				for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
					var waiting int
					err := s.DB.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_locks
						WHERE relation = 'api_keys'::regclass AND NOT granted`).Scan(&waiting)
					if err == nil && waiting == nodes {
						break
					}
				}
				require.NoError(t, lock.Rollback())
			}
			for range nodes {
				require.NoError(t, <-errs, "a node failed to start")
			}
			n, err := s.DB.Client.APIKey.Query().Count(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, n)
		})
	}
}

// TestAccessWebsocketAuth: a websocket is acknowledged only with a live key, sent in
// connection_init or on the upgrade request.
func TestAccessWebsocketAuth(t *testing.T) {
	t.Parallel()
	b := testenv.Start(t, "sqlite")
	revoked := acxCreateKey(t, b, "revoked", "READ_ONLY", nil)
	acxRevoke(t, b, revoked.ID)
	payload := func(key string) json.RawMessage { return b.As(key).InitPayload() }

	tests := []struct {
		name    string
		payload json.RawMessage
		ack     bool
	}{
		{"no payload", nil, false},
		{"no Authorization", json.RawMessage(`{}`), false},
		{"malformed key", payload("nope"), false},
		{"unknown key", payload("billd_zzzzzzzzzzzz_" + strings.Repeat("y", 43)), false},
		{"revoked key", payload(revoked.Key), false},
		{"good key", b.InitPayload(), true},
		{"lower-case authorization", json.RawMessage(`{"authorization": "Bearer ` + testenv.AdminKey + `"}`), true},
	}
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		for _, tc := range tests {
			t.Run(proto+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				conn := acxInit(t, b, proto, tc.payload)
				if tc.ack {
					require.Equal(t, "connection_ack", readWS(t, conn).Type)
					return
				}
				acxRequireRefused(t, conn, proto, "UNAUTHENTICATED")
			})
		}
	}

	t.Run("key on the upgrade request", func(t *testing.T) {
		t.Parallel()
		url := "ws" + strings.TrimPrefix(b.HTTP.URL, "http") + "/query"
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
		_, resp, err := d.Dial(url, http.Header{"Authorization": {"Bearer " + revoked.Key}})
		require.Error(t, err)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

		conn, _, err := d.Dial(url, http.Header{"Authorization": {"Bearer " + testenv.AdminKey}})
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)}))
		require.Equal(t, "connection_ack", readWS(t, conn).Type)
	})
}

const acxRunsChanged = `subscription { billRunsChanged { id status } }`

// acxWSQuery runs a query over a socket and returns its first error code ("" if
// none); the protocol names the message types.
func acxWSQuery(t *testing.T, conn *websocket.Conn, proto, id, query string) string {
	t.Helper()
	start := "subscribe"
	if proto == "graphql-ws" {
		start = "start"
	}
	payload, err := json.Marshal(map[string]any{"query": query})
	require.NoError(t, err)
	require.NoError(t, conn.WriteJSON(wsMessage{ID: id, Type: start, Payload: payload}))
	code := ""
	for {
		m := readWS(t, conn)
		if m.ID != id {
			continue
		}
		switch m.Type {
		case "next", "data", "error":
			if c := acxErrorCode(t, m); c != "" && code == "" {
				code = c
			}
		case "complete":
			return code
		}
	}
}

// TestAccessRevocationClosesSubscriptions: revoking a key closes its open websocket
// and subscriptions at once, and the key is refused from then on.
func TestAccessRevocationClosesSubscriptions(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
			t.Run(proto, func(t *testing.T) {
				op := acxCreateKey(t, b, "dashboard "+proto, "OPERATOR", nil)
				conn := acxInit(t, b, proto, b.As(op.Key).InitPayload())
				require.Equal(t, "connection_ack", readWS(t, conn).Type)
				start := "subscribe"
				if proto == "graphql-ws" {
					start = "start"
				}
				payload, _ := json.Marshal(map[string]any{"query": acxRunsChanged})
				require.NoError(t, conn.WriteJSON(wsMessage{ID: "sub", Type: start, Payload: payload}))
				// Operations are read in order: this answer proves the subscription started.
				require.Empty(t, acxWSQuery(t, conn, proto, "q", `{ viewer { role } }`))

				began := time.Now()
				acxRevoke(t, b, op.ID)
				msgs, err := acxReadUntilClosed(conn, 3*time.Second)
				require.Error(t, err, "the socket of a revoked key stays open; messages %v", msgs)
				require.Less(t, time.Since(began), 3*time.Second)
				for _, m := range msgs {
					require.NotContains(t, []string{"next", "data"}, m.Type, "no data after revocation: %s", m.Payload)
				}
				if proto == "graphql-ws" {
					// The subscription's complete may come first; the reason must come.
					var reason string
					for _, m := range msgs {
						if m.Type == "connection_error" {
							reason = string(m.Payload)
						}
					}
					require.Contains(t, reason, "revoked", "messages %v", msgs)
				}

				resp, out := acxPost(t, b, acxBody(t, `{ viewer { role } }`), map[string]string{"Authorization": "Bearer " + op.Key})
				require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				require.Equal(t, "UNAUTHENTICATED", out.Errors[0].Code())
				acxRequireRefused(t, acxInit(t, b, proto, b.As(op.Key).InitPayload()), proto, "UNAUTHENTICATED")
			})
		}
	})
}

// TestAccessRevocationOnAnotherNode: a node that did not revoke the key closes its
// websocket at its next revalidation.
func TestAccessRevocationOnAnotherNode(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			url := testenv.DatabaseURL(t, d)
			one := testenv.StartWith(t, d, server.Config{DatabaseURL: url, NoWorkers: true})
			two := testenv.StartWith(t, d, server.Config{DatabaseURL: url, NoWorkers: true, Revalidate: 100 * time.Millisecond})
			// An ADMIN key: its revalidation is not hidden by scoping (see the role test below).
			k := acxCreateKey(t, one, "second admin", "ADMIN", nil)
			conn := acxInit(t, two, "graphql-transport-ws", two.As(k.Key).InitPayload())
			require.Equal(t, "connection_ack", readWS(t, conn).Type)
			acxSubscribe(t, conn, "1", acxRunsChanged, nil)
			acxStaysOpen(t, conn, 300*time.Millisecond, "open before the revocation")

			acxRevoke(t, one, k.ID)
			msgs, err := acxReadUntilClosed(conn, 5*time.Second)
			require.Error(t, err, "node two keeps the revoked key's socket; messages %v", msgs)
		})
	}
}

// TestAccessWebsocketSurvivesRevalidation: revalidation closes only sockets whose
// key is revoked or expired; a live key of any role keeps its socket.
func TestAccessWebsocketSurvivesRevalidation(t *testing.T) {
	t.Parallel()
	b := testenv.StartWith(t, "sqlite", server.Config{Revalidate: 50 * time.Millisecond})
	partner := acxCreatePartner(t, b, "Reseller")
	tests := []struct {
		role  string
		extra map[string]any
	}{
		{"ADMIN", nil},
		{"OPERATOR", nil},
		{"READ_ONLY", nil},
		{"PARTNER", map[string]any{"partnerId": partner}},
	}
	for _, tc := range tests {
		k := acxCreateKey(t, b, "live "+tc.role, tc.role, tc.extra)
		t.Run(tc.role, func(t *testing.T) {
			t.Parallel()
			conn := acxInit(t, b, "graphql-transport-ws", b.As(k.Key).InitPayload())
			require.Equal(t, "connection_ack", readWS(t, conn).Type)
			// Twenty revalidations.
			acxStaysOpen(t, conn, time.Second, "a live "+tc.role+" key's socket was closed")
		})
		t.Run(tc.role+" on the upgrade request", func(t *testing.T) {
			t.Parallel()
			d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
			conn, _, err := d.Dial("ws"+strings.TrimPrefix(b.HTTP.URL, "http")+"/query",
				http.Header{"Authorization": {"Bearer " + k.Key}})
			require.NoError(t, err)
			t.Cleanup(func() { _ = conn.Close() })
			require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)}))
			require.Equal(t, "connection_ack", readWS(t, conn).Type)
			// Twenty revalidations.
			acxStaysOpen(t, conn, time.Second, "a live "+tc.role+" key's socket was closed")
		})
	}
}

// TestAccessWebsocketExpiry: a socket closes once its key expires.
func TestAccessWebsocketExpiry(t *testing.T) {
	t.Parallel()
	b := testenv.StartWith(t, "sqlite", server.Config{Revalidate: 50 * time.Millisecond})
	start := b.Clock.Now()
	k := acxCreateKey(t, b, "short", "ADMIN", map[string]any{"expiresAt": start.Add(time.Hour).Format(time.RFC3339)})
	conn := acxInit(t, b, "graphql-transport-ws", b.As(k.Key).InitPayload())
	require.Equal(t, "connection_ack", readWS(t, conn).Type)
	acxStaysOpen(t, conn, 300*time.Millisecond, "open while the key is valid")
	b.Clock.Set(start.Add(time.Hour))
	msgs, err := acxReadUntilClosed(conn, 5*time.Second)
	require.Error(t, err, "the expired key's socket stays open; messages %v", msgs)
}

// TestAccessPageSize: no connection, at the root or on an edge, pages more than the
// limit.
func TestAccessPageSize(t *testing.T) {
	t.Parallel()
	acxEachDialect(t, server.Config{Limits: access.Limits{MaxPageSize: 100}}, func(t *testing.T, b *testenv.Billd) {
		var acc struct{ CreateAccount struct{ ID string } }
		b.MustQuery(`mutation { createAccount(input: {name: "Paged", currency: "USD", billDay: 1}) { id } }`, nil, &acc)
		vars := map[string]any{"id": acc.CreateAccount.ID}
		tests := []struct {
			name, query, field string // field "" means the query is allowed
		}{
			{"root first over", `{ accounts(first: 101) { totalCount } }`, "first"},
			{"root last over", `{ accounts(last: 101) { totalCount } }`, "last"},
			{"root at the limit", `{ accounts(first: 100) { totalCount } }`, ""},
			{"partners over", `{ partners(first: 101) { totalCount } }`, "first"},
			{"audit log over", `{ auditLog(last: 101) { totalCount } }`, "last"},
			{"edge over", `{ accounts { edges { node { invoices(first: 101) { totalCount } } } } }`, "first"},
			{"edge at the limit", `{ accounts { edges { node { invoices(first: 100) { totalCount } } } } }`, ""},
			{"edge through node", `query($id: ID!) { node(id: $id) { ... on Account { accountPackages(last: 101) { totalCount } } } }`, "last"},
			{"variable", `query($n: Int) { accounts(first: $n) { totalCount } }`, "first"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				v := map[string]any{}
				if strings.Contains(tc.query, "$id") {
					v = vars
				}
				if strings.Contains(tc.query, "$n") {
					v = map[string]any{"n": 101}
				}
				if tc.field == "" {
					b.MustQuery(tc.query, v, nil)
					return
				}
				e := b.MustFail(tc.query, v, "BAD_USER_INPUT")
				require.Equal(t, tc.field, e.Field())
			})
		}
	})
}

// TestAccessDepth: selections nested deeper than the limit are refused, fragments
// included.
func TestAccessDepth(t *testing.T) {
	t.Parallel()
	acxEachDialect(t, server.Config{Limits: access.Limits{MaxDepth: 3}}, func(t *testing.T, b *testenv.Billd) {
		tests := []struct {
			name, query string
			ok          bool
		}{
			{"three levels", `{ accounts { edges { cursor } } }`, true},
			{"four levels", `{ accounts { edges { node { id } } } }`, false},
			{"four through a fragment", `query { ...Q } fragment Q on Query { accounts { edges { node { id } } } }`, false},
			{"four through an inline fragment", `{ ... on Query { accounts { edges { node { id } } } } }`, false},
			{"introspection not counted", `{ __schema { types { fields { type { name } } } } }`, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if tc.ok {
					b.MustQuery(tc.query, nil, nil)
					return
				}
				b.MustFail(tc.query, nil, "QUERY_TOO_DEEP")
			})
		}
	})
}

// TestAccessComplexity: a query that could read more rows than the limit is refused
// before it runs (connections count by their page size, 100 when not given).
func TestAccessComplexity(t *testing.T) {
	t.Parallel()
	acxEachDialect(t, server.Config{Limits: access.Limits{MaxComplexity: 1000}}, func(t *testing.T, b *testenv.Billd) {
		tests := []struct {
			name, query string
			ok          bool
		}{
			// 1 + 100 × (edges 1 + node 1 + invoices (1 + 100 × 1)) = 10,301.
			{"nested pages", `{ accounts(first: 100) { edges { node { invoices(first: 100) { totalCount } } } } }`, false},
			{"nested default pages", `{ accounts { edges { node { invoices { totalCount } } } } }`, false},
			// 1 + 5 × (1 + 1 + (1 + 5 × 1)) = 41.
			{"small pages", `{ accounts(first: 5) { edges { node { invoices(first: 5) { totalCount } } } } }`, true},
			// 1 + 9 × (1 + 1 + (1 + 100 × 1)) = 928.
			{"just under", `{ accounts(first: 9) { edges { node { invoices(first: 100) { totalCount } } } } }`, true},
			// 1 + 10 × 103 = 1,031.
			{"just over", `{ accounts(first: 10) { edges { node { invoices(first: 100) { totalCount } } } } }`, false},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				if tc.ok {
					b.MustQuery(tc.query, nil, nil)
					return
				}
				b.MustFail(tc.query, nil, "COMPLEXITY_LIMIT_EXCEEDED")
			})
		}
	})
}

// TestAccessBodySize: a body over the limit is 413 REQUEST_TOO_LARGE.
func TestAccessBodySize(t *testing.T) {
	t.Parallel()
	acxEachDialect(t, server.Config{Limits: access.Limits{MaxBodyBytes: 1024}}, func(t *testing.T, b *testenv.Billd) {
		pad := func(n int) string { // a body of exactly n bytes
			body := acxBody(t, "{ currencies { code } }\n#")
			return acxBody(t, "{ currencies { code } }\n#"+strings.Repeat("x", n-len(body)))
		}
		auth := map[string]string{"Authorization": "Bearer " + testenv.AdminKey}
		tests := []struct {
			name   string
			size   int
			status int
		}{
			{"2 KiB", 2048, http.StatusRequestEntityTooLarge},
			{"one byte over", 1025, http.StatusRequestEntityTooLarge},
			{"at the limit", 1024, http.StatusOK},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				body := pad(tc.size)
				require.Len(t, body, tc.size)
				resp, out := acxPost(t, b, body, auth)
				require.Equal(t, tc.status, resp.StatusCode)
				if tc.status == http.StatusOK {
					require.Empty(t, out.Errors)
					return
				}
				require.Len(t, out.Errors, 1)
				require.Equal(t, "REQUEST_TOO_LARGE", out.Errors[0].Code())
			})
		}
	})
}

// TestAccessRateLimit: a key's token bucket (2 a second, 3 at once) on the server's
// fixed clock, so the count is exact.
func TestAccessRateLimit(t *testing.T) {
	t.Parallel()
	acxEachDialect(t, server.Config{Limits: access.Limits{RatePerSecond: 2, Burst: 3}}, func(t *testing.T, b *testenv.Billd) {
		start := b.Clock.Now()
		// The admin spends 2 of its 3 tokens here.
		k1 := acxCreateKey(t, b, "busy", "READ_ONLY", nil)
		k2 := acxCreateKey(t, b, "quiet", "READ_ONLY", nil)
		call := func(key string) *http.Response {
			resp, out := acxPost(t, b, acxBody(t, `{ viewer { role } }`), map[string]string{"Authorization": "Bearer " + key})
			if resp.StatusCode == http.StatusTooManyRequests {
				require.Len(t, out.Errors, 1)
				require.Equal(t, "RATE_LIMITED", out.Errors[0].Code())
			} else {
				require.Empty(t, out.Errors)
			}
			return resp
		}
		steps := []struct {
			name       string
			key        string
			advance    time.Duration // clock offset from start before the call
			status     int
			retryAfter string
		}{
			{"burst 1", k1.Key, 0, http.StatusOK, ""},
			{"burst 2", k1.Key, 0, http.StatusOK, ""},
			{"burst 3", k1.Key, 0, http.StatusOK, ""},
			// Empty bucket: the next token comes in 0.5 s, rounded up to 1.
			{"over the burst", k1.Key, 0, http.StatusTooManyRequests, "1"},
			{"still over", k1.Key, 0, http.StatusTooManyRequests, "1"},
			{"other key 1", k2.Key, 0, http.StatusOK, ""},
			{"other key 2", k2.Key, 0, http.StatusOK, ""},
			{"other key 3", k2.Key, 0, http.StatusOK, ""},
			{"admin's last token", testenv.AdminKey, 0, http.StatusOK, ""},
			{"admin over", testenv.AdminKey, 0, http.StatusTooManyRequests, "1"},
			// One second refills two tokens.
			{"refilled 1", k1.Key, time.Second, http.StatusOK, ""},
			{"refilled 2", k1.Key, time.Second, http.StatusOK, ""},
			{"refill spent", k1.Key, time.Second, http.StatusTooManyRequests, "1"},
			// 0.25 s more is half a token: the wait is 0.25 s, still 1.
			{"half a token", k1.Key, 1250 * time.Millisecond, http.StatusTooManyRequests, "1"},
			// Ten idle seconds refill only up to the burst.
			{"after idling 1", k1.Key, 11 * time.Second, http.StatusOK, ""},
			{"after idling 2", k1.Key, 11 * time.Second, http.StatusOK, ""},
			{"after idling 3", k1.Key, 11 * time.Second, http.StatusOK, ""},
			{"after idling 4", k1.Key, 11 * time.Second, http.StatusTooManyRequests, "1"},
		}
		for _, s := range steps {
			b.Clock.Set(start.Add(s.advance))
			resp := call(s.key)
			require.Equal(t, s.status, resp.StatusCode, s.name)
			require.Equal(t, s.retryAfter, resp.Header.Get("Retry-After"), s.name)
		}

		// Websocket operations spend the same bucket (the upgrade and init do not):
		// "quiet" is full again after eleven seconds.
		conn := acxInit(t, b, "graphql-transport-ws", b.As(k2.Key).InitPayload())
		require.Equal(t, "connection_ack", readWS(t, conn).Type)
		for i, want := range []string{"", "", "", "RATE_LIMITED"} {
			require.Equal(t, want, acxWSQuery(t, conn, "graphql-transport-ws", strconv.Itoa(i), `{ viewer { role } }`), "operation %d", i+1)
		}
		resp := call(k2.Key)
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "and HTTP requests see it")
	})
}

// TestAccessConnectionCap: a key holds at most Connections websockets per node.
func TestAccessConnectionCap(t *testing.T) {
	t.Parallel()
	b := testenv.StartWith(t, "sqlite", server.Config{Limits: access.Limits{Connections: 2}})
	op := acxCreateKey(t, b, "sockets", "OPERATOR", nil).Key
	init := func(proto, key string) *websocket.Conn {
		return acxInit(t, b, proto, b.As(key).InitPayload())
	}
	c1 := init("graphql-transport-ws", op)
	require.Equal(t, "connection_ack", readWS(t, c1).Type)
	c2 := init("graphql-ws", op)
	require.Equal(t, "connection_ack", readWS(t, c2).Type)

	for _, proto := range []string{"graphql-ws", "graphql-transport-ws"} {
		acxRequireRefused(t, init(proto, op), proto, "TOO_MANY_CONNECTIONS")
	}
	// Another key is not affected.
	other := init("graphql-transport-ws", testenv.AdminKey)
	require.Equal(t, "connection_ack", readWS(t, other).Type)

	// Closing one (abruptly) lets a new one in.
	require.NoError(t, c1.Close())
	// The slot frees when the server notices, shortly after.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		conn := init("graphql-ws", op)
		msgs, _ := acxReadUntil(conn, "connection_ack")
		_ = conn.Close()
		if n := len(msgs); n > 0 && msgs[n-1].Type == "connection_ack" {
			break
		}
		require.True(t, time.Now().Before(deadline), "closing a connection does not free its slot")
	}
}

// TestAccessSubscriptionCap: a key runs at most Subscriptions subscriptions per node,
// across its connections.
func TestAccessSubscriptionCap(t *testing.T) {
	t.Parallel()
	b := testenv.StartWith(t, "sqlite", server.Config{Limits: access.Limits{Subscriptions: 1}})
	var run struct{ StartBillRun struct{ ID, Status string } }
	b.MustQuery(`mutation { startBillRun(input: {periodStart: "2024-01-01", periodEnd: "2024-01-31", wait: true}) { id status } }`, nil, &run)
	require.Equal(t, "COMPLETED", run.StartBillRun.Status)
	op := acxCreateKey(t, b, "dashboard", "OPERATOR", nil).Key

	conn := acxInit(t, b, "graphql-transport-ws", b.As(op).InitPayload())
	require.Equal(t, "connection_ack", readWS(t, conn).Type)
	// Two at once: whichever starts second is refused, the other runs.
	acxSubscribe(t, conn, "a", acxRunsChanged, nil)
	acxSubscribe(t, conn, "b", acxRunsChanged, nil)
	m := readWS(t, conn)
	require.Equal(t, "next", m.Type, "%s", m.Payload)
	require.Equal(t, "TOO_MANY_CONNECTIONS", acxErrorCode(t, m), "%s", m.Payload)
	refused := m.ID
	require.Contains(t, []string{"a", "b"}, refused)
	done := readWS(t, conn)
	require.Equal(t, "complete", done.Type)
	require.Equal(t, refused, done.ID)
	running := map[string]string{"a": "b", "b": "a"}[refused]

	// The cap is per key, not per connection.
	second := acxInit(t, b, "graphql-transport-ws", b.As(op).InitPayload())
	require.Equal(t, "connection_ack", readWS(t, second).Type)
	acxSubscribe(t, second, "c", acxRunsChanged, nil)
	m = readWS(t, second)
	require.Equal(t, "TOO_MANY_CONNECTIONS", acxErrorCode(t, m), "%s", m.Payload)
	// Another key is not affected: its progress subscription gets the snapshot.
	admin := acxInit(t, b, "graphql-transport-ws", b.InitPayload())
	require.Equal(t, "connection_ack", readWS(t, admin).Type)
	acxSubscribe(t, admin, "p", qProgress, map[string]any{"id": run.StartBillRun.ID})
	m = readWS(t, admin)
	require.Equal(t, "next", m.Type)
	require.Empty(t, acxErrorCode(t, m), "%s", m.Payload)

	// Completing the running one frees the slot.
	require.NoError(t, conn.WriteJSON(wsMessage{ID: running, Type: "complete"}))
	for n := 1; ; n++ {
		id := "p" + strconv.Itoa(n)
		acxSubscribe(t, conn, id, qProgress, map[string]any{"id": run.StartBillRun.ID})
		m := readWS(t, conn)
		for m.ID != id {
			m = readWS(t, conn)
		}
		if m.Type == "next" && acxErrorCode(t, m) == "" {
			break
		}
		require.Equal(t, "TOO_MANY_CONNECTIONS", acxErrorCode(t, m), "%s %s", m.Type, m.Payload)
		require.Less(t, n, 200, "completing a subscription does not free its slot")
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAccessIntrospectionOff: with introspection off the schema cannot be read; data
// queries work.
func TestAccessIntrospectionOff(t *testing.T) {
	t.Parallel()
	cfg := server.Config{Limits: access.Limits{Introspection: false, IntrospectionSet: true}}
	acxEachDialect(t, cfg, func(t *testing.T, b *testenv.Billd) {
		for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Account") { name fields { name } } }`} {
			r := b.Query(q, nil)
			require.NotEmpty(t, r.Errors, "%s answered %s", q, r.Data)
			require.NotContains(t, string(r.Data), "Account")
			require.NotContains(t, string(r.Data), "Query")
		}
		var out struct{ Currencies []struct{ Code string } }
		b.MustQuery(`{ currencies { code } }`, nil, &out)
		require.NotEmpty(t, out.Currencies)
		var tn struct {
			Typename string `json:"__typename"`
		}
		b.MustQuery(`{ __typename }`, nil, &tn)
		require.Equal(t, "Query", tn.Typename)
	})
}

// TestAccessCORS: only configured origins get CORS headers, on preflights and on
// requests (refusals included, so a browser app can read them), and websockets.
func TestAccessCORS(t *testing.T) {
	t.Parallel()
	const allowed, other = "https://app.example.com", "https://evil.example.com"
	b := testenv.StartWith(t, "sqlite", server.Config{CORSOrigins: []string{allowed}})
	tests := []struct {
		name, method, origin, key string
		status                    int
		allow                     bool
	}{
		{"preflight allowed", http.MethodOptions, allowed, "", http.StatusNoContent, true},
		{"preflight other origin", http.MethodOptions, other, "", http.StatusNoContent, false},
		{"request allowed", http.MethodPost, allowed, testenv.AdminKey, http.StatusOK, true},
		{"request without key, allowed origin", http.MethodPost, allowed, "", http.StatusUnauthorized, true},
		{"request other origin", http.MethodPost, other, testenv.AdminKey, http.StatusOK, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(tc.method, b.HTTP.URL+"/query", strings.NewReader(acxBody(t, `{ currencies { code } }`)))
			require.NoError(t, err)
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Content-Type", "application/json")
			if tc.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "POST")
				req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			}
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			if !tc.allow {
				require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
				return
			}
			require.Equal(t, allowed, resp.Header.Get("Access-Control-Allow-Origin"))
			require.Contains(t, resp.Header.Values("Vary"), "Origin")
			if tc.method == http.MethodOptions {
				headers := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
				require.Contains(t, headers, "authorization")
				require.Contains(t, headers, "content-type")
				require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")
			}
		})
	}
	t.Run("websocket origins", func(t *testing.T) {
		t.Parallel()
		url := "ws" + strings.TrimPrefix(b.HTTP.URL, "http") + "/query"
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
		conn, _, err := d.Dial(url, http.Header{"Origin": {allowed}})
		require.NoError(t, err)
		_ = conn.Close()
		_, resp, err := d.Dial(url, http.Header{"Origin": {other}})
		require.Error(t, err)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
}

// acxAuditEntry is an entry of the audit log as the API shows it.
type acxAuditEntry struct {
	ID        string
	Operation string
	Success   bool
	ErrorCode *string
	KeyName   string
	Role      string
	IDs       []string `json:"ids"`
	ApiKey    *struct{ ID string }
}

// TestAccessAuditLog: every mutation, refused or not, leaves one entry saying who did
// what; queries leave none; only ADMIN keys read the log.
func TestAccessAuditLog(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var me struct {
			Viewer struct{ ApiKey struct{ ID string } }
		}
		b.MustQuery(`{ viewer { apiKey { id } } }`, nil, &me)
		adminID := me.Viewer.ApiKey.ID
		require.NotEmpty(t, adminID)

		op := acxCreateKey(t, b, "ops", "OPERATOR", nil)
		opb := b.As(op.Key)
		var acc struct{ CreateAccount struct{ ID string } }
		opb.MustQuery(`mutation { createAccount(input: {name: "Audited", currency: "USD", billDay: 1}) { id name } }`, nil, &acc)
		opb.MustFail(`mutation { createAccount(input: {name: "Bad", currency: "XXX", billDay: 1}) { id } }`, nil, "NOT_FOUND")
		opb.MustFail(`mutation { createApiKey(input: {name: "sneaky", role: ADMIN}) { key } }`, nil, "FORBIDDEN")

		// Queries are not audited.
		n := b.Count("audit_entries")
		opb.MustQuery(`{ accounts { totalCount } viewer { role } }`, nil, nil)
		b.MustQuery(`{ apiKeys { totalCount } }`, nil, nil)
		require.Equal(t, n, b.Count("audit_entries"))

		var log struct {
			AuditLog struct {
				TotalCount int
				Edges      []struct{ Node acxAuditEntry }
			}
		}
		b.MustQuery(`{ auditLog(last: 10) { totalCount edges { node {
			id operation success errorCode keyName role ids apiKey { id } } } } }`, nil, &log)
		require.Equal(t, 4, log.AuditLog.TotalCount)
		str := func(s string) *string { return &s }
		want := []acxAuditEntry{
			{Operation: "createApiKey", Success: true, KeyName: "bootstrap admin", Role: "ADMIN",
				IDs: []string{op.ID}, ApiKey: &struct{ ID string }{adminID}},
			{Operation: "createAccount", Success: true, KeyName: "ops", Role: "OPERATOR",
				IDs: []string{acc.CreateAccount.ID}, ApiKey: &struct{ ID string }{op.ID}},
			{Operation: "createAccount", Success: false, ErrorCode: str("NOT_FOUND"), KeyName: "ops", Role: "OPERATOR",
				IDs: []string{}, ApiKey: &struct{ ID string }{op.ID}},
			{Operation: "createApiKey", Success: false, ErrorCode: str("FORBIDDEN"), KeyName: "ops", Role: "OPERATOR",
				IDs: []string{}, ApiKey: &struct{ ID string }{op.ID}},
		}
		require.Len(t, log.AuditLog.Edges, len(want))
		var got []acxAuditEntry
		for _, e := range log.AuditLog.Edges {
			require.NotEmpty(t, e.Node.ID)
			e.Node.ID = ""
			got = append(got, e.Node)
		}
		require.Equal(t, want, got)
		entryID := log.AuditLog.Edges[1].Node.ID

		// Only ADMIN keys read the log and the keys; to others they do not exist.
		partner := acxCreatePartner(t, b, "Reseller")
		ro := acxCreateKey(t, b, "reader", "READ_ONLY", nil)
		pk := acxCreateKey(t, b, "reseller", "PARTNER", map[string]any{"partnerId": partner})
		for _, who := range []struct{ name, key string }{{"OPERATOR", op.Key}, {"READ_ONLY", ro.Key}, {"PARTNER", pk.Key}} {
			t.Run(who.name, func(t *testing.T) {
				c := b.As(who.key)
				c.MustFail(`{ auditLog(last: 10) { totalCount } }`, nil, "FORBIDDEN")
				c.MustFail(`{ apiKeys { totalCount } }`, nil, "FORBIDDEN")
				for _, id := range []string{entryID, op.ID, ro.ID} {
					c.MustBeGone(id)
				}
				r := c.Query(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{entryID, op.ID}})
				require.JSONEq(t, `{"nodes": [null, null]}`, string(r.Data))
			})
		}
	})
}

// TestAccessNodeForAccessTypes: Partner, ApiKey and AuditEntry implement Node, so an
// ADMIN key fetches them by id like any other node.
func TestAccessNodeForAccessTypes(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		partner := acxCreatePartner(t, b, "Reseller")
		k := acxCreateKey(t, b, "reader", "READ_ONLY", nil)
		var log struct {
			AuditLog struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		b.MustQuery(`{ auditLog(first: 1) { edges { node { id } } } }`, nil, &log)
		require.Len(t, log.AuditLog.Edges, 1)
		tests := []struct{ typename, id string }{
			{"Partner", partner},
			{"ApiKey", k.ID},
			{"AuditEntry", log.AuditLog.Edges[0].Node.ID},
		}
		for _, tc := range tests {
			t.Run(tc.typename, func(t *testing.T) {
				r := b.Query(`query($id: ID!) { node(id: $id) { id __typename } }`, map[string]any{"id": tc.id})
				require.Empty(t, r.Errors, "node(%s) of a %s", tc.id, tc.typename)
				require.JSONEq(t, `{"node": {"id": "`+tc.id+`", "__typename": "`+tc.typename+`"}}`, string(r.Data))
			})
		}
	})
}

// TestAccessPartnerIsolation: a PARTNER key works on its own partner's accounts and
// cannot see or touch another partner's.
func TestAccessPartnerIsolation(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		cat, err := seed.NewCatalog(context.Background(), b.Catalog, "Reseller Plan")
		require.NoError(t, err)
		pA, pB := acxCreatePartner(t, b, "Partner A"), acxCreatePartner(t, b, "Partner B")
		kA := acxCreateKey(t, b, "key A", "PARTNER", map[string]any{"partnerId": pA})
		kB := acxCreateKey(t, b, "key B", "PARTNER", map[string]any{"partnerId": pB})
		kOp := acxCreateKey(t, b, "ops", "OPERATOR", nil)
		a, bb, op := b.As(kA.Key), b.As(kB.Key), b.As(kOp.Key)

		// An account made without partnerId belongs to the key's partner.
		var acc struct {
			CreateAccount struct {
				ID      string
				Partner *struct{ ID string }
			}
		}
		a.MustQuery(`mutation { createAccount(input: {name: "A's customer", currency: "USD", billDay: 1}) { id partner { id } } }`, nil, &acc)
		require.NotNil(t, acc.CreateAccount.Partner)
		require.Equal(t, pA, acc.CreateAccount.Partner.ID)
		accID := acc.CreateAccount.ID
		// Naming its own partner is fine; another partner (or an unknown one) is NOT_FOUND.
		a.MustQuery(`mutation($p: ID) { createAccount(input: {name: "A's second", currency: "USD", billDay: 1, partnerId: $p}) { id } }`,
			map[string]any{"p": pA}, nil)
		accounts := b.Count("accounts")
		for _, p := range []string{pB, "999999999999"} {
			e := a.MustFail(`mutation($p: ID) { createAccount(input: {name: "Elsewhere", currency: "USD", billDay: 1, partnerId: $p}) { id } }`,
				map[string]any{"p": p}, "NOT_FOUND")
			require.Equal(t, "input.partnerId", e.Field())
		}
		require.Equal(t, accounts, b.Count("accounts"))

		var prov struct{ ProvisionPackage []struct{ ID string } }
		provision := `mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id } }`
		provIn := map[string]any{"in": map[string]any{"accountId": accID, "packageId": strconv.Itoa(cat.PackageID),
			"frequencyId": strconv.Itoa(cat.FrequencyID), "effectiveDate": "2024-01-01"}}
		a.MustQuery(provision, provIn, &prov)
		require.Len(t, prov.ProvisionPackage, 1)
		apID := prov.ProvisionPackage[0].ID
		var run struct{ StartBillRun struct{ Status string } }
		b.MustQuery(`mutation { startBillRun(input: {periodStart: "2024-01-01", periodEnd: "2024-01-31", wait: true}) { status } }`, nil, &run)
		require.Equal(t, "COMPLETED", run.StartBillRun.Status)
		var inv struct {
			Invoices struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		a.MustQuery(`{ invoices { edges { node { id } } } }`, nil, &inv)
		require.Len(t, inv.Invoices.Edges, 1)
		invID := inv.Invoices.Edges[0].Node.ID

		// A partner cannot move its accounts; they stay where they are.
		for _, in := range []map[string]any{{"partnerId": pB}, {"partnerId": pA}, {"clearPartner": true}} {
			a.MustFail(`mutation($id: ID!, $in: UpdateAccountInput!) { updateAccount(id: $id, input: $in) { id } }`,
				map[string]any{"id": accID, "in": in}, "FORBIDDEN")
		}
		var owner struct {
			Node struct{ Partner *struct{ ID string } }
		}
		op.MustQuery(`query($id: ID!) { node(id: $id) { ... on Account { partner { id } } } }`, map[string]any{"id": accID}, &owner)
		require.NotNil(t, owner.Node.Partner)
		require.Equal(t, pA, owner.Node.Partner.ID)

		// To partner B, A's rows do not exist.
		for _, tc := range []struct{ name, id string }{{"account", accID}, {"invoice", invID}, {"account-package", apID}} {
			t.Run("B's node of A's "+tc.name, func(t *testing.T) {
				bb.MustBeGone(tc.id)
				// A itself sees it.
				a.MustQuery(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": tc.id}, nil)
			})
		}
		r := bb.Query(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{accID, invID, apID}})
		require.JSONEq(t, `{"nodes": [null, null, null]}`, string(r.Data))
		require.Empty(t, r.Errors, "nodes answers null in the place of what it cannot see")
		var counts struct {
			Accounts, Invoices, Partners struct{ TotalCount int }
		}
		bb.MustQuery(`{ accounts { totalCount } invoices { totalCount } partners { totalCount } }`, nil, &counts)
		require.Equal(t, 0, counts.Accounts.TotalCount)
		require.Equal(t, 0, counts.Invoices.TotalCount)
		require.Equal(t, 1, counts.Partners.TotalCount)

		// Nor can B change them.
		snapshot := b.Snapshot()
		e := bb.MustFail(provision, provIn, "NOT_FOUND")
		require.Equal(t, "input.accountId", e.Field())
		bb.MustFail(`mutation($id: ID!) { updateAccount(id: $id, input: {name: "Taken"}) { id } }`, map[string]any{"id": accID}, "NOT_FOUND")
		bb.MustFail(`mutation($id: ID!) { closeInvoice(id: $id) { id } }`, map[string]any{"id": invID}, "NOT_FOUND")
		bb.MustFail(`mutation($id: ID!) { deleteAccountPackage(id: $id) }`, map[string]any{"id": apID}, "NOT_FOUND")
		require.Equal(t, snapshot, b.Snapshot())

		// viewer answers the key's role and partner, and the key itself.
		for _, tc := range []struct {
			name    string
			c       *testenv.Billd
			key     string // "" for the bootstrap key, whose id the test does not know
			role    string
			partner string
		}{
			{"partner A", a, kA.ID, "PARTNER", pA},
			{"partner B", bb, kB.ID, "PARTNER", pB},
			{"operator", op, kOp.ID, "OPERATOR", ""},
			{"admin", b, "", "ADMIN", ""},
		} {
			t.Run("viewer of "+tc.name, func(t *testing.T) {
				var v struct {
					Viewer struct {
						Role    string
						ApiKey  *struct{ ID string }
						Partner *struct{ ID string }
					}
				}
				tc.c.MustQuery(`{ viewer { role apiKey { id } partner { id } } }`, nil, &v)
				require.Equal(t, tc.role, v.Viewer.Role)
				require.NotNil(t, v.Viewer.ApiKey)
				if tc.key != "" {
					require.Equal(t, tc.key, v.Viewer.ApiKey.ID)
				}
				if tc.partner == "" {
					require.Nil(t, v.Viewer.Partner)
					return
				}
				require.NotNil(t, v.Viewer.Partner)
				require.Equal(t, tc.partner, v.Viewer.Partner.ID)
			})
		}
	})
}

// TestAccessAuthFailureLimit: bad keys from one client address spend its allowance;
// once spent, the address is refused with 429 RATE_LIMITED before any key is looked
// up, even a good one, until the bucket refills. Missing keys are not counted. A
// trusted proxy's header names the address when configured.
func TestAccessAuthFailureLimit(t *testing.T) {
	t.Parallel()
	cfg := server.Config{Limits: access.Limits{AuthFailureRate: 1, AuthFailureBurst: 3}, ClientIPHeader: "X-Forwarded-For"}
	acxEachDialect(t, cfg, func(t *testing.T, b *testenv.Billd) {
		start := b.Clock.Now()
		good := acxCreateKey(t, b, "good", "READ_ONLY", nil)
		bad := "billd_" + good.Prefix + "_wrong-secret-wrong-secret-wrong-secret"
		call := func(from, key string) (int, string, string) {
			h := map[string]string{"X-Forwarded-For": "198.51.100.7, " + from}
			if key != "" {
				h["Authorization"] = "Bearer " + key
			}
			resp, out := acxPost(t, b, acxBody(t, `{ viewer { role } }`), h)
			code := ""
			if len(out.Errors) > 0 {
				code = out.Errors[0].Code()
			}
			return resp.StatusCode, code, resp.Header.Get("Retry-After")
		}
		steps := []struct {
			name       string
			from, key  string
			advance    time.Duration
			status     int
			code       string
			retryAfter string
		}{
			{"no key is not counted 1", "203.0.113.1", "", 0, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			{"no key is not counted 2", "203.0.113.1", "", 0, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			{"no key is not counted 3", "203.0.113.1", "", 0, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			{"no key is not counted 4", "203.0.113.1", "", 0, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			{"bad key 1", "203.0.113.1", bad, 0, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			{"unknown key 2", "203.0.113.1", "billd_unknownpref0_" + strings.Repeat("x", 32), 0, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			{"bad key 3", "203.0.113.1", bad, 0, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			// The burst is spent: refused before the key is even looked up.
			{"a good key from the same address", "203.0.113.1", good.Key, 0, http.StatusTooManyRequests, "RATE_LIMITED", "1"},
			{"another bad key", "203.0.113.1", bad, 0, http.StatusTooManyRequests, "RATE_LIMITED", "1"},
			{"other addresses are not affected", "203.0.113.2", good.Key, 0, http.StatusOK, "", ""},
			{"nor their failures", "203.0.113.2", bad, 0, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			// One second refills one failure's worth.
			{"refilled: the good key works", "203.0.113.1", good.Key, time.Second, http.StatusOK, "", ""},
			{"a good key spends nothing", "203.0.113.1", good.Key, time.Second, http.StatusOK, "", ""},
			{"one more failure", "203.0.113.1", bad, time.Second, http.StatusUnauthorized, "UNAUTHENTICATED", ""},
			{"spent again", "203.0.113.1", good.Key, time.Second, http.StatusTooManyRequests, "RATE_LIMITED", "1"},
		}
		for _, s := range steps {
			b.Clock.Set(start.Add(s.advance))
			status, code, retry := call(s.from, s.key)
			require.Equal(t, s.status, status, s.name)
			require.Equal(t, s.code, code, s.name)
			require.Equal(t, s.retryAfter, retry, s.name)
		}

		// A websocket's connection_init counts, and is refused, the same way. The
		// test's dialer sends no X-Forwarded-For: this address is the TCP peer's.
		b.Clock.Set(start.Add(time.Minute))
		for i := 0; i < 3; i++ {
			conn := acxInit(t, b, "graphql-transport-ws", b.As(bad).InitPayload())
			acxRequireRefused(t, conn, "graphql-transport-ws", "UNAUTHENTICATED")
		}
		conn := acxInit(t, b, "graphql-transport-ws", b.InitPayload())
		_, err := acxReadUntilClosed(conn, 5*time.Second)
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, 4403, ce.Code)
		require.Contains(t, ce.Text, "RATE_LIMITED")
		b.Clock.Set(start.Add(time.Minute + time.Second))
		conn = acxInit(t, b, "graphql-transport-ws", b.InitPayload())
		require.Equal(t, "connection_ack", readWS(t, conn).Type)
	})
}
