package provisioning

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/fault"
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
