package graph

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNegotiate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		accept, want string
		ok           bool
	}{
		{"", mediaJSON, true},
		{"*/*", mediaJSON, true},
		{"application/*", mediaJSON, true},
		{"application/json", mediaJSON, true},
		{"application/graphql-response+json", mediaGraphQLResponse, true},
		{"application/graphql-response+json, application/json;q=0.9", mediaGraphQLResponse, true},
		{"application/json, application/graphql-response+json", mediaGraphQLResponse, true}, // a tie
		{"application/json;q=1, application/graphql-response+json;q=0.5", mediaJSON, true},
		{"application/graphql-response+json;q=0", "", false},
		{"text/html", "", false},
		{"text/html, */*;q=0.1", mediaJSON, true},
		{"application/json;q=bad", "", false},
	} {
		got, ok := negotiate(tc.accept)
		require.Equal(t, tc.ok, ok, "Accept %q", tc.accept)
		require.Equal(t, tc.want, got, "Accept %q", tc.accept)
	}
}

func TestJSONDepth(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, jsonDepth([]byte(`"x"`)))
	require.Equal(t, 1, jsonDepth([]byte(`{"a":1}`)))
	require.Equal(t, 3, jsonDepth([]byte(`{"a":[{"b":2}]}`)))
	require.Equal(t, 1, jsonDepth([]byte(`{"a":"[[[[{{{{\"]]]"}`)), "brackets inside strings do not count")
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	require.Equal(t, maxJSONDepth+1, jsonDepth([]byte(deep)), "the count stops past the limit")
}

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	p, err := decodeRequest([]byte(`{"query":"{ a }","operationName":null,"variables":{"n":1.50},"extensions":null}`))
	require.Nil(t, err)
	require.Equal(t, "{ a }", p.Query)
	require.Equal(t, "1.50", p.Variables["n"].(interface{ String() string }).String(), "numbers stay exact")
	for body, word := range map[string]string{
		``:                               "no body",
		`[]`:                             "batched",
		`{"query":{"a":1}}`:              "query must be a string",
		`{"query":"x","variables":"{}"}`: "variables must be a JSON object",
		`{"query":"x","extensions":[1]}`: "extensions must be a JSON object",
		`{"operationName":"A"}`:          "no query",
		`{"query":"x"`:                   "not valid JSON",
	} {
		_, err := decodeRequest([]byte(body))
		require.NotNil(t, err, "body %q", body)
		require.Contains(t, err.Message, word, "body %q", body)
	}
}
