package store_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	atlasmigrate "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/currency"
	entmigrate "github.com/billd/billd/ent/migrate"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// eachDialect runs fn as a parallel subtest per database testenv offers.
func eachDialect(t *testing.T, fn func(t *testing.T, dia string)) {
	t.Helper()
	for _, dia := range testenv.Dialects() {
		t.Run(dia, func(t *testing.T) {
			t.Parallel()
			fn(t, dia)
		})
	}
}

// open opens url and closes it when t ends.
func open(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// migrated opens a fresh, fully migrated database of the given kind.
func migrated(t *testing.T, dia string) *store.DB {
	t.Helper()
	db := open(t, testenv.DatabaseURL(t, dia))
	_, err := db.Migrate(t.Context(), nil)
	require.NoError(t, err)
	return db
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func migrationNames(t *testing.T, dia string) []string {
	t.Helper()
	migs, err := store.Migrations(dia)
	require.NoError(t, err)
	require.NotEmpty(t, migs)
	var names []string
	for _, m := range migs {
		names = append(names, m.Name)
	}
	return names
}

// riverMigrationNames are the names Migrate reports for River's own migrations, in
// the order it applies them after billd's.
func riverMigrationNames(t *testing.T, dia string) []string {
	t.Helper()
	var drv riverdriver.Driver[*sql.Tx] = riversqlite.New(nil)
	if dia == dialect.Postgres {
		drv = riverdatabasesql.New(nil)
	}
	m, err := rivermigrate.New(drv, nil)
	require.NoError(t, err)
	var names []string
	for _, v := range m.AllVersions() {
		names = append(names, fmt.Sprintf("river %03d %s", v.Version, v.Name))
	}
	require.NotEmpty(t, names)
	return names
}

func countRows(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.SQL.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

func wantDialect(dia string) string {
	if dia == "postgres" {
		return dialect.Postgres
	}
	return dialect.SQLite
}

func TestMigrateFreshThenNothing(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		db := open(t, testenv.DatabaseURL(t, dia))
		require.Equal(t, wantDialect(dia), db.Dialect)
		names := migrationNames(t, db.Dialect)

		applied, err := db.Migrate(t.Context(), quiet())
		require.NoError(t, err)
		require.Equal(t, append(names, riverMigrationNames(t, db.Dialect)...), applied,
			"a fresh database gets every migration, billd's then River's, in order")
		require.Equal(t, len(riverMigrationNames(t, db.Dialect)), countRows(t, db, "river_migration"))
		require.Equal(t, len(names), countRows(t, db, "billd_schema_migrations"))

		// Each record carries the file's name and checksum.
		migs, err := store.Migrations(db.Dialect)
		require.NoError(t, err)
		for _, m := range migs {
			var name, sum string
			q := "SELECT name, checksum FROM billd_schema_migrations WHERE version = ?"
			if db.Dialect == dialect.Postgres {
				q = "SELECT name, checksum FROM billd_schema_migrations WHERE version = $1"
			}
			require.NoError(t, db.SQL.QueryRowContext(t.Context(), q, m.Version).Scan(&name, &sum))
			require.Equal(t, m.Name, name)
			require.Equal(t, m.Checksum, sum)
		}

		again, err := db.Migrate(t.Context(), quiet())
		require.NoError(t, err)
		require.Empty(t, again, "a migrated database needs nothing")
		require.Equal(t, len(names), countRows(t, db, "billd_schema_migrations"))

		// The schema is usable: the tables the migrations create are there.
		require.Equal(t, 0, countRows(t, db, "currencies"))
		require.Equal(t, 0, countRows(t, db, "charges"))
	})
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		url := testenv.DatabaseURL(t, dia)
		names := migrationNames(t, dia)

		const procs = 4
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			applied []string
			errs    []error
		)
		start := make(chan struct{})
		for i := 0; i < procs; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				db, err := store.Open(ctx, url) // each "process" has its own pool
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				defer db.Close()
				<-start
				got, err := db.Migrate(ctx, nil)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				}
				applied = append(applied, got...)
			}()
		}
		close(start)
		wg.Wait()
		require.Empty(t, errs)

		sort.Strings(applied)
		want := append(names, riverMigrationNames(t, wantDialect(dia))...)
		sort.Strings(want)
		require.Equal(t, want, applied, "every migration applied exactly once in total")
		db := open(t, url)
		require.Equal(t, len(names), countRows(t, db, "billd_schema_migrations"))
		again, err := db.Migrate(t.Context(), nil)
		require.NoError(t, err)
		require.Empty(t, again)
	})
}

