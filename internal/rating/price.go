package rating

import (
	"fmt"
	"io"
	"strconv"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// PriceSource says where a recurring price came from (docs/billing.md 7.1).
type PriceSource string

// The price sources, in the order they win.
const (
	FromOverride     PriceSource = "OVERRIDE"
	FromPricePlan    PriceSource = "PRICE_PLAN"
	FromCountingRule PriceSource = "COUNTING_RULE"
	FromPriceBook    PriceSource = "PRICE_BOOK"
	FromCatalog      PriceSource = "CATALOG"
)

// PlanEntry is one entry of a price plan: for one service of the plan's package, in
// one status, a replacement price or a percentage off the price that would apply
// without the plan. Exactly one of Amount and PercentOff is set.
type PlanEntry struct {
	ServiceID  int            `json:"serviceId"`
	Status     string         `json:"status"`
	Amount     *money.Decimal `json:"amount,omitempty"`
	PercentOff *money.Decimal `json:"percentOff,omitempty"`
}

// CountingBasis is what a counting rule counts.
type CountingBasis string

// The counting bases.
const (
	// CountPackages counts the account's account-packages of the package.
	CountPackages CountingBasis = "PACKAGES"
	// CountServices counts the instances of the service over the account's
	// account-packages of the package.
	CountServices CountingBasis = "SERVICES"
)

// CountingTier is the price from a count on: it applies to counts from From up to the
// next tier's From − 1.
type CountingTier struct {
	From   int           `json:"from"`
	Amount money.Decimal `json:"amount"`
}

// CountingRule replaces one service's price in one status with the price of the tier
// its count falls in (docs/billing.md 7.1). Tiers start at 1 and ascend.
type CountingRule struct {
	Basis  CountingBasis  `json:"basis"`
	Status string         `json:"status"`
	Tiers  []CountingTier `json:"tiers"`
}

// Price returns the price of a count: that of the last tier whose From it reaches;
// false for a count below the first tier (0: nothing counted).
func (r *CountingRule) Price(count int) (money.Decimal, bool) {
	var out money.Decimal
	ok := false
	for _, t := range r.Tiers {
		if count >= t.From {
			out, ok = t.Amount, true
		}
	}
	return out, ok
}

// Counted is one thing a counting rule counts: an account-package (N 1) or an
// account-service's instances (N its quantity times the package's bulk quantity),
// in a billable status, effective from Effective.
type Counted struct {
	Effective calendar.Date
	N         int
}

// Count is how many of counted are effective on or before day.
func Count(counted []Counted, day calendar.Date) int {
	n := 0
	for _, c := range counted {
		if !c.Effective.After(day) {
			n += c.N
		}
	}
	return n
}

// Pricing is everything that decides an account-service's recurring price in each
// status (docs/billing.md 7.1), as the billing core loaded it.
type Pricing struct {
	// Override holds the account-service's own prices, by status code.
	Override map[string]money.Decimal
	// Plan holds the entries of the account-package's price plan for this service.
	Plan []PlanEntry
	// Rule is the counting rule on the service's price, if any; Counted what it
	// counts over the account.
	Rule    *CountingRule
	Counted []Counted
	// Book holds the account's price book prices, by status code.
	Book map[string]money.Decimal
	// Catalog holds the frequency's catalog prices, by status code.
	Catalog map[string]money.Decimal
}

var hundredth = money.MustParse("0.01")

// Price is a recurring price and where it came from.
type Price struct {
	Amount money.Decimal
	Source PriceSource
}

// PriceOf is the one place that decides which recurring price applies to an
// account-service in status for a period starting on day (docs/billing.md 7.1): its
// override; else its price plan's entry (a replacement, or a percentage off the price
// below it); else the counting rule of that status; else the price book's price; else
// the catalog's. False: the status has no price and costs nothing. A percentage off is
// applied exactly; the line it prices is rounded once.
func PriceOf(p *Pricing, status string, day calendar.Date) (Price, bool) {
	if a, ok := p.Override[status]; ok {
		return Price{a, FromOverride}, true
	}
	base, ok := withoutPlan(p, status, day)
	for _, e := range p.Plan {
		if e.Status != status {
			continue
		}
		switch {
		case e.Amount != nil:
			return Price{*e.Amount, FromPricePlan}, true
		case e.PercentOff != nil && ok:
			off := money.FromInt(100).Sub(*e.PercentOff)
			return Price{base.Amount.Mul(off).Mul(hundredth), FromPricePlan}, true
		}
	}
	return base, ok
}

// withoutPlan is the price below a price plan: counting rule, price book, catalog.
func withoutPlan(p *Pricing, status string, day calendar.Date) (Price, bool) {
	if r := p.Rule; r != nil && r.Status == status {
		if a, ok := r.Price(Count(p.Counted, day)); ok {
			return Price{a, FromCountingRule}, true
		}
	}
	if a, ok := p.Book[status]; ok {
		return Price{a, FromPriceBook}, true
	}
	if a, ok := p.Catalog[status]; ok {
		return Price{a, FromCatalog}, true
	}
	return Price{}, false
}

// WithoutOverride is the price that applies to an account-service in status when
// its override is cleared: setting an override to it removes the override
// (docs/billing.md 3, 7.1).
func WithoutOverride(p Pricing, status string, day calendar.Date) (Price, bool) {
	p.Override = nil
	return PriceOf(&p, status, day)
}

// MarshalGQL writes the basis as its GraphQL enum value.
func (b CountingBasis) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(b))) }

// UnmarshalGQL reads the basis from its GraphQL enum value.
func (b *CountingBasis) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || (CountingBasis(s) != CountPackages && CountingBasis(s) != CountServices) {
		return fmt.Errorf("%v is not a CountingBasis: PACKAGES or SERVICES", v)
	}
	*b = CountingBasis(s)
	return nil
}
