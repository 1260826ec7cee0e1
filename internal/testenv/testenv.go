// Package testenv starts real billd instances for tests: the real HTTP handler over a
// real database, an SQLite file always and PostgreSQL too when BILLD_TEST_POSTGRES_URL
// is set. Each instance gets a database of its own (a temporary file, or a fresh
// PostgreSQL schema), so tests run in parallel without seeing each other's rows.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/store"
)

// PostgresEnv names the variable holding the PostgreSQL URL tests may use.
const PostgresEnv = "BILLD_TEST_POSTGRES_URL"

// Dialects returns the databases tests run on: "sqlite", and "postgres" when
// BILLD_TEST_POSTGRES_URL is set.
func Dialects() []string {
	if os.Getenv(PostgresEnv) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// EachDB runs fn as a parallel subtest per database, each with a fresh instance.
func EachDB(t *testing.T, fn func(t *testing.T, b *Billd)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, Start(t, d))
		})
	}
}

// DatabaseURL returns a fresh, empty database of the given kind for t and removes it
// when t ends.
func DatabaseURL(t testing.TB, dialect string) string {
	t.Helper()
	switch dialect {
	case "sqlite":
		return "sqlite:" + filepath.Join(t.TempDir(), "billd.db")
	case "postgres":
		base := os.Getenv(PostgresEnv)
		if base == "" {
			t.Skipf("%s is not set", PostgresEnv)
		}
		return freshSchema(t, base)
	}
	t.Fatalf("unknown dialect %q", dialect)
	return ""
}

// freshSchema creates a schema of its own for t in the PostgreSQL database and
// returns a URL whose search_path points at it.
func freshSchema(t testing.TB, base string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", base)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Billd is a running billd instance under test: its state and an HTTP server
// serving its real handler.
type Billd struct {
	*server.Server
	Dialect string
	HTTP    *httptest.Server
	Clock   *clock.Fixed
	// Key is the API key requests send (AdminKey unless As chose another).
	Key string
	t   testing.TB
}

// Start opens a billd instance on a fresh database of the given kind and serves it
// over HTTP until t ends.
func Start(t testing.TB, dialect string) *Billd {
	t.Helper()
	return StartURL(t, dialect, DatabaseURL(t, dialect))
}

// StartURL opens a billd instance on the database at dbURL.
func StartURL(t testing.TB, dialect, dbURL string) *Billd {
	t.Helper()
	return StartWith(t, dialect, server.Config{DatabaseURL: dbURL})
}

// StartWith opens a billd instance with a configuration of its own (worker settings,
// say); an empty DatabaseURL gets a fresh database of the dialect.
func StartWith(t testing.TB, dialect string, cfg server.Config) *Billd {
	t.Helper()
	if cfg.BootstrapAdminKey == "" {
		cfg.BootstrapAdminKey = AdminKey
	}
	// Tests hammer one key from many goroutines: limits are off unless a test sets them.
	l := &cfg.Limits
	if l.RatePerSecond == 0 {
		l.RatePerSecond = -1
	}
	if l.Connections == 0 {
		l.Connections = -1
	}
	if l.Subscriptions == 0 {
		l.Subscriptions = -1
	}
	if l.AuthFailureRate == 0 {
		l.AuthFailureRate = -1 // tests try bad keys on purpose, all from 127.0.0.1
	}
	if l.MaxPageSize == 0 {
		l.MaxPageSize = 1000 // tests read whole result sets in one page
	}
	if l.MaxComplexity == 0 {
		l.MaxComplexity = 1 << 40 // counted, never reached: tests read whole result sets
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = DatabaseURL(t, dialect)
	}
	if cfg.Log == nil && os.Getenv("BILLD_TEST_LOG") != "" {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil)) // to see internal errors
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	clk := clock.NewFixed(time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC))
	cfg.Clock = clk
	if cfg.Billing.ProgressEvery == 0 {
		cfg.Billing.ProgressEvery = 100 * time.Millisecond
	}
	if cfg.Billing.PollEvery == 0 {
		cfg.Billing.PollEvery = 200 * time.Millisecond
	}
	srv, err := server.Open(ctx, cfg)
	require.NoError(t, err)
	hs := httptest.NewUnstartedServer(srv.Handler())
	srv.ConfigureHTTP(hs.Config)
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	return &Billd{Server: srv, Dialect: dialect, HTTP: hs, Clock: clk, Key: AdminKey, t: t}
}

