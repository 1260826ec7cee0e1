package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/internal/money"
)

// balanceKey carries a request's precomputed account balances.
type balanceKey struct{}

// balances holds the balances of the accounts a request listed.
type balances struct {
	mu sync.Mutex
	m  map[int]money.Decimal
}

// withBalances gives each operation a place for balances computed in bulk.
func withBalances(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, balanceKey{}, &balances{m: map[int]money.Decimal{}}))
}

// preloadBalances computes the balances of a page of accounts in one query when the
// request asks for them, so a page costs the same number of statements whatever its
// size.
func (r *Resolver) preloadBalances(ctx context.Context, conn *ent.AccountConnection) error {
	cache, ok := ctx.Value(balanceKey{}).(*balances)
	if !ok || len(conn.Edges) == 0 || !selects(ctx, "balance") {
		return nil
	}
	accs := make([]*ent.Account, 0, len(conn.Edges))
	for _, e := range conn.Edges {
		accs = append(accs, e.Node)
	}
	b, err := r.Accounts.Balances(ctx, accs)
	if err != nil {
		return err
	}
	cache.mu.Lock()
	for id, v := range b {
		cache.m[id] = v
	}
	cache.mu.Unlock()
	return nil
}

// balanceFromPage returns a balance computed with the request's page, if any.
func balanceFromPage(ctx context.Context, id int) (money.Decimal, bool) {
	cache, ok := ctx.Value(balanceKey{}).(*balances)
	if !ok {
		return money.Zero, false
	}
	cache.mu.Lock()
	defer cache.mu.Unlock()
	v, ok := cache.m[id]
	return v, ok
}

// selects reports whether the connection being resolved selects field on its nodes.
func selects(ctx context.Context, field string) bool {
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name != "edges" {
			continue
		}
		for _, e := range graphql.CollectFields(oc, f.Selections, nil) {
			if e.Name != "node" {
				continue
			}
			for _, n := range graphql.CollectFields(oc, e.Selections, nil) {
				if n.Name == field {
					return true
				}
			}
		}
	}
	return false
}
