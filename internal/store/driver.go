package store

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"
)

// The ent drivers below begin transactions the way ent's own does, and also record
// the database/sql transaction in the context InTx passes them (SQLTx).

// poolDriver is ent's driver over the pool.
type poolDriver struct{ *entsql.Driver }

func (d poolDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.DB().BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	record(ctx, tx)
	return &entsql.Tx{Conn: entsql.Conn{ExecQuerier: tx}, Tx: tx}, nil
}

// connDriver is an ent driver over one *sql.Conn, so the transactions ent opens run
// on that connection.
type connDriver struct {
	entsql.Conn
	conn    *sql.Conn
	dialect string
}

func (d *connDriver) Dialect() string { return d.dialect }

// Close leaves the connection to InConnTx, which returns it to the pool.
func (d *connDriver) Close() error { return nil }

func (d *connDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	record(ctx, tx)
	return &entsql.Tx{Conn: entsql.Conn{ExecQuerier: tx}, Tx: tx}, nil
}

// record notes tx in the state InTx put in ctx.
func record(ctx context.Context, tx *sql.Tx) {
	if st, ok := ctx.Value(txStateKey{}).(*txState); ok {
		st.tx = tx
	}
}
