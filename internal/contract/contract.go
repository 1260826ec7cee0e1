// Package contract keeps billd's contracts (docs/billing.md 7.3): commitments of an
// account (a minimum monthly amount) or of one account-package (an early termination
// fee) for a term of months, and what happens at a term's end: another term, the end
// of the contract, or the cancellation of the account-package. The lines contracts
// make (TOP_UP, FEE) are written by the billing core; see README.md.
package contract

import (
	"context"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	entcontract "github.com/billd/billd/ent/contract"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// Service creates contracts and carries out their term ends.
type Service struct {
	db    *store.DB
	clock clock.Clock
}

// New returns the contract service over db.
func New(db *store.DB, clk clock.Clock) *Service { return &Service{db: db, clock: clk} }

// MaxTermMonths bounds a contract's term: a hundred years.
const MaxTermMonths = 1200

// Input defines a contract on an account (AccountID) or on one of its
// account-packages (AccountPackageID; AccountID may be given too and must then be
// its account).
type Input struct {
	AccountID            *int
	AccountPackageID     *int
	StartDate            calendar.Date
	TermMonths           int
	Renewal              entcontract.Renewal
	MinimumInvoiceAmount *money.Decimal
	EarlyTerminationFee  *money.Decimal
}

// Validate checks the input without touching the database: an account or an
// account-package, a term of 1..MaxTermMonths months, a known renewal, a minimum
// monthly amount only on an account contract and an early termination fee only on
// an account-package contract, neither negative.
func (in *Input) Validate() error {
	switch {
	case in.AccountID == nil && in.AccountPackageID == nil:
		return fault.Invalidf("input.accountId", "a contract is on an account or on an account-package: give accountId or accountPackageId")
	case in.TermMonths < 1 || in.TermMonths > MaxTermMonths:
		return fault.Invalidf("input.termMonths", "termMonths %d is outside 1..%d", in.TermMonths, MaxTermMonths)
	case entcontract.RenewalValidator(in.Renewal) != nil:
		return fault.Invalidf("input.renewal", "renewal must be AUTO_RENEW, EXPIRE or CANCEL")
	case in.MinimumInvoiceAmount != nil && in.AccountPackageID != nil:
		return fault.Invalidf("input.minimumInvoiceAmount", "a minimum monthly amount is on an account contract, not on an account-package's")
	case in.EarlyTerminationFee != nil && in.AccountPackageID == nil:
		return fault.Invalidf("input.earlyTerminationFee", "an early termination fee is on an account-package contract, not on an account's")
	case in.MinimumInvoiceAmount != nil && in.MinimumInvoiceAmount.IsNegative():
		return fault.Invalidf("input.minimumInvoiceAmount", "minimumInvoiceAmount %s is negative", *in.MinimumInvoiceAmount)
	case in.EarlyTerminationFee != nil && in.EarlyTerminationFee.IsNegative():
		return fault.Invalidf("input.earlyTerminationFee", "earlyTerminationFee %s is negative", *in.EarlyTerminationFee)
	}
	return nil
}

// Create writes a contract. Refusals: BAD_USER_INPUT for a malformed contract, an
// account-package of another account than accountId, or an amount with more decimals
// than the account's currency; NOT_FOUND for an unknown account or account-package;
// FAILED_PRECONDITION for a canceled account-package; CONFLICT when the account (or
// the account-package) already has a contract in force. A contract may start in the
// past: a term end already reached is carried out by the next bill run over the
// account or the daily contract job, whichever comes first.
func (s *Service) Create(ctx context.Context, in Input) (*ent.Contract, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.Contract
	err := store.InTx(ctx, s.db.Client, func(ctx context.Context) error {
		c := store.Client(ctx, s.db.Client)
		accID, apID := 0, in.AccountPackageID
		if apID != nil {
			ap, err := store.ForUpdate(s.db, c.AccountPackage.Query().Where(accountpackage.ID(*apID)),
				entsql.WithLockTables(accountpackage.Table)).Only(ctx)
			if ent.IsNotFound(err) {
				return fault.NotFoundf("input.accountPackageId", "account-package %d not found", *apID)
			} else if err != nil {
				return err
			}
			if in.AccountID != nil && *in.AccountID != ap.AccountID {
				return fault.Invalidf("input.accountPackageId", "account-package %d belongs to another account than %d", *apID, *in.AccountID)
			}
			if ap.NextBillDate == nil && ap.CancellationDate != nil {
				return fault.PreconditionAt("input.accountPackageId", "account-package %d is canceled", *apID)
			}
			accID = ap.AccountID
		} else {
			accID = *in.AccountID
		}
		acc, err := store.ForUpdate(s.db, c.Account.Query().Where(account.ID(accID)).WithCurrency(),
			entsql.WithLockTables(account.Table)).Only(ctx)
		if ent.IsNotFound(err) {
			return fault.NotFoundf("input.accountId", "account %d not found", accID)
		} else if err != nil {
			return err
		}
		prec := int32(acc.Edges.Currency.Precision)
		for field, x := range map[string]*money.Decimal{"input.minimumInvoiceAmount": in.MinimumInvoiceAmount,
			"input.earlyTerminationFee": in.EarlyTerminationFee} {
			if x != nil && x.Scale() > prec {
				return fault.Invalidf(field, "%s has more than the %d decimal places of %s", x, prec, acc.Edges.Currency.Code)
			}
		}
		open := c.Contract.Query().Where(entcontract.AccountID(accID), entcontract.Ended(false))
		field := "input.accountId"
		if apID != nil {
			open.Where(entcontract.AccountPackageID(*apID))
			field = "input.accountPackageId"
		} else {
			open.Where(entcontract.AccountPackageIDIsNil())
		}
		if taken, err := open.Exist(ctx); err != nil {
			return err
		} else if taken {
			return fault.Conflictf(field, "there is a contract in force already: it must end before another starts")
		}
		create := c.Contract.Create().SetAccountID(accID).SetNillableAccountPackageID(apID).SetStartDate(in.StartDate).
			SetTermMonths(in.TermMonths).SetRenewal(in.Renewal).SetEndDate(rating.ContractEnd(in.StartDate, in.TermMonths)).
			SetTopUpNext(in.StartDate)
		if in.MinimumInvoiceAmount != nil {
			create.SetMinimumInvoiceAmount(money.AtLeastScale(*in.MinimumInvoiceAmount, prec))
		}
		if in.EarlyTerminationFee != nil {
			create.SetEarlyTerminationFee(money.AtLeastScale(*in.EarlyTerminationFee, prec))
		}
		out, err = create.Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}
