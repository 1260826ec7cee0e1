package billrun

import (
	"context"
	"database/sql"
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
	err := s.db.InConnTx(ctx, func(ctx context.Context, conn *sql.Conn) error {
		c := store.Client(ctx, s.client)
		w, err := s.newWriter(ctx, c, conn)
		if err != nil {
			return err
		}
		defer w.close()
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
		if err := s.applyMoves(ctx, c, w, moves); err != nil {
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
		heads := make([]invoiceRow, len(invoices))
		for i, b := range invoices {
			heads[i] = invoiceRow{number: invoicing.FormatNumber(first + int64(i)), accountID: b.acc.ID,
				currencyID: b.acc.CurrencyID, run: run.ID, status: st, issued: issued, posted: run.PostingDate, total: b.total}
		}
		ids, err := w.insertInvoices(ctx, heads)
		if err != nil {
			return err
		}
		var rows []chargeRow
		for i, b := range invoices {
			for _, l := range b.lines {
				rows = append(rows, chargeRow{line: l, accountID: b.acc.ID, invoiceID: ids[i]})
			}
			results[b.acc.ID] = accountResult{invoice: true, charges: len(b.lines), currency: b.cur.Code, total: b.total}
		}
		return w.insertCharges(ctx, rows)
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

// applyMoves writes the packages' new positions: each guarded by the next bill date
// it was rated from, so a package another run moved meanwhile fails the batch (which is
// then billed again on fresh state). Positions go in bulk (one statement per chunk on
// PostgreSQL, one prepared statement per package on SQLite), and what follows from
// them (canceled services, one-time prices billed, status changes charged) in one
// statement each per batch. Only a new bill day, rare, is written package by package.
func (s *Service) applyMoves(ctx context.Context, c *ent.Client, w *writer, moves []move) error {
	var bulk []move
	var canceledPkgs, oneTime, changes []int
	for _, mv := range moves {
		r := mv.res
		if r.BillDayChanged {
			if err := s.applyMove(ctx, c, mv); err != nil {
				return err
			}
			continue
		}
		bulk = append(bulk, mv)
		if r.Canceled {
			canceledPkgs = append(canceledPkgs, mv.ap.ID)
		}
		oneTime = append(oneTime, r.OneTimeBilled...)
		changes = append(changes, r.ChangesCharged...)
	}
	canceled := 0
	if len(canceledPkgs) > 0 {
		st, err := c.Status.Query().Where(statusCode(rating.Canceled)).Only(ctx)
		if err != nil {
			return err
		}
		canceled = st.ID
	}
	if err := s.writePositions(ctx, c, w, bulk, canceled); err != nil {
		return err
	}
	if len(canceledPkgs) > 0 {
		if err := c.AccountService.Update().Where(accountservice.AccountPackageIDIn(canceledPkgs...)).
			SetStatusID(canceled).Exec(ctx); err != nil {
			return err
		}
	}
	if len(oneTime) > 0 {
		if err := c.AccountService.Update().Where(accountservice.IDIn(oneTime...)).
			SetOneTimeBilled(true).Exec(ctx); err != nil {
			return err
		}
	}
	if len(changes) > 0 {
		n, err := c.StatusChange.Update().Where(statuschange.IDIn(changes...), statuschange.Charged(false)).
			SetCharged(true).Save(ctx)
		if err != nil {
			return err
		}
		if n != len(changes) {
			return errConcurrent
		}
	}
	return nil
}

// writePositions writes the new next bill date, billed-through, last period start
// and (for a cancellation) status of each package, guarded by its old next bill date.
func (s *Service) writePositions(ctx context.Context, c *ent.Client, w *writer, moves []move, canceled int) error {
	if s.dialect != dialect.Postgres {
		for _, mv := range moves {
			pos := positionOf(mv, canceled)
			res, err := w.move.ExecContext(ctx, pos...)
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
	for i := 0; i < len(moves); i += chunk {
		part := moves[i:min(i+chunk, len(moves))]
		query, args := moveSQL(part, canceled)
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

// positionOf is a move as the arguments of a position update: the new next bill date
// (NULL when billing ended), billed-through, last period start and status (NULL keeps
// the current one), the package id and the next bill date it was rated from.
func positionOf(mv move, canceled int) []any {
	r := mv.res
	var status any
	if r.Canceled {
		status = canceled
	}
	return []any{dateArg(r.NextBillDate), dateArg(r.BilledThrough), dateArg(r.LastPeriodStart), status,
		mv.ap.ID, dateArg(mv.ap.NextBillDate)}
}

func dateArg(d *calendar.Date) any {
	if d == nil {
		return nil
	}
	return d.String()
}

// moveSQL builds one PostgreSQL UPDATE of many packages' positions from a VALUES
// list, in positionOf's order.
func moveSQL(moves []move, canceled int) (string, []any) {
	var b strings.Builder
	b.WriteString("UPDATE account_packages AS ap SET next_bill_date = v.nbd, " +
		"billed_through = COALESCE(v.bt, ap.billed_through), " +
		"last_period_start = COALESCE(v.lps, ap.last_period_start), " +
		"status_id = COALESCE(v.st, ap.status_id) FROM (VALUES ")
	args := make([]any, 0, 6*len(moves))
	for i, mv := range moves {
		k := 6 * i
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d::date, $%d::date, $%d::date, $%d::bigint, $%d::bigint, $%d::date)",
			k+1, k+2, k+3, k+4, k+5, k+6)
		args = append(args, positionOf(mv, canceled)...)
	}
	b.WriteString(") AS v(nbd, bt, lps, st, id, old) WHERE ap.id = v.id AND ap.next_bill_date IS NOT DISTINCT FROM v.old")
	return b.String(), args
}
