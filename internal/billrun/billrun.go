// Package billrun runs bill runs: it finds the accounts of a run, bills each one in a
// transaction of its own with the rating engine, writes the charges and the invoice,
// and keeps the run's counters. See README.md for its guarantees.
package billrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"entgo.io/ent/dialect"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/ent/predicate"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/ent/statuschange"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// StartInput starts a bill run.
type StartInput struct {
	PeriodStart   calendar.Date
	PeriodEnd     calendar.Date
	PostingDate   *calendar.Date
	AccountIDs    []int
	BillCharges   *bool
	CloseInvoices *bool
}

// MaxRangeDays bounds a run's range: longer ranges are a typo, not a bill run.
const MaxRangeDays = 3660

// Validate checks the input without touching the database.
func (in *StartInput) Validate() error {
	if in.PeriodEnd.Before(in.PeriodStart) {
		return fault.Invalidf("input.periodEnd", "periodEnd %s is before periodStart %s", in.PeriodEnd, in.PeriodStart)
	}
	if calendar.Days(in.PeriodStart, in.PeriodEnd) > MaxRangeDays {
		return fault.Invalidf("input.periodEnd", "a bill run covers at most %d days", MaxRangeDays)
	}
	if in.AccountIDs != nil && len(in.AccountIDs) == 0 {
		return fault.Invalidf("input.accountIds", "give at least one account, or omit accountIds to bill every account")
	}
	return nil
}

// Service runs bill runs.
type Service struct {
	client  *ent.Client
	dialect string
	clock   clock.Clock
	log     *slog.Logger
}

// New returns the bill run service.
func New(client *ent.Client, dia string, clk clock.Clock, log *slog.Logger) *Service {
	return &Service{client: client, dialect: dia, clock: clk, log: log}
}

// Start records a bill run and bills it to the end before returning it. Refusals:
// BAD_USER_INPUT for a range out of order; NOT_FOUND for an unknown account id.
func (s *Service) Start(ctx context.Context, in StartInput) (*ent.BillRun, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	for i, id := range in.AccountIDs {
		ok, err := s.client.Account.Query().Where(account.ID(id)).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fault.NotFoundf(fault.Path("input.accountIds", i), "account %d not found", id)
		}
	}
	posting := in.PeriodEnd
	if in.PostingDate != nil {
		posting = *in.PostingDate
	}
	create := s.client.BillRun.Create().
		SetPeriodStart(in.PeriodStart).SetPeriodEnd(in.PeriodEnd).SetPostingDate(posting).
		SetCreatedAt(s.clock.Now()).SetStatus(billrun.StatusQUEUED)
	if in.AccountIDs != nil {
		create.SetAccountIds(dedupe(in.AccountIDs))
	}
	if in.BillCharges != nil {
		create.SetBillCharges(*in.BillCharges)
	}
	if in.CloseInvoices != nil {
		create.SetCloseInvoices(*in.CloseInvoices)
	}
	run, err := create.Save(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Execute(ctx, run.ID); err != nil {
		return nil, err
	}
	return s.client.BillRun.Get(ctx, run.ID)
}

func dedupe(ids []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Cancel stops a run that has not finished; what it billed stays billed. NOT_FOUND;
// FAILED_PRECONDITION for a run that already finished.
func (s *Service) Cancel(ctx context.Context, id int) (*ent.BillRun, error) {
	run, err := s.client.BillRun.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, fault.NotFoundf("id", "bill run %d not found", id)
	} else if err != nil {
		return nil, err
	}
	if run.Status != billrun.StatusQUEUED && run.Status != billrun.StatusRUNNING {
		return nil, fault.Preconditionf("bill run %d has already finished (%s)", id, run.Status)
	}
	n, err := s.client.BillRun.Update().Where(billrun.ID(id),
		billrun.StatusIn(billrun.StatusQUEUED, billrun.StatusRUNNING)).
		SetCancelRequested(true).Save(ctx)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fault.Preconditionf("bill run %d has already finished", id)
	}
	return s.client.BillRun.Get(ctx, id)
}

// tally is what billing some accounts produced.
type tally struct {
	processed, failed, invoices, charges int
	totals                               map[string]money.Decimal
}

func (t *tally) add(r accountResult) {
	t.processed++
	t.charges += r.charges
	if r.invoice {
		t.invoices++
		if t.totals == nil {
			t.totals = map[string]money.Decimal{}
		}
		t.totals[r.currency] = t.totals[r.currency].Add(r.total)
	}
}

