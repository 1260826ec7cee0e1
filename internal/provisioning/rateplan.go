package provisioning

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/rating"
)

// checkPlans checks the rate plans a new account-package is given: its own (in the
// account's currency) and its services' (only on USAGE services, in the account's
// currency), docs/billing.md 6.1.
func checkPlans(ctx context.Context, c *ent.Client, acc *ent.Account, own *int, plan []plannedService) error {
	if own != nil {
		if err := catalog.CheckRatePlan(ctx, c, *own, acc.CurrencyID, "input.ratePlanId"); err != nil {
			return err
		}
	}
	for _, p := range plan {
		if p.ratePlanID == nil {
			continue
		}
		svc, err := c.Service.Get(ctx, p.serviceID)
		if err != nil {
			return err
		}
		if err := checkServicePlan(ctx, c, acc, svc, *p.ratePlanID, p.path+".ratePlanId"); err != nil {
			return err
		}
	}
	return nil
}

// checkServicePlan checks a rate plan for an account-service of service svc.
func checkServicePlan(ctx context.Context, c *ent.Client, acc *ent.Account, svc *ent.Service, id int, field string) error {
	if svc.Kind != service.KindUSAGE {
		return fault.Invalidf(field, "service %q is a %s service: only usage is priced by a rate plan", svc.Name, svc.Kind)
	}
	return catalog.CheckRatePlan(ctx, c, id, acc.CurrencyID, field)
}

// setServicePlan gives an existing account-service its own rate plan.
func setServicePlan(ctx context.Context, c *ent.Client, ap *ent.AccountPackage, sv *ent.AccountService, id int) error {
	acc, err := c.Account.Get(ctx, ap.AccountID)
	if err != nil {
		return err
	}
	svc, err := c.Service.Get(ctx, sv.ServiceID)
	if err != nil {
		return err
	}
	if err := checkServicePlan(ctx, c, acc, svc, id, "input.ratePlanId"); err != nil {
		return err
	}
	return c.AccountService.UpdateOneID(sv.ID).SetRatePlanID(id).Exec(ctx)
}

// usageLevels applies an update's usage bill day and rate plan to an account-package
// (billed: its position as the update leaves it). A new usage bill day is refused
// (FAILED_PRECONDITION) once a usage period is billed, whose schedule it anchors;
// before, the usage schedule starts again on it.
func usageLevels(ctx context.Context, c *ent.Client, billed *ent.AccountPackage, in UpdateAccountPackageInput,
	upd *ent.AccountPackageUpdateOne) error {
	switch {
	case in.RatePlanID != nil:
		acc, err := c.Account.Get(ctx, billed.AccountID)
		if err != nil {
			return err
		}
		if err := catalog.CheckRatePlan(ctx, c, *in.RatePlanID, acc.CurrencyID, "input.ratePlanId"); err != nil {
			return err
		}
		upd.SetRatePlanID(*in.RatePlanID)
	case in.ClearRatePlan != nil && *in.ClearRatePlan:
		upd.ClearRatePlanID()
	}
	if in.UsageBillDay == nil || (billed.UsageBillDay != nil && *billed.UsageBillDay == *in.UsageBillDay) {
		return nil
	}
	if rating.UsageBilled(billed.UsageNext, billed.EffectiveDate, billed.ActivatedOn) {
		return fault.PreconditionAt("input.usageBillDay", "account-package %d has usage billed through %s on its usage bill day: "+
			"its usage periods are anchored on it", billed.ID, billed.UsageNext.AddDays(-1))
	}
	upd.SetUsageBillDay(*in.UsageBillDay).ClearUsageNext().ClearUsageDue()
	return nil
}