// AdminKey is the ADMIN key every test instance is bootstrapped with.
const AdminKey = "billd_testadmin000_bootstrap-admin-key-for-tests-only"

// As returns a view of the instance whose requests send key instead.
func (b *Billd) As(key string) *Billd {
	c := *b
	c.Key = key
	return &c
}

// InitPayload is the websocket connection_init payload carrying b's key.
func (b *Billd) InitPayload() json.RawMessage {
	p, _ := json.Marshal(map[string]string{"Authorization": "Bearer " + b.Key})
	return p
}

// GQLError is one error of a GraphQL response.
type GQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e GQLError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Field returns extensions.field.
func (e GQLError) Field() string { s, _ := e.Extensions["field"].(string); return s }

// Response is a GraphQL response.
type Response struct {
	Data   json.RawMessage `json:"data"`
	Errors []GQLError      `json:"errors"`
}

// Query posts a GraphQL document with variables to /query and returns the response.
// It fails the test only if the HTTP exchange itself fails.
func (b *Billd) Query(query string, vars map[string]any) Response {
	b.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(b.t, err)
	req, err := http.NewRequest(http.MethodPost, b.HTTP.URL+"/query", bytes.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/json")
	if b.Key != "" {
		req.Header.Set("Authorization", "Bearer "+b.Key)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	var out Response
	require.NoError(b.t, json.NewDecoder(resp.Body).Decode(&out), "decoding the response")
	return out
}

// MustQuery runs a document that must succeed and decodes its data into out (if
// not nil).
func (b *Billd) MustQuery(query string, vars map[string]any, out any) {
	b.t.Helper()
	r := b.Query(query, vars)
	require.Empty(b.t, r.Errors, "unexpected GraphQL errors for %s", firstLine(query))
	if out != nil {
		require.NoError(b.t, json.Unmarshal(r.Data, out))
	}
}

// MustFail runs a document that must fail with one error of the given code, and
// returns that error.
func (b *Billd) MustFail(query string, vars map[string]any, code string) GQLError {
	b.t.Helper()
	r := b.Query(query, vars)
	require.NotEmpty(b.t, r.Errors, "expected a %s error for %s, got data %s", code, firstLine(query), string(r.Data))
	require.Equal(b.t, code, r.Errors[0].Code(), "error code; message: %s", r.Errors[0].Message)
	return r.Errors[0]
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i > 0 {
		return s[:i]
	}
	return s
}

// Count returns the number of rows in a table, straight from the database; tests use
// it to prove a refused mutation wrote nothing.
func (b *Billd) Count(table string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.DB.SQL.QueryRow(fmt.Sprintf("SELECT COUNT(*) FROM %s", table)).Scan(&n))
	return n
}

// Snapshot counts the rows of every catalog and account table.
func (b *Billd) Snapshot() map[string]int {
	b.t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"currencies", "statuses", "services", "packages", "catalog_package_currencies",
		"package_services", "package_frequencies", "service_prices", "status_prices", "transition_prices",
		"accounts", "account_packages", "account_services", "status_changes", "invoices", "charges",
		"bill_runs", "bill_run_errors", "counters"} {
		out[tbl] = b.Count(tbl)
	}
	return out
}

// MustBeGone asserts that node(id) answers null with no error: the id names nothing
// the key may see (the Relay convention billd follows).
func (b *Billd) MustBeGone(id string) {
	b.t.Helper()
	r := b.Query(`query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id})
	require.Empty(b.t, r.Errors, "node(%s) answered errors", id)
	require.JSONEq(b.t, `{"node": null}`, string(r.Data), "node(%s)", id)
}

// OpenDB opens a fresh, migrated database of the given kind for a package test, with
// the built-in catalog (currencies and statuses) seeded, and closes it when t ends.
// Package tests build the services they test on it, without the API.
func OpenDB(t testing.TB, dialect string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, DatabaseURL(t, dialect))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.Migrate(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, catalog.New(db.Client).Seed(ctx))
	return db
}
