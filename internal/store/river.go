package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// River, billd's job system, keeps its jobs in billd's database, on both dialects, and
// works through database/sql, so a job is inserted and completed in the very
// transaction that does its work (SQLTx). On PostgreSQL it listens for new jobs with
// LISTEN/NOTIFY on a connection of its own (a small pgx pool); on SQLite, which has no
// notifications, it polls.

// river holds the River driver of a DB and what it owns.
type riverState struct {
	once     sync.Once
	driver   riverdriver.Driver[*sql.Tx]
	listener *pgxpool.Pool
	err      error
}

// RiverDriver returns the River driver of db.
func (db *DB) RiverDriver(ctx context.Context) (riverdriver.Driver[*sql.Tx], error) {
	db.river.once.Do(func() {
		if db.Dialect != dialect.Postgres {
			db.river.driver = riversqlite.New(db.SQL)
			return
		}
		cfg, err := pgxpool.ParseConfig(db.url)
		if err != nil {
			db.river.err = fmt.Errorf("river listener: %w", err)
			return
		}
		cfg.MinConns, cfg.MaxConns = 0, 2
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			db.river.err = fmt.Errorf("river listener: %w", err)
			return
		}
		db.river.listener = pool
		db.river.driver = riverdatabasesql.NewWithPgxListener(db.SQL, pool)
	})
	return db.river.driver, db.river.err
}

// migrateRiver applies River's own migrations after billd's, on conn: on PostgreSQL
// under the migration lock conn holds, on SQLite each under its transaction's write
// lock, so processes starting together apply each once.
func (db *DB) migrateRiver(ctx context.Context, conn *sql.Conn, log *slog.Logger) ([]string, error) {
	var drv riverdriver.Driver[*sql.Tx]
	if db.Dialect == dialect.Postgres {
		drv = riverdatabasesql.New(db.SQL)
	} else {
		drv = riversqlite.New(db.SQL)
	}
	m, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	// One transaction per version: PostgreSQL cannot use an enum value in the
	// transaction that added it, and River's versions do that across versions.
	var done []rivermigrate.MigrateVersion
	for _, v := range m.AllVersions() {
		res, err := migrateRiverTo(ctx, conn, m, v.Version)
		if err != nil {
			return nil, fmt.Errorf("river's migrations: %w", err)
		}
		done = append(done, res.Versions...)
	}
	var applied []string
	for _, v := range done {
		name := fmt.Sprintf("river %03d %s", v.Version, v.Name)
		applied = append(applied, name)
		if log != nil {
			log.Info("applied migration", "name", name)
		}
	}
	return applied, nil
}

// migrateRiverTo brings River's schema up to version in one transaction.
func migrateRiverTo(ctx context.Context, conn *sql.Conn, m *rivermigrate.Migrator[*sql.Tx], version int) (*rivermigrate.MigrateResult, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: version})
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}
