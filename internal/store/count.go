package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/stdlib"
)

// statements counts the SQL statements every database of this process executed
// (queries and execs, in and out of transactions). Benchmarks read it to prove that a
// request's statement count does not grow with its page size.
var statements atomic.Int64

// Statements returns the number of SQL statements this process has executed.
func Statements() int64 { return statements.Load() }

var registerOnce sync.Once

// countingDrivers registers the drivers billd opens: pgx and modernc's sqlite, each
// wrapped to count statements.
func countingDrivers() {
	registerOnce.Do(func() {
		sql.Register("billd-pgx", countingDriver{Driver: stdlib.GetDefaultDriver()})
		db, err := sql.Open("sqlite", "")
		if err != nil {
			panic(err)
		}
		sql.Register("billd-sqlite", countingDriver{Driver: db.Driver(), cacheStmts: true, gateWrites: true})
		_ = db.Close()
	})
}

type countingDriver struct {
	driver.Driver
	cacheStmts bool // keep statements prepared per connection (SQLite)
	gateWrites bool // queue transactions on the database's writeGate (SQLite)
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.Driver.Open(name)
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: c}
	if d.cacheStmts {
		cc.cache = newStmtCache(c)
	}
	if d.gateWrites {
		cc.gate = gateFor(name)
	}
	return cc, nil
}

// countingConn forwards every optional interface the wrapped drivers implement.
type countingConn struct {
	driver.Conn
	cache *stmtCache // nil unless the driver keeps statements prepared
	gate  *writeGate // nil unless writers queue in process (writegate.go)
	inTx  bool       // a gated transaction is open on the connection
}

func (c *countingConn) Close() error {
	if c.cache != nil {
		c.cache.close()
	}
	return c.Conn.Close()
}

func (c *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	statements.Add(1)
	if c.gate != nil && !c.inTx && writes(query) {
		if err := c.gate.enter(ctx); err != nil {
			return nil, err
		}
		defer c.gate.leave()
	}
	if c.cache != nil && cacheable(query) {
		if r, ran, err := c.cache.exec(ctx, query, args); ran {
			return r, err
		}
	}
	if e, ok := c.Conn.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	statements.Add(1)
	if c.gate != nil && !c.inTx && writes(query) {
		if err := c.gate.enter(ctx); err != nil {
			return nil, err
		}
		rows, err := c.query(ctx, query, args)
		if err != nil {
			c.gate.leave()
			return nil, err
		}
		return &gatedRows{Rows: rows, gate: c.gate}, nil
	}
	return c.query(ctx, query, args)
}

func (c *countingConn) query(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.cache != nil && cacheable(query) {
		if r, ran, err := c.cache.query(ctx, query, args); ran {
			return r, err
		}
	}
	if q, ok := c.Conn.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	return nil, driver.ErrSkip
}

func (c *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := c.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = c.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return countingStmt{st}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if c.gate == nil {
		return c.begin(ctx, opts)
	}
	if err := c.gate.enter(ctx); err != nil {
		return nil, err
	}
	tx, err := c.begin(ctx, opts)
	if err != nil {
		c.gate.leave()
		return nil, err
	}
	c.inTx = true
	return &gatedTx{Tx: tx, conn: c}, nil
}

func (c *countingConn) begin(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := c.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.Conn.Begin() //nolint:staticcheck // drivers without BeginTx
}

func (c *countingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *countingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.Conn.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

type countingStmt struct{ driver.Stmt }

func (s countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	statements.Add(1)
	if e, ok := s.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	return s.Stmt.Exec(vals) //nolint:staticcheck // drivers without ExecContext
}

func (s countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	statements.Add(1)
	if q, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	vals := make([]driver.Value, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	return s.Stmt.Query(vals) //nolint:staticcheck // drivers without QueryContext
}

func (s countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
