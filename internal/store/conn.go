package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	entsql "entgo.io/ent/dialect/sql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/billd/billd/ent"
)

// InConnTx is InTx on one connection held for the whole transaction. fn receives the
// connection as well, for work database/sql cannot route into an ent transaction:
// statements prepared once and run many times (SQLite), and COPY (PostgreSQL, see
// CopyFrom). ctx carries the transaction exactly as InTx's does; ctx must not carry
// one already.
func (db *DB) InConnTx(ctx context.Context, fn func(ctx context.Context, conn *sql.Conn) error) error {
	if ent.TxFromContext(ctx) != nil {
		return errors.New("store: InConnTx called inside a transaction")
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return fmt.Errorf("taking a connection: %w", err)
	}
	defer conn.Close()
	client := ent.NewClient(ent.Driver(&connDriver{Conn: entsql.Conn{ExecQuerier: conn}, conn: conn, dialect: db.Dialect}))
	ctx = context.WithValue(ctx, connKey{}, conn)
	return InTx(ctx, client, func(ctx context.Context) error { return fn(ctx, conn) })
}

// CopyFrom writes rows into table with PostgreSQL's COPY through pgx, inside whatever
// transaction conn has open. Values must be of types pgx encodes in binary for their
// columns (string, int, *int, time.Time, pgtype.Numeric, ...).
func CopyFrom(ctx context.Context, conn *sql.Conn, table string, columns []string, rows [][]any) error {
	return conn.Raw(func(dc any) error {
		if c, ok := dc.(*countingConn); ok {
			dc = c.Conn
		}
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy into %s: not a PostgreSQL connection (%T)", table, dc)
		}
		statements.Add(1)
		n, err := pc.Conn().CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		if int(n) != len(rows) {
			return fmt.Errorf("copy into %s: %d of %d rows written", table, n, len(rows))
		}
		return nil
	})
}
