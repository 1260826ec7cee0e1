package usage

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/packageservice"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/usageday"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// Summary is an account-service's usage in one usage period: the period (End
// exclusive), what its records add up to, and what its bucket includes.
type Summary struct {
	Start, End     calendar.Date
	Used, Included money.Decimal
}

// Summarize returns the usage of an account-service in the usage period that
// contains on (nil: today), for portals that show "812 of 1,000 MB used". The bucket
// is prorated as billing prorates it (docs/billing.md 6.3). Refusals: NOT_FOUND for
// an unknown account-service; FAILED_PRECONDITION for one that is not USAGE, or a day
// outside its account-package's service.
func (s *Service) Summarize(ctx context.Context, accountServiceID int, on *calendar.Date) (Summary, error) {
	day := calendar.Of(s.clock.Now())
	if on != nil {
		day = *on
	}
	c := store.Client(ctx, s.db.Client)
	sv, err := c.AccountService.Query().Where(accountservice.ID(accountServiceID)).WithService().
		WithAccountPackage(func(q *ent.AccountPackageQuery) { q.WithAccount() }).Only(ctx)
	if ent.IsNotFound(err) {
		return Summary{}, fault.NotFoundf("id", "account-service %d not found", accountServiceID)
	} else if err != nil {
		return Summary{}, err
	}
	svc, ap := sv.Edges.Service, sv.Edges.AccountPackage
	if svc.Kind != service.KindUSAGE {
		return Summary{}, fault.PreconditionAt("id", "account-service %d is a %s service: it has no usage", sv.ID, svc.Kind)
	}
	start := ap.EffectiveDate
	if ap.ActivatedOn != nil {
		start = *ap.ActivatedOn
	}
	span := rating.UsageSpan{Start: start, End: ap.CancellationDate,
		BillDay: rating.UsageBillDay(ap.UsageBillDay, ap.Edges.Account.UsageBillDay,
			rating.BillDayInForce(ap.OwnBillDay, ap.Edges.Account.BillDay))}
	p, ok := span.PeriodContaining(day)
	if !ok {
		return Summary{}, fault.PreconditionAt("on", "account-package %d is not in service on %s", ap.ID, day)
	}
	days, err := c.UsageDay.Query().Where(usageday.AccountServiceID(sv.ID),
		usageday.DayGTE(p.Start), usageday.DayLT(p.End)).All(ctx)
	if err != nil {
		return Summary{}, err
	}
	used := money.Zero
	for _, d := range days {
		used = used.Add(d.Quantity)
	}
	ps, err := c.PackageService.Query().Where(packageservice.PackageID(ap.PackageID), packageservice.ServiceID(sv.ServiceID)).Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return Summary{}, err
	}
	out := Summary{Start: p.Start, End: p.End, Used: used, Included: money.Zero}
	if ps != nil && ps.Included != nil {
		up := rating.UsagePackage{KeepFull: ap.ChargeFullPeriod,
			CancelProrated: ap.CancelBillingOption == nil || *ap.CancelBillingOption == accountpackage.CancelBillingOptionPRORATED}
		out.Included = up.BucketIn(p, rating.UsageAccountService{Included: ps.Included, Instances: sv.Quantity,
			Effective: sv.EffectiveDate, Decimals: int32(svc.UnitDecimals)})
	}
	return out, nil
}
