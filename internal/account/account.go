// Package account manages customer accounts: their currency, bill day and balance.
// See README.md for the rules it enforces.
package account

import (
	"context"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/ent/partner"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/text"
)

// MaxNameLen bounds an account's (and a partner's) name, in characters.
const MaxNameLen = text.MaxName

// CreateAccountInput opens an account.
type CreateAccountInput struct {
	Name     string
	Currency string
	BillDay  int
	// PartnerID is the reseller the account belongs to. Under a PARTNER key it is
	// that key's partner, whether given or not.
	PartnerID *int
	// UsageBillDay anchors the usage periods of its packages that have none of their
	// own (default: the bill day in force); RatePlanID rates their usage where no
	// narrower level has a plan.
	UsageBillDay *int
	RatePlanID   *int
	// PriceBookID prices its packages from a price book (docs/billing.md 7.1).
	PriceBookID *int
}

// Validate checks the input without touching the database.
func (in *CreateAccountInput) Validate() error {
	if err := checkName(&in.Name); err != nil {
		return err
	}
	if in.UsageBillDay != nil {
		if err := checkBillDay("input.usageBillDay", *in.UsageBillDay); err != nil {
			return err
		}
	}
	return checkBillDay("input.billDay", in.BillDay)
}

// UpdateAccountInput changes an account; omitted fields stay as they are.
type UpdateAccountInput struct {
	Name         *string
	BillDay      *int
	PartnerID    *int  // moves the account to this partner
	ClearPartner *bool // detaches the account from its partner
	// UsageBillDay anchors the usage periods of the account-packages that have no
	// usage bill day of their own (docs/billing.md 6.3).
	UsageBillDay *int
	// RatePlanID rates usage where no narrower level has a plan; ClearRatePlan
	// removes the account's plan. Both take effect for usage periods billed later.
	RatePlanID    *int
	ClearRatePlan *bool
	// PriceBookID puts the account on a price book; ClearPriceBook takes it off.
	// Both price the periods billed later.
	PriceBookID    *int
	ClearPriceBook *bool
}

// Validate checks the input without touching the database.
func (in *UpdateAccountInput) Validate() error {
	if in.PartnerID != nil && in.ClearPartner != nil && *in.ClearPartner {
		return fault.Invalidf("input.clearPartner", "cannot be set with partnerId")
	}
	if in.RatePlanID != nil && in.ClearRatePlan != nil && *in.ClearRatePlan {
		return fault.Invalidf("input.clearRatePlan", "cannot be set with ratePlanId")
	}
	if in.PriceBookID != nil && in.ClearPriceBook != nil && *in.ClearPriceBook {
		return fault.Invalidf("input.clearPriceBook", "cannot be set with priceBookId")
	}
	if in.UsageBillDay != nil {
		if err := checkBillDay("input.usageBillDay", *in.UsageBillDay); err != nil {
			return err
		}
	}
	if in.Name != nil {
		if err := checkName(in.Name); err != nil {
			return err
		}
	}
	if in.BillDay != nil {
		return checkBillDay("input.billDay", *in.BillDay)
	}
	return nil
}

func checkName(name *string) error {
	return text.Name("input.name", name, MaxNameLen)
}

// checkBillDay refuses a bill day outside 1..31. Days past a month's end are valid and
// clamp to its last day when billing.
func checkBillDay(field string, day int) error {
	if day < 1 || day > 31 {
		return fault.Invalidf(field, "bill day %d is outside 1..31", day)
	}
	return nil
}

// Service is the account service layer. Its methods return *fault.Error for refusals
// and write nothing then.
type Service struct {
	db     *store.DB
	client *ent.Client
	clock  clock.Clock
}

// New returns the account service over db.
func New(db *store.DB, clk clock.Clock) *Service {
	return &Service{db: db, client: db.Client, clock: clk}
}