// accountPage is how many account ids a run reads at a time: a run never holds all
// its accounts in memory.
const accountPage = 500

// Execute bills the accounts of a run that are not billed yet, in order, each in a
// transaction of its own, and finishes the run. It is what a worker calls.
func (s *Service) Execute(ctx context.Context, runID int) error {
	run, err := s.client.BillRun.Get(ctx, runID)
	if err != nil {
		return fmt.Errorf("bill run %d: %w", runID, err)
	}
	total, err := s.countAccounts(ctx, run)
	if err != nil {
		return fmt.Errorf("bill run %d: counting accounts: %w", runID, err)
	}
	run, err = s.client.BillRun.UpdateOneID(runID).SetStatus(billrun.StatusRUNNING).
		SetStartedAt(s.clock.Now()).SetAccountsTotal(total).Save(ctx)
	if err != nil {
		return fmt.Errorf("bill run %d: %w", runID, err)
	}
	cc, err := newCatalogCache(ctx, s.client)
	if err != nil {
		return fmt.Errorf("bill run %d: loading the catalog: %w", runID, err)
	}
	var t tally
	canceled := false
	after := 0
	for !canceled {
		ids, err := s.accountIDs(ctx, run, after)
		if err != nil {
			return fmt.Errorf("bill run %d: listing accounts: %w", runID, err)
		}
		if len(ids) == 0 {
			break
		}
		for _, id := range ids {
			res, err := s.billAccountRetrying(ctx, run, cc, id)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				t.processed++
				t.failed++
				s.recordFailure(ctx, run, id, err)
				continue
			}
			t.add(res)
		}
		after = ids[len(ids)-1]
		if err := s.saveCounters(ctx, runID, t); err != nil {
			return err
		}
		if canceled, err = s.cancelRequested(ctx, runID); err != nil {
			return err
		}
	}
	status := billrun.StatusCOMPLETED
	switch {
	case canceled:
		status = billrun.StatusCANCELED
	case t.failed > 0:
		status = billrun.StatusCOMPLETED_WITH_ERRORS
	}
	if err := s.saveCounters(ctx, runID, t); err != nil {
		return err
	}
	return s.client.BillRun.UpdateOneID(runID).SetStatus(status).SetFinishedAt(s.clock.Now()).Exec(ctx)
}

func (s *Service) cancelRequested(ctx context.Context, id int) (bool, error) {
	run, err := s.client.BillRun.Get(ctx, id)
	if err != nil {
		return false, err
	}
	return run.CancelRequested, nil
}

func (s *Service) saveCounters(ctx context.Context, id int, t tally) error {
	upd := s.client.BillRun.UpdateOneID(id).
		SetAccountsProcessed(t.processed).SetAccountsFailed(t.failed).
		SetInvoicesCreated(t.invoices).SetChargesCreated(t.charges)
	if t.totals != nil {
		upd.SetTotals(t.totals)
	}
	return upd.Exec(ctx)
}

func (s *Service) countAccounts(ctx context.Context, run *ent.BillRun) (int, error) {
	if run.AccountIds != nil {
		return len(run.AccountIds), nil
	}
	return s.client.Account.Query().Count(ctx)
}

// accountIDs returns the next page of the run's accounts after id after.
func (s *Service) accountIDs(ctx context.Context, run *ent.BillRun, after int) ([]int, error) {
	if run.AccountIds != nil {
		ids := append([]int(nil), run.AccountIds...)
		sort.Ints(ids)
		i := sort.SearchInts(ids, after+1)
		return ids[i:min(i+accountPage, len(ids))], nil
	}
	return s.client.Account.Query().Where(account.IDGT(after)).
		Order(ent.Asc(account.FieldID)).Limit(accountPage).IDs(ctx)
}

// recordFailure writes an account's failure on the run. The reason shown is the
// coded message; anything else is logged and shown as an internal error.
func (s *Service) recordFailure(ctx context.Context, run *ent.BillRun, accountID int, err error) {
	msg := "internal error while billing the account"
	if fe, ok := fault.As(err); ok {
		msg = fe.Message
	}
	s.log.ErrorContext(ctx, "billing an account failed", "bill_run", run.ID, "account", accountID, "error", err)
	if werr := s.client.BillRunError.Create().SetBillRunID(run.ID).SetAccountID(accountID).
		SetMessage(msg).Exec(ctx); werr != nil {
		s.log.ErrorContext(ctx, "recording a billing failure", "bill_run", run.ID, "account", accountID, "error", werr)
	}
}

