// Package store opens billd's database (embedded SQLite or PostgreSQL), applies its
// versioned migrations, and runs work in transactions.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/billd/billd/ent"
)

// DefaultURL is the database billd uses when none is configured: an SQLite file in
// the working directory, so a fresh checkout runs with nothing else installed.
const DefaultURL = "sqlite:billd.db"

// DB is an open database: the Ent client over it, the raw pool for bulk work, and
// which kind it is.
type DB struct {
	Client  *ent.Client
	SQL     *sql.DB
	Dialect string // dialect.SQLite or dialect.Postgres
	// rowLocks: the database locks rows (PostgreSQL). SQLite has one writer, whose
	// immediate transactions already hold the write lock.
	rowLocks bool
	stats    statistics
	url      string // PostgreSQL: River's listener connects with it
	river    riverState
}

// Close closes the pool (and River's listener pool, if it has one).
func (db *DB) Close() error {
	if db.river.listener != nil {
		db.river.listener.Close()
	}
	return db.Client.Close()
}

// Open opens the database at rawURL: a postgres:// or postgresql:// URL, or an SQLite
// file as sqlite:PATH, file:PATH or a plain path. It does not migrate; see Migrate.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	if rawURL == "" {
		rawURL = DefaultURL
	}
	dia, driver, dsn, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	countingDrivers()
	pool, err := sql.Open("billd-"+driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", dia, err)
	}
	switch dia {
	case dialect.SQLite:
		// SQLite has one writer at a time; a few connections serve concurrent reads
		// (WAL) while writers queue on the busy timeout.
		pool.SetMaxOpenConns(8)
	case dialect.Postgres:
		pool.SetMaxOpenConns(32)
		pool.SetMaxIdleConns(16)
		pool.SetConnMaxIdleTime(5 * time.Minute)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := ping(pingCtx, pool); err != nil {
		_ = pool.Close()
		return nil, fmt.Errorf("connecting to %s database: %w", dia, err)
	}
	drv := poolDriver{entsql.OpenDB(dia, pool)}
	return &DB{Client: ent.NewClient(ent.Driver(drv)), SQL: pool, Dialect: dia, rowLocks: dia == dialect.Postgres, url: dsn}, nil
}

// ping opens the first connection, waiting out SQLITE_BUSY until ctx ends. The busy
// timeout does not cover opening: when several processes open a new SQLite file at
// once, the one switching it to WAL holds a lock that SQLite reports to the others at
// once (waiting could deadlock), so they try again a little later.
func ping(ctx context.Context, pool *sql.DB) error {
	wait := 10 * time.Millisecond
	for {
		err := pool.PingContext(ctx)
		var coded interface{ Code() int }
		if err == nil || !errors.As(err, &coded) || coded.Code()&0xff != sqliteBusy {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// sqliteBusy is SQLite's primary result code SQLITE_BUSY; extended codes keep it in
// their low byte.
const sqliteBusy = 5

// parseURL maps a configured URL to the dialect, the database/sql driver and its DSN.
func parseURL(raw string) (dia, driver, dsn string, err error) {
	switch {
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return dialect.Postgres, "pgx", raw, nil
	case strings.HasPrefix(raw, "sqlite:"):
		return dialect.SQLite, "sqlite", sqliteDSN(strings.TrimPrefix(strings.TrimPrefix(raw, "sqlite:"), "//")), nil
	case strings.HasPrefix(raw, "file:"):
		return dialect.SQLite, "sqlite", sqliteDSN(strings.TrimPrefix(raw, "file:")), nil
	case strings.Contains(raw, "://"):
		return "", "", "", fmt.Errorf("database URL %q: use postgres://... or an SQLite path (sqlite:billd.db)", redact(raw))
	default:
		return dialect.SQLite, "sqlite", sqliteDSN(raw), nil
	}
}

// sqliteDSN adds the pragmas billd relies on unless the path sets them itself:
// foreign keys on (Ent and our invariants need them), WAL so readers never block the
// writer, a busy timeout so writers queue instead of failing, and immediate
// transactions so a transaction that reads then writes cannot fail on lock upgrade.
func sqliteDSN(path string) string {
	p, q, _ := strings.Cut(path, "?")
	vals, _ := url.ParseQuery(q)
	pragmas := vals["_pragma"]
	has := func(name string) bool {
		for _, v := range pragmas {
			if strings.HasPrefix(v, name) {
				return true
			}
		}
		return false
	}
	for _, def := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(30000)", "synchronous(NORMAL)"} {
		name, _, _ := strings.Cut(def, "(")
		if !has(name) {
			vals.Add("_pragma", def)
		}
	}
	if vals.Get("_txlock") == "" {
		vals.Set("_txlock", "immediate")
	}
	return "file:" + p + "?" + vals.Encode()
}

// redact hides a password in a URL for messages and logs: the userinfo password and a
// password query parameter (both are valid in a PostgreSQL URL). A URL that does not
// parse is still redacted: everything between the user's colon and the last '@'.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactUnparsed(raw)
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// redactUnparsed hides what may be a password in a URL that url.Parse refused; it errs
// on the side of hiding too much.
func redactUnparsed(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if colon := strings.IndexByte(rest[:at], ':'); colon >= 0 {
			rest = rest[:colon] + ":xxxxx" + rest[at:]
		}
	}
	if i := strings.Index(strings.ToLower(rest), "password="); i >= 0 {
		end := strings.IndexByte(rest[i:], '&')
		if end < 0 {
			end = len(rest) - i
		}
		rest = rest[:i] + "password=xxxxx" + rest[i+end:]
	}
	return scheme + "://" + rest
}

// Redact returns rawURL with any password hidden, for logs.
func Redact(rawURL string) string { return redact(rawURL) }

// OneWriter reports whether the database runs one writing transaction at a time
// (SQLite): concurrent work then queues for the writer instead of running side by
// side, and fewer, larger units of work pay its per-transaction costs less often.
func (db *DB) OneWriter() bool { return !db.rowLocks }
