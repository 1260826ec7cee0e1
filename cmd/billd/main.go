// Command billd is the billd package billing engine.
//
//	billd serve     serve the GraphQL API (default)
//	billd migrate   apply pending database migrations and exit
//	billd version   print the version
//
// Configuration comes from flags or the environment: BILLD_ADDR (default
// 127.0.0.1:8080), BILLD_DATABASE_URL (default an SQLite file billd.db in the working
// directory; a postgres:// URL uses PostgreSQL) and BILLD_LOG_LEVEL (debug, info,
// warn, error).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/demo"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "billd:", err)
		os.Exit(exitCode(err))
	}
}

func run(ctx context.Context, args []string) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args)
	case "migrate":
		return migrate(ctx, args)
	case "apikey":
		return apikey(ctx, args)
	case "demo":
		return demoData(ctx, args)
	case "bill":
		return bill(ctx, args, os.Stdout, os.Stderr)
	case "runs":
		return runs(ctx, args, os.Stdout, os.Stderr)
	case "usage":
		return usageCmd(ctx, args, os.Stdin, os.Stdout, os.Stderr)
	case "version":
		fmt.Println("billd", version)
		return nil
	case "help", "-h", "--help":
		usage()
		return nil
	default:
		usage()
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `billd: package billing engine

Usage:
  billd serve   [-addr ADDR] [-db URL]   serve GraphQL on /query, GraphiQL on /
  billd migrate [-db URL]                apply pending migrations and exit
  billd apikey create -role ROLE [-partner ID] [-name NAME] [-expires DURATION] [-db URL]
                                         create an API key in the database and print it once
  billd demo [-accounts N] [-db URL]    fill the database with a demo catalog and N accounts (idempotent)
  billd bill -period-start D -period-end D [-account ID ...] [-url URL] [-key KEY]
                                         start a bill run on a server and follow it live
  billd usage import [-batch N] FILE     send the usage records of a CSV file (- for stdin);
                                         run it again to resume: records sent before count once
                                         (exits 3 when some records were refused)
  billd runs [-last N]                   list the latest bill runs
  billd runs watch ID                    follow a bill run live
                                         (bill and runs watch exit 3 when the run failed, was
                                          canceled or had failed accounts)
  billd version

Every API request needs a key: Authorization: Bearer <key> (websockets may send
{"Authorization": "Bearer <key>"} in connection_init instead).

Environment: BILLD_ADDR, BILLD_DATABASE_URL, BILLD_LOG_LEVEL, BILLD_WORKERS,
BILLD_BATCH_SIZE, BILLD_BATCH_LEASE, BILLD_BATCH_PAUSE, BILLD_BOOTSTRAP_ADMIN_KEY,
BILLD_CORS_ORIGINS, BILLD_INTROSPECTION, BILLD_RATE_LIMIT, BILLD_RATE_BURST,
BILLD_MAX_CONNECTIONS, BILLD_MAX_SUBSCRIPTIONS, BILLD_MAX_BODY_BYTES, BILLD_MAX_DEPTH,
BILLD_MAX_COMPLEXITY, BILLD_MAX_PAGE_SIZE. Run "billd serve -h" for each one's meaning.
Client commands (bill, runs): BILLD_URL (default http://127.0.0.1:8080), BILLD_API_KEY.
`)
}

// common holds the flags every command shares.
type common struct {
	db       string
	logLevel string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.db, "db", env("BILLD_DATABASE_URL", store.DefaultURL), "database URL: postgres://... or an SQLite path (env BILLD_DATABASE_URL)")
	fs.StringVar(&c.logLevel, "log-level", env("BILLD_LOG_LEVEL", "info"), "log level: debug, info, warn, error (env BILLD_LOG_LEVEL)")
}

