package billing

import (
	"context"
	"sort"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/usageday"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

// usageState is what billing usage needs from the database for a set of
// account-packages: daily totals, billed periods late usage reaches, and the
// recurring periods charged of packages that charge only if used.
type usageState struct {
	days      map[int]map[calendar.Date]rating.DayUsage // by account-service
	billed    map[int]map[calendar.Date]*billedUsage    // by account-service, period start
	recurring map[int]map[calendar.Date]bool            // by account-package
	services  map[int][]*ent.AccountService             // USAGE account-services, by account-package
}

// billedUsage is what an account-service's USAGE lines of one period hold together,
// and the plan of its first line.
type billedUsage struct {
	used, billed, amount money.Decimal
	planID               *int
	lines                int
	first                int // the first line's id
}

// usageView is how usage billing sees one account-package now.
type usageView struct {
	pkg       *ent.CatalogPackage
	start     calendar.Date  // the effective date, or the activation day
	pending   bool           // activation not reached: nothing is charged
	activated *calendar.Date // an activation day this billing found (to write)
}

// activation works out an account-package's activation (docs/billing.md 6.5): a
// package without one is active from its effective date; one waiting for it activates
// when a run reaches effectiveDate + afterDays (a usage threshold is found as records
// arrive, internal/usage).
func activation(pkg *ent.CatalogPackage, ap *ent.AccountPackage, end calendar.Date) usageView {
	v := usageView{pkg: pkg, start: ap.EffectiveDate}
	if pkg.ActivationAfterDays == nil && pkg.ActivationUsageThreshold == nil {
		return v
	}
	if ap.ActivatedOn != nil {
		v.start = *ap.ActivatedOn
		return v
	}
	if pkg.ActivationAfterDays != nil {
		if on := ap.EffectiveDate.AddDays(*pkg.ActivationAfterDays); !on.After(end) {
			v.start, v.activated = on, &on
			return v
		}
	}
	v.pending = true
	return v
}

// loadUsage reads what billing the usage of aps over a run ending on end needs, in a
// few queries: the USAGE account-services are those of the packages' services. A run
// that does not bill usage reads it only for packages that charge only if used.
func loadUsage(ctx context.Context, c *ent.Client, cc *Catalog, aps []*ent.AccountPackage, views map[int]usageView,
	end calendar.Date, billUsage bool) (*usageState, error) {
	us := &usageState{days: map[int]map[calendar.Date]rating.DayUsage{}, billed: map[int]map[calendar.Date]*billedUsage{},
		recurring: map[int]map[calendar.Date]bool{}, services: map[int][]*ent.AccountService{}}
	var svcIDs, lateSvcs, lateOnlyIfUsed []int
	var from *calendar.Date
	lower := func(d calendar.Date) {
		if from == nil || d.Before(*from) {
			from = &d
		}
	}
	for _, ap := range aps {
		v := views[ap.ID]
		if v.pending || (!billUsage && !v.pkg.ChargeRecurringOnlyIfUsage) {
			continue // usage read only to bill it, or to know whether a period was used
		}
		for _, sv := range ap.Edges.Services {
			svc, err := cc.service(ctx, c, sv.ServiceID)
			if err != nil {
				return nil, err
			}
			if svc.Kind != "USAGE" {
				continue
			}
			us.services[ap.ID] = append(us.services[ap.ID], sv)
			svcIDs = append(svcIDs, sv.ID)
			if ap.UsageLateFrom != nil {
				lateSvcs = append(lateSvcs, sv.ID)
			}
		}
		if len(us.services[ap.ID]) == 0 {
			continue
		}
		// The first day this billing reads: the next usage period, the billed
		// period late usage reached, the recurring periods not billed yet (for a
		// package that charges only if used) and those late usage reached.
		first := v.start
		if ap.UsageNext != nil {
			first = *ap.UsageNext
		}
		if ap.UsageLateFrom != nil && ap.UsageLateFrom.Before(first) {
			first = ap.UsageLateFrom.AddDays(-31) // the usage period that contains it starts within a month before
		}
		if v.pkg.ChargeRecurringOnlyIfUsage {
			if ap.BilledThrough != nil && ap.BilledThrough.AddDays(1).Before(first) {
				first = ap.BilledThrough.AddDays(1)
			}
			if ap.UsageLateFrom != nil {
				lateOnlyIfUsed = append(lateOnlyIfUsed, ap.ID)
				first = v.start // late periods are found from the start of the schedule
			}
		}
		lower(first)
	}
	if len(svcIDs) == 0 {
		return us, nil
	}
	days, err := c.UsageDay.Query().Where(usageday.AccountServiceIDIn(svcIDs...), usageday.DayGTE(*from),
		usageday.DayLTE(end)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range days {
		m := us.days[d.AccountServiceID]
		if m == nil {
			m = map[calendar.Date]rating.DayUsage{}
			us.days[d.AccountServiceID] = m
		}
		m[d.Day] = rating.DayUsage{Quantity: d.Quantity, Records: d.Records}
	}
	if len(lateSvcs) > 0 {
		// What the USAGE lines of the periods late usage may reach hold.
		lines, err := c.Charge.Query().Where(charge.AccountServiceIDIn(lateSvcs...), charge.KindEQ(charge.KindUSAGE),
			charge.PeriodStartGTE(*from)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			m := us.billed[*l.AccountServiceID]
			if m == nil {
				m = map[calendar.Date]*billedUsage{}
				us.billed[*l.AccountServiceID] = m
			}
			b := m[*l.PeriodStart]
			if b == nil {
				b = &billedUsage{used: money.Zero, billed: money.Zero, amount: money.Zero}
				m[*l.PeriodStart] = b
			}
			if b.lines == 0 || l.ID < b.first {
				b.first, b.planID = l.ID, l.RatePlanID
			}
			b.lines++
			b.used, b.billed, b.amount = b.used.Add(deref(l.UsedQuantity)), b.billed.Add(deref(l.BilledQuantity)), b.amount.Add(l.Amount)
		}
	}
	if len(lateOnlyIfUsed) > 0 {
		var rows []struct {
			AccountPackageID int           `json:"account_package_id"`
			PeriodStart      calendar.Date `json:"period_start"`
		}
		if err := c.Charge.Query().Where(charge.AccountPackageIDIn(lateOnlyIfUsed...), charge.KindEQ(charge.KindRECURRING)).
			Select(charge.FieldAccountPackageID, charge.FieldPeriodStart).Scan(ctx, &rows); err != nil {
			return nil, err
		}
		for _, r := range rows {
			m := us.recurring[r.AccountPackageID]
			if m == nil {
				m = map[calendar.Date]bool{}
				us.recurring[r.AccountPackageID] = m
			}
			m[r.PeriodStart] = true
		}
	}
	return us, nil
}

// usedDays are the days an account-package has usage records on (of any quantity).
func (us *usageState) usedDays(apID int) map[calendar.Date]bool {
	out := map[calendar.Date]bool{}
	for _, sv := range us.services[apID] {
		for d, u := range us.days[sv.ID] {
			if u.Records > 0 {
				out[d] = true
			}
		}
	}
	return out
}

// usagePackage builds the usage rating view of an account-package.
func usagePackage(ctx context.Context, c *ent.Client, cc *Catalog, acc *ent.Account, cur *ent.Currency,
	ap *ent.AccountPackage, v usageView, us *usageState) (rating.UsagePackage, error) {
	svcs := us.services[ap.ID]
	pss, err := cc.packageServices(ctx, c, ap.PackageID)
	if err != nil {
		return rating.UsagePackage{}, err
	}
	catalogPrices, err := cc.pricesFor(ctx, c, ap.FrequencyID, acc.CurrencyID)
	if err != nil {
		return rating.UsagePackage{}, err
	}
	freq, err := cc.freq(ctx, c, ap.FrequencyID)
	if err != nil {
		return rating.UsagePackage{}, err
	}
	// The levels shared by every service: the account-package's, the frequency's, the
	// account's (docs/billing.md 6.1).
	apPlan, err := cc.plan(ctx, c, ap.RatePlanID)
	if err != nil {
		return rating.UsagePackage{}, err
	}
	freqPlan, err := cc.plan(ctx, c, freq.RatePlanID)
	if err != nil {
		return rating.UsagePackage{}, err
	}
	accPlan, err := cc.plan(ctx, c, acc.RatePlanID)
	if err != nil {
		return rating.UsagePackage{}, err
	}
	ordered := append([]*ent.AccountService(nil), svcs...)
	position := func(sv *ent.AccountService) int {
		if ps := pss[sv.ServiceID]; ps != nil {
			return ps.Position
		}
		return 0
	}
	sort.SliceStable(ordered, func(i, j int) bool {
		pi, pj := position(ordered[i]), position(ordered[j])
		if pi != pj {
			return pi < pj
		}
		return ordered[i].ID < ordered[j].ID
	})
	day := rating.UsageBillDay(ap.UsageBillDay, acc.UsageBillDay, rating.BillDayInForce(ap.OwnBillDay, acc.BillDay))
	up := rating.UsagePackage{ID: ap.ID, Span: rating.UsageSpan{Start: v.start, End: ap.CancellationDate, BillDay: day},
		Next: ap.UsageNext, LateFrom: ap.UsageLateFrom, KeepFull: ap.ChargeFullPeriod,
		CancelProrated: ap.CancelBillingOption == nil || *ap.CancelBillingOption == "PRORATED"}
	for _, sv := range ordered {
		svc, err := cc.service(ctx, c, sv.ServiceID)
		if err != nil {
			return rating.UsagePackage{}, err
		}
		own, err := cc.plan(ctx, c, sv.RatePlanID)
		if err != nil {
			return rating.UsagePackage{}, err
		}
		var pricePlan *rating.Plan
		if p := catalogPrices[sv.ServiceID]; p != nil {
			if pricePlan, err = cc.plan(ctx, c, p.ratePlanID); err != nil {
				return rating.UsagePackage{}, err
			}
		}
		s := rating.UsageAccountService{ID: sv.ID, ServiceID: sv.ServiceID, Name: svc.Name, Decimals: int32(svc.UnitDecimals),
			Instances: sv.Quantity, Effective: sv.EffectiveDate, Days: us.days[sv.ID],
			Plan: rating.ChoosePlan(cur.Code, own, pricePlan, apPlan, freqPlan, accPlan)}
		if svc.Unit != nil {
			s.Unit = *svc.Unit
		}
		if ps := pss[sv.ServiceID]; ps != nil {
			s.Included, s.Shared = ps.Included, ps.Shared
		}
		for start, row := range us.billed[sv.ID] {
			b := rating.BilledUsage{Used: row.used, Billed: row.billed, Amount: row.amount, Lines: row.lines}
			if b.Plan, err = cc.plan(ctx, c, row.planID); err != nil {
				return rating.UsagePackage{}, err
			}
			if s.Billed == nil {
				s.Billed = map[calendar.Date]rating.BilledUsage{}
			}
			s.Billed[start] = b
		}
		up.Services = append(up.Services, s)
	}
	return up, nil
}

// deref is a nil decimal as zero.
func deref(d *money.Decimal) money.Decimal {
	if d == nil {
		return money.Zero
	}
	return *d
}
