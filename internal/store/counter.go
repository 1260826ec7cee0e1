package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/billd/billd/ent/counter"
)

// Reserve reserves n values of the named counter and returns the first; values are
// unique and ascending in the order they are reserved. Where writers run in parallel
// (PostgreSQL) it reserves them outside the transaction in ctx, so transactions on
// several nodes do not queue on the counter's row, and a transaction that rolls back
// leaves a gap. With one writer (SQLite) it reserves them in that transaction, which
// holds the write lock anyway: no gaps.
func (db *DB) Reserve(ctx context.Context, name string, n int) (int64, error) {
	if n <= 0 {
		return 0, fmt.Errorf("store: reserving %d values of %s", n, name)
	}
	c := Client(ctx, db.Client)
	if db.rowLocks {
		c = db.Client
	}
	err := c.Counter.Create().SetName(name).SetValue(0).OnConflictColumns(counter.FieldName).DoNothing().Exec(ctx)
	if err != nil && !isNoRows(err) {
		return 0, fmt.Errorf("creating counter %s: %w", name, err)
	}
	q := fmt.Sprintf("UPDATE counters SET value = value + %s WHERE name = %s RETURNING value", db.placeholder(1), db.placeholder(2))
	rows, err := c.QueryContext(ctx, q, n, name)
	if err != nil {
		return 0, fmt.Errorf("reserving values of %s: %w", name, err)
	}
	defer rows.Close()
	var last int64
	if !rows.Next() {
		return 0, fmt.Errorf("reserving values of %s: the counter is missing", name)
	}
	if err := rows.Scan(&last); err != nil {
		return 0, err
	}
	return last - int64(n) + 1, rows.Close()
}

// isNoRows reports an upsert that did nothing: ent reads back no row.
func isNoRows(err error) bool {
	if errors.Is(err, sql.ErrNoRows) {
		return true
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == sql.ErrNoRows.Error() {
			return true
		}
	}
	return false
}
