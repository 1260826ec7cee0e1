package graph_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// syncBuffer is a log destination tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// httpAnswer is a raw HTTP exchange with /query.
type httpAnswer struct {
	Status int
	Header http.Header
	Body   map[string]json.RawMessage
	Errors []testenv.GQLError
	Raw    string
}

// httpDo sends a request to /query with the test key (unless headers set another
// Authorization) and decodes the JSON answer.
func httpDo(t *testing.T, b *testenv.Billd, method, rawQuery, body string, headers map[string]string) httpAnswer {
	t.Helper()
	u := b.HTTP.URL + "/query"
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+b.Key)
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	a := httpAnswer{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &a.Body), "answer %s", raw)
		if e, ok := a.Body["errors"]; ok {
			require.NoError(t, json.Unmarshal(e, &a.Errors))
		}
	}
	return a
}

// TestHTTPRefusals sends requests that are not GraphQL requests, or that GraphQL
// refuses before running them, and checks the status, the code, that no "data"
// entry is present, and that the answer does not echo the body.
func TestHTTPRefusals(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := testenv.StartWith(t, "sqlite", server.Config{Log: log})
	const secret = "SECRET-BODY-TEXT"
	json := map[string]string{"Content-Type": "application/json"}
	gqlResp := map[string]string{"Content-Type": "application/json", "Accept": "application/graphql-response+json"}
	deep := `{"query":"query($x: String) { currencies { code } }","variables":{"x":` +
		strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}}`
	for _, tc := range []struct {
		name            string
		method, query   string
		body            string
		headers         map[string]string
		status          int
		code, contains  string
		allow           string
		noData          bool
		wantContentType string
	}{
		{name: "malformed JSON", method: "POST", body: `{"query": "{ currencies ` + secret, headers: json,
			status: 400, code: "BAD_USER_INPUT", contains: "not valid JSON", noData: true},
		{name: "a JSON array: a batch", method: "POST", body: `[{"query":"{ currencies { code } }"}]`, headers: json,
			status: 400, code: "BAD_USER_INPUT", contains: "batched requests are not supported", noData: true},
		{name: "a JSON string", method: "POST", body: `"` + secret + `"`, headers: json,
			status: 400, code: "BAD_USER_INPUT", contains: "not a JSON object", noData: true},
		{name: "no query", method: "POST", body: `{"qeury":"{ currencies { code } }"}`, headers: json,
			status: 400, code: "BAD_USER_INPUT", contains: "no query", noData: true},
		{name: "a query that is a number", method: "POST", body: `{"query": 7}`, headers: json,
			status: 400, code: "BAD_USER_INPUT", contains: "query must be a string", noData: true},
		{name: "variables that are a list", method: "POST", body: `{"query":"{ currencies { code } }","variables":[1]}`,
			headers: json, status: 400, code: "BAD_USER_INPUT", contains: "variables must be a JSON object", noData: true},
		{name: "JSON nested 41 deep", method: "POST", body: deep, headers: json,
			status: 400, code: "BAD_USER_INPUT", contains: "more than 32 levels", noData: true},
		{name: "a document that does not parse, as application/json", method: "POST", body: `{"query":"{ currencies "}`,
			headers: json, status: 200, code: "BAD_USER_INPUT", noData: true},
		{name: "a document that does not parse, as graphql-response+json", method: "POST", body: `{"query":"{ currencies "}`,
			headers: gqlResp, status: 400, code: "BAD_USER_INPUT", noData: true,
			wantContentType: "application/graphql-response+json"},
		{name: "a field that does not exist", method: "POST", body: `{"query":"{ nosuchfield }"}`,
			headers: gqlResp, status: 400, code: "BAD_USER_INPUT", noData: true},
		{name: "a variable of the wrong type", method: "POST",
			body:    `{"query":"query($id: ID!) { node(id: $id) { id } }","variables":{"id":null}}`,
			headers: json, status: 200, code: "BAD_USER_INPUT", noData: true},
		{name: "an unknown persisted query", method: "POST",
			body:    `{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"` + strings.Repeat("ab", 32) + `"}}}`,
			headers: json, status: 200, code: "PERSISTED_QUERY_NOT_FOUND", noData: true},
		{name: "a mutation over GET", method: "GET", query: "query=" + url.QueryEscape(`mutation { createPartner(input: {name: "x"}) { id } }`),
			status: 405, code: "METHOD_NOT_ALLOWED", allow: "POST", noData: true},
		{name: "a subscription over POST", method: "POST", body: `{"query":"subscription { billRunsChanged { id } }"}`,
			headers: json, status: 200, code: "BAD_USER_INPUT", contains: "websocket", noData: true},
		{name: "text/plain", method: "POST", body: `{"query":"{ currencies { code } }"}`, headers: map[string]string{"Content-Type": "text/plain"},
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE", noData: true},
		{name: "no content type", method: "POST", body: `{"query":"{ currencies { code } }"}`, headers: map[string]string{"Content-Type": ""},
			status: 415, code: "UNSUPPORTED_MEDIA_TYPE", noData: true},
		{name: "a charset other than UTF-8", method: "POST", body: `{"query":"{ currencies { code } }"}`,
			headers: map[string]string{"Content-Type": "application/json; charset=latin1"}, status: 415, code: "UNSUPPORTED_MEDIA_TYPE", noData: true},
		{name: "PUT", method: "PUT", body: `{"query":"{ currencies { code } }"}`, headers: json,
			status: 405, code: "METHOD_NOT_ALLOWED", allow: "GET, POST, OPTIONS", noData: true},
		{name: "accepts HTML only", method: "POST", body: `{"query":"{ currencies { code } }"}`,
			headers: map[string]string{"Content-Type": "application/json", "Accept": "text/html"},
			status:  406, code: "NOT_ACCEPTABLE", noData: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := httpDo(t, b, tc.method, tc.query, tc.body, tc.headers)
			require.Equal(t, tc.status, a.Status, "answer %s", a.Raw)
			require.NotEmpty(t, a.Errors, "answer %s", a.Raw)
			require.Equal(t, tc.code, a.Errors[0].Code(), "answer %s", a.Raw)
			if tc.contains != "" {
				require.Contains(t, a.Errors[0].Message, tc.contains)
			}
			if tc.allow != "" {
				require.Equal(t, tc.allow, a.Header.Get("Allow"))
			}
			if tc.noData {
				_, has := a.Body["data"]
				require.False(t, has, "a request error has no data entry: %s", a.Raw)
			}
			if tc.wantContentType != "" {
				require.Contains(t, a.Header.Get("Content-Type"), tc.wantContentType)
			}
			require.NotContains(t, a.Raw, secret, "the answer echoes the body")
		})
	}
	// None of that is an error of the server's: nothing logged at ERROR, and the
	// body is in no log line.
	require.NotContains(t, logs.String(), `"level":"ERROR"`)
	require.NotContains(t, logs.String(), secret)

	// A good request answers 200, with data, as either media type.
	for _, accept := range []string{"", "application/json", "application/graphql-response+json", "*/*"} {
		a := httpDo(t, b, "POST", "", `{"query":"{ currencies { code } }"}`, map[string]string{"Content-Type": "application/json", "Accept": accept})
		require.Equal(t, 200, a.Status, "Accept %q: %s", accept, a.Raw)
		require.Contains(t, string(a.Body["data"]), `"USD"`)
	}
	a := httpDo(t, b, "GET", "query="+url.QueryEscape(`{ currencies { code } }`), "", nil)
	require.Equal(t, 200, a.Status, a.Raw)
	require.Contains(t, string(a.Body["data"]), `"USD"`)
}

