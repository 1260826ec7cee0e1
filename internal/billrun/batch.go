package billrun

import (
	"context"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/ent/statuschange"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// billAccounts bills accounts of a run in one transaction, loading them and writing
// their results in bulk: a few statements per batch rather than per account. It is the
// only billing path; one account is a batch of one.
func (s *Service) billAccounts(ctx context.Context, run *ent.BillRun, cc *catalogCache, ids []int) (map[int]accountResult, error) {
	results := make(map[int]accountResult, len(ids))
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		q := c.Account.Query().Where(account.IDIn(ids...)).Order(ent.Asc(account.FieldID))
		if s.dialect == dialect.Postgres {
			// Serialize runs on the same accounts (in id order: no deadlock); a
			// second run then sees the first one's work.
			q.ForUpdate()
		}
		accs, err := q.All(ctx)
		if err != nil {
			return err
		}
		if !run.BillCharges || len(accs) == 0 {
			return nil
		}
		work, err := s.load(ctx, c, cc, run, accs)
		if err != nil {
			return err
		}
		rng := rating.Range{Start: run.PeriodStart, End: run.PeriodEnd}
		var moves []move
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
				return err
			}
			prec := int32(cur.Precision)
			var lines []line
			for _, ap := range work.packages[acc.ID] {
				rp, err := s.ratingPackage(ctx, c, cc, acc, ap, work.changes, work.charged)
				if err != nil {
					return fmt.Errorf("account %d: %w", acc.ID, err)
				}
				res, err := rating.Rate(rp, rng, prec)
				if err != nil {
					return fmt.Errorf("account %d: %w", acc.ID, err)
				}
				if !res.Moved {
					continue
				}
				for _, l := range res.Lines {
					lines = append(lines, line{Line: l, apID: ap.ID})
				}
				moves = append(moves, move{ap: ap, res: res})
			}
			results[acc.ID] = accountResult{currency: cur.Code}
			if len(lines) == 0 {
				continue
			}
			total := money.Zero
			for _, l := range lines {
				total = total.Add(l.Amount)
			}
			invoices = append(invoices, billed{acc: acc, cur: cur, lines: lines, total: money.Round(total, prec)})
		}
		if err := s.applyMoves(ctx, c, moves); err != nil {
			return err
		}
		if len(invoices) == 0 {
			return nil
		}
		// On PostgreSQL numbers are drawn outside the billing transaction, so the
		// counter row is locked for one statement and batches on several nodes do not
		// queue behind each other; a batch that rolls back leaves a gap. SQLite has one
		// writer, which already holds the lock.
		numbers := c
		if s.dialect == dialect.Postgres {
			numbers = s.client
		}
		first, err := invoicing.NextNumbers(ctx, numbers, s.dialect, len(invoices))
		if err != nil {
			return err
		}
		st := invoice.StatusOPEN
		if run.CloseInvoices {
			st = invoice.StatusCLOSED
		}
		issued := calendar.Of(s.clock.Now())
		builders := make([]*ent.InvoiceCreate, len(invoices))
		for i, b := range invoices {
			builders[i] = c.Invoice.Create().SetNumber(invoicing.FormatNumber(first + int64(i))).
				SetAccountID(b.acc.ID).SetCurrencyID(b.acc.CurrencyID).SetBillRunID(run.ID).SetStatus(st).
				SetIssueDate(issued).SetPostingDate(run.PostingDate).SetTotal(b.total)
		}
		created, err := c.Invoice.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return err
		}
		var rows []chargeRow
		for i, b := range invoices {
			for _, l := range b.lines {
				rows = append(rows, chargeRow{line: l, accountID: b.acc.ID, invoiceID: created[i].ID})
			}
			results[b.acc.ID] = accountResult{invoice: true, charges: len(b.lines), currency: b.cur.Code, total: b.total}
		}
		return s.insertCharges(ctx, c, rows)
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// batchState is what billing a batch of accounts needs from the database.
type batchState struct {
	packages map[int][]*ent.AccountPackage // by account, in id order
	changes  map[int][]*ent.StatusChange   // pending, by account-service
	charged  map[int][]*ent.Charge         // recurring charges of final periods, by account-service
}

