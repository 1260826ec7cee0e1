package catalog

import (
	"context"
	"strings"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/packageservice"
	"github.com/billd/billd/ent/pricebook"
	"github.com/billd/billd/ent/pricebookprice"
	"github.com/billd/billd/ent/priceplan"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/text"
)

// The price adjustments of the catalog (docs/billing.md 7.1): counting rules on a
// frequency's prices, price books, and price plans.

// MaxPriceDecimals bounds the decimal places of a replacement price, like a rate
// plan's unit prices.
const MaxPriceDecimals = 6

// MaxCountingTiers bounds the tiers of a counting rule.
const MaxCountingTiers = 100

// CountingTierInput is the price from a count on.
type CountingTierInput struct {
	From   int
	Amount money.Decimal
}

// CountingRuleInput replaces a service's recurring price in one status (ACTIVE
// unless given) from tiers by count.
type CountingRuleInput struct {
	Basis  rating.CountingBasis
	Status *string
	Tiers  []*CountingTierInput
}

// status returns the status whose price the rule replaces.
func (in *CountingRuleInput) status() string {
	if in.Status == nil {
		return rating.Active
	}
	return *in.Status
}

// validate checks the rule's shape at path: a known basis, 1..MaxCountingTiers tiers
// starting at 1 in strictly ascending order, amounts not negative.
func (in *CountingRuleInput) validate(path string) error {
	if in.Basis != rating.CountPackages && in.Basis != rating.CountServices {
		return fault.Invalidf(path+".basis", "basis must be PACKAGES or SERVICES")
	}
	switch {
	case len(in.Tiers) == 0:
		return fault.Invalidf(path+".tiers", "a counting rule needs at least one tier")
	case len(in.Tiers) > MaxCountingTiers:
		return fault.Invalidf(path+".tiers", "a counting rule has at most %d tiers, got %d", MaxCountingTiers, len(in.Tiers))
	}
	for i, t := range in.Tiers {
		tp := fault.Path(path+".tiers", i)
		switch {
		case i == 0 && t.From != 1:
			return fault.Invalidf(tp+".from", "the first tier starts at 1, not %d", t.From)
		case i > 0 && t.From <= in.Tiers[i-1].From:
			return fault.Invalidf(tp+".from", "tier %d starts at %d, not after the previous tier's %d: tiers ascend",
				i+1, t.From, in.Tiers[i-1].From)
		case t.Amount.IsNegative():
			return fault.Invalidf(tp+".amount", "price %s is negative", t.Amount)
		}
	}
	return nil
}

// rule returns the input as the rating engine's rule, amounts in precision prec.
func (in *CountingRuleInput) rule(prec int32) *rating.CountingRule {
	r := &rating.CountingRule{Basis: in.Basis, Status: in.status(), Tiers: make([]rating.CountingTier, len(in.Tiers))}
	for i, t := range in.Tiers {
		r.Tiers[i] = rating.CountingTier{From: t.From, Amount: money.AtLeastScale(t.Amount, prec)}
	}
	return r
}

// checkCountingRule checks a price entry's counting rule against the catalog: the
// service is RECURRING and the status exists.
func checkCountingRule(path string, sv *ent.Service, in *CountingRuleInput, r *refs) error {
	if sv.Kind != service.KindRECURRING {
		return fault.Invalidf(path, "service %q is a %s service: only recurring prices have counting rules", sv.Name, sv.Kind)
	}
	if _, ok := r.statuses[in.status()]; !ok {
		return fault.NotFoundf(path+".status", "unknown status code %q", in.status())
	}
	return nil
}

// CreatePriceBook adds a price book. BAD_USER_INPUT for an empty or too long name;
// CONFLICT for a name taken in any letter case.
func (s *Service) CreatePriceBook(ctx context.Context, name string) (*ent.PriceBook, error) {
	if err := text.Name("name", &name, MaxNameLen); err != nil {
		return nil, err
	}
	b, err := s.client.PriceBook.Create().SetName(name).SetNameKey(nameKey(name)).Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, fault.Conflictf("name", "a price book named %q already exists", name)
	}
	return b, err
}

