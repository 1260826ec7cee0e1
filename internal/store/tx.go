package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/billd/billd/ent"
)

// txState is what a transaction carries beyond ent's view of it: the database/sql
// transaction itself (River completes jobs and inserts them in it) and, under
// InConnTx, the connection it runs on (for COPY and prepared bulk statements).
type txState struct {
	tx   *sql.Tx
	conn *sql.Conn
}

type (
	txStateKey struct{}
	connKey    struct{}
)

// InTx runs fn in a transaction carried by ctx. If ctx already carries one, fn joins
// it, so services compose: a call made inside another's transaction commits or rolls
// back with it. fn must use Client(ctx, ...) (or ent.FromContext) for its queries. The
// transaction commits when fn returns nil and rolls back on an error or a panic.
func InTx(ctx context.Context, client *ent.Client, fn func(ctx context.Context) error) error {
	_, err := InTxValue(ctx, client, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// InTxValue is InTx for work that returns a value: the value fn returns, once the
// transaction committed (the zero value with the error otherwise).
func InTxValue[T any](ctx context.Context, client *ent.Client, fn func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if ent.TxFromContext(ctx) != nil {
		return fn(ctx)
	}
	st := &txState{}
	st.conn, _ = ctx.Value(connKey{}).(*sql.Conn)
	// The drivers (driver.go) record the database/sql transaction they begin in st.
	tx, err := client.Tx(context.WithValue(ctx, txStateKey{}, st))
	if err != nil {
		return zero, fmt.Errorf("starting transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	txCtx := ent.NewTxContext(ctx, tx)
	txCtx = ent.NewContext(txCtx, tx.Client())
	txCtx = context.WithValue(txCtx, txStateKey{}, st)
	v, err := fn(txCtx)
	if err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return zero, fmt.Errorf("%w (and rolling back: %v)", err, rerr)
		}
		return zero, err
	}
	if err := tx.Commit(); err != nil {
		return zero, fmt.Errorf("committing transaction: %w", err)
	}
	return v, nil
}

// Client returns the client of the transaction ctx carries, or client itself.
func Client(ctx context.Context, client *ent.Client) *ent.Client {
	if tx := ent.TxFromContext(ctx); tx != nil {
		return tx.Client()
	}
	return client
}

// SQLTx returns the database/sql transaction ctx carries, if any: the one ent's
// queries in ctx run in, for work outside ent that must commit with them (River's
// job inserts and completions).
func SQLTx(ctx context.Context) (*sql.Tx, bool) {
	st, ok := ctx.Value(txStateKey{}).(*txState)
	if !ok || st.tx == nil || ent.TxFromContext(ctx) == nil {
		return nil, false
	}
	return st.tx, true
}

// TxConn returns the connection the transaction ctx carries runs on, when it was
// opened by InConnTx.
func TxConn(ctx context.Context) (*sql.Conn, bool) {
	st, ok := ctx.Value(txStateKey{}).(*txState)
	if !ok || st.conn == nil || ent.TxFromContext(ctx) == nil {
		return nil, false
	}
	return st.conn, true
}
