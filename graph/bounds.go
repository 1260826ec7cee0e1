package graph

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/billd/billd/ent"
	catalogpkg "github.com/billd/billd/internal/catalog"
)

// The catalog's lists (a package's services, frequencies and currencies, a
// frequency's prices, a price's statuses and transitions, the currencies and
// statuses) are as long as the operator made them. The complexity limit counts each
// at the longest such list in the database, so the bound holds whatever a query
// nests: a request for every package's prices costs what the largest catalog entries
// make it cost. The figures are read again after every catalog change made through
// this node and at most boundsMaxAge after one made through another.

// boundsMaxAge is how long catalog bounds are used before they are read again.
const boundsMaxAge = 5 * time.Second

// catalogSizes are the longest catalog lists, each at least 1.
type catalogSizes struct {
	Currencies, Statuses                                   int
	PackageCurrencies, PackageServices, PackageFrequencies int
	FrequencyPrices, PriceStatuses, PriceTransitions       int
}

// catalogBounds keeps catalogSizes fresh.
type catalogBounds struct {
	client *ent.Client
	sizes  atomic.Pointer[catalogSizes]
	at     atomic.Int64 // unix nanoseconds of the last read
	mu     sync.Mutex   // one read at a time
}

// sizesQuery reads every bound in one statement.
const sizesQuery = `SELECT
  (SELECT COUNT(*) FROM currencies),
  (SELECT COUNT(*) FROM statuses),
  (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM catalog_package_currencies GROUP BY catalog_package_id) t),
  (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM package_services GROUP BY package_id) t),
  (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM package_frequencies GROUP BY package_id) t),
  (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM service_prices GROUP BY frequency_id) t),
  (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM status_prices WHERE service_price_id IS NOT NULL GROUP BY service_price_id) t),
  (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM transition_prices GROUP BY service_price_id) t)`

// get returns the bounds, reading them first when they were never read or are older
// than boundsMaxAge. If reading fails, the last figures stand (or, before any, the
// fallback ones).
func (b *catalogBounds) get() catalogSizes {
	if s, ok := b.fresh(); ok {
		return *s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.fresh(); ok { // another request read them meanwhile
		return *s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = b.read(ctx)
	if s := b.sizes.Load(); s != nil {
		return *s
	}
	return fallbackSizes
}

// fresh returns the bounds if they were read less than boundsMaxAge ago.
func (b *catalogBounds) fresh() (*catalogSizes, bool) {
	s := b.sizes.Load()
	return s, s != nil && time.Since(time.Unix(0, b.at.Load())) < boundsMaxAge
}

// fallbackSizes are used only when the database could not be read at all.
var fallbackSizes = catalogSizes{Currencies: 200, Statuses: 50, PackageCurrencies: 20, PackageServices: 50,
	PackageFrequencies: 10, FrequencyPrices: 200, PriceStatuses: 50, PriceTransitions: 50}

// read reads the bounds now; b.mu is held.
func (b *catalogBounds) read(ctx context.Context) error {
	rows, err := b.client.QueryContext(ctx, sizesQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	var s catalogSizes
	if rows.Next() {
		if err := rows.Scan(&s.Currencies, &s.Statuses, &s.PackageCurrencies, &s.PackageServices,
			&s.PackageFrequencies, &s.FrequencyPrices, &s.PriceStatuses, &s.PriceTransitions); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range []*int{&s.Currencies, &s.Statuses, &s.PackageCurrencies, &s.PackageServices,
		&s.PackageFrequencies, &s.FrequencyPrices, &s.PriceStatuses, &s.PriceTransitions} {
		*p = max(*p, 1)
	}
	b.sizes.Store(&s)
	b.at.Store(time.Now().UnixNano())
	return nil
}

// stale makes the next get read the bounds again: a catalog change was just made.
func (b *catalogBounds) stale() { b.at.Store(0) }

// catalogMutations are the mutations that can make a catalog list longer.
var catalogMutations = map[string]bool{"createCurrency": true, "createStatus": true, "createPackage": true,
	"updatePackage": true, "addPackageFrequency": true, "addPackageService": true}

// staleAfterCatalogChanges marks the bounds stale once a mutation that changes the
// catalog has run, so the next request counts with the new figures.
func (b *catalogBounds) staleAfterCatalogChanges(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
		return next(ctx)
	}
	changes := false
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"}) {
		changes = changes || catalogMutations[f.Name]
	}
	h := next(ctx)
	if !changes {
		return h
	}
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		b.stale()
		return resp
	}
}

// catalogMaxTiers bounds RatePlan.tiers: the catalog refuses longer plans.
const catalogMaxTiers = catalogpkg.MaxTiers

// catalogMaxPlanEntries and catalogMaxCountingTiers bound a price plan's entries and a
// counting rule's tiers.
const (
	catalogMaxPlanEntries   = catalogpkg.MaxPlanEntries
	catalogMaxCountingTiers = catalogpkg.MaxCountingTiers
)