// TestCursorRefusals pages with cursors billd never gave out: each is BAD_USER_INPUT
// on the argument, never the first page and never INTERNAL.
func TestCursorRefusals(t *testing.T) {
	t.Parallel()
	b := testenv.Start(t, "sqlite")
	e := &bxEnv{t: t, b: b}
	e.account("A", 1)
	e.account("B", 1)
	var page struct {
		Accounts struct{ PageInfo struct{ EndCursor string } }
	}
	b.MustQuery(`{ accounts(first: 1) { edges { cursor } pageInfo { endCursor } } }`, nil, &page)
	good := page.Accounts.PageInfo.EndCursor
	require.NotEmpty(t, good)
	b.MustQuery(`query($c: Cursor) { accounts(first: 1, after: $c) { totalCount } }`, map[string]any{"c": good}, nil)
	for name, c := range map[string]any{
		"not base64":              "!!!not a cursor!!!",
		"empty":                   "",
		"base64 of nothing":       base64.RawStdEncoding.EncodeToString([]byte{0x80}), // an empty msgpack map
		"base64 of text":          base64.RawStdEncoding.EncodeToString([]byte("hello")),
		"a good one with a tail":  good + "AAAA",
		"a good one, padded":      good + "==",
		"a number":                42,
		"longer than any of ours": strings.Repeat("A", 600),
	} {
		t.Run(name, func(t *testing.T) {
			for _, arg := range []string{"after", "before"} {
				size := "first"
				if arg == "before" {
					size = "last"
				}
				e := b.MustFail(`query($c: Cursor) { accounts(`+size+`: 1, `+arg+`: $c) { totalCount } }`, map[string]any{"c": c}, "BAD_USER_INPUT")
				require.Equal(t, arg, e.Field(), "the field names the argument")
			}
			// Inline in the document rather than as a variable.
			if s, ok := c.(string); ok {
				e := b.MustFail(`{ accounts(first: 1, after: `+strconvQuote(s)+`) { totalCount } }`, nil, "BAD_USER_INPUT")
				require.Equal(t, "after", e.Field())
			}
		})
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// TestNames proves names count characters, not bytes, and refuse control characters,
// on both databases (PostgreSQL cannot store a NUL; SQLite would).
func TestNames(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		create := `mutation($n: String!) { createService(input: {name: $n, kind: RECURRING}) { id name } }`
		var out struct{ CreateService struct{ ID, Name string } }
		long := strings.Repeat("é", 200) // 200 characters, 400 bytes
		b.MustQuery(create, map[string]any{"n": long}, &out)
		require.Equal(t, long, out.CreateService.Name)
		before := b.Count("services")
		for name, tc := range map[string]struct{ value, word string }{
			"201 characters": {strings.Repeat("é", 201), "is 201 characters long, more than the 200 allowed"},
			"a NUL":          {"Line\x00one", "U+0000"},
			"an escape":      {"Line\x1b[31mred", "U+001B"},
			"a newline":      {"Line\none", "U+000A"},
			"only spaces":    {"   ", "must not be empty"},
		} {
			t.Run(name, func(t *testing.T) {
				e := b.MustFail(create, map[string]any{"n": tc.value}, "BAD_USER_INPUT")
				require.Equal(t, "input.name", e.Field())
				require.Contains(t, e.Message, tc.word)
			})
		}
		// Accounts, partners, keys and descriptions go through the same check.
		e := b.MustFail(`mutation { createAccount(input: {name: "Ada\u0000", currency: "USD", billDay: 1}) { id } }`, nil, "BAD_USER_INPUT")
		require.Equal(t, "input.name", e.Field())
		e = b.MustFail(`mutation { createPartner(input: {name: "Re\u0007seller"}) { id } }`, nil, "BAD_USER_INPUT")
		require.Equal(t, "input.name", e.Field())
		e = b.MustFail(`mutation { createApiKey(input: {name: "k\u0000", role: READ_ONLY}) { key } }`, nil, "BAD_USER_INPUT")
		require.Equal(t, "input.name", e.Field())
		e = b.MustFail(`mutation { createService(input: {name: "Fine", description: "two\nlines and a \u0000", kind: RECURRING}) { id } }`, nil, "BAD_USER_INPUT")
		require.Equal(t, "input.description", e.Field())
		b.MustQuery(`mutation { createService(input: {name: "Described", description: "two\nlines\tand a tab", kind: RECURRING}) { id } }`, nil, nil)
		require.Equal(t, before+1, b.Count("services"), "only the last service was written")
		require.Zero(t, b.Count("accounts"))
		require.Zero(t, b.Count("partners"))
	})
}

