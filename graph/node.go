package graph

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/internal/fault"
)

// node resolves a global id to a record of a type that is a Node on the API. Ent's
// global ids also cover rows that are not Nodes (currencies, prices, ...); those and
// ids that do not exist are NOT_FOUND alike.
func (r *Resolver) node(ctx context.Context, id int) (ent.Noder, error) {
	n, err := r.Client.Noder(ctx, id)
	if err != nil {
		if ent.IsNotFound(err) {
			return nil, fault.NotFoundf("id", "no node with id %d", id)
		}
		return nil, err
	}
	switch n.(type) {
	case *ent.Service, *ent.CatalogPackage, *ent.PackageFrequency, *ent.Account, *ent.AccountPackage,
		*ent.AccountService, *ent.Invoice, *ent.Charge, *ent.BillRun, *ent.Partner, *ent.APIKey, *ent.AuditEntry:
		return n, nil
	}
	return nil, fault.NotFoundf("id", "no node with id %d", id)
}
