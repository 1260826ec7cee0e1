package graph

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/apikey"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/money"
)

// balancesKey, inUseKey and apiKeysKey name the loaders of per-row figures that would
// otherwise cost a query per row: an account's balance, whether a package is in use,
// the key an audit entry names.
type (
	balancesKey struct{}
	inUseKey    struct{}
	apiKeysKey  struct{}
)

// balance returns an account's balance, computed with those of its siblings in one
// query.
func (r *Resolver) balance(ctx context.Context, acc *ent.Account) (money.Decimal, error) {
	self := rowOf(func(a *ent.Account) (*ent.Account, bool) { return a, true })
	return loadFor(ctx, balancesKey{}, acc, acc, self, func(ctx context.Context, accs []*ent.Account) ([]money.Decimal, []error) {
		b, err := r.Accounts.Balances(ctx, accs)
		out, errs := make([]money.Decimal, len(accs)), make([]error, len(accs))
		for i, a := range accs {
			out[i], errs[i] = b[a.ID], err
		}
		return out, errs
	})
}

// inUse reports whether account-packages use a package, for it and its siblings in
// one query.
func (r *Resolver) inUse(ctx context.Context, pkg *ent.CatalogPackage) (bool, error) {
	id := rowOf(func(p *ent.CatalogPackage) (int, bool) { return p.ID, true })
	return loadFor(ctx, inUseKey{}, pkg, pkg.ID, id, func(ctx context.Context, pkgs []int) ([]bool, []error) {
		used, err := r.Catalog.InUseOf(ctx, pkgs)
		out, errs := make([]bool, len(pkgs)), make([]error, len(pkgs))
		for i, p := range pkgs {
			out[i], errs[i] = used[p], err
		}
		return out, errs
	})
}

// apiKey returns the key an audit entry names (nil when it is gone), for it and its
// siblings in one query.
func (r *Resolver) apiKey(ctx context.Context, entry *ent.AuditEntry) (*ent.APIKey, error) {
	keyOf := rowOf(func(e *ent.AuditEntry) (int, bool) { return deref(e.KeyID), e.KeyID != nil })
	return loadFor(ctx, apiKeysKey{}, entry, *entry.KeyID, keyOf, func(ctx context.Context, ids []int) ([]*ent.APIKey, []error) {
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
}

// billDaysKey names the loader of accounts' bill days.
type billDaysKey struct{}

// accountBillDay returns the bill day of an account-package's account, read with
// those of its siblings' accounts in one query.
func (r *Resolver) accountBillDay(ctx context.Context, ap *ent.AccountPackage) (int, error) {
	accountOf := rowOf(func(p *ent.AccountPackage) (int, bool) { return p.AccountID, p.OwnBillDay == nil })
	return loadFor(ctx, billDaysKey{}, ap, ap.AccountID, accountOf, func(ctx context.Context, ids []int) ([]int, []error) {
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
}

// activationServicesKey names the loader of packages' activation services.
type activationServicesKey struct{}

// activationService returns the USAGE service whose usage activates a package's
// account-packages, read with those of its siblings in one query.
func (r *Resolver) activationService(ctx context.Context, pkg *ent.CatalogPackage) (*ent.Service, error) {
	keyOf := rowOf(func(p *ent.CatalogPackage) (int, bool) {
		return deref(p.ActivationServiceID), p.ActivationServiceID != nil
	})
	return loadFor(ctx, activationServicesKey{}, pkg, *pkg.ActivationServiceID, keyOf, func(ctx context.Context, ids []int) ([]*ent.Service, []error) {
		svcs, err := r.Client.Service.Query().Where(service.IDIn(ids...)).All(ctx)
		byID := make(map[int]*ent.Service, len(svcs))
		for _, s := range svcs {
			byID[s.ID] = s
		}
		out, errs := make([]*ent.Service, len(ids)), make([]error, len(ids))
		for i, id := range ids {
			out[i], errs[i] = byID[id], err
		}
		return out, errs
	})
}
