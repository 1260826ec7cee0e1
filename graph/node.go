package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/internal/fault"
)

// Node and nodes follow the Relay convention: an id that names nothing the caller may
// see (it does not exist, it is another partner's, or its type is not a Node of the
// API) answers null, with no error. Ent's global ids also cover rows that are not
// Nodes on the API (currencies, prices, ...).

// isNode reports whether n is of a type the API serves as a Node.
func isNode(n ent.Noder) bool {
	switch n.(type) {
	case *ent.Service, *ent.CatalogPackage, *ent.PackageFrequency, *ent.Account, *ent.AccountPackage,
		*ent.AccountService, *ent.Invoice, *ent.Charge, *ent.BillRun, *ent.Partner, *ent.APIKey, *ent.AuditEntry,
		*ent.RatePlan, *ent.UsageRecord:
		return true
	}
	return false
}

// node resolves one global id, or nil.
func (r *Resolver) node(ctx context.Context, id int) (ent.Noder, error) {
	n, err := r.Client.Noder(ctx, id)
	switch {
	case ent.IsNotFound(err): // also an id outside every type's range
		return nil, nil
	case err != nil:
		return nil, err
	case !isNode(n):
		return nil, nil
	}
	return n, nil
}

// nodes resolves up to max global ids in one statement per type, with null in the
// place of each id that resolves to nothing.
func (r *Resolver) nodes(ctx context.Context, ids []int, max int) ([]ent.Noder, error) {
	if len(ids) > max {
		return nil, fault.Invalidf("ids", "nodes takes at most %d ids, got %d", max, len(ids))
	}
	out := make([]ent.Noder, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	// Ent reports each id it cannot resolve as an error of the response; collect them
	// apart from the real response and keep only the failures that are not "no such
	// node".
	quiet := graphql.WithResponseContext(ctx, graphql.DefaultErrorPresenter, graphql.DefaultRecover)
	found, err := r.Client.Noders(quiet, ids)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	for _, e := range graphql.GetErrors(quiet) {
		if code, _ := e.Extensions["code"].(string); code != "NOT_FOUND" && !ent.IsNotFound(e.Err) {
			return nil, e
		}
	}
	for i, n := range found {
		if i < len(out) && n != nil && isNode(n) {
			out[i] = n
		}
	}
	return out, nil
}