// TestSuggestionsFollowIntrospection: with introspection off, a misspelled field gets
// no "Did you mean" (it would tell the schema introspection hides).
func TestSuggestionsFollowIntrospection(t *testing.T) {
	t.Parallel()
	const typo = `{ currencys { code } }`
	on := testenv.Start(t, "sqlite")
	e := on.MustFail(typo, nil, "BAD_USER_INPUT")
	require.Contains(t, e.Message, `Did you mean`)
	off := testenv.StartWith(t, "sqlite", server.Config{Limits: access.Limits{IntrospectionSet: true}})
	e = off.MustFail(typo, nil, "BAD_USER_INPUT")
	require.NotContains(t, e.Message, "Did you mean")
	e = off.MustFail(`{ __schema { types { name } } }`, nil, "FORBIDDEN")
	require.Contains(t, e.Message, "introspection is disabled")
}

// TestBadWebsocketUpgrades: an upgrade the websocket handshake cannot accept is
// answered in GraphQL's error shape with a code, not in plain text.
func TestBadWebsocketUpgrades(t *testing.T) {
	t.Parallel()
	b := testenv.Start(t, "sqlite")
	good := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "graphql-transport-ws"}
	with := func(k, v string) map[string]string {
		h := map[string]string{}
		for a, b := range good {
			h[a] = b
		}
		h[k] = v
		return h
	}
	for name, tc := range map[string]struct {
		method  string
		headers map[string]string
		word    string
	}{
		"version 8":         {"GET", with("Sec-WebSocket-Version", "8"), "version"},
		"no key":            {"GET", with("Sec-WebSocket-Key", ""), "Sec-WebSocket-Key"},
		"no Connection":     {"GET", with("Connection", "keep-alive"), "Connection: Upgrade"},
		"an upgrade POSTed": {"POST", good, "must be a GET"},
	} {
		t.Run(name, func(t *testing.T) {
			a := httpDo(t, b, tc.method, "", "", tc.headers)
			require.Equal(t, 400, a.Status, a.Raw)
			require.Equal(t, "BAD_USER_INPUT", a.Errors[0].Code(), a.Raw)
			require.Contains(t, a.Errors[0].Message, tc.word)
		})
	}
}