// PriceBookPriceInput sets a price book's prices on one frequency.
type PriceBookPriceInput struct {
	PriceBookID int
	FrequencyID int
	Prices      []*ServicePriceInput
}

// Validate checks the input without touching the database: a price book holds
// recurring prices only, not negative, each status once per service and currency.
func (in *PriceBookPriceInput) Validate() error {
	type key struct {
		svc     int
		cur, st string
	}
	seen := map[key]bool{}
	for i, p := range in.Prices {
		pp := fault.Path("input.prices", i)
		switch {
		case p.OneTime != nil:
			return fault.Invalidf(pp+".oneTime", "a price book holds recurring prices only")
		case len(p.Transitions) > 0:
			return fault.Invalidf(pp+".transitions", "a price book holds recurring prices only")
		case p.RatePlanID != nil:
			return fault.Invalidf(pp+".ratePlanId", "a price book holds recurring prices only")
		case p.CountingRule != nil:
			return fault.Invalidf(pp+".countingRule", "a price book holds recurring prices only")
		}
		for j, r := range p.Recurring {
			rp := fault.Path(pp+".recurring", j)
			if r.Amount.IsNegative() {
				return fault.Invalidf(rp+".amount", "price %s is negative", r.Amount)
			}
			k := key{p.ServiceID, p.Currency, r.Status}
			if seen[k] {
				return fault.Invalidf(rp+".status", "service %d is priced twice in %s for status %s", p.ServiceID, p.Currency, r.Status)
			}
			seen[k] = true
		}
	}
	return nil
}

// SetPriceBookPrices replaces a price book's prices on a frequency with the given
// ones (none removes them all); prices missing there fall back to the catalog.
// NOT_FOUND for an unknown price book, frequency, currency or status;
// FAILED_PRECONDITION for a service the frequency's package does not contain, a
// currency it is not priced in, or a service that is not RECURRING. Prices change the
// periods billed afterwards.
func (s *Service) SetPriceBookPrices(ctx context.Context, in PriceBookPriceInput) (*ent.PackageFrequency, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if _, err := c.PriceBook.Get(ctx, in.PriceBookID); err != nil {
			return notFound(err, "input.priceBookId", "price book", in.PriceBookID)
		}
		freq, err := c.PackageFrequency.Query().Where(packagefrequency.ID(in.FrequencyID)).
			WithPackage(func(q *ent.CatalogPackageQuery) { q.WithCurrencies() }).Only(ctx)
		if err != nil {
			return notFound(err, "input.frequencyId", "package frequency", in.FrequencyID)
		}
		pkg := freq.Edges.Package
		svcs := map[int]*ent.Service{}
		pss, err := c.PackageService.Query().Where(packageservice.PackageID(pkg.ID)).WithService().All(ctx)
		if err != nil {
			return err
		}
		for _, ps := range pss {
			svcs[ps.ServiceID] = ps.Edges.Service
		}
		pkgCur := map[string]*ent.Currency{}
		for _, cur := range pkg.Edges.Currencies {
			pkgCur[cur.Code] = cur
		}
		r, err := s.loadRefs(ctx, c)
		if err != nil {
			return err
		}
		if _, err := c.PriceBookPrice.Delete().Where(pricebookprice.PriceBookID(in.PriceBookID),
			pricebookprice.FrequencyID(in.FrequencyID)).Exec(ctx); err != nil {
			return err
		}
		var rows []*ent.PriceBookPriceCreate
		for i, p := range in.Prices {
			pp := fault.Path("input.prices", i)
			sv, ok := svcs[p.ServiceID]
			if !ok {
				return fault.PreconditionAt(pp+".serviceId", "service %d is not one of package %q's services", p.ServiceID, pkg.Name)
			}
			if sv.Kind != service.KindRECURRING {
				return fault.PreconditionAt(pp+".serviceId", "service %q is a %s service: a price book holds recurring prices", sv.Name, sv.Kind)
			}
			cur, ok := pkgCur[p.Currency]
			if !ok {
				if _, known := r.currencies[p.Currency]; !known {
					return fault.NotFoundf(pp+".currency", "unknown currency code %q", p.Currency)
				}
				return fault.PreconditionAt(pp+".currency", "package %q is not priced in %s (its currencies: %s)", pkg.Name, p.Currency, codes(pkgCur))
			}
			for j, rp := range p.Recurring {
				st, ok := r.statuses[rp.Status]
				if !ok {
					return fault.NotFoundf(fault.Path(pp+".recurring", j, "status"), "unknown status code %q", rp.Status)
				}
				rows = append(rows, c.PriceBookPrice.Create().SetPriceBookID(in.PriceBookID).SetFrequencyID(in.FrequencyID).
					SetServiceID(p.ServiceID).SetCurrencyID(cur.ID).SetStatusID(st.ID).
					SetAmount(money.AtLeastScale(rp.Amount, int32(cur.Precision))))
			}
		}
		return c.PriceBookPrice.CreateBulk(rows...).Exec(ctx)
	})
	if err != nil {
		return nil, err
	}
	return s.client.PackageFrequency.Get(ctx, in.FrequencyID)
}