func TestMigrateRefusesAChangedFile(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		db := migrated(t, dia)
		_, err := db.SQL.ExecContext(t.Context(), "UPDATE billd_schema_migrations SET checksum = 'x'")
		require.NoError(t, err)

		applied, err := db.Migrate(t.Context(), nil)
		require.Error(t, err)
		require.Empty(t, applied)
		first := migrationNames(t, db.Dialect)[0]
		require.Contains(t, err.Error(), first, "the error names the file")
		require.Contains(t, err.Error(), "file has changed")
		require.Contains(t, err.Error(), "add a new migration")
	})
}

// pendingStatements returns the statements in an Ent dry-run that would change the
// database. On SQLite Ent wraps its changes in PRAGMA foreign_keys off/on; those alone
// change nothing.
func pendingStatements(plan string) []string {
	var out []string
	for _, line := range strings.Split(plan, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "", strings.HasPrefix(line, "--"):
		case strings.HasPrefix(strings.ToUpper(line), "PRAGMA FOREIGN_KEYS"):
		default:
			out = append(out, line)
		}
	}
	return out
}

// entPlanMu serializes entPlan: Ent's schema migration writes to the package-level
// migrate.Tables it diffs (it links columns to indexes and foreign keys on each run), so
// two dry-runs at once race.
var entPlanMu sync.Mutex

// entPlan returns what Ent would execute to bring db to the Ent schema, dropping
// columns and indexes the schema no longer has.
func entPlan(t *testing.T, db *store.DB) string {
	t.Helper()
	entPlanMu.Lock()
	defer entPlanMu.Unlock()
	var buf bytes.Buffer
	require.NoError(t, db.Client.Schema.WriteTo(t.Context(), &buf,
		entmigrate.WithDropColumn(true), entmigrate.WithDropIndex(true), entmigrate.WithForeignKeys(true)))
	return buf.String()
}

// TestNoSchemaDrift fails when ent/schema changed without a migration: after every
// migration, Ent must find nothing to create, alter or drop.
func TestNoSchemaDrift(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		db := migrated(t, dia)
		plan := entPlan(t, db)
		require.Empty(t, pendingStatements(plan),
			"the Ent schema differs from what the migrations create; add a migration (see README). Ent would run:\n%s", plan)

		// The check is live: a database missing a column the schema has is caught.
		_, err := db.SQL.ExecContext(t.Context(), "ALTER TABLE services DROP COLUMN description")
		require.NoError(t, err)
		plan = entPlan(t, db)
		require.NotEmpty(t, pendingStatements(plan))
		require.Contains(t, plan, "description")
	})
}