// billAccountRetrying bills an account; when its transaction loses a race (another
// run charged the same thing first, so the guard index refused a line), it bills it
// once more on fresh state, which then finds nothing left to charge.
func (s *Service) billAccountRetrying(ctx context.Context, run *ent.BillRun, cc *catalogCache, accountID int) (accountResult, error) {
	res, err := s.BillAccount(ctx, run, cc, accountID)
	if err != nil && (ent.IsConstraintError(err) || errors.Is(err, errConcurrent)) {
		return s.BillAccount(ctx, run, cc, accountID)
	}
	return res, err
}

var errConcurrent = errors.New("billed concurrently")

// accountResult is what billing one account produced.
type accountResult struct {
	invoice  bool
	charges  int
	currency string
	total    money.Decimal
}

// BillAccount bills one account of a run in one transaction: all its new lines and
// its invoice, or nothing.
func (s *Service) BillAccount(ctx context.Context, run *ent.BillRun, cc *catalogCache, accountID int) (accountResult, error) {
	var res accountResult
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if s.dialect == dialect.Postgres {
			// Serialize runs on the same account; the second sees the first's work.
			if _, err := c.ExecContext(ctx, "SELECT id FROM accounts WHERE id = $1 FOR UPDATE", accountID); err != nil {
				return err
			}
		}
		acc, err := c.Account.Query().Where(account.ID(accountID)).WithCurrency().Only(ctx)
		if err != nil {
			return err
		}
		res.currency = acc.Edges.Currency.Code
		if !run.BillCharges {
			return nil
		}
		lines, moves, err := s.rateAccount(ctx, c, cc, run, acc)
		if err != nil {
			return err
		}
		for _, mv := range moves {
			if err := s.applyMove(ctx, c, cc, mv); err != nil {
				return err
			}
		}
		if len(lines) == 0 {
			return nil
		}
		prec := int32(acc.Edges.Currency.Precision)
		total := money.Zero
		for _, l := range lines {
			total = total.Add(l.Amount)
		}
		total = money.Round(total, prec)
		first, err := invoicing.NextNumbers(ctx, c, s.dialect, 1)
		if err != nil {
			return err
		}
		st := invoice.StatusOPEN
		if run.CloseInvoices {
			st = invoice.StatusCLOSED
		}
		inv, err := c.Invoice.Create().SetNumber(invoicing.FormatNumber(first)).SetAccountID(acc.ID).
			SetCurrencyID(acc.CurrencyID).SetBillRunID(run.ID).SetStatus(st).
			SetIssueDate(calendar.Of(s.clock.Now())).SetPostingDate(run.PostingDate).SetTotal(total).Save(ctx)
		if err != nil {
			return err
		}
		builders := make([]*ent.ChargeCreate, len(lines))
		for i, l := range lines {
			builders[i] = c.Charge.Create().SetKind(charge.Kind(l.Kind)).SetDescription(l.Description).
				SetAccountID(acc.ID).SetAccountPackageID(l.apID).SetAccountServiceID(l.AccountServiceID).
				SetServiceID(l.ServiceID).SetInvoiceID(inv.ID).
				SetPeriodStart(l.PeriodStart).SetPeriodEnd(l.PeriodEnd).SetQuantity(l.Quantity).
				SetUnitAmount(l.UnitAmount).SetAmount(l.Amount).SetGuard(l.Guard)
		}
		for i := 0; i < len(builders); i += 500 {
			if err := c.Charge.CreateBulk(builders[i:min(i+500, len(builders))]...).Exec(ctx); err != nil {
				return err
			}
		}
		res.invoice, res.charges, res.total = true, len(lines), total
		return nil
	})
	if err != nil {
		return accountResult{}, fmt.Errorf("billing account %d: %w", accountID, err)
	}
	return res, nil
}

// line is a rated line with the account-package it belongs to.
type line struct {
	rating.Line
	apID int
}

// move is the new billing position of one account-package.
type move struct {
	ap  *ent.AccountPackage
	res rating.Result
}