// PricePlanEntryInput prices one service of the plan's package in one status
// (ACTIVE unless given): a replacement amount or a percentage off.
type PricePlanEntryInput struct {
	ServiceID  int
	Status     *string
	Amount     *money.Decimal
	PercentOff *money.Decimal
}

// CreatePricePlanInput defines a price plan for a package.
type CreatePricePlanInput struct {
	Code      string
	PackageID int
	Entries   []*PricePlanEntryInput
}

// MaxPlanEntries bounds the entries of a price plan.
const MaxPlanEntries = 100

// MaxCodeLen bounds product codes.
const MaxCodeLen = 100

var hundred = money.FromInt(100)

// Validate checks the input without touching the database: a code, 1..100 entries,
// each with exactly one of amount (≥ 0, at most MaxPriceDecimals places) and
// percentOff (above 0, at most 100), each service and status once.
func (in *CreatePricePlanInput) Validate() error {
	in.Code = strings.TrimSpace(in.Code)
	if in.Code == "" || len([]rune(in.Code)) > MaxCodeLen {
		return fault.Invalidf("input.code", "a code has 1..%d characters", MaxCodeLen)
	}
	switch {
	case len(in.Entries) == 0:
		return fault.Invalidf("input.entries", "a price plan needs at least one entry")
	case len(in.Entries) > MaxPlanEntries:
		return fault.Invalidf("input.entries", "a price plan has at most %d entries, got %d", MaxPlanEntries, len(in.Entries))
	}
	seen := map[[2]any]bool{}
	for i, e := range in.Entries {
		ep := fault.Path("input.entries", i)
		switch {
		case e.Amount != nil && e.PercentOff != nil:
			return fault.Invalidf(ep+".percentOff", "an entry is an amount or a percentage off, not both")
		case e.Amount == nil && e.PercentOff == nil:
			return fault.Invalidf(ep+".amount", "an entry needs an amount or a percentOff")
		case e.Amount != nil && e.Amount.IsNegative():
			return fault.Invalidf(ep+".amount", "price %s is negative", *e.Amount)
		case e.Amount != nil && e.Amount.Scale() > MaxPriceDecimals:
			return fault.Invalidf(ep+".amount", "price %s has more than %d decimal places", *e.Amount, MaxPriceDecimals)
		case e.PercentOff != nil && (!e.PercentOff.IsPositive() || e.PercentOff.Cmp(hundred) > 0):
			return fault.Invalidf(ep+".percentOff", "percentOff %s is outside (0, 100]", *e.PercentOff)
		}
		k := [2]any{e.ServiceID, entryStatus(e)}
		if seen[k] {
			return fault.Invalidf(ep+".serviceId", "service %d is priced twice for status %s", e.ServiceID, entryStatus(e))
		}
		seen[k] = true
	}
	return nil
}