// TestGlobalIDRanges checks what Ent's diff does not see on SQLite: with the globalid
// feature every table's ids start at its own range (IncrementStart), which the
// migrations must set up (sqlite_sequence rows on SQLite, identity START WITH on
// PostgreSQL). A new table whose migration forgets it would hand out ids that collide
// with another type's.
func TestGlobalIDRanges(t *testing.T) {
	t.Parallel()
	seen := map[int]string{}
	for _, tbl := range entmigrate.Tables {
		if tbl.Annotation == nil || tbl.Annotation.IncrementStart == nil {
			continue
		}
		start := *tbl.Annotation.IncrementStart
		require.Zero(t, start%(1<<32), "%s starts its ids at %d, not at a 1<<32 boundary", tbl.Name, start)
		other, dup := seen[start]
		require.False(t, dup, "%s and %s share the id range starting at %d", tbl.Name, other, start)
		seen[start] = tbl.Name
	}
	require.NotEmpty(t, seen)

	eachDialect(t, func(t *testing.T, dia string) {
		db := migrated(t, dia)
		for _, tbl := range entmigrate.Tables {
			if tbl.Annotation == nil || tbl.Annotation.IncrementStart == nil {
				continue
			}
			want := *tbl.Annotation.IncrementStart
			switch db.Dialect {
			case dialect.SQLite:
				var seq int64
				err := db.SQL.QueryRowContext(t.Context(), "SELECT seq FROM sqlite_sequence WHERE name = ?", tbl.Name).Scan(&seq)
				if want == 0 {
					if err == nil {
						require.Zero(t, seq, tbl.Name)
					}
					continue
				}
				require.NoError(t, err, "no sqlite_sequence row for %s: its migration must set the id range", tbl.Name)
				require.Equal(t, int64(want), seq, tbl.Name)
			case dialect.Postgres:
				var start *string
				require.NoError(t, db.SQL.QueryRowContext(t.Context(),
					`SELECT identity_start FROM information_schema.columns
					 WHERE table_schema = current_schema() AND table_name = $1 AND column_name = 'id'`, tbl.Name).Scan(&start))
				require.NotNil(t, start, "%s.id is not an identity column", tbl.Name)
				got, err := strconv.ParseInt(*start, 10, 64)
				require.NoError(t, err)
				if want == 0 {
					want = 1
				}
				require.Equal(t, int64(want), got, tbl.Name)
			}
		}

		// A row of a table with a range gets an id inside it.
		c, err := db.Client.Currency.Create().SetCode("USD").SetName("US Dollar").SetPrecision(2).Save(t.Context())
		require.NoError(t, err)
		want := *entmigrate.CurrenciesTable.Annotation.IncrementStart
		require.GreaterOrEqual(t, c.ID, want)
		require.Less(t, c.ID, want+1<<32)
	})
}

// TestMigrationDirectoriesIntact checks atlas.sum, so a hand edit of a migration file
// (instead of a new migration) is caught before it reaches a database.
func TestMigrationDirectoriesIntact(t *testing.T) {
	t.Parallel()
	var versions [][]string
	for _, sub := range []string{"sqlite", "postgres"} {
		dir, err := atlasmigrate.NewLocalDir(filepath.Join("migrations", sub))
		require.NoError(t, err)
		require.NoError(t, atlasmigrate.Validate(dir), "migrations/%s/atlas.sum does not match the files: regenerate it with atlas migrate hash, and never edit an applied migration", sub)

		// The embedded migrations are exactly the directory's files.
		files, err := dir.Files()
		require.NoError(t, err)
		var names []string
		for _, f := range files {
			names = append(names, f.Name())
		}
		require.Equal(t, names, migrationNames(t, sub))

		var vs []string
		migs, err := store.Migrations(sub)
		require.NoError(t, err)
		for _, m := range migs {
			vs = append(vs, m.Version)
		}
		versions = append(versions, vs)
	}
	require.Equal(t, versions[0], versions[1], "SQLite and PostgreSQL must have the same migration versions")
}

