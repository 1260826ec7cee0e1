package store

import (
	"context"
	"fmt"

	"github.com/billd/billd/ent"
)

// InTx runs fn in a transaction carried by ctx. If ctx already carries one, fn joins
// it, so services compose: a call made inside another's transaction commits or rolls
// back with it. fn must use Client(ctx, ...) (or ent.FromContext) for its queries. The
// transaction commits when fn returns nil and rolls back on an error or a panic.
func InTx(ctx context.Context, client *ent.Client, fn func(ctx context.Context) error) (err error) {
	if ent.TxFromContext(ctx) != nil {
		return fn(ctx)
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	txCtx := ent.NewTxContext(ctx, tx)
	txCtx = ent.NewContext(txCtx, tx.Client())
	if err := fn(txCtx); err != nil {
		if rerr := tx.Rollback(); rerr != nil {
			return fmt.Errorf("%w (and rolling back: %v)", err, rerr)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// Client returns the client of the transaction ctx carries, or client itself.
func Client(ctx context.Context, client *ent.Client) *ent.Client {
	if tx := ent.TxFromContext(ctx); tx != nil {
		return tx.Client()
	}
	return client
}
