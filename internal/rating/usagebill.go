package rating

import (
	"fmt"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
)

// Billing usage periods (docs/billing.md 6.3): which usage periods of an
// account-package a run bills, what each costs, and the difference lines late usage
// adds to periods billed before. Pure like the rest of the package: the billing core
// gathers daily totals, buckets, plans and what billed periods hold.

// DayUsage is an account-service's usage of one day: the sum and count of its records.
type DayUsage struct {
	Quantity money.Decimal
	Records  int
}

// BilledUsage is what one usage period of an account-service was billed with: what
// its USAGE lines hold together, the plan of its first line, its line count. A period
// whose usage all fell in buckets has no line: it holds zeros, and late usage rates it
// with the plan that applies then.
type BilledUsage struct {
	Used, Billed, Amount money.Decimal // what its lines hold together
	Plan                 *Plan         // the plan that applied when it was first billed
	Lines                int
}

// UsageAccountService is one USAGE account-service as usage billing sees it.
type UsageAccountService struct {
	ID, ServiceID int
	Name, Unit    string
	Decimals      int32          // the unit's decimal places
	Included      *money.Decimal // per instance and usage period; nil: no bucket
	Shared        bool
	Instances     int
	Effective     calendar.Date
	Plan          *Plan // the plan that applies now (nil: none); not prorated
	// Days holds its usage by day, over every period this billing may rate.
	Days map[calendar.Date]DayUsage
	// Billed holds its billed periods by start, for the periods late usage reaches.
	Billed map[calendar.Date]BilledUsage
}

// UsagePackage is the usage billing state of one account-package.
type UsagePackage struct {
	ID   int
	Span UsageSpan
	// Next is the first day of the next usage period to bill (nil: Span.Start).
	Next *calendar.Date
	// LateFrom is the earliest day of records that arrived for billed periods.
	LateFrom *calendar.Date
	// KeepFull keeps full bucket and tier sizes in partial periods (chargeFullPeriod).
	KeepFull bool
	// CancelProrated says the cancellation (Span.End) is PRORATED: the final period's
	// sizes are cut to its days; other options keep full sizes.
	CancelProrated bool
	Services       []UsageAccountService // in the package's order
}

// UsageResult is what billing one package's usage produced.
type UsageResult struct {
	Lines []Line
	// The package's new usage position: Next the first day of the next period to bill,
	// Due its end (nil: no period left, the package's usage ended).
	Next, Due *calendar.Date
	// Moved reports whether the position changed or lines were made.
	Moved bool
}

// ReasonNoRatePlan is the reason code of an account that has usage to bill and
// no rate plan for it (BillRunError.code).
const ReasonNoRatePlan = "NO_RATE_PLAN"

// maxUsagePeriods bounds the usage periods one run bills or rates again per package
// (MaxSpanDays of months).
const maxUsagePeriods = MaxSpanDays / 28

// BillUsage bills an account-package's usage over a run's range (docs/billing.md
// 6.3): first the billed periods late usage reached, each rated again over all its
// records with the plan of its first billing, a difference line per service whose
// figures changed; then every usage period [a, b) not billed yet with b on or
// before the range's end. An account-service with usage left to bill after buckets
// and no plan fails the whole package with NO_RATE_PLAN (a coded error).
func BillUsage(p UsagePackage, r Range, prec int32) (UsageResult, error) {
	res := UsageResult{Next: p.Next}
	next := p.Span.Start
	if p.Next != nil {
		next = *p.Next
	}
	if p.LateFrom != nil && p.LateFrom.Before(next) {
		per, ok := p.Span.PeriodContaining(*p.LateFrom)
		for n := 0; ok && per.Start.Before(next) && n < maxUsagePeriods; n++ {
			if err := p.rerate(per, prec, &res); err != nil {
				return UsageResult{}, err
			}
			per, ok = p.Span.PeriodContaining(per.End)
		}
		res.Moved = true // the late mark is cleared
	}
	for n := 0; n < maxUsagePeriods; n++ {
		per, ok := p.Span.PeriodContaining(next)
		if !ok || per.End.After(r.End) {
			break
		}
		if err := p.first(per, prec, &res); err != nil {
			return UsageResult{}, err
		}
		next = per.End
		res.Moved = true
	}
	res.Next = &next
	if per, ok := p.Span.PeriodContaining(next); ok {
		due := per.End
		res.Due = &due
	}
	if p.Next == nil || !p.Next.Equal(next) {
		res.Moved = true
	}
	return res, nil
}

// sizes returns the days [from, to) a period's buckets and tiers are sized for: its
// own days in a partial period, cut at a PRORATED cancellation, the full period where
// full sizes are kept.
func (p UsagePackage) sizes(per Period) (from, to calendar.Date) {
	if p.KeepFull {
		return per.FullStart, per.FullEnd
	}
	from, to = per.Start, per.FullEnd
	if per.End.Before(per.FullEnd) && p.CancelProrated {
		to = per.End // the final period, cut by a PRORATED cancellation
	}
	return from, to
}

