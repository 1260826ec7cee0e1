package billing

import (
	"context"
	"sort"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/usageday"
	"github.com/billd/billd/ent/usageperiod"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// usageState is what billing usage needs from the database for a set of
// account-packages: daily totals, billed periods late usage reaches, and the
// recurring periods charged of packages that charge only if used.
type usageState struct {
	days      map[int]map[calendar.Date]rating.DayUsage  // by account-service
	billed    map[int]map[calendar.Date]*ent.UsagePeriod // by account-service, period start
	recurring map[int]map[calendar.Date]bool             // by account-package
	services  map[int][]*ent.AccountService              // USAGE account-services, by account-package
	activated map[int]calendar.Date                      // activation days found by this billing
	from      map[int]calendar.Date                      // by account-package: the first day its billing reads
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
// few queries: the USAGE account-services are those of the packages' services.
func loadUsage(ctx context.Context, c *ent.Client, cc *Catalog, aps []*ent.AccountPackage, views map[int]usageView,
	end calendar.Date) (*usageState, error) {
	us := &usageState{days: map[int]map[calendar.Date]rating.DayUsage{}, billed: map[int]map[calendar.Date]*ent.UsagePeriod{},
		recurring: map[int]map[calendar.Date]bool{}, services: map[int][]*ent.AccountService{},
		activated: map[int]calendar.Date{}, from: map[int]calendar.Date{}}
	var svcIDs, lateSvcs, lateOnlyIfUsed []int
	var from *calendar.Date
	lower := func(d calendar.Date) {
		if from == nil || d.Before(*from) {
			from = &d
		}
	}
	for _, ap := range aps {
		v := views[ap.ID]
		if v.pending {
			continue
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
		us.from[ap.ID] = first
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
		rows, err := c.UsagePeriod.Query().Where(usageperiod.AccountServiceIDIn(lateSvcs...),
			usageperiod.PeriodStartGTE(*from)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			m := us.billed[r.AccountServiceID]
			if m == nil {
				m = map[calendar.Date]*ent.UsagePeriod{}
				us.billed[r.AccountServiceID] = m
			}
			m[r.PeriodStart] = r
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
			b := rating.BilledUsage{End: row.PeriodEnd, Used: row.Used, Billed: row.Billed, Amount: row.Amount, Lines: row.Lines}
			if b.Plan, err = cc.plan(ctx, c, row.RatePlanID); err != nil {
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

// usageWrite is what billing usage writes besides lines: period rows and positions.
type usageWrite struct {
	accountID int
	apID      int
	rows      []rating.UsagePeriodRow
	pos       store.UsagePosition
}

// writeUsage writes usage period rows, new ones in bulk (their unique index refuses a
// period billed concurrently) and rated-again ones each guarded by the line count
// they were rated from, then the usage positions.
func writeUsage(ctx context.Context, c *ent.Client, w store.Bulk, writes []usageWrite) error {
	var create []*ent.UsagePeriodCreate
	var positions []store.UsagePosition
	for _, uw := range writes {
		positions = append(positions, uw.pos)
		for _, r := range uw.rows {
			if r.New {
				b := c.UsagePeriod.Create().SetAccountID(uw.accountID).SetAccountPackageID(uw.apID).
					SetAccountServiceID(r.AccountServiceID).SetPeriodStart(r.Start).SetPeriodEnd(r.End).
					SetUsed(r.Used).SetBilled(r.Billed).SetAmount(r.Amount).SetLines(r.Lines)
				if r.PlanID != 0 {
					b.SetRatePlanID(r.PlanID)
				}
				create = append(create, b)
				continue
			}
			n, err := c.UsagePeriod.Update().Where(usageperiod.AccountServiceID(r.AccountServiceID),
				usageperiod.PeriodStart(r.Start), usageperiod.Lines(r.PrevLines)).
				SetUsed(r.Used).SetBilled(r.Billed).SetAmount(r.Amount).SetLines(r.Lines).Save(ctx)
			if err != nil {
				return err
			}
			if n != 1 {
				return ErrConcurrent
			}
		}
	}
	for i := 0; i < len(create); i += 500 {
		if err := c.UsagePeriod.CreateBulk(create[i:min(i+500, len(create))]...).Exec(ctx); err != nil {
			return err
		}
	}
	return w.MoveUsage(ctx, positions)
}
