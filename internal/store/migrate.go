package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"sort"
	"strings"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
)

//go:embed migrations
var migrationFS embed.FS

// migrationLock is the PostgreSQL advisory lock key that serializes migrations when
// several billd processes start at once.
const migrationLock = 0x62696c6c64 // "billd"

// Migration is one versioned migration file.
type Migration struct {
	Version  string // the file name's leading timestamp
	Name     string // the file name
	Checksum string // sha256 of the file
	stmts    []string
}

// Migrations returns the migration files for a dialect in the order they apply.
func Migrations(dia string) ([]Migration, error) {
	dir := path.Join("migrations", dialectDir(dia))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("reading migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		data, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		stmts, err := atlas.NewLocalFile(e.Name(), data).Stmts()
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(data)
		version, _, _ := strings.Cut(e.Name(), "_")
		out = append(out, Migration{Version: version, Name: e.Name(), Checksum: hex.EncodeToString(sum[:]), stmts: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

func dialectDir(dia string) string {
	if dia == dialect.Postgres {
		return "postgres"
	}
	return "sqlite"
}

// Migrate applies the migrations the database has not recorded yet, each in its own
// transaction with its record in billd_schema_migrations. It is safe to run on a live
// database and by several processes at once: they serialize on a lock, and a second
// run finds nothing to do. A recorded migration whose file changed since is refused.
// It returns the names of the migrations it applied.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) ([]string, error) {
	migs, err := Migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()

	create := `CREATE TABLE IF NOT EXISTS billd_schema_migrations (
		version TEXT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)`
	if db.Dialect == dialect.Postgres {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLock); err != nil {
			return nil, fmt.Errorf("taking the migration lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrationLock)
		}()
	}
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("creating the migrations table: %w", err)
	}

	if err := refuseUnknown(ctx, conn, migs); err != nil {
		return nil, err
	}
	var applied []string
	for _, m := range migs {
		done, err := db.applyOne(ctx, conn, m)
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if done {
			applied = append(applied, m.Name)
			if log != nil {
				log.Info("applied migration", "name", m.Name)
			}
		}
	}
	river, err := db.migrateRiver(ctx, conn, log)
	return append(applied, river...), err
}

// applyOne applies m unless it is recorded; it reports whether it applied it. On
// SQLite the transaction is immediate (see sqliteDSN), so it holds the write lock from
// the check to the commit and a concurrent process waits, then finds m recorded.
func (db *DB) applyOne(ctx context.Context, conn *sql.Conn, m Migration) (bool, error) {
	// SQLite changes a table by rebuilding it, which atlas brackets with PRAGMA
	// foreign_keys = off/on. Inside a transaction that pragma does nothing, and with
	// foreign keys on, dropping the old table would run its ON DELETE actions. So it
	// is turned off on the connection before the transaction, and the foreign keys
	// are checked before the commit instead.
	fkOff := db.Dialect == dialect.SQLite && m.rebuildsTables()
	if fkOff {
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return false, err
		}
		defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON") }()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	q := "SELECT checksum FROM billd_schema_migrations WHERE version = " + db.placeholder(1)
	var sum string
	switch err := tx.QueryRowContext(ctx, q, m.Version).Scan(&sum); {
	case err == nil:
		if sum != m.Checksum {
			return false, fmt.Errorf("already applied, but the file has changed since (checksum %s, recorded %s): add a new migration instead of editing an applied one", abbrev(m.Checksum), abbrev(sum))
		}
		return false, nil
	case err != sql.ErrNoRows:
		return false, err
	}
	for _, s := range m.stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return false, fmt.Errorf("%w\nin statement: %s", err, s)
		}
	}
	if fkOff {
		rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
		if err != nil {
			return false, err
		}
		broken := rows.Next()
		_ = rows.Close()
		if broken {
			return false, fmt.Errorf("the migration leaves rows whose foreign keys point nowhere")
		}
	}
	ins := fmt.Sprintf("INSERT INTO billd_schema_migrations (version, name, checksum, applied_at) VALUES (%s, %s, %s, CURRENT_TIMESTAMP)",
		db.placeholder(1), db.placeholder(2), db.placeholder(3))
	if _, err := tx.ExecContext(ctx, ins, m.Version, m.Name, m.Checksum); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// rebuildsTables reports whether m turns foreign keys off to rebuild tables (SQLite).
func (m Migration) rebuildsTables() bool {
	for _, s := range m.stmts {
		if strings.Contains(strings.ToLower(strings.Join(strings.Fields(s), " ")), "pragma foreign_keys = off") {
			return true
		}
	}
	return false
}

// abbrev shortens a checksum for a message; a recorded one may be any length.
func abbrev(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

func (db *DB) placeholder(n int) string {
	if db.Dialect == dialect.Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// refuseUnknown fails when the database records a migration this binary does not
// have: an older billd started against a database a newer one migrated would
// otherwise run on a schema it does not know.
func refuseUnknown(ctx context.Context, conn *sql.Conn, migs []Migration) error {
	known := make(map[string]bool, len(migs))
	for _, m := range migs {
		known[m.Version] = true
	}
	rows, err := conn.QueryContext(ctx, "SELECT version, name FROM billd_schema_migrations")
	if err != nil {
		return fmt.Errorf("reading applied migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var version, name string
		if err := rows.Scan(&version, &name); err != nil {
			return err
		}
		if !known[version] {
			return fmt.Errorf("the database has migration %s applied, which this billd does not know: it was migrated by a newer billd; run that version", name)
		}
	}
	return rows.Err()
}
