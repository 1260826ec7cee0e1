package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/apikey"
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

// balancesKey, inUseKey and apiKeysKey name the loaders of per-row figures that would
// otherwise cost a query per row: an account's balance, whether a package is in use,
// the key an audit entry names.
type (
	balancesKey struct{}
	inUseKey    struct{}
	apiKeysKey  struct{}
)

// balance returns an account's balance, computed with those of the other accounts of
// the response in one query.
func (r *Resolver) balance(ctx context.Context, acc *ent.Account) (money.Decimal, error) {
	ld := loaderFor(ctx, balancesKey{}, func(ctx context.Context, accs []*ent.Account) ([]money.Decimal, []error) {
		b, err := r.Accounts.Balances(ctx, accs)
		out, errs := make([]money.Decimal, len(accs)), make([]error, len(accs))
		for i, a := range accs {
			out[i], errs[i] = b[a.ID], err
		}
		return out, errs
	})
	return ld.Load(ctx, acc)
}

// inUse reports whether account-packages use a package, for all the packages of the
// response in one query.
func (r *Resolver) inUse(ctx context.Context, pkg int) (bool, error) {
	ld := loaderFor(ctx, inUseKey{}, func(ctx context.Context, pkgs []int) ([]bool, []error) {
		used, err := r.Catalog.InUseOf(ctx, pkgs)
		out, errs := make([]bool, len(pkgs)), make([]error, len(pkgs))
		for i, p := range pkgs {
			out[i], errs[i] = used[p], err
		}
		return out, errs
	})
	return ld.Load(ctx, pkg)
}

// apiKey returns the key an audit entry names (nil when it is gone), for all the
// entries of the response in one query.
func (r *Resolver) apiKey(ctx context.Context, id int) (*ent.APIKey, error) {
	ld := loaderFor(ctx, apiKeysKey{}, func(ctx context.Context, ids []int) ([]*ent.APIKey, []error) {
		keys, err := r.Client.APIKey.Query().Where(apikey.IDIn(ids...)).All(ctx)
		byID := make(map[int]*ent.APIKey, len(keys))
		for _, k := range keys {
			byID[k.ID] = k
		}
		out, errs := make([]*ent.APIKey, len(ids)), make([]error, len(ids))
		for i, id := range ids {
			out[i], errs[i] = byID[id], err
		}
		return out, errs
	})
	return ld.Load(ctx, id)
}

// billDaysKey names the loader of accounts' bill days.
type billDaysKey struct{}

// accountBillDay returns an account's bill day, read with those of the other
// accounts of the response in one query.
func (r *Resolver) accountBillDay(ctx context.Context, id int) (int, error) {
	ld := loaderFor(ctx, billDaysKey{}, func(ctx context.Context, ids []int) ([]int, []error) {
		var rows []struct {
			ID      int `json:"id"`
			BillDay int `json:"bill_day"`
		}
		err := r.Client.Account.Query().Where(account.IDIn(ids...)).Select(account.FieldID, account.FieldBillDay).Scan(ctx, &rows)
		byID := make(map[int]int, len(rows))
		for _, row := range rows {
			byID[row.ID] = row.BillDay
		}
		out, errs := make([]int, len(ids)), make([]error, len(ids))
		for i, id := range ids {
			out[i], errs[i] = byID[id], err
		}
		return out, errs
	})
	return ld.Load(ctx, id)
}