func TestAtlasSumCatchesAnEdit(t *testing.T) {
	t.Parallel()
	src := filepath.Join("migrations", "sqlite")
	tmp := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	var sqlFile string
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(tmp, e.Name()), data, 0o644))
		if strings.HasSuffix(e.Name(), ".sql") {
			sqlFile = e.Name()
		}
	}
	dir, err := atlasmigrate.NewLocalDir(tmp)
	require.NoError(t, err)
	require.NoError(t, atlasmigrate.Validate(dir))

	f, err := os.OpenFile(filepath.Join(tmp, sqlFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("CREATE INDEX `sneaky` ON `services` (`name`);\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.ErrorIs(t, atlasmigrate.Validate(dir), atlasmigrate.ErrChecksumMismatch)
}

var errBoom = errors.New("boom")

func currencyExists(t *testing.T, db *store.DB, code string) bool {
	t.Helper()
	ok, err := db.Client.Currency.Query().Where(currency.Code(code)).Exist(t.Context())
	require.NoError(t, err)
	return ok
}

func addCurrency(ctx context.Context, db *store.DB, code string) error {
	_, err := store.Client(ctx, db.Client).Currency.Create().SetCode(code).SetName("Currency " + code).SetPrecision(2).Save(ctx)
	return err
}

func TestInTx(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		db := migrated(t, dia)

		t.Run("commits on nil", func(t *testing.T) {
			t.Parallel()
			err := store.InTx(t.Context(), db.Client, func(ctx context.Context) error {
				require.NotNil(t, ent.TxFromContext(ctx), "fn runs in a transaction")
				require.NotSame(t, db.Client, store.Client(ctx, db.Client))
				return addCurrency(ctx, db, "AAA")
			})
			require.NoError(t, err)
			require.True(t, currencyExists(t, db, "AAA"))
			require.Same(t, db.Client, store.Client(t.Context(), db.Client), "outside a transaction Client is the client itself")
		})

		t.Run("rolls back on error", func(t *testing.T) {
			t.Parallel()
			err := store.InTx(t.Context(), db.Client, func(ctx context.Context) error {
				if err := addCurrency(ctx, db, "BBB"); err != nil {
					return err
				}
				return fmt.Errorf("refusing: %w", errBoom)
			})
			require.ErrorIs(t, err, errBoom, "fn's error comes back unchanged")
			require.False(t, currencyExists(t, db, "BBB"))
		})

		t.Run("rolls back on panic", func(t *testing.T) {
			t.Parallel()
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				_ = store.InTx(t.Context(), db.Client, func(ctx context.Context) error {
					if err := addCurrency(ctx, db, "CCC"); err != nil {
						return err
					}
					panic("kaboom")
				})
			}()
			require.Equal(t, "kaboom", recovered, "the panic goes on after the rollback")
			require.False(t, currencyExists(t, db, "CCC"))

			// The transaction was released: a later write is not stuck behind it.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			require.NoError(t, store.InTx(ctx, db.Client, func(ctx context.Context) error { return addCurrency(ctx, db, "CCD") }))
			require.True(t, currencyExists(t, db, "CCD"))
		})

		t.Run("nested joins the outer transaction", func(t *testing.T) {
			t.Parallel()
			err := store.InTx(t.Context(), db.Client, func(outer context.Context) error {
				if err := addCurrency(outer, db, "DDA"); err != nil {
					return err
				}
				innerErr := store.InTx(outer, db.Client, func(inner context.Context) error {
					require.Same(t, ent.TxFromContext(outer), ent.TxFromContext(inner), "the inner call joins, not nests")
					return addCurrency(inner, db, "DDB")
				})
				if innerErr != nil {
					return innerErr
				}
				return errBoom // the outer fails after the inner succeeded
			})
			require.ErrorIs(t, err, errBoom)
			require.False(t, currencyExists(t, db, "DDA"))
			require.False(t, currencyExists(t, db, "DDB"), "the inner write rolls back with the outer transaction")
		})

		t.Run("nested commits with the outer transaction", func(t *testing.T) {
			t.Parallel()
			err := store.InTx(t.Context(), db.Client, func(outer context.Context) error {
				if err := addCurrency(outer, db, "EEA"); err != nil {
					return err
				}
				return store.InTx(outer, db.Client, func(inner context.Context) error { return addCurrency(inner, db, "EEB") })
			})
			require.NoError(t, err)
			require.True(t, currencyExists(t, db, "EEA"))
			require.True(t, currencyExists(t, db, "EEB"))
		})

		t.Run("inner error rolls back everything", func(t *testing.T) {
			t.Parallel()
			err := store.InTx(t.Context(), db.Client, func(outer context.Context) error {
				if err := addCurrency(outer, db, "FFA"); err != nil {
					return err
				}
				return store.InTx(outer, db.Client, func(inner context.Context) error {
					if err := addCurrency(inner, db, "FFB"); err != nil {
						return err
					}
					return errBoom
				})
			})
			require.ErrorIs(t, err, errBoom)
			require.False(t, currencyExists(t, db, "FFA"))
			require.False(t, currencyExists(t, db, "FFB"))
		})

		t.Run("a constraint error rolls back earlier writes", func(t *testing.T) {
			t.Parallel()
			require.NoError(t, store.InTx(t.Context(), db.Client, func(ctx context.Context) error { return addCurrency(ctx, db, "GGA") }))
			err := store.InTx(t.Context(), db.Client, func(ctx context.Context) error {
				if err := addCurrency(ctx, db, "GGB"); err != nil {
					return err
				}
				return addCurrency(ctx, db, "GGA") // unique code taken
			})
			require.Error(t, err)
			require.True(t, ent.IsConstraintError(err), "got %v", err)
			require.False(t, currencyExists(t, db, "GGB"))
		})
	})
}

