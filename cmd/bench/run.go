package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/seed"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/store"
)

// runResult holds the figures of one database at one size.
type runResult struct {
	Accounts        int
	Packages        int
	SeedTime        time.Duration
	RunTime         time.Duration
	Charges         int
	Invoices        int
	PeakRSS         int64
	LimitRows       int
	LimitTime       time.Duration
	Latency         map[string]latency  // by request name
	Statements      map[string][2]int64 // statements per request at page 10 and 100
	FanoutSeen      int
	FanoutWanted    int // subscribers connected
	FanoutLag       time.Duration
	FanoutPerConnKB float64
	Full            bool
	Usage           ingestion
}

type latency struct{ P50, P99 time.Duration }

type dbResult struct {
	Dialect  string
	Runs     []*runResult
	UsageRun usageRun
}

func (r *runResult) packagesPerSec() float64 { return float64(r.Packages) / r.RunTime.Seconds() }
func (r *runResult) chargesPerSec() float64  { return float64(r.Charges) / r.RunTime.Seconds() }
func (r *runResult) rowsPerSec() float64 {
	// A bill run writes charges and invoices, and updates each package's position.
	return float64(r.Charges+r.Invoices+r.Packages) / r.RunTime.Seconds()
}
func (r *runResult) limitPerSec() float64 { return float64(r.LimitRows) / r.LimitTime.Seconds() }

// workerConfig is the bill-run configuration of the benchmark's node: billd's
// defaults (two workers, the database's default batch size), which BENCH_WORKERS,
// BENCH_BATCH and BENCH_PAUSE change.
func workerConfig(cfg server.Config) server.Config {
	cfg.Workers = 2
	cfg.Billing = billrun.Config{}
	if n, err := strconv.Atoi(os.Getenv("BENCH_WORKERS")); err == nil {
		cfg.Workers = n
	}
	if n, err := strconv.Atoi(os.Getenv("BENCH_BATCH")); err == nil {
		cfg.Billing.BatchSize = n
	}
	if d, err := time.ParseDuration(os.Getenv("BENCH_PAUSE")); err == nil {
		cfg.Billing.Pause = d
	}
	return cfg
}

func serveHTTP(srv *server.Server, addr string) error {
	return http.ListenAndServe(addr, srv.Handler())
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// freshDB returns an empty database of the dialect.
func freshDB(dialect, pgURL string) (string, func(), error) {
	if dialect == "sqlite" {
		dir, err := os.MkdirTemp("", "billd-bench-")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "bench.db"), func() { os.RemoveAll(dir) }, nil
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	schema := "bench_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", pgURL)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		return "", nil, err
	}
	u, _ := url.Parse(pgURL)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		if db, err := sql.Open("pgx", pgURL); err == nil {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	}, nil
}

