package rating

import (
	"errors"
	"fmt"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// Usage rating (docs/billing.md section 6): what a usage period of an account-package
// costs, given the quantities its services used. Like the rest of this package it is
// pure: the billing core gathers the quantities, buckets and rate plans and writes the
// lines.

// Model is how a rate plan prices a quantity.
type Model string

// The rating models.
const (
	// Graduated prices each unit at the tier it falls in, plus the flat fee of every
	// tier the quantity reaches into.
	Graduated Model = "GRADUATED"
	// Volume prices every unit at the tier the whole quantity falls in, plus that
	// tier's flat fee.
	Volume Model = "VOLUME"
)

// MaxUnitDecimals is the most decimal places a usage quantity may have.
const MaxUnitDecimals = 6

// MaxTierPriceDecimals is the most decimal places a tier's unit price may have.
const MaxTierPriceDecimals = 6

// Tier is one tier of a rate plan: it covers the quantities in (UpTo of the tier
// before, UpTo]. The last tier has no UpTo.
type Tier struct {
	UpTo      *money.Decimal `json:"upTo,omitempty"`
	UnitPrice money.Decimal  `json:"unitPrice"`
	FlatFee   money.Decimal  `json:"flatFee"`
}

// Plan is a rate plan: a model and its tiers in ascending order.
type Plan struct {
	ID       int    // the rate plan's record; 0 in tests
	Currency string // the currency its prices are in
	Model    Model
	Tiers    []Tier
}

// Plan refusals, each naming what is wrong (the catalog turns them into coded errors
// on the tier's field).
var (
	ErrNoTiers         = errors.New("a rate plan needs at least one tier")
	ErrTierOrder       = errors.New("tiers must be in ascending order of upTo")
	ErrLastTierBound   = errors.New("only the last tier has no upTo, and it must have none")
	ErrTierNegative    = errors.New("must not be negative")
	ErrTierPrecision   = fmt.Errorf("has more than %d decimal places", MaxTierPriceDecimals)
	ErrUnknownModel    = errors.New("the model must be GRADUATED or VOLUME")
	ErrUpToNotPositive = errors.New("upTo must be above 0")
)

// TierError is a refused tier: its index, its field (upTo, unitPrice, flatFee; empty
// for the tiers as a whole) and why.
type TierError struct {
	Index int
	Field string
	Err   error
}

func (e *TierError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("tiers[%d]: %v", e.Index, e.Err)
	}
	return fmt.Sprintf("tiers[%d].%s: %v", e.Index, e.Field, e.Err)
}

func (e *TierError) Unwrap() error { return e.Err }

// Validate checks a plan as the catalog stores it: a known model, at least one tier,
// every tier but the last bounded and above the one before, prices and fees not
// negative and unit prices of at most MaxTierPriceDecimals places.
func (p Plan) Validate() error {
	if p.Model != Graduated && p.Model != Volume {
		return ErrUnknownModel
	}
	if len(p.Tiers) == 0 {
		return ErrNoTiers
	}
	var prev *money.Decimal
	for i, t := range p.Tiers {
		last := i == len(p.Tiers)-1
		switch {
		case last && t.UpTo != nil, !last && t.UpTo == nil:
			return &TierError{Index: i, Field: "upTo", Err: ErrLastTierBound}
		case t.UpTo != nil && (t.UpTo.IsZero() || t.UpTo.IsNegative()):
			return &TierError{Index: i, Field: "upTo", Err: ErrUpToNotPositive}
		case t.UpTo != nil && prev != nil && t.UpTo.Cmp(*prev) <= 0:
			return &TierError{Index: i, Field: "upTo", Err: ErrTierOrder}
		case t.UnitPrice.IsNegative():
			return &TierError{Index: i, Field: "unitPrice", Err: ErrTierNegative}
		case t.UnitPrice.Scale() > MaxTierPriceDecimals:
			return &TierError{Index: i, Field: "unitPrice", Err: ErrTierPrecision}
		case t.FlatFee.IsNegative():
			return &TierError{Index: i, Field: "flatFee", Err: ErrTierNegative}
		}
		if t.UpTo != nil {
			prev = t.UpTo
		}
	}
	return nil
}