func TestOpenRefusesUnknownSchemes(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"mysql://x", "mysql://root:hunter2@db:3306/billd", "mongodb://localhost/billd", "http://example.com/db"} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			_, err := store.Open(t.Context(), url)
			require.Error(t, err)
			msg := err.Error()
			require.Contains(t, msg, "postgres://", "the message says what is accepted")
			require.Contains(t, msg, "sqlite:")
			require.NotContains(t, msg, "hunter2", "the message must not leak a password")
		})
	}
}

func TestOpenUnreachablePostgresDoesNotLeakPassword(t *testing.T) {
	t.Parallel()
	_, err := store.Open(t.Context(), "postgres://billd:hunter2@127.0.0.1:1/billd?sslmode=disable&connect_timeout=5")
	require.Error(t, err)
	require.Contains(t, err.Error(), "connecting to postgres database")
	require.NotContains(t, err.Error(), "hunter2")
}

func TestOpenSQLiteForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  func(dir string) string
	}{
		{"sqlite:PATH", func(dir string) string { return "sqlite:" + filepath.Join(dir, "a.db") }},
		{"sqlite://ABSPATH", func(dir string) string { return "sqlite://" + filepath.Join(dir, "b.db") }},
		{"file:PATH", func(dir string) string { return "file:" + filepath.Join(dir, "c.db") }},
		{"plain path", func(dir string) string { return filepath.Join(dir, "d.db") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			db := open(t, tc.url(dir))
			require.Equal(t, dialect.SQLite, db.Dialect)
			_, err := db.Migrate(t.Context(), nil)
			require.NoError(t, err)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.NotEmpty(t, entries, "the database file is created where the URL says")
		})
	}
}

func TestOpenSQLitePragmas(t *testing.T) {
	t.Parallel()
	pragma := func(db *store.DB, name string) string {
		var v string
		require.NoError(t, db.SQL.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v))
		return v
	}

	db := open(t, "sqlite:"+filepath.Join(t.TempDir(), "p.db"))
	require.Equal(t, "1", pragma(db, "foreign_keys"))
	require.Equal(t, "wal", strings.ToLower(pragma(db, "journal_mode")))
	require.Equal(t, "30000", pragma(db, "busy_timeout"))
	require.Equal(t, "1", pragma(db, "synchronous"), "NORMAL")

	// A pragma the URL sets itself wins.
	own := open(t, "sqlite:"+filepath.Join(t.TempDir(), "q.db")+"?_pragma=busy_timeout(5000)")
	require.Equal(t, "5000", pragma(own, "busy_timeout"))
	require.Equal(t, "1", pragma(own, "foreign_keys"))
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
	}{
		{"postgres://billd:s3cret@db:5432/billd?sslmode=disable", "postgres://billd:xxxxx@db:5432/billd?sslmode=disable"},
		{"postgresql://billd:s3cret@db/billd", "postgresql://billd:xxxxx@db/billd"},
		{"postgres://billd@db/billd", "postgres://billd@db/billd"},
		{"postgres://db/billd", "postgres://db/billd"},
		{"sqlite:billd.db", "sqlite:billd.db"},
		{"/var/lib/billd/billd.db", "/var/lib/billd/billd.db"},
	} {
		require.Equal(t, tc.want, store.Redact(tc.in), tc.in)
	}

	// However the password is written, it does not reach a log line.
	for _, in := range []string{
		"postgres://billd:s3cret@db:5432/billd",
		"postgres://billd@db:5432/billd?sslmode=disable&password=s3cret",
		"postgres://billd:s3c@ret@db:5432/billd",  // '@' in the password
		"postgres://billd:s3c#ret@db:5432/billd",  // not a valid URL: '#' starts a fragment
		"postgres://billd:s3cret@db:5432/bil%zzd", // not a valid URL: bad escape
	} {
		got := store.Redact(in)
		require.NotContains(t, got, "s3c", in)
		require.Contains(t, got, "db:5432", "the rest of the URL stays readable: %s", got)
	}
}

