// Package server wires billd together: it opens and migrates the database, seeds the
// builtin catalog, and builds the HTTP handler. cmd/billd and the end-to-end tests
// both start billd through it, so the tests exercise exactly what runs.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"entgo.io/ent/dialect"

	"github.com/billd/billd/graph"
	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/billing"
	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/contract"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/job"
	"github.com/billd/billd/internal/progress"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/usage"
)

// Config configures a billd instance.
type Config struct {
	DatabaseURL string       // see store.Open; empty means store.DefaultURL
	Log         *slog.Logger // nil discards logs
	Clock       clock.Clock  // nil means the system clock
	// Billing tunes bill runs; zero values take defaults (BatchSize: DefaultBatchSize).
	Billing billrun.Config
	// Workers is how many bill-run batches this process bills at once (default 2).
	Workers int
	// Lease is how long a job may run: a longer one is canceled (and tried again),
	// and one of a node that died runs again elsewhere after it (default 30 s; see
	// job.Config).
	Lease time.Duration
	// Jobs tunes the job system further; its Queues and timeouts are set from
	// Workers and Lease.
	Jobs job.Config
	// NoWorkers works no jobs here: this node only serves the API and queues work
	// that other nodes do.
	NoWorkers bool
	// BootstrapAdminKey becomes the first ADMIN key if no key exists yet.
	BootstrapAdminKey string
	// Limits are the per-key abuse limits; zero values take access.DefaultLimits.
	Limits access.Limits
	// CORSOrigins are the browser origins allowed to call the API cross-origin.
	CORSOrigins []string
	// Revalidate is how often open websockets re-check their key; zero means 10 s.
	Revalidate time.Duration
	// ClientIPHeader names the header a trusted reverse proxy sets to the client's
	// address (see graph.Access); empty means the TCP peer's address.
	ClientIPHeader string
	// Timeouts bound how long a client may hold the server; zero values take
	// DefaultTimeouts.
	Timeouts Timeouts
}

// Timeouts bound the time a client may take, so that slow or idle clients cannot
// hold connections.
type Timeouts struct {
	Header  time.Duration // a request's headers must arrive within it
	Body    time.Duration // then its body (408 REQUEST_TIMEOUT)
	Write   time.Duration // the answer to a plain request must be written within it
	Idle    time.Duration // an idle keep-alive connection is closed after it
	WSWrite time.Duration // a websocket message must reach its client within it, or the client is dropped
}

// DefaultTimeouts are what billd serve uses unless configured.
var DefaultTimeouts = Timeouts{Header: 10 * time.Second, Body: 15 * time.Second, Write: 60 * time.Second,
	Idle: 30 * time.Second, WSWrite: 10 * time.Second}

// withDefaults fills zero values from DefaultTimeouts; a negative value turns a
// timeout off.
func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts
	for _, p := range []struct{ v, def *time.Duration }{{&t.Header, &d.Header}, {&t.Body, &d.Body},
		{&t.Write, &d.Write}, {&t.Idle, &d.Idle}, {&t.WSWrite, &d.WSWrite}} {
		switch {
		case *p.v == 0:
			*p.v = *p.def
		case *p.v < 0:
			*p.v = 0
		}
	}
	return t
}

// Server is a running billd instance's state, minus the listener.
type Server struct {
	DB       *store.DB
	Catalog  *catalog.Service
	Accounts *account.Service
	// Provisioning, BillRuns and Invoices are the billing services.
	Provisioning *provisioning.Service
	BillRuns     *billrun.Service
	// Billing is the billing core; its activation job runs on the nodes' leader.
	Billing  *billing.Service
	Invoices *invoicing.Service
	Usage    *usage.Service
	// Contracts creates contracts and carries out their term ends.
	Contracts *contract.Service
	Log       *slog.Logger
	Clock     clock.Clock
	// Keys manages API keys; Audit writes the audit log.
	Keys  *access.Keys
	Audit *access.Audit
	// Bus carries bill-run events between workers and subscribers (all nodes).
	Bus progress.Bus
	// Jobs runs this node's background work (bill-run batches).
	Jobs     *job.Runner
	handler  http.Handler
	timeouts Timeouts
	cfg      Config
	stop     context.CancelFunc

	mu    sync.Mutex
	extra []*job.Runner // started by StartWorkers
}

// DefaultBatchSize is the number of accounts a bill-run batch (one job, one
// transaction) holds unless configured: 500 on a database with one writer (SQLite),
// where batches are written one at a time whatever the workers, so each job's own
// statements (fetching it, completing it) are paid for fewer times; 200 on
// PostgreSQL, where batches run side by side on every node's workers and smaller
// ones spread a run more evenly.
func DefaultBatchSize(db *store.DB) int {
	if db.OneWriter() {
		return 500
	}
	return 200
}

// jobConfig is the job system's configuration for cfg: the billing queue with
// cfg.Workers workers when the node works, jobs running at most cfg.Lease.
func jobConfig(cfg Config, work bool) job.Config {
	jc := cfg.Jobs
	lease := cfg.Lease
	if lease <= 0 {
		lease = 30 * time.Second
	}
	if jc.JobTimeout <= 0 {
		jc.JobTimeout = lease
	}
	if jc.ClientID == "" {
		host, _ := os.Hostname()
		jc.ClientID = fmt.Sprintf("%s-%d-%d", host, os.Getpid(), clientSeq.Add(1))
	}
	jc.Queues = nil
	if work {
		workers := cfg.Workers
		if workers <= 0 {
			workers = 2
		}
		// Bill runs are waited for: their queue is looked at often (a run started on
		// SQLite, which has no notifications, is found within the interval).
		jc.Queues = map[string]job.Queue{job.QueueBilling: {Workers: workers, PollInterval: 200 * time.Millisecond},
			job.QueueDefault: {Workers: 2}}
	}
	return jc
}