// Price is the exact amount a quantity costs under the plan, not rounded: the caller
// rounds it once, as the line's amount. A quantity of 0 (or less) reaches no tier and
// costs nothing.
func (p Plan) Price(q money.Decimal) money.Decimal {
	total := money.Zero
	if q.IsNegative() || q.IsZero() {
		return total
	}
	lower := money.Zero // the upTo of the tier before
	for _, t := range p.Tiers {
		if q.Cmp(lower) <= 0 {
			break // the quantity does not reach into this tier
		}
		inTier := t.UpTo == nil || q.Cmp(*t.UpTo) <= 0
		switch p.Model {
		case Volume:
			if inTier {
				return q.Mul(t.UnitPrice).Add(t.FlatFee)
			}
		default: // Graduated
			top := q
			if !inTier {
				top = *t.UpTo
			}
			total = total.Add(top.Sub(lower).Mul(t.UnitPrice)).Add(t.FlatFee)
		}
		if inTier {
			break
		}
		lower = *t.UpTo
	}
	return total
}

// Prorated is the plan of a partial usage period: each tier's upTo times num/den,
// rounded with money.Round to places (the unit's decimals). A tier left empty (its
// upTo no higher than the one before, or 0) is dropped with its flat fee; flat fees
// are not prorated.
func (p Plan) Prorated(num, den int64, places int32) Plan {
	out := Plan{ID: p.ID, Currency: p.Currency, Model: p.Model}
	lower := money.Zero
	for _, t := range p.Tiers {
		if t.UpTo == nil {
			out.Tiers = append(out.Tiers, t)
			continue
		}
		up := money.Prorate(*t.UpTo, num, den, places)
		if up.Cmp(lower) <= 0 {
			continue
		}
		t.UpTo = &up
		out.Tiers = append(out.Tiers, t)
		lower = up
	}
	return out
}

// UsageService is one USAGE account-service of an account-package in a usage period,
// in the order of the package's services.
type UsageService struct {
	AccountServiceID int
	Unit             string
	Used             money.Decimal // the sum of its records dated in the period
	Bucket           money.Decimal // included quantity for the period (prorated, times instances)
	Shared           bool          // what is left of the bucket joins the pool of its unit
	Plan             *Plan         // the rate plan that applies (already prorated); nil: none
}

// UsageAmount is what one account-service owes for a usage period. It gets a USAGE
// line when Billed or Amount is not zero.
type UsageAmount struct {
	AccountServiceID int
	Used             money.Decimal
	Billed           money.Decimal // Used less what buckets and the pool covered
	Amount           money.Decimal // rated and rounded once to the currency's precision
	PlanID           int           // the plan that rated it (0: nothing to rate)
}

// ErrNoRatePlan says a service has usage left to bill after buckets and no rate plan
// applies: the account fails in the run with the reason NO_RATE_PLAN.
var ErrNoRatePlan = errors.New("NO_RATE_PLAN: usage to bill and no rate plan applies")

// RateUsage rates one usage period of an account-package (docs/billing.md 6.1 and
// 6.3): each service uses its own bucket first; what is left in the shared buckets
// forms one pool per unit, from which the services of that unit with usage left draw
// in order; each plan then rates what is left, its tiers starting again at 1. Amounts
// are rounded once to prec.
func RateUsage(svcs []UsageService, prec int32) ([]UsageAmount, error) {
	out := make([]UsageAmount, len(svcs))
	pool := map[string]money.Decimal{}
	for i, s := range svcs {
		left := s.Used.Sub(s.Bucket)
		if left.IsNegative() {
			if s.Shared {
				pool[s.Unit] = pool[s.Unit].Add(left.Neg())
			}
			left = money.Zero
		}
		out[i] = UsageAmount{AccountServiceID: s.AccountServiceID, Used: s.Used, Billed: left}
	}
	for i, s := range svcs {
		if !out[i].Billed.IsZero() && !pool[s.Unit].IsZero() {
			take := pool[s.Unit]
			if out[i].Billed.Cmp(take) < 0 {
				take = out[i].Billed
			}
			out[i].Billed = out[i].Billed.Sub(take)
			pool[s.Unit] = pool[s.Unit].Sub(take)
		}
	}
	for i, s := range svcs {
		if out[i].Billed.IsZero() {
			out[i].Amount = money.Round(money.Zero, prec)
			continue
		}
		if s.Plan == nil {
			return nil, fmt.Errorf("account-service %d: %w", s.AccountServiceID, ErrNoRatePlan)
		}
		out[i].Amount = money.Round(s.Plan.Price(out[i].Billed), prec)
		out[i].PlanID = s.Plan.ID
	}
	return out, nil
}

