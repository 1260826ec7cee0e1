// Package billing is billd's billing core: it bills a set of accounts over a range,
// inside a transaction it is given. It loads the accounts' account-packages and what
// billing them needs in a few queries, rates each with the pure engine of
// internal/rating, and writes the lines, one invoice per account and the packages' new
// positions in bulk. One account is a set of one: there is one path. Bill runs
// (internal/billrun) call it for their batches; see README.md for its guarantees.
package billing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// Service bills accounts.
type Service struct {
	db    *store.DB
	clock clock.Clock
	log   *slog.Logger
}

// New returns the billing core over db.
func New(db *store.DB, clk clock.Clock, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, clock: clk, log: log}
}

// Request is what to bill: a range, and what the invoices it makes carry.
type Request struct {
	// BillRunID is the run the invoices belong to.
	BillRunID int
	// Range is the bill run's range, both ends inclusive.
	Range rating.Range
	// PostingDate is the invoices' posting date.
	PostingDate calendar.Date
	// BillCharges false bills nothing (the run only counts the accounts).
	BillCharges bool
	// CloseInvoices makes the invoices CLOSED at once.
	CloseInvoices bool
	// BillUsage bills the usage periods that end in the range and late usage
	// (docs/billing.md 6.3); false leaves usage for a later run.
	BillUsage bool
	// Catalog is the catalog to price with; nil loads it.
	Catalog *Catalog
}

// AccountResult is what billing one account wrote.
type AccountResult struct {
	Invoice  bool // an invoice was written
	Charges  int
	Currency string
	Total    money.Decimal
}

// ErrConcurrent says another transaction billed some of the accounts while this one
// rated them: the guard index refused a line, or a package's position had moved. The
// caller rolls back and bills again on fresh state, which finds nothing left to charge.
var ErrConcurrent = errors.New("billed concurrently")

// Concurrent reports whether err means the accounts were billed concurrently.
func Concurrent(err error) bool {
	return errors.Is(err, ErrConcurrent) || errors.Is(err, store.ErrPositionMoved) || store.IsConstraint(err)
}