// clientSeq tells apart the job clients of one process (tests run several nodes in
// one).
var clientSeq atomic.Int64

// StartWorkers starts working jobs on a node opened with NoWorkers, as another node
// would; they stop with Close. (Tests use it to start billing once subscribers are
// in place.)
func (s *Server) StartWorkers(ctx context.Context) error {
	r, err := job.New(s.DB, jobConfig(s.cfg, true), s.Log)
	if err != nil {
		return err
	}
	s.BillRuns.RegisterWorkers(r)
	s.Billing.RegisterWorkers(r)
	if err := r.Start(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.extra = append(s.extra, r)
	s.mu.Unlock()
	return nil
}

// Open opens the database, applies pending migrations, seeds the builtin currencies
// and statuses, and builds the handler.
func Open(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.System{}
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx, log); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrating: %w", err)
	}
	// Background work (workers, the progress listener) lives until Close.
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var bus progress.Bus
	if db.Dialect == dialect.Postgres {
		pg, err := progress.NewPostgres(bg, cfg.DatabaseURL, log)
		if err != nil {
			stop()
			_ = db.Close()
			return nil, fmt.Errorf("listening for bill-run events: %w", err)
		}
		bus = pg
	} else {
		bus = progress.NewLocal()
	}
	timeouts := cfg.Timeouts.withDefaults()
	if cfg.Billing.BatchSize == 0 {
		cfg.Billing.BatchSize = DefaultBatchSize(db)
	}
	if cfg.Billing.MaxWait == 0 && timeouts.Write > 0 {
		// startBillRun(wait: true) answers before the write deadline cuts it off.
		cfg.Billing.MaxWait = max(timeouts.Write-5*time.Second, timeouts.Write/2)
	}
	jobs, err := job.New(db, jobConfig(cfg, !cfg.NoWorkers), log)
	if err != nil {
		stop()
		_ = db.Close()
		return nil, err
	}
	bill := billing.New(db, clk, log)
	s := &Server{
		Bus:          bus,
		stop:         stop,
		DB:           db,
		Catalog:      catalog.New(db.Client),
		Accounts:     account.New(db, clk),
		Provisioning: provisioning.New(db, clk),
		BillRuns:     billrun.New(db, bill, jobs, clk, log, bus, cfg.Billing),
		Billing:      bill,
		Jobs:         jobs,
		cfg:          cfg,
		Invoices:     invoicing.New(db.Client),
		Usage:        usage.New(db, clk),
		Contracts:    contract.New(db, clk),
		Log:          log,
		Clock:        clk,
		timeouts:     timeouts,
	}
	access.Scope(db.Client)
	s.Keys = access.NewKeys(db, clk)
	s.Audit = access.NewAudit(db.Client, clk)
	if err := s.Catalog.Seed(ctx); err != nil {
		stop()
		_ = db.Close()
		return nil, err
	}
	if cfg.BootstrapAdminKey != "" {
		if err := s.Keys.Bootstrap(ctx, cfg.BootstrapAdminKey); err != nil {
			stop()
			_ = db.Close()
			return nil, err
		}
	}
	s.BillRuns.RegisterWorkers(jobs)
	s.Billing.RegisterWorkers(jobs)
	s.Contracts.RegisterWorkers(jobs)
	if err := jobs.Start(bg); err != nil {
		stop()
		_ = db.Close()
		return nil, err
	}
	res := &graph.Resolver{Client: db.Client, Catalog: s.Catalog, Accounts: s.Accounts,
		Provisioning: s.Provisioning, BillRuns: s.BillRuns, Invoices: s.Invoices, Usage: s.Usage, Contracts: s.Contracts,
		Keys: s.Keys, Log: log}
	acc := &graph.Access{Keys: s.Keys, Limiter: access.NewLimiter(cfg.Limits, clk), Audit: s.Audit,
		CORSOrigins: cfg.CORSOrigins, Revalidate: cfg.Revalidate, ClientIPHeader: cfg.ClientIPHeader,
		BodyTimeout: timeouts.Body, WriteTimeout: timeouts.Write, WSWriteTimeout: timeouts.WSWrite}
	admin := map[string]http.Handler{}
	if ui, err := jobs.UI(bg, "/riverui"); err != nil {
		log.Warn("River's web UI is not served", "error", err)
	} else {
		admin["/riverui/"] = ui
	}
	s.handler = graph.NewHandler(res, acc, log, func(ctx context.Context) error { return db.SQL.PingContext(ctx) }, admin)
	return s, nil
}

// Handler returns the HTTP handler (GraphiQL, /query, /healthz, /readyz).
func (s *Server) Handler() http.Handler { return s.handler }

// ConfigureHTTP makes hs serve s with its timeouts: how long a request's headers may
// take to arrive and how long an idle keep-alive connection stays open. (The body and
// write deadlines are set per request, since websockets must not have them.)
func (s *Server) ConfigureHTTP(hs *http.Server) {
	hs.Handler = s.handler
	hs.ReadHeaderTimeout = s.timeouts.Header
	hs.IdleTimeout = s.timeouts.Idle
	if hs.IdleTimeout == 0 {
		hs.IdleTimeout = -1 // http.Server would fall back to the header timeout
	}
}

// Close stops the workers (a batch still being billed after a few seconds is
// abandoned: its transaction rolls back and another node, or the next start, bills it
// again) and the progress listener, and closes the database.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	runners := append([]*job.Runner{s.Jobs}, s.extra...)
	s.mu.Unlock()
	for _, r := range runners {
		if err := r.Stop(ctx); err != nil {
			s.Log.Warn("stopping the job system", "error", err)
		}
	}
	s.stop()
	return s.DB.Close()
}