// benchOne measures one database at one size.
func benchOne(ctx context.Context, dialect, pgURL string, n int, full bool, clients, subscribers int) (*runResult, error) {
	dbURL, drop, err := freshDB(dialect, pgURL)
	if err != nil {
		return nil, err
	}
	defer drop()
	res := &runResult{Accounts: n, Full: full}

	// Seed straight into the database.
	srv, err := server.Open(ctx, server.Config{DatabaseURL: dbURL, NoWorkers: true, BootstrapAdminKey: benchKey,
		Limits: benchLimits})
	if err != nil {
		return nil, err
	}
	plans, err := seed.MixedCatalog(ctx, srv.Catalog)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	res.Packages, err = seed.MixedAccounts(ctx, srv.DB.Client, plans, n, func(done int) {
		if done%50000 == 0 {
			log.Printf("  seeded %d accounts", done)
		}
	})
	if err != nil {
		return nil, err
	}
	res.SeedTime = time.Since(t0)
	log.Printf("  seeded %d accounts, %d account-packages in %s", n, res.Packages, res.SeedTime.Round(time.Millisecond))
	if dialect == "postgres" {
		// As after any bulk load: fresh statistics, or the planner guesses from an
		// empty database until autovacuum's first pass, a minute into the run.
		if _, err := srv.DB.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
			return nil, err
		}
	}

	// One bill run through the API of a server in a child process.
	ch, err := startChild(dbURL)
	if err != nil {
		return nil, err
	}
	defer ch.stop()
	// The clock starts before the mutation: starting a run plans its batches, which is
	// part of billing.
	t0 = time.Now()
	runID, err := gql(ch.base, `mutation { startBillRun(input: {periodStart: "2024-01-01", periodEnd: "2024-02-01"}) { id } }`, nil, "startBillRun", "id")
	if err != nil {
		return nil, err
	}
	log.Printf("  startBillRun answered in %s", time.Since(t0).Round(time.Millisecond))
	run, err := waitRun(ch.base, runID.(string), func(processed int) {
		log.Printf("  billing: %d/%d accounts", processed, n)
	})
	if err != nil {
		return nil, err
	}
	res.RunTime = time.Since(t0)
	res.Charges, res.Invoices = run.ChargesCreated, run.InvoicesCreated
	_, res.PeakRSS = ch.rss()
	if run.Status != "COMPLETED" {
		return nil, fmt.Errorf("the run ended %s", run.Status)
	}
	log.Printf("  billed %d account-packages in %s: %.0f/s, %d charges, peak RSS %d MiB",
		res.Packages, res.RunTime.Round(time.Millisecond), res.packagesPerSec(), res.Charges, res.PeakRSS>>20)

	// The database's own limit: the same rows, written the fastest plain way.
	res.LimitRows = res.Charges + res.Invoices + res.Packages
	if res.LimitTime, err = limit(ctx, srv.DB, dbURL, res.LimitRows); err != nil {
		return nil, err
	}
	log.Printf("  limit: %d rows in %s (%.0f rows/s)", res.LimitRows, res.LimitTime.Round(time.Millisecond), res.limitPerSec())
	if !full {
		_ = srv.Close()
		return res, nil
	}

	// API latency with concurrent clients, and statements per request.
	if res.Latency, err = measureLatency(ch.base, clients, srv); err != nil {
		return nil, err
	}
	if res.Statements, err = measureStatements(srv); err != nil {
		return nil, err
	}
	if res.Usage, err = measureIngestion(ctx, ch.base, srv, dbURL); err != nil {
		return nil, err
	}
	log.Printf("  usage: %d records in %s through the API (%.0f/s); plain inserts %.0f/s",
		res.Usage.Records, res.Usage.Time.Round(time.Millisecond), res.Usage.perSec(), res.Usage.limitPerSec())

	// Fan-out to many websocket subscribers, on a server whose run (2,000 accounts in
	// small batches with a pause) lasts while they connect.
	fanIDs, err := srv.DB.Client.Account.Query().Order(ent.Asc(account.FieldID)).Limit(2000).IDs(ctx)
	if err != nil {
		return nil, err
	}
	_ = srv.Close()
	ch.stop()
	fan, err := startChild(dbURL, "BENCH_BATCH=20", "BENCH_PAUSE=100ms")
	if err != nil {
		return nil, err
	}
	defer fan.stop()
	res.FanoutWanted = subscribers
	res.FanoutSeen, res.FanoutLag, res.FanoutPerConnKB, err = fanout(fan, subscribers, fanIDs)
	if err != nil {
		return nil, err
	}
	log.Printf("  fan-out: %d/%d subscribers saw FINISHED, last %s after the run finished, %.1f KiB per connection",
		res.FanoutSeen, subscribers, res.FanoutLag.Round(time.Millisecond), res.FanoutPerConnKB)
	return res, nil
}

type runState struct {
	ID                string
	Status            string
	AccountsProcessed int
	InvoicesCreated   int
	ChargesCreated    int
	FinishedAt        *time.Time
}

func waitRun(base, id string, progress func(int)) (runState, error) {
	last := time.Now()
	for {
		var out struct {
			Data struct{ Node runState }
		}
		if err := post(base, `query($id: ID!) { node(id: $id) { ... on BillRun { id status accountsProcessed invoicesCreated chargesCreated finishedAt } } }`,
			map[string]any{"id": id}, &out); err != nil {
			return runState{}, err
		}
		r := out.Data.Node
		if billrunFinal(r.Status) {
			return r, nil
		}
		if time.Since(last) > 10*time.Second {
			progress(r.AccountsProcessed)
			last = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func billrunFinal(s string) bool { return s != "QUEUED" && s != "RUNNING" && s != "" }

// gql posts a document and returns the value at the path under data.
func gql(base, query string, vars map[string]any, path ...string) (any, error) {
	var out struct {
		Data   map[string]any
		Errors []struct{ Message string }
	}
	if err := post(base, query, vars, &out); err != nil {
		return nil, err
	}
	if len(out.Errors) > 0 {
		return nil, fmt.Errorf("graphql: %s", out.Errors[0].Message)
	}
	var v any = out.Data
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("no %s in the response", p)
		}
		v = m[p]
	}
	return v, nil
}

var httpClient = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func post(base, query string, vars map[string]any, out any) error {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, base+"/query", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+benchKey)
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}