// Bill bills the accounts in the transaction ctx carries, which must have been opened
// by store.DB.InConnTx: every line and invoice of them, or nothing (the caller's
// transaction rolls back on an error). On PostgreSQL the accounts' rows are locked, in
// id order, so runs over the same accounts take turns.
func (s *Service) Bill(ctx context.Context, req Request, accountIDs []int) (map[int]AccountResult, error) {
	results := make(map[int]AccountResult, len(accountIDs))
	c := store.Client(ctx, s.db.Client)
	w, err := s.db.Bulk(ctx)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	accs, err := store.ForUpdate(s.db, c.Account.Query().Where(account.IDIn(accountIDs...)).Order(ent.Asc(account.FieldID))).All(ctx)
	if err != nil {
		return nil, err
	}
	if !req.BillCharges || len(accs) == 0 {
		return results, nil
	}
	cc := req.Catalog
	if cc == nil {
		if cc, err = LoadCatalog(ctx, c); err != nil {
			return nil, err
		}
	}
	var usageIDs []int
	if req.BillUsage {
		usageIDs = cc.UsageServices()
	}
	work, err := load(ctx, c, req.Range.End, accs, usageIDs)
	if err != nil {
		return nil, err
	}
	views := map[int]usageView{}
	var all []*ent.AccountPackage
	for _, acc := range accs {
		for _, ap := range work.packages[acc.ID] {
			pkg, err := cc.pkg(ctx, c, ap.PackageID)
			if err != nil {
				return nil, err
			}
			views[ap.ID] = activation(pkg, ap, req.Range.End)
			all = append(all, ap)
		}
	}
	us, err := loadUsage(ctx, c, cc, all, views, req.Range.End, req.BillUsage)
	if err != nil {
		return nil, err
	}
	var moves []move
	var usageMoves []store.UsagePosition
	type billed struct {
		acc   *ent.Account
		cur   *ent.Currency
		lines []line
		total money.Decimal
	}
	var invoices []billed
	for _, acc := range accs {
		cur, err := cc.currency(ctx, c, acc.CurrencyID)
		if err != nil {
			return nil, err
		}
		prec := int32(cur.Precision)
		var lines []line
		for _, ap := range work.packages[acc.ID] {
			v := views[ap.ID]
			if v.pending {
				continue // waiting for its activation: nothing is charged
			}
			rp, err := ratingPackage(ctx, c, cc, acc, ap, work)
			if err != nil {
				return nil, fmt.Errorf("account %d: %w", acc.ID, err)
			}
			s.usageOfRecurring(&rp, ap, v, us)
			res, err := rating.Rate(rp, req.Range, prec)
			if err != nil {
				return nil, fmt.Errorf("account %d: %w", acc.ID, err)
			}
			if res.Moved {
				for _, l := range res.Lines {
					lines = append(lines, line{Line: l, apID: ap.ID})
				}
				moves = append(moves, move{ap: ap, res: res})
			}
			pos := store.UsagePosition{AccountPackageID: ap.ID, From: ap.UsageNext, Next: ap.UsageNext, Due: ap.UsageDue,
				ActivatedOn: v.activated, ClearLate: ap.UsageLateFrom != nil}
			if req.BillUsage && len(us.services[ap.ID]) > 0 {
				up, err := usagePackage(ctx, c, cc, acc, cur, ap, v, us)
				if err != nil {
					return nil, fmt.Errorf("account %d: %w", acc.ID, err)
				}
				ur, err := rating.BillUsage(up, req.Range, prec)
				if err != nil {
					return nil, fmt.Errorf("account %d: %w", acc.ID, err)
				}
				for _, l := range ur.Lines {
					lines = append(lines, line{Line: l, apID: ap.ID})
				}
				pos.Next, pos.Due = ur.Next, ur.Due
				if ur.Moved || pos.ActivatedOn != nil || pos.ClearLate {
					usageMoves = append(usageMoves, pos)
				}
			} else if pos.ActivatedOn != nil || pos.ClearLate {
				usageMoves = append(usageMoves, pos)
			}
		}
		results[acc.ID] = AccountResult{Currency: cur.Code}
		if len(lines) == 0 {
			continue
		}
		total := money.Zero
		for _, l := range lines {
			total = total.Add(l.Amount)
		}
		invoices = append(invoices, billed{acc: acc, cur: cur, lines: lines, total: money.Round(total, prec)})
	}
	if err := w.MoveUsage(ctx, usageMoves); err != nil {
		return nil, err
	}
	if err := s.applyMoves(ctx, c, w, moves); err != nil {
		return nil, err
	}
	if len(invoices) == 0 {
		return results, nil
	}
	first, err := invoicing.NextNumbers(ctx, s.db, len(invoices))
	if err != nil {
		return nil, err
	}
	st := invoice.StatusOPEN
	if req.CloseInvoices {
		st = invoice.StatusCLOSED
	}
	issued := calendar.Of(s.clock.Now())
	heads := make([]store.InvoiceRow, len(invoices))
	for i, b := range invoices {
		heads[i] = store.InvoiceRow{Number: invoicing.FormatNumber(first + int64(i)), AccountID: b.acc.ID,
			CurrencyID: b.acc.CurrencyID, BillRunID: req.BillRunID, Status: st, Issued: issued,
			Posted: req.PostingDate, Total: b.total}
	}
	ids, err := w.InsertInvoices(ctx, heads)
	if err != nil {
		return nil, err
	}
	var rows []store.ChargeRow
	for i, b := range invoices {
		for _, l := range b.lines {
			rows = append(rows, chargeRow(l, b.acc.ID, ids[i]))
		}
		results[b.acc.ID] = AccountResult{Invoice: true, Charges: len(b.lines), Currency: b.cur.Code, Total: b.total}
	}
	if err := w.InsertCharges(ctx, rows); err != nil {
		return nil, err
	}
	return results, nil
}

// usageOfRecurring gives the recurring engine what usage means for it: the
// activation day as the effective date (a package never billed starts there), and for
// chargeRecurringOnlyIfUsage packages the days with usage (docs/billing.md 6.4, 6.5).
func (s *Service) usageOfRecurring(rp *rating.Package, ap *ent.AccountPackage, v usageView, us *usageState) {
	if !v.start.Equal(ap.EffectiveDate) {
		rp.Effective = v.start
		if ap.BilledThrough == nil && ap.LastPeriodStart == nil && rp.NextBillDate != nil {
			nbd := rating.FirstNextBillDate(rp.Cadence, rp.BillDay, v.start, rp.Postpaid)
			rp.NextBillDate = &nbd
		}
	}
	if v.pkg.ChargeRecurringOnlyIfUsage {
		rp.OnlyIfUsed = true
		rp.Used = us.usedDays(ap.ID)
		rp.UsedLateFrom = ap.UsageLateFrom
		rp.RecurringCharged = us.recurring[ap.ID]
	}
}

// line is a rated line with the account-package it belongs to.
type line struct {
	rating.Line
	apID int
}

// chargeRow is a line as the row that stores it.
func chargeRow(l line, accountID, invoiceID int) store.ChargeRow {
	ap, svc, service := l.apID, l.AccountServiceID, l.ServiceID
	start, end := l.PeriodStart, l.PeriodEnd
	row := store.ChargeRow{Kind: string(l.Kind), Description: l.Description, AccountID: accountID, InvoiceID: invoiceID,
		AccountPackageID: &ap, AccountServiceID: &svc, ServiceID: &service, PeriodStart: &start, PeriodEnd: &end,
		Quantity: l.Quantity, UnitAmount: l.UnitAmount, Amount: l.Amount, Used: l.Used, Billed: l.Billed, Guard: l.Guard}
	if l.Source != "" {
		src := string(l.Source)
		row.PriceSource = &src
	}
	if l.PlanID != 0 {
		plan := l.PlanID
		row.RatePlanID = &plan
	}
	return row
}