// BucketIn is the bucket an account-service has in a usage period of the package
// (docs/billing.md 6.3): its included quantity times its instances, prorated for the
// days the period is sized for and, for a service added within it, from its own start
// (a chargeFullPeriod package keeps every bucket whole); zero without a bucket.
func (p UsagePackage) BucketIn(per Period, s UsageAccountService) money.Decimal {
	if s.Included == nil {
		return money.Round(money.Zero, s.Decimals)
	}
	from, to := p.sizes(per)
	if !p.KeepFull && from.Before(s.Effective) {
		from = s.Effective
	}
	return Bucket(*s.Included, s.Instances, from, to, per, s.Decimals)
}

// rate rates one period with the given plan for each service (nil: none).
func (p UsagePackage) rate(per Period, plans []*Plan, prec int32) ([]UsageAmount, error) {
	from, to := p.sizes(per)
	num, den := int64(calendar.Days(from, to)), int64(per.FullDays())
	svcs := make([]UsageService, len(p.Services))
	for i, s := range p.Services {
		us := UsageService{AccountServiceID: s.ID, Unit: s.Unit, Shared: s.Shared, Used: s.used(per),
			Bucket: p.BucketIn(per, s)}
		if pl := plans[i]; pl != nil {
			q := *pl
			if num < den {
				q = pl.Prorated(num, den, s.Decimals)
			}
			us.Plan = &q
		}
		svcs[i] = us
	}
	out, err := RateUsage(svcs, prec)
	if err != nil {
		return nil, &fault.Error{Code: fault.FailedPrecondition, Reason: ReasonNoRatePlan,
			Message: fmt.Sprintf("account-package %d: usage from %s to %s: %v", p.ID, per.Start, per.End.AddDays(-1), err)}
	}
	return out, nil
}

// used is the sum of a service's records dated in a period.
func (s UsageAccountService) used(per Period) money.Decimal {
	total := money.Zero
	for d := per.Start; d.Before(per.End); d = d.AddDays(1) {
		if u, ok := s.Days[d]; ok {
			total = total.Add(u.Quantity)
		}
	}
	return total
}

// first bills a period for the first time: one USAGE line per service with usage to
// bill.
func (p UsagePackage) first(per Period, prec int32, res *UsageResult) error {
	plans := make([]*Plan, len(p.Services))
	for i, s := range p.Services {
		plans[i] = s.Plan
	}
	amounts, err := p.rate(per, plans, prec)
	if err != nil {
		return err
	}
	for i, s := range p.Services {
		if !s.Effective.Before(per.End) {
			continue // added after the period
		}
		if a := amounts[i]; !a.Billed.IsZero() || !a.Amount.IsZero() {
			res.Lines = append(res.Lines, usageLine(s, per, a, plans[i], Guard(Usage, s.ID, per.Start.String())))
		}
	}
	return nil
}

// rerate rates a billed period again over all its records, with the plan of each
// service's first line for the period, and adds a line of the difference where its
// billed quantity or amount changed.
func (p UsagePackage) rerate(per Period, prec int32, res *UsageResult) error {
	plans := make([]*Plan, len(p.Services))
	for i, s := range p.Services {
		plans[i] = s.Plan
		if b, ok := s.Billed[per.Start]; ok && b.Plan != nil {
			plans[i] = b.Plan
		}
	}
	amounts, err := p.rate(per, plans, prec)
	if err != nil {
		return err
	}
	for i, s := range p.Services {
		if !s.Effective.Before(per.End) {
			continue
		}
		b := s.Billed[per.Start]
		prev := UsageAmount{AccountServiceID: s.ID, Used: b.Used, Billed: b.Billed, Amount: b.Amount}
		diff, changed := Difference(prev, amounts[i])
		if !changed {
			continue
		}
		guard := Guard(Usage, s.ID, per.Start.String())
		if b.Lines > 0 {
			guard = fmt.Sprintf("%s:%d", guard, b.Lines+1)
		}
		res.Lines = append(res.Lines, usageLine(s, per, diff, plans[i], guard))
	}
	return nil
}

// usageLine is the USAGE line of an amount: quantity 1, the amount as its unit amount,
// and the plan that rated the period.
func usageLine(s UsageAccountService, per Period, a UsageAmount, plan *Plan, guard string) Line {
	used, billed := a.Used, a.Billed
	l := Line{Kind: Usage, AccountServiceID: s.ID, ServiceID: s.ServiceID, Description: s.Name + " (usage)",
		PeriodStart: per.Start, PeriodEnd: per.End.AddDays(-1), Quantity: 1, UnitAmount: a.Amount, Amount: a.Amount,
		Used: &used, Billed: &billed, Guard: guard}
	if plan != nil {
		l.PlanID = plan.ID
	}
	return l
}
