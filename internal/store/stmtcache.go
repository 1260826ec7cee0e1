package store

import (
	"container/list"
	"context"
	"database/sql/driver"
	"reflect"
	"strings"
)

// stmtCacheSize bounds the statements kept prepared per SQLite connection. Ent's
// queries come in a few hundred shapes (an IN list of n ids is a shape per n); the
// bound keeps memory flat while the shapes a request repeats stay prepared.
const stmtCacheSize = 256

// stmtCache keeps the statements a SQLite connection ran prepared, so running one
// again skips SQLite's parser: on the dashboard query parsing was a sixth of the
// server's CPU. pgx needs none of this: it prepares and caches statements itself.
//
// database/sql never uses a connection from two goroutines at once, so the cache has
// no lock. A statement whose rows are still open (a transaction may run a query
// again while iterating an earlier result) is busy; the second run then goes
// through an unprepared statement as before.
type stmtCache struct {
	conn  driver.Conn
	lru   *list.List // of *cachedStmt, most recently used first
	bySQL map[string]*list.Element
}

type cachedStmt struct {
	sql     string
	stmt    driver.Stmt
	busy    bool // rows of it are open
	evicted bool // dropped from the cache while busy: close when its rows close
}

func newStmtCache(conn driver.Conn) *stmtCache {
	return &stmtCache{conn: conn, lru: list.New(), bySQL: map[string]*list.Element{}}
}

// cacheable reports whether query is worth keeping prepared: one statement (a script
// is parsed statement by statement whatever we do) that is not a transaction or
// schema command.
func cacheable(query string) bool {
	if strings.Contains(query, ";") {
		return false
	}
	// Only the first word is compared, without copying the query: it runs on every
	// statement, and Ent's IN lists make some queries kilobytes long.
	head := strings.TrimLeft(query, " \t\r\n")
	for _, p := range []string{"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"} {
		if len(head) >= len(p) && strings.EqualFold(head[:len(p)], p) {
			return true
		}
	}
	return false
}

// get returns the prepared statement for query, preparing it on first use, or nil
// when it is busy or cannot be prepared (the caller then runs query unprepared, which
// reports any error the same way).
func (c *stmtCache) get(ctx context.Context, query string) *cachedStmt {
	if e, ok := c.bySQL[query]; ok {
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil
		}
		c.lru.MoveToFront(e)
		return cs
	}
	p, ok := c.conn.(driver.ConnPrepareContext)
	if !ok {
		return nil
	}
	st, err := p.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	cs := &cachedStmt{sql: query, stmt: st}
	c.bySQL[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		last := c.lru.Back()
		old := last.Value.(*cachedStmt)
		c.lru.Remove(last)
		delete(c.bySQL, old.sql)
		if old.busy {
			old.evicted = true
		} else {
			_ = old.stmt.Close()
		}
	}
	return cs
}

func (c *stmtCache) exec(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, bool, error) {
	cs := c.get(ctx, query)
	if cs == nil {
		return nil, false, nil
	}
	e, ok := cs.stmt.(driver.StmtExecContext)
	if !ok {
		return nil, false, nil
	}
	r, err := e.ExecContext(ctx, args)
	return r, true, err
}

func (c *stmtCache) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, bool, error) {
	cs := c.get(ctx, query)
	if cs == nil {
		return nil, false, nil
	}
	q, ok := cs.stmt.(driver.StmtQueryContext)
	if !ok {
		return nil, false, nil
	}
	rows, err := q.QueryContext(ctx, args)
	if err != nil {
		return nil, true, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, true, nil
}

// close closes every cached statement; the connection is closing.
func (c *stmtCache) close() {
	for e := c.lru.Front(); e != nil; e = e.Next() {
		_ = e.Value.(*cachedStmt).stmt.Close()
	}
	c.lru.Init()
	clear(c.bySQL)
}

// cachedRows frees its statement for the next run when closed.
type cachedRows struct {
	driver.Rows
	cs *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.cs != nil {
		r.cs.busy = false
		if r.cs.evicted {
			_ = r.cs.stmt.Close()
		}
		r.cs = nil
	}
	return err
}

// The column-type methods forward to modernc's rows, which implements them all;
// database/sql's ColumnTypes reads them.

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