func TestTranslate(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		db := migrated(t, dia)
		require.NoError(t, store.Translate(nil, "currency"))

		_, err := db.Client.Currency.Get(t.Context(), 42)
		err = store.Translate(err, "currency 42")
		require.Equal(t, fault.NotFound, fault.CodeOf(err))
		require.Equal(t, "currency 42 not found", err.Error())

		require.NoError(t, addCurrency(t.Context(), db, "USD"))
		err = store.Translate(addCurrency(t.Context(), db, "USD"), "currency USD")
		require.Equal(t, fault.Conflict, fault.CodeOf(err))
		require.Contains(t, err.Error(), "currency USD")

		coded := fault.Invalidf("input.code", "bad")
		require.Same(t, coded, store.Translate(coded, "x"), "coded errors pass through")
		require.ErrorIs(t, store.Translate(errBoom, "x"), errBoom, "other errors pass through")
		require.Equal(t, fault.Internal, fault.CodeOf(store.Translate(errBoom, "x")))
	})
}

// TestColumnRoundTrip stores decimals and dates in columns of the types the Ent schema
// uses for them (NUMERIC and DATE on PostgreSQL, TEXT on SQLite) and reads them back
// through the real drivers: exact, scale kept, no float or time of day on the way.
func TestColumnRoundTrip(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		db := migrated(t, dia)
		ctx := t.Context()
		create := "CREATE TABLE roundtrip (n INTEGER PRIMARY KEY, amount TEXT NULL, day TEXT NULL)"
		ins := "INSERT INTO roundtrip (n, amount, day) VALUES (?, ?, ?)"
		sel := "SELECT amount, day FROM roundtrip WHERE n = ?"
		if db.Dialect == dialect.Postgres {
			create = "CREATE TABLE roundtrip (n INTEGER PRIMARY KEY, amount NUMERIC NULL, day DATE NULL)"
			ins = "INSERT INTO roundtrip (n, amount, day) VALUES ($1, $2, $3)"
			sel = "SELECT amount, day FROM roundtrip WHERE n = $1"
		}
		_, err := db.SQL.ExecContext(ctx, create)
		require.NoError(t, err)

		for i, tc := range []struct{ amount, day string }{
			{"75.00", "2024-01-31"},
			{"-7.10", "2024-02-29"},
			{"0.000001", "1999-12-31"},
			{"123456789012345678.12", "2400-02-29"},
			{"1000", "2024-03-01"},
		} {
			_, err := db.SQL.ExecContext(ctx, ins, i, money.MustParse(tc.amount), calendar.MustParse(tc.day))
			require.NoError(t, err)
			var amount money.Decimal
			var day calendar.Date
			require.NoError(t, db.SQL.QueryRowContext(ctx, sel, i).Scan(&amount, &day))
			require.Equal(t, tc.amount, amount.String())
			require.Equal(t, tc.day, day.String())
		}

		// NULLs: the zero Date is stored as NULL and both come back as zero values.
		_, err = db.SQL.ExecContext(ctx, ins, 99, nil, calendar.Date{})
		require.NoError(t, err)
		amount, day := money.MustParse("1.00"), calendar.MustParse("2024-01-01")
		require.NoError(t, db.SQL.QueryRowContext(ctx, sel, 99).Scan(&amount, &day))
		require.True(t, amount.IsZero())
		require.True(t, day.IsZero())
	})
}
