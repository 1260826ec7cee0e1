// Command migrategen writes a new versioned migration for each database from the
// difference between the Ent schema and the migrations already in the repository.
//
//	go run ./cmd/migrategen -name add_partners -postgres postgres://...
//
// It replays the existing migration files into a scratch database of each kind (an
// in-memory SQLite, and the given PostgreSQL database, which it empties first), then
// asks Ent for the statements that bring it to the current schema. `make migration
// NAME=...` runs it with a throwaway PostgreSQL. Nothing here runs in production.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"text/template"

	atlas "ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/billd/billd/ent/migrate"
)

func main() {
	name := flag.String("name", "", "migration name, e.g. add_partners (required)")
	pgURL := flag.String("postgres", os.Getenv("BILLD_TEST_POSTGRES_URL"), "scratch PostgreSQL database URL (emptied first)")
	flag.Parse()
	if *name == "" || *pgURL == "" {
		flag.Usage()
		os.Exit(2)
	}
	// Atlas opens its scratch databases under these driver names.
	sql.Register("sqlite3", sqliteDriver())
	sql.Register("postgres", pgxDriver())

	ctx := context.Background()
	// Both dialects' files share one version, so the two directories stay in step.
	version := atlas.NewVersion()
	if err := generate(ctx, "internal/store/migrations/sqlite", dialect.SQLite,
		"sqlite3://file?mode=memory&_pragma=foreign_keys(1)", *name, version); err != nil {
		log.Fatalf("sqlite: %v", err)
	}
	if err := resetPostgres(ctx, *pgURL); err != nil {
		log.Fatalf("postgres: %v", err)
	}
	if err := generate(ctx, "internal/store/migrations/postgres", dialect.Postgres, *pgURL, *name, version); err != nil {
		log.Fatalf("postgres: %v", err)
	}
}

func generate(ctx context.Context, path, dia, devURL, name, version string) error {
	dir, err := atlas.NewLocalDir(path)
	if err != nil {
		return err
	}
	formatter := atlas.TemplateFormatter{{
		N: template.Must(template.New("").Parse(version + "{{ with .Name }}_{{ . }}{{ end }}.sql")),
		C: atlas.DefaultFormatter[0].C,
	}}
	return migrate.NamedDiff(ctx, devURL, name,
		schema.WithDir(dir),
		schema.WithDialect(dia),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithFormatter(formatter),
		schema.WithDropColumn(true),
		schema.WithDropIndex(true),
	)
}

func resetPostgres(ctx context.Context, url string) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public")
	if err != nil {
		return fmt.Errorf("emptying the scratch database: %w", err)
	}
	return nil
}