func percentiles(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return latency{P50: at(0.50), P99: at(0.99)}
}

// Requests whose latency and statement counts are measured.
const (
	qDashboard = `query($id: ID!) { node(id: $id) { ... on Account { id name balance currency { code }
		accountPackages(first: 10) { totalCount edges { node { id status { code } nextBillDate billedThrough billDay
			package { name } services { service { name } quantity status { code } } } } }
		invoices(last: 3) { edges { node { number total status lines { kind description periodStart periodEnd amount } } } } } } }`
	qPage = `query($n: Int!, $after: Cursor) { accounts(first: $n, after: $after) { totalCount
		edges { cursor node { id name billDay balance currency { code } } } pageInfo { hasNextPage endCursor } } }`
)

func measureLatency(base string, clients int, srv *server.Server) (map[string]latency, error) {
	ids, err := srv.DB.Client.Account.Query().Limit(2000).IDs(context.Background())
	if err != nil {
		return nil, err
	}
	out := map[string]latency{}
	for name, mk := range map[string]func(i int) (string, map[string]any){
		"dashboard query (account, packages, services, last invoices with lines)": func(i int) (string, map[string]any) {
			return qDashboard, map[string]any{"id": strconv.Itoa(ids[i%len(ids)])}
		},
		"connection page of 100 accounts": func(i int) (string, map[string]any) {
			return qPage, map[string]any{"n": 100}
		},
	} {
		var mu sync.Mutex
		var all []time.Duration
		var wg sync.WaitGroup
		stop := time.Now().Add(5 * time.Second)
		var firstErr error
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func(c int) {
				defer wg.Done()
				for i := c; time.Now().Before(stop); i += clients {
					q, v := mk(i)
					t := time.Now()
					var resp struct {
						Errors []struct{ Message string }
					}
					err := post(base, q, v, &resp)
					d := time.Since(t)
					mu.Lock()
					if err == nil && len(resp.Errors) > 0 {
						err = fmt.Errorf("%s", resp.Errors[0].Message)
					}
					if err != nil && firstErr == nil {
						firstErr = err
					}
					all = append(all, d)
					mu.Unlock()
				}
			}(c)
		}
		wg.Wait()
		if firstErr != nil {
			return nil, fmt.Errorf("%s: %w", name, firstErr)
		}
		out[name] = percentiles(all)
		log.Printf("  %s: p50 %s, p99 %s over %d requests", name, out[name].P50, out[name].P99, len(all))
	}
	return out, nil
}

// measureStatements counts the SQL statements of each request at two page sizes, on
// an in-process server over the same database (the counter is per process).
func measureStatements(srv *server.Server) (map[string][2]int64, error) {
	h := srv.Handler()
	ids, err := srv.DB.Client.Account.Query().Limit(1).IDs(context.Background())
	if err != nil {
		return nil, err
	}
	count := func(q string, vars map[string]any) (int64, error) {
		body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
		req, _ := http.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+benchKey)
		rec := &recorder{header: http.Header{}}
		before := store.Statements()
		h.ServeHTTP(rec, req)
		n := store.Statements() - before
		if bytes.Contains(rec.body.Bytes(), []byte(`"errors"`)) {
			return 0, fmt.Errorf("%s", rec.body.String())
		}
		return n, nil
	}
	// A first request authenticates the key (one lookup, then cached), so the
	// counted ones measure the query alone.
	if _, err := count(`{ viewer { role } }`, nil); err != nil {
		return nil, err
	}
	out := map[string][2]int64{}
	for _, size := range []int{10, 100} {
		page := `query($n: Int!) { accounts(first: $n) { totalCount edges { node { id name billDay balance currency { code }
			accountPackages(first: 5) { edges { node { id status { code } services { quantity } } } } } } } }`
		n, err := count(page, map[string]any{"n": size})
		if err != nil {
			return nil, err
		}
		v := out["accounts page with packages and services"]
		v[map[int]int{10: 0, 100: 1}[size]] = n
		out["accounts page with packages and services"] = v
		d, err := count(qDashboard, map[string]any{"id": strconv.Itoa(ids[0])})
		if err != nil {
			return nil, err
		}
		v = out["dashboard query"]
		v[map[int]int{10: 0, 100: 1}[size]] = d
		out["dashboard query"] = v
	}
	for k, v := range out {
		log.Printf("  statements, %s: %d at 10 rows, %d at 100 rows", k, v[0], v[1])
	}
	return out, nil
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