// load reads, for a batch of accounts, the account-packages the run may touch (due by
// the run's end, with a cancellation it reaches, or with status changes to charge),
// their services and overrides, the pending status changes, and what was charged for
// the periods a cancellation may credit: a handful of queries whatever the batch size.
func (s *Service) load(ctx context.Context, c *ent.Client, cc *catalogCache, run *ent.BillRun, accs []*ent.Account) (*batchState, error) {
	ids := make([]int, len(accs))
	for i, a := range accs {
		ids[i] = a.ID
	}
	st := &batchState{packages: map[int][]*ent.AccountPackage{}, changes: map[int][]*ent.StatusChange{},
		charged: map[int][]*ent.Charge{}}
	pending, err := c.StatusChange.Query().Where(statuschange.AccountIDIn(ids...), statuschange.Charged(false)).All(ctx)
	if err != nil {
		return nil, err
	}
	var changedSvcs []int
	for _, ch := range pending {
		st.changes[ch.AccountServiceID] = append(st.changes[ch.AccountServiceID], ch)
		changedSvcs = append(changedSvcs, ch.AccountServiceID)
	}
	var changedPkgs []int
	if len(changedSvcs) > 0 {
		if err := c.AccountService.Query().Where(accountservice.IDIn(changedSvcs...)).
			Select(accountservice.FieldAccountPackageID).Scan(ctx, &changedPkgs); err != nil {
			return nil, err
		}
	}
	end := run.PeriodEnd
	aps, err := c.AccountPackage.Query().Where(accountpackage.AccountIDIn(ids...), accountpackage.Or(
		accountpackage.NextBillDateLTE(end),
		accountpackage.And(accountpackage.NextBillDateNotNil(), accountpackage.CancellationDateLTE(end)),
		accountpackage.IDIn(changedPkgs...),
	)).WithServices(func(q *ent.AccountServiceQuery) {
		q.WithPriceOverrides().Order(ent.Asc(accountservice.FieldID))
	}).Order(ent.Asc(accountpackage.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	var creditSvcs []int
	var creditStarts []calendar.Date
	for _, ap := range aps {
		st.packages[ap.AccountID] = append(st.packages[ap.AccountID], ap)
		if ap.CancellationDate != nil && !ap.Postpaid && ap.LastPeriodStart != nil {
			for _, sv := range ap.Edges.Services {
				creditSvcs = append(creditSvcs, sv.ID)
			}
			creditStarts = append(creditStarts, *ap.LastPeriodStart)
		}
	}
	if len(creditSvcs) > 0 {
		ch, err := c.Charge.Query().Where(charge.AccountServiceIDIn(creditSvcs...),
			charge.KindEQ(charge.KindRECURRING), charge.PeriodStartIn(creditStarts...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, x := range ch {
			st.charged[*x.AccountServiceID] = append(st.charged[*x.AccountServiceID], x)
		}
	}
	return st, nil
}

// applyMoves writes the packages' new positions. The common move (a period billed:
// new next bill date, billed-through and period start) is written for all packages in
// one statement per chunk, guarded by each one's old next bill date; the rare ones
// (cancellations, new bill days, transitions only) one by one.
func (s *Service) applyMoves(ctx context.Context, c *ent.Client, moves []move) error {
	var simple []move
	for _, mv := range moves {
		r := mv.res
		if r.Canceled || r.BillDayChanged || mv.ap.NextBillDate == nil || r.NextBillDate == nil ||
			r.BilledThrough == nil || r.LastPeriodStart == nil || len(r.OneTimeBilled) > 0 || len(r.ChangesCharged) > 0 {
			if err := s.applyMove(ctx, c, mv); err != nil {
				return err
			}
			continue
		}
		simple = append(simple, mv)
	}
	if s.dialect != dialect.Postgres {
		// SQLite runs in-process: one short prepared UPDATE per package is cheaper
		// than one long statement, whose parsing grows with its size.
		for _, mv := range simple {
			res, err := c.ExecContext(ctx, "UPDATE account_packages SET next_bill_date = ?, billed_through = ?, "+
				"last_period_start = ? WHERE id = ? AND next_bill_date = ?",
				mv.res.NextBillDate.String(), mv.res.BilledThrough.String(), mv.res.LastPeriodStart.String(),
				mv.ap.ID, mv.ap.NextBillDate.String())
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				if err != nil {
					return err
				}
				return errConcurrent
			}
		}
		return nil
	}
	const chunk = 500
	for i := 0; i < len(simple); i += chunk {
		part := simple[i:min(i+chunk, len(simple))]
		query, args := moveSQL(part)
		res, err := c.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if int(n) != len(part) {
			return errConcurrent
		}
	}
	return nil
}

// moveSQL builds one PostgreSQL UPDATE of many packages' positions from a VALUES
// list, each guarded by its old next bill date.
func moveSQL(moves []move) (string, []any) {
	var b strings.Builder
	b.WriteString("UPDATE account_packages AS ap SET next_bill_date = v.nbd, billed_through = v.bt, " +
		"last_period_start = v.lps FROM (VALUES ")
	args := make([]any, 0, 5*len(moves))
	for i, mv := range moves {
		k := 5 * i
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d::bigint, $%d::date, $%d::date, $%d::date, $%d::date)", k+1, k+2, k+3, k+4, k+5)
		args = append(args, mv.ap.ID, mv.res.NextBillDate.String(), mv.res.BilledThrough.String(),
			mv.res.LastPeriodStart.String(), mv.ap.NextBillDate.String())
	}
	b.WriteString(") AS v(id, nbd, bt, lps, old) WHERE ap.id = v.id AND ap.next_bill_date = v.old")
	return b.String(), args
}

// chargeRow is a charge line to insert.
type chargeRow struct {
	line
	accountID, invoiceID int
}

// chargeColumns are the columns insertCharges writes; ids come from each table's
// own sequence (its global id range).
const chargeColumns = "kind, description, account_id, account_package_id, account_service_id, service_id, " +
	"invoice_id, period_start, period_end, quantity, unit_amount, amount, guard"

// insertCharges writes charge lines with multi-row INSERTs that return nothing:
// billing needs no ids back, and asking for them (as Ent's bulk create does) costs
// as much as the insert. The guard index still refuses a second charge of anything.
func (s *Service) insertCharges(ctx context.Context, c *ent.Client, rows []chargeRow) error {
	const perStmt = 500
	const cols = 13
	for start := 0; start < len(rows); start += perStmt {
		part := rows[start:min(start+perStmt, len(rows))]
		var b strings.Builder
		b.WriteString("INSERT INTO charges (" + chargeColumns + ") VALUES ")
		args := make([]any, 0, cols*len(part))
		for i, r := range part {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for j := 0; j < cols; j++ {
				if j > 0 {
					b.WriteString(", ")
				}
				if s.dialect == dialect.Postgres {
					fmt.Fprintf(&b, "$%d", i*cols+j+1)
				} else {
					b.WriteByte('?')
				}
			}
			b.WriteByte(')')
			args = append(args, string(r.Kind), r.Description, r.accountID, r.apID, r.AccountServiceID, r.ServiceID,
				r.invoiceID, r.PeriodStart.String(), r.PeriodEnd.String(), r.Quantity, r.UnitAmount.String(),
				r.Amount.String(), r.Guard)
		}
		if _, err := c.ExecContext(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
