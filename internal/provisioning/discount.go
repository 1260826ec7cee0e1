package provisioning

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/discount"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
)

// DiscountInput is a temporary discount of an account-service's recurring charges:
// a percent (above 0, at most 100) or an amount per full period and unit, from
// StartDate, optionally to EndDate (inclusive). docs/billing.md 7.2.
type DiscountInput struct {
	Percent   *money.Decimal
	Amount    *money.Decimal
	StartDate calendar.Date
	EndDate   *calendar.Date
}

var hundred = money.FromInt(100)

// MaxPercentDecimals bounds the decimal places of a discount's percent.
const MaxPercentDecimals = 4

// Validate checks the input without touching the database.
func (in *DiscountInput) Validate() error {
	switch {
	case in.Percent != nil && in.Amount != nil:
		return fault.Invalidf("input.amount", "a discount is a percent or an amount, not both")
	case in.Percent == nil && in.Amount == nil:
		return fault.Invalidf("input.percent", "a discount needs a percent or an amount")
	case in.Percent != nil && (!in.Percent.IsPositive() || in.Percent.Cmp(hundred) > 0):
		return fault.Invalidf("input.percent", "percent %s is outside (0, 100]", *in.Percent)
	case in.Percent != nil && in.Percent.Scale() > MaxPercentDecimals:
		return fault.Invalidf("input.percent", "percent %s has more than %d decimal places", *in.Percent, MaxPercentDecimals)
	case in.Amount != nil && !in.Amount.IsPositive():
		return fault.Invalidf("input.amount", "amount %s is not above 0", *in.Amount)
	case in.EndDate != nil && in.EndDate.Before(in.StartDate):
		return fault.Invalidf("input.endDate", "endDate %s is before startDate %s", in.EndDate, in.StartDate)
	}
	return nil
}

// AddDiscount gives an account-service a temporary discount; it reduces the recurring
// lines billed from then on, for the days of their periods it covers (periods billed
// before are not re-rated). Refusals: BAD_USER_INPUT for a malformed discount or an
// amount with more decimals than the account's currency; NOT_FOUND for an unknown
// account-service; FAILED_PRECONDITION for a service that is not RECURRING or a
// canceled or read-only package.
func (s *Service) AddDiscount(ctx context.Context, accountServiceID int, in DiscountInput) (*ent.Discount, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.Discount
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		sv, ap, err := s.lockAccountService(ctx, c, accountServiceID)
		if err != nil {
			return err
		}
		if err := mutable(ap); err != nil {
			return err
		}
		svc, err := c.Service.Get(ctx, sv.ServiceID)
		if err != nil {
			return err
		}
		if svc.Kind != service.KindRECURRING {
			return fault.Preconditionf("service %q is a %s service: discounts reduce recurring charges only", svc.Name, svc.Kind)
		}
		if in.Amount != nil {
			acc, err := c.Account.Query().Where(account.ID(ap.AccountID)).WithCurrency().Only(ctx)
			if err != nil {
				return err
			}
			if p := acc.Edges.Currency.Precision; in.Amount.Scale() > int32(p) {
				return fault.Invalidf("input.amount", "amount %s has more than the %d decimal places of %s", *in.Amount, p, acc.Edges.Currency.Code)
			}
		}
		out, err = c.Discount.Create().SetAccountServiceID(sv.ID).SetNillablePercent(in.Percent).
			SetNillableAmount(in.Amount).SetStartDate(in.StartDate).SetNillableEndDate(in.EndDate).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// RemoveDiscount removes a discount: recurring lines billed afterwards no longer
// get it; lines already written stay. NOT_FOUND for an unknown discount.
func (s *Service) RemoveDiscount(ctx context.Context, id int) (int, error) {
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		d, err := c.Discount.Get(ctx, id)
		if ent.IsNotFound(err) {
			return fault.NotFoundf("id", "discount %d not found", id)
		} else if err != nil {
			return err
		}
		if _, _, err := s.lockAccountService(ctx, c, d.AccountServiceID); err != nil {
			return err
		}
		return c.Discount.DeleteOneID(id).Exec(ctx)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// Discounts lists an account-service's discounts, by start date.
func (s *Service) Discounts(ctx context.Context, accountServiceID int) ([]*ent.Discount, error) {
	return s.client.Discount.Query().Where(discount.AccountServiceID(accountServiceID)).
		Order(ent.Asc(discount.FieldStartDate), ent.Asc(discount.FieldID)).All(ctx)
}
