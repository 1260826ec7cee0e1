package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWrites holds which statements queue on the write gate outside a transaction:
// those that begin, after comments, with a keyword that writes.
func TestWrites(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"INSERT INTO t VALUES (?)", true},
		{"  update t SET v = ?", true},
		{"DELETE FROM t", true},
		{"REPLACE INTO t VALUES (1)", true},
		{"-- name: JobGetAvailable :many\nUPDATE river_job SET state = 'running'", true},
		{"/* a note */ INSERT INTO t VALUES (1)", true},
		{"CREATE TABLE t (id INTEGER)", true},
		{"SELECT * FROM t", false},
		{"-- name: JobList :many\nSELECT * FROM river_job", false},
		{"WITH x AS (SELECT 1) SELECT * FROM x", false},
		{"PRAGMA foreign_keys", false},
		{"-- only a comment", false},
		{"/* unterminated", false},
		{"", false},
	} {
		require.Equal(t, tc.want, writes(tc.query), tc.query)
	}
}

// TestWriteGate holds that the write transactions of one SQLite database in this
// process take turns without SQLite's busy waits: many concurrent increments all land,
// none fails; and a transaction waiting for its turn gives up when its context ends.
func TestWriteGate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "gate.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.SQL.ExecContext(ctx, "CREATE TABLE n (v INTEGER)")
	require.NoError(t, err)
	_, err = db.SQL.ExecContext(ctx, "INSERT INTO n VALUES (0)")
	require.NoError(t, err)

	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				tx, err := db.SQL.BeginTx(ctx, nil)
				if err != nil {
					errs <- err
					return
				}
				var v int
				if err := tx.QueryRowContext(ctx, "SELECT v FROM n").Scan(&v); err != nil {
					errs <- err
					_ = tx.Rollback()
					return
				}
				if _, err := tx.ExecContext(ctx, "UPDATE n SET v = ?", v+1); err != nil {
					errs <- err
					_ = tx.Rollback()
					return
				}
				errs <- tx.Commit()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var v int
	require.NoError(t, db.SQL.QueryRowContext(ctx, "SELECT v FROM n").Scan(&v))
	require.Equal(t, writers*each, v, "every read-then-write transaction ran alone")

	held, err := db.SQL.BeginTx(ctx, nil)
	require.NoError(t, err)
	waiting, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = db.SQL.BeginTx(waiting, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NoError(t, held.Rollback())
	next, err := db.SQL.BeginTx(ctx, nil)
	require.NoError(t, err, "the turn is free again once the holder ended")
	require.NoError(t, next.Rollback())
}
