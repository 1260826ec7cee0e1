package main

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"

	"github.com/billd/billd/internal/store"
)

// limitTable is shaped like charges: ten columns and a unique guard index.
const limitTable = `CREATE TABLE bench_limit (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, description TEXT NOT NULL,
	account_id BIGINT NOT NULL, invoice_id BIGINT, period_start %[1]s, period_end %[1]s, quantity BIGINT NOT NULL,
	amount %[2]s NOT NULL, guard TEXT NOT NULL)`

// limit writes rows charge-shaped rows the fastest plain way the database offers:
// COPY through pgx on PostgreSQL, prepared inserts in one transaction on SQLite.
func limit(ctx context.Context, db *store.DB, dbURL string, rows int) (time.Duration, error) {
	date, num := "TEXT", "TEXT"
	if db.Dialect == dialect.Postgres {
		date, num = "DATE", "NUMERIC"
	}
	if _, err := db.SQL.ExecContext(ctx, fmt.Sprintf(limitTable, date, num)); err != nil {
		return 0, err
	}
	if _, err := db.SQL.ExecContext(ctx, "CREATE UNIQUE INDEX bench_limit_guard ON bench_limit (guard)"); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if db.Dialect == dialect.Postgres {
		raw, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return 0, err
		}
		defer raw.Close(context.Background())
		day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		src := pgx.CopyFromSlice(rows, func(i int) ([]any, error) {
			return []any{int64(i + 1), "RECURRING", "Bench line", int64(i/2 + 1), int64(i/2 + 1), day, day.AddDate(0, 1, -1),
				int64(1), "15.00", fmt.Sprintf("RECURRING:%d:2024-01-01", i+1)}, nil
		})
		if _, err := raw.CopyFrom(ctx, pgx.Identifier{"bench_limit"},
			[]string{"id", "kind", "description", "account_id", "invoice_id", "period_start", "period_end", "quantity", "amount", "guard"}, src); err != nil {
			return 0, err
		}
	} else {
		tx, err := db.SQL.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		st, err := tx.PrepareContext(ctx, "INSERT INTO bench_limit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		if err != nil {
			return 0, err
		}
		for i := 0; i < rows; i++ {
			if _, err := st.ExecContext(ctx, i+1, "RECURRING", "Bench line", i/2+1, i/2+1, "2024-01-01", "2024-01-31", 1, "15.00",
				fmt.Sprintf("RECURRING:%d:2024-01-01", i+1)); err != nil {
				return 0, err
			}
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}
