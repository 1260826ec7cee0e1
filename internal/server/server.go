// Package server wires billd together: it opens and migrates the database, seeds the
// builtin catalog, and builds the HTTP handler. cmd/billd and the end-to-end tests
// both start billd through it, so the tests exercise exactly what runs.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/billd/billd/graph"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/store"
)

// Config configures a billd instance.
type Config struct {
	DatabaseURL string       // see store.Open; empty means store.DefaultURL
	Log         *slog.Logger // nil discards logs
	Clock       clock.Clock  // nil means the system clock
}

// Server is a running billd instance's state, minus the listener.
type Server struct {
	DB       *store.DB
	Catalog  *catalog.Service
	Accounts *account.Service
	// Provisioning, BillRuns and Invoices are the billing services.
	Provisioning *provisioning.Service
	BillRuns     *billrun.Service
	Invoices     *invoicing.Service
	Log          *slog.Logger
	Clock        clock.Clock
	handler      http.Handler
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
	s := &Server{
		DB:           db,
		Catalog:      catalog.New(db.Client),
		Accounts:     account.New(db.Client),
		Provisioning: provisioning.New(db.Client, db.Dialect, clk),
		BillRuns:     billrun.New(db.Client, db.Dialect, clk, log),
		Invoices:     invoicing.New(db.Client),
		Log:          log,
		Clock:        clk,
	}
	if err := s.Catalog.Seed(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	res := &graph.Resolver{Client: db.Client, Catalog: s.Catalog, Accounts: s.Accounts,
		Provisioning: s.Provisioning, BillRuns: s.BillRuns, Invoices: s.Invoices, Log: log}
	s.handler = graph.NewHandler(res, log, func(ctx context.Context) error { return db.SQL.PingContext(ctx) })
	return s, nil
}

// Handler returns the HTTP handler (GraphiQL, /query, /healthz, /readyz).
func (s *Server) Handler() http.Handler { return s.handler }

// Close closes the database.
func (s *Server) Close() error { return s.DB.Close() }
