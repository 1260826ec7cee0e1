package catalog

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/rateplan"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
)

// The usage side of the catalog (docs/billing.md 6.1): rate plans, and the checks a
// package definition meets when it holds USAGE services.

// refusal builds the error of a refused field: BAD_USER_INPUT when the request
// contradicts itself, FAILED_PRECONDITION when it contradicts what is stored.
type refusal func(field, format string, args ...any) *fault.Error

// CreateRatePlan defines a rate plan. Refusals: BAD_USER_INPUT for a missing name,
// an unknown model, tiers out of order, a bounded last tier or an unbounded middle
// one, negative or too precise prices, more than MaxTiers tiers; NOT_FOUND for an
// unknown currency code. A rate plan never changes afterwards: a usage period rated
// with it is rated the same way when late usage arrives.
func (s *Service) CreateRatePlan(ctx context.Context, in CreateRatePlanInput) (*ent.RatePlan, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.RatePlan
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		cur, err := c.Currency.Query().Where(currency.Code(in.Currency)).Only(ctx)
		if ent.IsNotFound(err) {
			return fault.NotFoundf("input.currency", "unknown currency code %q", in.Currency)
		} else if err != nil {
			return err
		}
		out, err = c.RatePlan.Create().SetName(in.Name).SetCurrencyID(cur.ID).SetModel(in.Model).
			SetTiers(in.plan().Tiers).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

// checkUsageService checks a package service (ps at path) against its service: only
// a USAGE service has an included quantity, of at most its unit's decimals, and a
// package with the bulk component has no USAGE service (usage is not multiplied by
// lines).
func checkUsageService(path string, sv *ent.Service, ps *PackageServiceInput, bulk bool, refuse refusal) error {
	usage := sv.Kind == service.KindUSAGE
	switch {
	case usage && bulk:
		return refuse(path+".serviceId", "service %q is a USAGE service: a package with the bulk component cannot have one", sv.Name)
	case !usage && ps.Included != nil:
		return fault.Invalidf(path+".included", "service %q is not a USAGE service: only usage has an included quantity", sv.Name)
	case ps.Included != nil && ps.Included.Scale() > int32(sv.UnitDecimals):
		return fault.Invalidf(path+".included", "included %s has more than the %d decimal places of %s", *ps.Included, sv.UnitDecimals, unitOf(sv))
	}
	return nil
}

// checkUsageTerms checks what a new package says about usage as a whole: charging
// only if used needs a USAGE service to count usage of, and a usage threshold counts
// the usage of one of the package's USAGE services, in its unit's decimals.
func checkUsageTerms(in *CreatePackageInput, svcs map[int]*ent.Service) error {
	hasUsage := false
	for _, sv := range svcs {
		hasUsage = hasUsage || sv.Kind == service.KindUSAGE
	}
	if isTrue(in.ChargeRecurringOnlyIfUsage) && !hasUsage {
		return fault.Invalidf("input.chargeRecurringOnlyIfUsage", "the package has no USAGE service whose usage could be counted")
	}
	a := in.Activation
	if a == nil || a.ServiceID == nil {
		return nil
	}
	sv, ok := svcs[*a.ServiceID]
	switch {
	case !ok:
		return fault.Invalidf("input.activation.serviceId", "service %d is not one of the package's services", *a.ServiceID)
	case sv.Kind != service.KindUSAGE:
		return fault.Invalidf("input.activation.serviceId", "service %q is not a USAGE service: its usage cannot reach a threshold", sv.Name)
	case a.UsageThreshold.Scale() > int32(sv.UnitDecimals):
		return fault.Invalidf("input.activation.usageThreshold", "usageThreshold %s has more than the %d decimal places of %s", *a.UsageThreshold, sv.UnitDecimals, unitOf(sv))
	}
	return nil
}

// checkFrequencyPlan checks a frequency's rate plan: it exists and is in one of the
// package's currencies.
func checkFrequencyPlan(ctx context.Context, c *ent.Client, path string, id int, pkgCur map[string]*ent.Currency, refuse refusal) error {
	plan, err := ratePlan(ctx, c, id, path)
	if err != nil {
		return err
	}
	if _, ok := pkgCur[plan.Edges.Currency.Code]; !ok {
		return refuse(path, "rate plan %q is in %s; the package is priced in %s", plan.Name, plan.Edges.Currency.Code, codes(pkgCur))
	}
	return nil
}

// checkPriceEntry checks a price entry (p at path) against its service's kind: a
// USAGE service's entry carries only a rate plan, in the entry's currency; other
// services' entries carry none.
func checkPriceEntry(ctx context.Context, c *ent.Client, path string, sv *ent.Service, p *ServicePriceInput) error {
	if sv.Kind != service.KindUSAGE {
		if p.RatePlanID != nil {
			return fault.Invalidf(path+".ratePlanId", "service %q is a %s service: only usage is priced by a rate plan", sv.Name, sv.Kind)
		}
		return nil
	}
	switch {
	case len(p.Recurring) > 0:
		return fault.Invalidf(path+".recurring", "service %q is a USAGE service: its price entry carries only a rate plan", sv.Name)
	case p.OneTime != nil:
		return fault.Invalidf(path+".oneTime", "service %q is a USAGE service: its price entry carries only a rate plan", sv.Name)
	case len(p.Transitions) > 0:
		return fault.Invalidf(path+".transitions", "service %q is a USAGE service: its price entry carries only a rate plan", sv.Name)
	case p.RatePlanID == nil:
		return nil
	}
	plan, err := ratePlan(ctx, c, *p.RatePlanID, path+".ratePlanId")
	if err != nil {
		return err
	}
	if plan.Edges.Currency.Code != p.Currency {
		return fault.Invalidf(path+".ratePlanId", "rate plan %q is in %s, this price entry in %s", plan.Name, plan.Edges.Currency.Code, p.Currency)
	}
	return nil
}

// unitOf names a service's unit for messages.
func unitOf(sv *ent.Service) string {
	if sv.Unit == nil {
		return "its unit"
	}
	return *sv.Unit
}

func activationDays(a *ActivationInput) *int {
	if a == nil {
		return nil
	}
	return a.AfterDays
}

func activationThreshold(a *ActivationInput) *money.Decimal {
	if a == nil {
		return nil
	}
	return a.UsageThreshold
}

func activationService(a *ActivationInput) *int {
	if a == nil {
		return nil
	}
	return a.ServiceID
}

// CheckRatePlan checks a rate plan given for an account, an account-package or an
// account-service: it exists (NOT_FOUND on field) and is in the account's currency
// (currencyID), the only plans that count for it (BAD_USER_INPUT on field).
func CheckRatePlan(ctx context.Context, c *ent.Client, id, currencyID int, field string) error {
	plan, err := ratePlan(ctx, c, id, field)
	if err != nil {
		return err
	}
	if plan.CurrencyID != currencyID {
		return fault.Invalidf(field, "rate plan %q is in %s, not in the account's currency", plan.Name, plan.Edges.Currency.Code)
	}
	return nil
}

// ratePlan loads a rate plan with its currency; NOT_FOUND on field if there is none.
func ratePlan(ctx context.Context, c *ent.Client, id int, field string) (*ent.RatePlan, error) {
	plan, err := c.RatePlan.Query().Where(rateplan.ID(id)).WithCurrency().Only(ctx)
	if err != nil {
		return nil, notFound(err, field, "rate plan", id)
	}
	return plan, nil
}
