package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"sync"
	"time"
)

// SQLite lets one transaction write at a time, and billd's transactions take the
// write lock when they begin (immediate). A connection that finds the lock taken
// sleeps and retries with a growing back-off, so with several writers (bill-run
// workers, the job system fetching and completing jobs) a freed lock often stays
// unused for many milliseconds. A writeGate hands the lock over at once instead:
// the transactions of one database in this process queue on it in Go before they
// begin (or, for a writing statement outside a transaction, before it runs), and
// SQLite's own locking only ever sees the writers of other processes.

// gateWait bounds how long a transaction waits for its turn, as SQLite's busy timeout
// does.
const gateWait = 30 * time.Second

// writeGate admits one transaction at a time.
type writeGate struct{ turn chan struct{} }

var gates sync.Map // DSN → *writeGate

// gateFor returns the gate of the database a DSN names.
func gateFor(dsn string) *writeGate {
	g, _ := gates.LoadOrStore(dsn, &writeGate{turn: make(chan struct{}, 1)})
	return g.(*writeGate)
}

// enter waits for the transaction's turn, until ctx ends or gateWait passed.
func (g *writeGate) enter(ctx context.Context) error {
	select {
	case g.turn <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(gateWait)
	defer t.Stop()
	select {
	case g.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("database is locked: no write turn within %s", gateWait)
	}
}

func (g *writeGate) leave() { <-g.turn }

// gatedTx is a transaction holding its gate's turn until it ends.
type gatedTx struct {
	driver.Tx
	conn *countingConn
	once sync.Once
}

func (t *gatedTx) end() {
	t.once.Do(func() {
		t.conn.inTx = false
		t.conn.gate.leave()
	})
}

func (t *gatedTx) Commit() error {
	defer t.end()
	return t.Tx.Commit()
}

func (t *gatedTx) Rollback() error {
	defer t.end()
	return t.Tx.Rollback()
}

// gatedRows are the rows of a writing statement run outside a transaction (an
// UPDATE ... RETURNING): it writes while its rows are read, so it holds the turn
// until they are closed.
type gatedRows struct {
	driver.Rows
	gate *writeGate
	once sync.Once
}

func (r *gatedRows) Close() error {
	defer r.once.Do(r.gate.leave)
	return r.Rows.Close()
}

// writes reports whether a statement may write: it begins, after comments, with a
// keyword that changes data or schema. (A statement begun with WITH counts as a
// read; billd's and River's writes do not start with one.)
func writes(query string) bool {
	q := query
	for {
		q = strings.TrimLeft(q, " \t\r\n")
		switch {
		case strings.HasPrefix(q, "--"):
			i := strings.IndexByte(q, '\n')
			if i < 0 {
				return false
			}
			q = q[i+1:]
		case strings.HasPrefix(q, "/*"):
			i := strings.Index(q, "*/")
			if i < 0 {
				return false
			}
			q = q[i+2:]
		default:
			end := strings.IndexAny(q, " \t\r\n(")
			if end < 0 {
				end = len(q)
			}
			switch strings.ToUpper(q[:end]) {
			case "INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER":
				return true
			}
			return false
		}
	}
}