// UsagePeriodFrom returns the usage period that starts at s for usage bill day u:
// monthly, anchored on u and clamped like bill-day anchors; one that starts off an
// anchor is partial and priced against the full month ending at the same anchor.
func UsagePeriodFrom(u int, s calendar.Date) Period {
	return PeriodFrom(CadenceOf(string(Month), 1), u, s)
}

// UsagePart is the share of its full usage period a usage period covers, as num/den
// for prorating buckets and tiers: days(part)/days(full) for a partial period, 1/1
// for a full one (or when full sizes are kept: chargeFullPeriod packages, cancellation
// options other than PRORATED, alignment to a new usage bill day).
func UsagePart(p Period) (num, den int64) {
	if p.Days() == p.FullDays() {
		return 1, 1
	}
	return int64(p.Days()), int64(p.FullDays())
}

// Difference is the further line a usage period already billed gets when it is rated
// again over all its records (late usage): the new figures less what it was billed
// before. Amounts may be negative (a VOLUME tier crossed). ok is false when neither
// the billed quantity nor the amount differs: a run then adds no line (as a period
// whose usage all fell in buckets gets none).
func Difference(billed, now UsageAmount) (diff UsageAmount, ok bool) {
	diff = UsageAmount{AccountServiceID: now.AccountServiceID, PlanID: now.PlanID,
		Used: now.Used.Sub(billed.Used), Billed: now.Billed.Sub(billed.Billed), Amount: now.Amount.Sub(billed.Amount)}
	ok = !diff.Billed.IsZero() || !diff.Amount.IsZero()
	return diff, ok
}

// UsageSpan is what places an account-package's usage periods: its first day (the
// effective date, or the activation date), the day it ends (its cancellation date;
// nil: open) and its usage bill day.
type UsageSpan struct {
	Start   calendar.Date
	End     *calendar.Date
	BillDay int
}

// PeriodContaining returns the usage period that contains day: the first one starts
// on Start (partial unless Start is an anchor), the others on anchors of BillDay, and
// the final one ends on End. Its FullStart and FullEnd are the whole month it is
// prorated against. ok is false when day is before Start or on or after End.
func (s UsageSpan) PeriodContaining(day calendar.Date) (p Period, ok bool) {
	if day.Before(s.Start) || (s.End != nil && !day.Before(*s.End)) {
		return Period{}, false
	}
	p = UsagePeriodFrom(s.BillDay, s.Start)
	if !day.Before(p.End) {
		a := FirstAnchor(day, s.BillDay)
		if !a.Equal(day) {
			a = addMonths(a, -1, s.BillDay)
		}
		p = UsagePeriodFrom(s.BillDay, a)
	}
	if s.End != nil && s.End.Before(p.End) {
		p.End = *s.End
	}
	return p, true
}

// Bucket is the quantity a service includes in a usage period: included per instance
// times instances, times the share of the full period [from, to) covers, rounded
// with money.Round to the unit's decimals (docs/billing.md 6.3). The caller picks
// from and to: the period's own days for a partial first period, a service added
// within the period, or a final period cut by a PRORATED cancellation; the full
// period where full sizes are kept.
func Bucket(included money.Decimal, instances int, from, to calendar.Date, p Period, places int32) money.Decimal {
	full := included.MulInt(int64(instances))
	days, fullDays := calendar.Days(from, to), p.FullDays()
	if days >= fullDays {
		return money.Round(full, places)
	}
	if days <= 0 {
		return money.Round(money.Zero, places)
	}
	return money.Prorate(full, int64(days), int64(fullDays), places)
}

// ChoosePlan returns the rate plan that rates a service's usage for an account in
// currency (docs/billing.md 6.1): the first of levels in that currency, nil when
// none is. The caller lists the levels narrowest first: the account-service's plan,
// the plan on the service's price in the package frequency, the account-package's,
// the package frequency's, the account's (nil where a level has none).
func ChoosePlan(currency string, levels ...*Plan) *Plan {
	for _, p := range levels {
		if p != nil && p.Currency == currency {
			return p
		}
	}
	return nil
}

// UsageBillDay is the day usage periods are anchored on: the account-package's
// usage bill day, else the account's, else the bill day in force (docs/billing.md 6.3).
func UsageBillDay(accountPackage, account *int, billDayInForce int) int {
	switch {
	case accountPackage != nil:
		return *accountPackage
	case account != nil:
		return *account
	}
	return billDayInForce
}
