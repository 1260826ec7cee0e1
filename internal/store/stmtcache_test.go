package store_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/store"
)

// TestSQLiteStatementCache runs the same statements again and again on one SQLite
// connection, the way the cache sees them: a query re-run while its first result is
// still open, more shapes than the cache holds, errors, and a schema change under a
// prepared statement. Every answer must be what the data says.
func TestSQLiteStatementCache(t *testing.T) {
	t.Parallel()
	db := open(t, "sqlite:"+filepath.Join(t.TempDir(), "cache.db"))
	ctx := t.Context()
	conn, err := db.SQL.Conn(ctx) // one connection, so every statement meets the same cache
	require.NoError(t, err)
	defer conn.Close()

	_, err = conn.ExecContext(ctx, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)")
	require.NoError(t, err)
	for i := 1; i <= 5; i++ {
		_, err = conn.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", i, fmt.Sprintf("v%d", i))
		require.NoError(t, err)
	}

	const q = "SELECT v FROM t WHERE id >= ? ORDER BY id"
	all := func(from int) []string {
		rows, err := conn.QueryContext(ctx, q, from)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v string
			require.NoError(t, rows.Scan(&v))
			out = append(out, v)
		}
		require.NoError(t, rows.Err())
		return out
	}

	t.Run("a statement re-run while its rows are open", func(t *testing.T) {
		outer, err := conn.QueryContext(ctx, q, 4)
		require.NoError(t, err)
		var got []string
		for outer.Next() {
			var v string
			require.NoError(t, outer.Scan(&v))
			got = append(got, v+":"+fmt.Sprint(all(1)))
		}
		require.NoError(t, outer.Close())
		require.Equal(t, []string{"v4:[v1 v2 v3 v4 v5]", "v5:[v1 v2 v3 v4 v5]"}, got)
		require.Equal(t, []string{"v3", "v4", "v5"}, all(3), "the cached statement is reusable afterwards")
	})

	t.Run("more shapes than the cache holds", func(t *testing.T) {
		for n := 1; n <= 300; n++ {
			var got int
			require.NoError(t, conn.QueryRowContext(ctx, fmt.Sprintf("SELECT COUNT(*) + %d FROM t", n)).Scan(&got))
			require.Equal(t, 5+n, got)
		}
		require.Equal(t, []string{"v2", "v3", "v4", "v5"}, all(2))
	})

	t.Run("an evicted statement with open rows closes when they do", func(t *testing.T) {
		rows, err := conn.QueryContext(ctx, q, 1)
		require.NoError(t, err)
		require.True(t, rows.Next())
		for n := 1; n <= 300; n++ { // pushes q out of the cache while its rows are open
			_, err := conn.ExecContext(ctx, fmt.Sprintf("UPDATE t SET v = v WHERE id = %d", n))
			require.NoError(t, err)
		}
		var v string
		require.NoError(t, rows.Scan(&v))
		require.Equal(t, "v1", v)
		n := 1
		for rows.Next() {
			n++
		}
		require.NoError(t, rows.Close())
		require.Equal(t, 5, n)
		require.Equal(t, []string{"v5"}, all(5))
	})

	t.Run("an error leaves the statement usable", func(t *testing.T) {
		const ins = "INSERT INTO t (id, v) VALUES (?, ?)"
		_, err := conn.ExecContext(ctx, ins, 6, "v1")
		require.ErrorContains(t, err, "UNIQUE")
		_, err = conn.ExecContext(ctx, ins, 6, "v6")
		require.NoError(t, err)
		require.Equal(t, []string{"v5", "v6"}, all(5))
	})

	t.Run("a schema change under a prepared statement", func(t *testing.T) {
		require.Equal(t, []string{"v6"}, all(6))
		_, err := conn.ExecContext(ctx, "ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'x'")
		require.NoError(t, err)
		var w string
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT w FROM t WHERE id = ?", 6).Scan(&w))
		require.Equal(t, "x", w)
		require.Equal(t, []string{"v6"}, all(6))
	})

	t.Run("transactions see their own writes through cached statements", func(t *testing.T) {
		tx, err := conn.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (?, ?)", 7, "v7")
		require.NoError(t, err)
		var n int
		require.NoError(t, tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM t WHERE id >= ?", 6).Scan(&n))
		require.Equal(t, 2, n)
		require.NoError(t, tx.Rollback())
		require.NoError(t, conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM t WHERE id >= ?", 6).Scan(&n))
		require.Equal(t, 1, n)
	})

	t.Run("cached statements are still counted", func(t *testing.T) {
		before := store.Statements()
		require.Equal(t, []string{"v6"}, all(6)) // prepared long ago: one statement
		// Other tests of this package run in parallel and count too: at least one.
		require.GreaterOrEqual(t, store.Statements()-before, int64(1))
	})
}