func entryStatus(e *PricePlanEntryInput) string {
	if e.Status == nil {
		return rating.Active
	}
	return *e.Status
}

// CreatePricePlan defines a price plan. BAD_USER_INPUT for a malformed plan or a
// service its package lacks or that is not RECURRING; NOT_FOUND for an unknown
// package or status; CONFLICT for a code taken. A plan never changes afterwards.
func (s *Service) CreatePricePlan(ctx context.Context, in CreatePricePlanInput) (*ent.PricePlan, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.PricePlan
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		pkg, err := c.CatalogPackage.Get(ctx, in.PackageID)
		if err != nil {
			return notFound(err, "input.packageId", "package", in.PackageID)
		}
		if taken, err := c.PricePlan.Query().Where(priceplan.Code(in.Code)).Exist(ctx); err != nil {
			return err
		} else if taken {
			return fault.Conflictf("input.code", "price plan code %q is taken", in.Code)
		}
		pss, err := c.PackageService.Query().Where(packageservice.PackageID(pkg.ID)).WithService().All(ctx)
		if err != nil {
			return err
		}
		svcs := map[int]*ent.Service{}
		for _, ps := range pss {
			svcs[ps.ServiceID] = ps.Edges.Service
		}
		r, err := s.loadRefs(ctx, c)
		if err != nil {
			return err
		}
		entries := make([]rating.PlanEntry, len(in.Entries))
		for i, e := range in.Entries {
			ep := fault.Path("input.entries", i)
			sv, ok := svcs[e.ServiceID]
			switch {
			case !ok:
				return fault.Invalidf(ep+".serviceId", "service %d is not one of package %q's services", e.ServiceID, pkg.Name)
			case sv.Kind != service.KindRECURRING:
				return fault.Invalidf(ep+".serviceId", "service %q is a %s service: a price plan prices recurring charges", sv.Name, sv.Kind)
			}
			if _, ok := r.statuses[entryStatus(e)]; !ok {
				return fault.NotFoundf(ep+".status", "unknown status code %q", entryStatus(e))
			}
			entries[i] = rating.PlanEntry{ServiceID: e.ServiceID, Status: entryStatus(e), Amount: e.Amount, PercentOff: e.PercentOff}
		}
		out, err = c.PricePlan.Create().SetCode(in.Code).SetPackageID(pkg.ID).SetEntries(entries).Save(ctx)
		if ent.IsConstraintError(err) {
			return fault.Conflictf("input.code", "price plan code %q is taken", in.Code)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// CheckProductCode checks an account-package's product code: a price plan has it
// (BAD_USER_INPUT on field otherwise) and prices the account-package's package.
func CheckProductCode(ctx context.Context, c *ent.Client, code string, packageID int, field string) error {
	plan, err := c.PricePlan.Query().Where(priceplan.Code(code)).Only(ctx)
	if ent.IsNotFound(err) {
		return fault.Invalidf(field, "no price plan has the code %q", code)
	} else if err != nil {
		return err
	}
	if plan.PackageID != packageID {
		return fault.Invalidf(field, "price plan %q prices another package", code)
	}
	return nil
}

// CheckPriceBook checks a price book given for an account: NOT_FOUND on field if
// there is none.
func CheckPriceBook(ctx context.Context, c *ent.Client, id int, field string) error {
	ok, err := c.PriceBook.Query().Where(pricebook.ID(id)).Exist(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fault.NotFoundf(field, "price book %d not found", id)
	}
	return nil
}