// rateAccount loads the account's packages and rates each over the run's range.
func (s *Service) rateAccount(ctx context.Context, c *ent.Client, cc *catalogCache, run *ent.BillRun, acc *ent.Account) ([]line, []move, error) {
	pending, err := c.StatusChange.Query().Where(statuschange.AccountID(acc.ID), statuschange.Charged(false)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	changesBySvc := map[int][]*ent.StatusChange{}
	for _, ch := range pending {
		changesBySvc[ch.AccountServiceID] = append(changesBySvc[ch.AccountServiceID], ch)
	}
	aps, err := c.AccountPackage.Query().Where(accountpackage.AccountID(acc.ID)).
		WithServices(func(q *ent.AccountServiceQuery) {
			q.WithPriceOverrides().Order(ent.Asc(accountservice.FieldID))
		}).Order(ent.Asc(accountpackage.FieldID)).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	rng := rating.Range{Start: run.PeriodStart, End: run.PeriodEnd}
	prec := int32(acc.Edges.Currency.Precision)
	var lines []line
	var moves []move
	for _, ap := range aps {
		hasChanges := false
		for _, sv := range ap.Edges.Services {
			hasChanges = hasChanges || len(changesBySvc[sv.ID]) > 0
		}
		due := ap.NextBillDate != nil && (!ap.NextBillDate.After(run.PeriodEnd) ||
			(ap.CancellationDate != nil && !ap.CancellationDate.After(run.PeriodEnd)))
		if !due && !hasChanges {
			continue
		}
		rp, err := s.ratingPackage(ctx, c, cc, acc, ap, changesBySvc)
		if err != nil {
			return nil, nil, err
		}
		res, err := rating.Rate(rp, rng, prec)
		if err != nil {
			return nil, nil, err
		}
		if !res.Moved {
			continue
		}
		for _, l := range res.Lines {
			lines = append(lines, line{Line: l, apID: ap.ID})
		}
		moves = append(moves, move{ap: ap, res: res})
	}
	return lines, moves, nil
}

// ratingPackage builds the rating engine's view of an account-package.
func (s *Service) ratingPackage(ctx context.Context, c *ent.Client, cc *catalogCache, acc *ent.Account,
	ap *ent.AccountPackage, changes map[int][]*ent.StatusChange) (rating.Package, error) {
	pkg, err := cc.pkg(ctx, c, ap.PackageID)
	if err != nil {
		return rating.Package{}, err
	}
	freq, err := cc.freq(ctx, c, ap.FrequencyID)
	if err != nil {
		return rating.Package{}, err
	}
	st, err := cc.status(ctx, c, ap.StatusID)
	if err != nil {
		return rating.Package{}, err
	}
	catalogPrices, err := cc.pricesFor(ctx, c, ap.FrequencyID, acc.CurrencyID)
	if err != nil {
		return rating.Package{}, err
	}
	day := acc.BillDay
	if ap.OwnBillDay != nil {
		day = *ap.OwnBillDay
	}
	rp := rating.Package{
		ID: ap.ID, Effective: ap.EffectiveDate,
		Cadence: rating.Cadence{Interval: rating.Interval(freq.Interval), Count: freq.IntervalCount},
		BillDay: day, NewBillDay: ap.NewBillDay, Postpaid: ap.Postpaid,
		ChargeFullPeriod: ap.ChargeFullPeriod, OneTimeBilling: pkg.OneTimeBilling,
		Bulk: ap.BulkQuantity, Status: st.Code, Billable: st.Billable,
		NextBillDate: ap.NextBillDate, BilledThrough: ap.BilledThrough, LastPeriodStart: ap.LastPeriodStart,
		CancelOn: ap.CancellationDate,
	}
	if ap.CancelBillingOption != nil {
		rp.CancelOption = rating.CancelOption(*ap.CancelBillingOption)
	}
	var credited []int
	for _, sv := range ap.Edges.Services {
		svc, err := cc.service(ctx, c, sv.ServiceID)
		if err != nil {
			return rating.Package{}, err
		}
		sst, err := cc.status(ctx, c, sv.StatusID)
		if err != nil {
			return rating.Package{}, err
		}
		rs := rating.Service{ID: sv.ID, ServiceID: sv.ServiceID, Name: svc.Name, Status: sst.Code,
			Quantity: sv.Quantity, Effective: sv.EffectiveDate, OneTimeBilled: sv.OneTimeBilled,
			Recurring: map[string]money.Decimal{}, Transitions: map[rating.StatusPair]money.Decimal{}}
		if p := catalogPrices[sv.ServiceID]; p != nil {
			for k, v := range p.recurring {
				rs.Recurring[k] = v
			}
			rs.OneTime = p.oneTime
			rs.Transitions = p.transitions
		}
		for _, o := range sv.Edges.PriceOverrides {
			ost, err := cc.status(ctx, c, o.StatusID)
			if err != nil {
				return rating.Package{}, err
			}
			rs.Recurring[ost.Code] = o.Amount
		}
		for _, ch := range changes[sv.ID] {
			from, err := cc.status(ctx, c, ch.FromStatusID)
			if err != nil {
				return rating.Package{}, err
			}
			to, err := cc.status(ctx, c, ch.ToStatusID)
			if err != nil {
				return rating.Package{}, err
			}
			rp.Changes = append(rp.Changes, rating.StatusChange{ID: ch.ID, AccountServiceID: sv.ID,
				From: from.Code, To: to.Code, On: ch.ChangedOn})
		}
		rp.Services = append(rp.Services, rs)
		credited = append(credited, sv.ID)
	}
	// What was charged for the latest billed period, for a cancellation's credit.
	if rp.CancelOn != nil && !rp.Postpaid && rp.LastPeriodStart != nil && len(credited) > 0 {
		charged, err := c.Charge.Query().Where(charge.AccountServiceIDIn(credited...),
			charge.KindEQ(charge.KindRECURRING), charge.PeriodStart(*rp.LastPeriodStart)).All(ctx)
		if err != nil {
			return rating.Package{}, err
		}
		for i := range rp.Services {
			rs := &rp.Services[i]
			for _, ch := range charged {
				if ch.AccountServiceID != nil && *ch.AccountServiceID == rs.ID {
					if rs.Charged == nil {
						rs.Charged = map[calendar.Date]rating.ChargedPeriod{}
					}
					rs.Charged[*ch.PeriodStart] = rating.ChargedPeriod{Amount: ch.Amount, UnitAmount: ch.UnitAmount, Quantity: ch.Quantity}
				}
			}
		}
	}
	return rp, nil
}

// applyMove writes an account-package's new billing position, guarded by the position
// it was rated from: if another run moved it meanwhile, nothing is written and the
// account is billed again on fresh state.
func (s *Service) applyMove(ctx context.Context, c *ent.Client, cc *catalogCache, mv move) error {
	ap, r := mv.ap, mv.res
	upd := c.AccountPackage.Update().Where(accountpackage.ID(ap.ID))
	if ap.NextBillDate != nil {
		upd.Where(accountpackage.NextBillDate(*ap.NextBillDate))
	} else {
		upd.Where(accountpackage.NextBillDateIsNil())
	}
	if r.NextBillDate != nil {
		upd.SetNextBillDate(*r.NextBillDate)
	} else {
		upd.ClearNextBillDate()
	}
	if r.BilledThrough != nil {
		upd.SetBilledThrough(*r.BilledThrough)
	}
	if r.LastPeriodStart != nil {
		upd.SetLastPeriodStart(*r.LastPeriodStart)
	}
	if r.BillDayChanged {
		upd.SetOwnBillDay(r.BillDay).ClearNewBillDay()
	}
	var canceledID int
	if r.Canceled {
		st, err := c.Status.Query().Where(statusCode(rating.Canceled)).Only(ctx)
		if err != nil {
			return err
		}
		canceledID = st.ID
		upd.SetStatusID(st.ID)
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return errConcurrent
	}
	if r.Canceled {
		if err := c.AccountService.Update().Where(accountservice.AccountPackageID(ap.ID)).
			SetStatusID(canceledID).Exec(ctx); err != nil {
			return err
		}
	}
	if len(r.OneTimeBilled) > 0 {
		if err := c.AccountService.Update().Where(accountservice.IDIn(r.OneTimeBilled...)).
			SetOneTimeBilled(true).Exec(ctx); err != nil {
			return err
		}
	}
	if len(r.ChangesCharged) > 0 {
		n, err := c.StatusChange.Update().Where(statuschange.IDIn(r.ChangesCharged...), statuschange.Charged(false)).
			SetCharged(true).Save(ctx)
		if err != nil {
			return err
		}
		if n != len(r.ChangesCharged) {
			return errConcurrent
		}
	}
	return nil
}

func statusCode(code string) predicate.Status { return status.Code(code) }