func (c *common) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", c.logLevel, err)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})), nil
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envBool(key string, def bool) bool {
	if v, err := strconv.ParseBool(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return v
	}
	return def
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c common
	c.register(fs)
	addr := fs.String("addr", env("BILLD_ADDR", "127.0.0.1:8080"), "listen address (env BILLD_ADDR)")
	workers := fs.Int("workers", envInt("BILLD_WORKERS", 2), "bill-run batches this process bills at once; 0 bills none here (env BILLD_WORKERS)")
	batch := fs.Int("batch-size", envInt("BILLD_BATCH_SIZE", 0), "accounts per bill-run batch; 0: 500 on SQLite, 200 on PostgreSQL (env BILLD_BATCH_SIZE)")
	pause := fs.Duration("batch-pause", envDuration("BILLD_BATCH_PAUSE", 0), "rest after each batch, to throttle bill runs (env BILLD_BATCH_PAUSE)")
	lease := fs.Duration("batch-lease", envDuration("BILLD_BATCH_LEASE", 30*time.Second), "how long a job (a bill-run batch) may run; one of a node that died runs again elsewhere after it (env BILLD_BATCH_LEASE)")
	bootstrap := fs.String("bootstrap-admin-key", env("BILLD_BOOTSTRAP_ADMIN_KEY", ""), "becomes the first ADMIN key if no key exists (env BILLD_BOOTSTRAP_ADMIN_KEY)")
	cors := fs.String("cors-origins", env("BILLD_CORS_ORIGINS", ""), "comma-separated browser origins allowed cross-origin, or * (env BILLD_CORS_ORIGINS)")
	introspection := fs.Bool("introspection", envBool("BILLD_INTROSPECTION", true), "answer schema introspection (env BILLD_INTROSPECTION)")
	d := access.DefaultLimits
	rate := fs.Int("rate-limit", envInt("BILLD_RATE_LIMIT", d.RatePerSecond), "requests per second per key and node; -1 turns it off (env BILLD_RATE_LIMIT)")
	burst := fs.Int("rate-burst", envInt("BILLD_RATE_BURST", d.Burst), "requests a key may make at once above its rate (env BILLD_RATE_BURST)")
	conns := fs.Int("max-connections", envInt("BILLD_MAX_CONNECTIONS", d.Connections), "websocket connections per key and node (env BILLD_MAX_CONNECTIONS)")
	subs := fs.Int("max-subscriptions", envInt("BILLD_MAX_SUBSCRIPTIONS", d.Subscriptions), "running subscriptions per key and node (env BILLD_MAX_SUBSCRIPTIONS)")
	body := fs.Int("max-body-bytes", envInt("BILLD_MAX_BODY_BYTES", int(d.MaxBodyBytes)), "largest request body (env BILLD_MAX_BODY_BYTES)")
	depth := fs.Int("max-depth", envInt("BILLD_MAX_DEPTH", d.MaxDepth), "deepest selection nesting (env BILLD_MAX_DEPTH)")
	complexity := fs.Int("max-complexity", envInt("BILLD_MAX_COMPLEXITY", d.MaxComplexity), "highest query complexity, connections counted by page size (env BILLD_MAX_COMPLEXITY)")
	page := fs.Int("max-page-size", envInt("BILLD_MAX_PAGE_SIZE", d.MaxPageSize), "largest first/last of a connection (env BILLD_MAX_PAGE_SIZE)")
	authRate := fs.Int("auth-failure-rate", envInt("BILLD_AUTH_FAILURE_RATE", d.AuthFailureRate), "failed authentications per second per client address and node; -1 turns it off (env BILLD_AUTH_FAILURE_RATE)")
	authBurst := fs.Int("auth-failure-burst", envInt("BILLD_AUTH_FAILURE_BURST", d.AuthFailureBurst), "failed authentications a client address may make at once above its rate (env BILLD_AUTH_FAILURE_BURST)")
	listRows := fs.Int("max-list-rows", envInt("BILLD_MAX_LIST_ROWS", d.MaxListRows), "most rows a plain list field (Invoice.lines, ...) answers (env BILLD_MAX_LIST_ROWS)")
	maxNodes := fs.Int("max-nodes", envInt("BILLD_MAX_NODES", d.MaxNodes), "most ids nodes(ids) takes (env BILLD_MAX_NODES)")
	pendingWS := fs.Int("max-pending-websockets", envInt("BILLD_MAX_PENDING_WEBSOCKETS", d.PendingWebsockets), "websockets per client address and node that have not sent connection_init (env BILLD_MAX_PENDING_WEBSOCKETS)")
	t := server.DefaultTimeouts
	headerTimeout := fs.Duration("header-timeout", envDuration("BILLD_HEADER_TIMEOUT", t.Header), "time a request's headers may take to arrive (env BILLD_HEADER_TIMEOUT)")
	bodyTimeout := fs.Duration("body-timeout", envDuration("BILLD_BODY_TIMEOUT", t.Body), "time a request's body may take to arrive after its headers (env BILLD_BODY_TIMEOUT)")
	writeTimeout := fs.Duration("write-timeout", envDuration("BILLD_WRITE_TIMEOUT", t.Write), "time the answer to a request may take (env BILLD_WRITE_TIMEOUT)")
	idleTimeout := fs.Duration("idle-timeout", envDuration("BILLD_IDLE_TIMEOUT", t.Idle), "how long an idle keep-alive connection stays open (env BILLD_IDLE_TIMEOUT)")
	wsWriteTimeout := fs.Duration("ws-write-timeout", envDuration("BILLD_WS_WRITE_TIMEOUT", t.WSWrite), "time a websocket message may take to reach its client before the client is dropped (env BILLD_WS_WRITE_TIMEOUT)")
	ipHeader := fs.String("client-ip-header", env("BILLD_CLIENT_IP_HEADER", ""), "header a trusted reverse proxy puts the client address in, e.g. X-Forwarded-For; empty: the TCP peer (env BILLD_CLIENT_IP_HEADER)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var origins []string
	for _, o := range strings.Split(*cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	limits := access.Limits{RatePerSecond: *rate, Burst: *burst, Connections: *conns, Subscriptions: *subs,
		MaxBodyBytes: int64(*body), MaxDepth: *depth, MaxComplexity: *complexity, MaxPageSize: *page,
		MaxListRows: *listRows, MaxNodes: *maxNodes, PendingWebsockets: *pendingWS,
		AuthFailureRate: *authRate, AuthFailureBurst: *authBurst,
		Introspection: *introspection, IntrospectionSet: true}
	log, err := c.logger()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	server.TuneGC()
	srv, err := server.Open(ctx, server.Config{DatabaseURL: c.db, Log: log, NoWorkers: *workers == 0,
		Billing: billrun.Config{BatchSize: *batch, Pause: *pause}, Workers: *workers, Lease: *lease,
		BootstrapAdminKey: *bootstrap, Limits: limits, CORSOrigins: origins, ClientIPHeader: *ipHeader,
		Timeouts: server.Timeouts{Header: *headerTimeout, Body: *bodyTimeout, Write: *writeTimeout, Idle: *idleTimeout,
			WSWrite: *wsWriteTimeout}})
	if err != nil {
		return err
	}
	defer srv.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{BaseContext: func(net.Listener) context.Context { return ctx }}
	srv.ConfigureHTTP(hs)
	log.Info("billd serving", "addr", "http://"+ln.Addr().String(), "graphiql", "http://"+ln.Addr().String()+"/",
		"database", srv.DB.Dialect, "url", store.Redact(c.db), "version", version)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	log.Info("stopped")
	return nil
}

// apikey creates a key straight in the database: how the first keys of an
// installation are made, and how an operator recovers when no admin key is left.
func apikey(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf("usage: billd apikey create -role ROLE [-partner ID] [-name NAME] [-expires DURATION]")
	}
	fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
	var c common
	c.register(fs)
	role := fs.String("role", "", "ADMIN, OPERATOR, READ_ONLY or PARTNER")
	partner := fs.Int("partner", 0, "the partner id a PARTNER key is bound to")
	name := fs.String("name", "", "what the key is for (default: the role and the time)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h; 0 never expires")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	log, err := c.logger()
	if err != nil {
		return err
	}
	srv, err := server.Open(ctx, server.Config{DatabaseURL: c.db, Log: log, NoWorkers: true})
	if err != nil {
		return err
	}
	defer srv.Close()
	in := access.CreateKeyInput{Name: *name, Role: access.Role(strings.ToUpper(*role))}
	now := srv.Clock.Now()
	if in.Name == "" {
		in.Name = fmt.Sprintf("%s key created %s", in.Role, now.Format(time.RFC3339))
	}
	if *partner != 0 {
		in.PartnerID = partner
	}
	if *expires > 0 {
		at := now.Add(*expires)
		in.ExpiresAt = &at
	}
	k, secret, err := srv.Keys.Create(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created %s key %q (id %d, prefix %s); it is shown only now:\n", k.Role, k.Name, k.ID, k.Prefix)
	fmt.Println(secret)
	return nil
}

// demoData loads the demo catalog and accounts straight into the database, showing
// its progress.
func demoData(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var c common
	c.register(fs)
	n := fs.Int("accounts", 2000, "demo accounts to have (those missing are added)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := c.logger()
	if err != nil {
		return err
	}
	srv, err := server.Open(ctx, server.Config{DatabaseURL: c.db, Log: log, NoWorkers: true})
	if err != nil {
		return err
	}
	defer srv.Close()
	bar := newBar(os.Stderr, os.Stdout, "demo accounts")
	err = demo.Load(ctx, demo.Services{Client: srv.DB.Client, Catalog: srv.Catalog, Accounts: srv.Accounts,
		Provisioning: srv.Provisioning}, *n, srv.Clock.Now(), func(done, total int) { bar.set(done, total, 0) })
	bar.done()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo data ready in %s: %d accounts\n", store.Redact(c.db), *n)
	return nil
}

func migrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var c common
	c.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := c.logger()
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, c.db)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx, log)
	if err != nil {
		return err
	}
	fmt.Printf("billd migrate: %d migration(s) applied to %s\n", len(applied), store.Redact(c.db))
	return nil
}
