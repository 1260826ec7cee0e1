package store

import (
	"context"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
)

// Row locks. PostgreSQL runs writers in parallel, so a transaction that reads rows it
// is about to change locks them; SQLite runs one writer at a time, and its immediate
// transactions hold the write lock from their first statement, so there is nothing
// more to lock. Domain code asks for the lock; these say what it means on each
// database.

// lockable is an ent query that can lock the rows it reads.
type lockable[Q any] interface {
	ForUpdate(opts ...entsql.LockOption) Q
	ForShare(opts ...entsql.LockOption) Q
}

// ForUpdate makes q lock the rows it reads for update until the transaction ends,
// on a database with row locks; elsewhere it returns q unchanged.
func ForUpdate[Q lockable[Q]](db *DB, q Q, opts ...entsql.LockOption) Q {
	if !db.rowLocks {
		return q
	}
	return q.ForUpdate(opts...)
}

// ForShare makes q lock the rows it reads for share until the transaction ends, on a
// database with row locks; elsewhere it returns q unchanged.
func ForShare[Q lockable[Q]](db *DB, q Q, opts ...entsql.LockOption) Q {
	if !db.rowLocks {
		return q
	}
	return q.ForShare(opts...)
}

// ForChange makes q lock the rows it reads until the transaction ends, for an update
// that changes no key (PostgreSQL's FOR NO KEY UPDATE): writers of the rows wait,
// but transactions may still insert rows that reference them. Use it for rows that
// other rows of the same transactions reference (a bill run and its invoices): FOR
// UPDATE would wait for their foreign keys' share locks, and two such transactions
// would deadlock. Elsewhere it returns q unchanged.
func ForChange[Q lockable[Q]](db *DB, q Q) Q {
	if !db.rowLocks {
		return q
	}
	return q.ForUpdate(func(o *entsql.LockOptions) { o.Strength = entsql.LockNoKeyUpdate })
}

// LockTable locks a table against concurrent writers until the transaction in ctx
// ends (PostgreSQL's SHARE ROW EXCLUSIVE: readers go on, a second locker waits). On
// SQLite the transaction's write lock already does that.
func (db *DB) LockTable(ctx context.Context, c *ent.Client, table string) error {
	if !db.rowLocks {
		return nil
	}
	if _, err := c.ExecContext(ctx, fmt.Sprintf("LOCK TABLE %q IN SHARE ROW EXCLUSIVE MODE", table)); err != nil {
		return fmt.Errorf("locking %s: %w", table, err)
	}
	return nil
}

// LockName takes a lock on a name until the transaction of ctx ends (PostgreSQL's
// advisory transaction lock), so that a check of something no single row holds (a
// value free among many rows) and the write that follows run one at a time. SQLite's
// immediate transactions already hold the write lock.
func (db *DB) LockName(ctx context.Context, c *ent.Client, name string) error {
	if !db.rowLocks {
		return nil
	}
	if _, err := c.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", name); err != nil {
		return fmt.Errorf("locking %s: %w", name, err)
	}
	return nil
}