// Create opens an account. BAD_USER_INPUT for an empty name, a bill day or usage bill
// day outside 1..31, or a rate plan in another currency; NOT_FOUND for an unknown
// currency code, rate plan or partner.
func (s *Service) Create(ctx context.Context, in CreateAccountInput) (*ent.Account, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c := store.Client(ctx, s.client)
	cur, err := c.Currency.Query().Where(currency.Code(in.Currency)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, fault.NotFoundf("input.currency", "unknown currency code %q", in.Currency)
	} else if err != nil {
		return nil, err
	}
	if in.PartnerID != nil {
		if err := partnerExists(ctx, c, *in.PartnerID); err != nil {
			return nil, err
		}
	}
	if in.RatePlanID != nil {
		if err := catalog.CheckRatePlan(ctx, c, *in.RatePlanID, cur.ID, "input.ratePlanId"); err != nil {
			return nil, err
		}
	}
	if in.PriceBookID != nil {
		if err := catalog.CheckPriceBook(ctx, c, *in.PriceBookID, "input.priceBookId"); err != nil {
			return nil, err
		}
	}
	return c.Account.Create().SetName(in.Name).SetCurrencyID(cur.ID).SetBillDay(in.BillDay).
		SetNillablePartnerID(in.PartnerID).SetNillableUsageBillDay(in.UsageBillDay).
		SetNillableRatePlanID(in.RatePlanID).SetNillablePriceBookID(in.PriceBookID).Save(ctx)
}

func partnerExists(ctx context.Context, c *ent.Client, id int) error {
	ok, err := c.Partner.Query().Where(partner.ID(id)).Exist(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fault.NotFoundf("input.partnerId", "partner %d not found", id)
	}
	return nil
}

