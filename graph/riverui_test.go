package graph_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// TestRiverUI proves River's web UI is served under /riverui/ to ADMIN keys only,
// with the key as a bearer token or as the password of HTTP Basic authentication (how
// a browser sends it), and that it shows billd's queues.
func TestRiverUI(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		reader := acxCreateKey(t, b, "reader", "READ_ONLY", nil)
		get := func(path string, auth func(*http.Request)) (*http.Response, string) {
			req, err := http.NewRequest(http.MethodGet, b.HTTP.URL+path, nil)
			require.NoError(t, err)
			auth(req)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			return resp, string(body)
		}
		none := func(*http.Request) {}
		basic := func(key string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth("admin", key) } }
		bearer := func(key string) func(*http.Request) {
			return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }
		}

		resp, _ := get("/riverui/", none)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic")
		resp, _ = get("/riverui/", basic("billd_nosuchkey000_not-a-key-of-this-server-at-all"))
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, _ = get("/riverui/", basic(reader.Key))
		require.Equal(t, http.StatusForbidden, resp.StatusCode, "READ_ONLY keys do not see the job system")

		resp, page := get("/riverui/", basic(testenv.AdminKey))
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, page, "<html")
		resp, body := get("/riverui/api/queues", bearer(testenv.AdminKey))
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var queues struct {
			Data []struct{ Name string }
		}
		require.NoError(t, json.Unmarshal([]byte(body), &queues))
		var names []string
		for _, q := range queues.Data {
			names = append(names, q.Name)
		}
		require.ElementsMatch(t, []string{"billing", "default"}, names)
	})
}
