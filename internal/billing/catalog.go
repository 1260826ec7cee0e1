package billing

import (
	"context"
	"sync"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/packageservice"
	"github.com/billd/billd/ent/pricebookprice"
	"github.com/billd/billd/ent/priceplan"
	"github.com/billd/billd/ent/rateplan"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/serviceprice"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

// prices are the catalog prices of one service on one frequency in one currency.
type prices struct {
	recurring   map[string]money.Decimal
	oneTime     *money.Decimal
	transitions map[rating.StatusPair]money.Decimal
	ratePlanID  *int // a USAGE service's plan on the frequency
	rule        *rating.CountingRule
}

// Catalog keeps the catalog billing needs in memory: statuses, services, packages and
// the prices of each (frequency, currency) it meets. A bill run loads one and bills
// every batch with it; rows created meanwhile are loaded when first met.
type Catalog struct {
	mu       sync.Mutex
	statuses map[int]*ent.Status
	services map[int]*ent.Service
	packages map[int]*ent.CatalogPackage
	freqs    map[int]*ent.PackageFrequency
	curs     map[int]*ent.Currency
	prices   map[[2]int]map[int]*prices // (frequency, currency) → service → prices
	plans    map[int]*rating.Plan
	pkgSvcs  map[int]map[int]*ent.PackageService         // package → service → its entry
	usageIDs []int                                       // the USAGE services, in id order
	books    map[[3]int]map[int]map[string]money.Decimal // (book, frequency, currency) → service → status → price
	codes    map[string][]rating.PlanEntry               // price plans by code
}

// LoadCatalog reads the catalog's statuses, services, packages and frequencies.
func LoadCatalog(ctx context.Context, c *ent.Client) (*Catalog, error) {
	cc := &Catalog{
		statuses: map[int]*ent.Status{}, services: map[int]*ent.Service{},
		packages: map[int]*ent.CatalogPackage{}, freqs: map[int]*ent.PackageFrequency{},
		curs:   map[int]*ent.Currency{},
		prices: map[[2]int]map[int]*prices{},
		plans:  map[int]*rating.Plan{}, pkgSvcs: map[int]map[int]*ent.PackageService{},
		books: map[[3]int]map[int]map[string]money.Decimal{}, codes: map[string][]rating.PlanEntry{},
	}
	sts, err := c.Status.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range sts {
		cc.statuses[st.ID] = st
	}
	svcs, err := c.Service.Query().Order(ent.Asc(service.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, sv := range svcs {
		cc.services[sv.ID] = sv
		if sv.Kind == service.KindUSAGE {
			cc.usageIDs = append(cc.usageIDs, sv.ID)
		}
	}
	pkgs, err := c.CatalogPackage.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range pkgs {
		cc.packages[p.ID] = p
	}
	freqs, err := c.PackageFrequency.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range freqs {
		cc.freqs[f.ID] = f
	}
	return cc, nil
}

// pricesFor returns the prices of a frequency in a currency, by service id.
func (cc *Catalog) pricesFor(ctx context.Context, c *ent.Client, freqID, currencyID int) (map[int]*prices, error) {
	key := [2]int{freqID, currencyID}
	cc.mu.Lock()
	p, ok := cc.prices[key]
	cc.mu.Unlock()
	if ok {
		return p, nil
	}
	sps, err := c.ServicePrice.Query().
		Where(serviceprice.FrequencyID(freqID), serviceprice.CurrencyID(currencyID)).
		WithRecurring().WithTransitions().All(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int]*prices{}
	for _, sp := range sps {
		pr := &prices{recurring: map[string]money.Decimal{}, oneTime: sp.OneTime, transitions: map[rating.StatusPair]money.Decimal{},
			ratePlanID: sp.RatePlanID, rule: sp.CountingRule}
		for _, r := range sp.Edges.Recurring {
			st, err := cc.status(ctx, c, r.StatusID)
			if err != nil {
				return nil, err
			}
			pr.recurring[st.Code] = r.Amount
		}
		for _, t := range sp.Edges.Transitions {
			from, err := cc.status(ctx, c, t.FromStatusID)
			if err != nil {
				return nil, err
			}
			to, err := cc.status(ctx, c, t.ToStatusID)
			if err != nil {
				return nil, err
			}
			pr.transitions[rating.StatusPair{From: from.Code, To: to.Code}] = t.Amount
		}
		out[sp.ServiceID] = pr
	}
	cc.mu.Lock()
	cc.prices[key] = out
	cc.mu.Unlock()
	return out, nil
}

// status returns a status, loading it if it was added during the run.
func (cc *Catalog) status(ctx context.Context, c *ent.Client, id int) (*ent.Status, error) {
	return lookup(cc, cc.statuses, id, func() (*ent.Status, error) { return c.Status.Get(ctx, id) })
}

// lookup returns m[id], loading it with get when the run has not seen it yet
// (catalog rows created while the run goes on).
func lookup[T any](cc *Catalog, m map[int]T, id int, get func() (T, error)) (T, error) {
	cc.mu.Lock()
	v, ok := m[id]
	cc.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := get()
	if err != nil {
		return v, err
	}
	cc.mu.Lock()
	m[id] = v
	cc.mu.Unlock()
	return v, nil
}

func (cc *Catalog) service(ctx context.Context, c *ent.Client, id int) (*ent.Service, error) {
	return lookup(cc, cc.services, id, func() (*ent.Service, error) { return c.Service.Get(ctx, id) })
}

func (cc *Catalog) pkg(ctx context.Context, c *ent.Client, id int) (*ent.CatalogPackage, error) {
	return lookup(cc, cc.packages, id, func() (*ent.CatalogPackage, error) { return c.CatalogPackage.Get(ctx, id) })
}

func (cc *Catalog) freq(ctx context.Context, c *ent.Client, id int) (*ent.PackageFrequency, error) {
	return lookup(cc, cc.freqs, id, func() (*ent.PackageFrequency, error) { return c.PackageFrequency.Get(ctx, id) })
}

func (cc *Catalog) currency(ctx context.Context, c *ent.Client, id int) (*ent.Currency, error) {
	return lookup(cc, cc.curs, id, func() (*ent.Currency, error) { return c.Currency.Get(ctx, id) })
}

// plan returns a rate plan as the rating engine prices with it; nil for a nil id.
func (cc *Catalog) plan(ctx context.Context, c *ent.Client, id *int) (*rating.Plan, error) {
	if id == nil {
		return nil, nil
	}
	return lookup(cc, cc.plans, *id, func() (*rating.Plan, error) {
		rp, err := c.RatePlan.Query().Where(rateplan.ID(*id)).WithCurrency().Only(ctx)
		if err != nil {
			return nil, err
		}
		return &rating.Plan{ID: rp.ID, Currency: rp.Edges.Currency.Code, Model: rating.Model(rp.Model), Tiers: rp.Tiers}, nil
	})
}

// packageServices returns a package's service entries by service id.
func (cc *Catalog) packageServices(ctx context.Context, c *ent.Client, pkgID int) (map[int]*ent.PackageService, error) {
	return lookup(cc, cc.pkgSvcs, pkgID, func() (map[int]*ent.PackageService, error) {
		pss, err := c.PackageService.Query().Where(packageservice.PackageID(pkgID)).All(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[int]*ent.PackageService, len(pss))
		for _, ps := range pss {
			out[ps.ServiceID] = ps
		}
		return out, nil
	})
}

// UsageServices returns the ids of the catalog's USAGE services (those of the catalog
// as it was loaded).
func (cc *Catalog) UsageServices() []int { return cc.usageIDs }

// bookPrices returns a price book's prices on a frequency in a currency, by service
// and status code.
func (cc *Catalog) bookPrices(ctx context.Context, c *ent.Client, book, freq, cur int) (map[int]map[string]money.Decimal, error) {
	key := [3]int{book, freq, cur}
	cc.mu.Lock()
	m, ok := cc.books[key]
	cc.mu.Unlock()
	if ok {
		return m, nil
	}
	rows, err := c.PriceBookPrice.Query().Where(pricebookprice.PriceBookID(book), pricebookprice.FrequencyID(freq),
		pricebookprice.CurrencyID(cur)).All(ctx)
	if err != nil {
		return nil, err
	}
	m = map[int]map[string]money.Decimal{}
	for _, r := range rows {
		st, err := cc.status(ctx, c, r.StatusID)
		if err != nil {
			return nil, err
		}
		if m[r.ServiceID] == nil {
			m[r.ServiceID] = map[string]money.Decimal{}
		}
		m[r.ServiceID][st.Code] = r.Amount
	}
	cc.mu.Lock()
	cc.books[key] = m
	cc.mu.Unlock()
	return m, nil
}

// planEntries returns the entries of the price plan with a product code for a
// package (none for an unknown code or a plan of another package).
func (cc *Catalog) planEntries(ctx context.Context, c *ent.Client, code string, pkgID int) ([]rating.PlanEntry, error) {
	cc.mu.Lock()
	es, ok := cc.codes[code]
	cc.mu.Unlock()
	if !ok {
		plan, err := c.PricePlan.Query().Where(priceplan.Code(code)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, err
		}
		if plan != nil && plan.PackageID == pkgID {
			es = plan.Entries
		}
		cc.mu.Lock()
		cc.codes[code] = es
		cc.mu.Unlock()
	}
	return es, nil
}