// Update renames an account or changes its bill day, usage bill day or rate plan.
// NOT_FOUND for an unknown id or rate plan; BAD_USER_INPUT for a plan in another
// currency; FAILED_PRECONDITION for a bill day change while the account has
// account-packages that follow its bill day (their periods are anchored on it; give
// those packages a new bill day instead), or a usage bill day change while one that
// follows it has billed usage.
func (s *Service) Update(ctx context.Context, id int, in UpdateAccountInput) (*ent.Account, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.Account
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		// Locked for update: provisioning reads the account for share, so a package
		// that would follow the old bill day cannot be added while it changes.
		acc, err := store.ForUpdate(s.db, c.Account.Query().Where(account.ID(id)),
			entsql.WithLockTables(account.Table)).Only(ctx)
		if ent.IsNotFound(err) {
			return fault.NotFoundf("id", "account %d not found", id)
		} else if err != nil {
			return err
		}
		upd := c.Account.UpdateOneID(id).SetNillableName(in.Name)
		if in.PartnerID != nil || (in.ClearPartner != nil && *in.ClearPartner) {
			if in.PartnerID != nil {
				if err := partnerExists(ctx, c, *in.PartnerID); err != nil {
					return err
				}
				upd.SetPartnerID(*in.PartnerID)
			} else {
				upd.ClearPartnerID()
			}
		}
		if in.BillDay != nil && *in.BillDay != acc.BillDay {
			following, err := c.AccountPackage.Query().
				Where(accountpackage.AccountID(id), accountpackage.OwnBillDayIsNil()).Exist(ctx)
			if err != nil {
				return err
			}
			if following {
				return fault.Preconditionf("account %d has account-packages billed on its bill day %d: set a newBillDay on those account-packages instead", id, acc.BillDay)
			}
			upd.SetBillDay(*in.BillDay)
		}
		if err := usageLevels(ctx, c, acc, in, upd); err != nil {
			return err
		}
		out, err = upd.Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

// usageLevels applies an update's usage bill day and rate plan. A new usage bill day
// is refused (FAILED_PRECONDITION) while an account-package following it has billed a
// usage period, whose schedule it anchors; the others start their usage schedule
// again on it.
func usageLevels(ctx context.Context, c *ent.Client, acc *ent.Account, in UpdateAccountInput, upd *ent.AccountUpdateOne) error {
	switch {
	case in.RatePlanID != nil:
		if err := catalog.CheckRatePlan(ctx, c, *in.RatePlanID, acc.CurrencyID, "input.ratePlanId"); err != nil {
			return err
		}
		upd.SetRatePlanID(*in.RatePlanID)
	case in.ClearRatePlan != nil && *in.ClearRatePlan:
		upd.ClearRatePlanID()
	}
	switch {
	case in.PriceBookID != nil:
		if err := catalog.CheckPriceBook(ctx, c, *in.PriceBookID, "input.priceBookId"); err != nil {
			return err
		}
		upd.SetPriceBookID(*in.PriceBookID)
	case in.ClearPriceBook != nil && *in.ClearPriceBook:
		upd.ClearPriceBookID()
	}
	if in.UsageBillDay == nil || (acc.UsageBillDay != nil && *acc.UsageBillDay == *in.UsageBillDay) {
		return nil
	}
	following, err := c.AccountPackage.Query().Where(accountpackage.AccountID(acc.ID), accountpackage.UsageBillDayIsNil(),
		accountpackage.UsageNextNotNil()).All(ctx)
	if err != nil {
		return err
	}
	var restart []int
	for _, ap := range following {
		if rating.UsageBilled(ap.UsageNext, ap.EffectiveDate, ap.ActivatedOn) {
			return fault.PreconditionAt("input.usageBillDay", "account-package %d has usage billed on the current usage bill day: "+
				"its usage periods are anchored on it", ap.ID)
		}
		restart = append(restart, ap.ID)
	}
	if len(restart) > 0 {
		if err := c.AccountPackage.Update().Where(accountpackage.IDIn(restart...)).ClearUsageNext().ClearUsageDue().Exec(ctx); err != nil {
			return err
		}
	}
	upd.SetUsageBillDay(*in.UsageBillDay)
	return nil
}

// Balance returns the sum of the account's invoice totals in its currency's
// precision. The sum is taken here, not in SQL: SQLite would add the amounts as
// floats.
func (s *Service) Balance(ctx context.Context, acc *ent.Account) (money.Decimal, error) {
	c := store.Client(ctx, s.client)
	cur, err := acc.Edges.CurrencyOrErr()
	if err != nil {
		cur, err = c.Currency.Get(ctx, acc.CurrencyID)
		if err != nil {
			return money.Zero, err
		}
	}
	var totals []struct {
		Total money.Decimal `json:"total"`
	}
	err = c.Invoice.Query().Where(invoice.AccountID(acc.ID)).Select(invoice.FieldTotal).Scan(ctx, &totals)
	if err != nil {
		return money.Zero, err
	}
	sum := money.Zero
	for _, t := range totals {
		sum = sum.Add(t.Total)
	}
	return money.Round(sum, int32(cur.Precision)), nil
}

// Balances returns the balances of many accounts with one query, for lists: each is
// the sum of the account's invoice totals in its currency's precision.
func (s *Service) Balances(ctx context.Context, accs []*ent.Account) (map[int]money.Decimal, error) {
	out := make(map[int]money.Decimal, len(accs))
	if len(accs) == 0 {
		return out, nil
	}
	ids := make([]int, len(accs))
	for i, a := range accs {
		ids[i] = a.ID
	}
	c := store.Client(ctx, s.client)
	var rows []struct {
		AccountID int           `json:"account_id"`
		Total     money.Decimal `json:"total"`
	}
	if err := c.Invoice.Query().Where(invoice.AccountIDIn(ids...)).
		Select(invoice.FieldAccountID, invoice.FieldTotal).Scan(ctx, &rows); err != nil {
		return nil, err
	}
	sums := map[int]money.Decimal{}
	for _, r := range rows {
		sums[r.AccountID] = sums[r.AccountID].Add(r.Total)
	}
	precision := map[int]int32{}
	curs, err := c.Currency.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, cur := range curs {
		precision[cur.ID] = int32(cur.Precision)
	}
	for _, a := range accs {
		out[a.ID] = money.Round(sums[a.ID], precision[a.CurrencyID])
	}
	return out, nil
}
