package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// Bulk writes a batch's invoices, charges and account-package positions inside the
// transaction of its context (opened by InConnTx), the cheapest way its database
// offers. On SQLite, which runs in-process, a statement prepared once per batch and
// run per row beats one long multi-row statement, whose parsing grows with its length.
// On PostgreSQL, charges (most of the rows) go through COPY on the transaction's
// connection and positions in UPDATEs of many rows. The guard index on charges and
// the guard on positions are the same whichever way the rows travel.
type Bulk interface {
	// InsertInvoices writes invoices and returns their ids, in order.
	InsertInvoices(ctx context.Context, rows []InvoiceRow) ([]int, error)
	// InsertCharges writes charge lines.
	InsertCharges(ctx context.Context, rows []ChargeRow) error
	// MovePositions writes account-packages' new positions, each only if the
	// package still has the next bill date it was rated from; it returns
	// ErrPositionMoved if any had moved.
	MovePositions(ctx context.Context, moves []Position) error
	// MoveUsage writes account-packages' new usage positions, each only if the
	// package still has the usage position it was rated from; it returns
	// ErrPositionMoved if any had moved.
	MoveUsage(ctx context.Context, moves []UsagePosition) error
	// Close releases what the writer prepared.
	Close()
}

// ErrPositionMoved says an account-package's position changed since it was read:
// another transaction billed it meanwhile. Billing again on fresh state finds nothing
// left to charge.
var ErrPositionMoved = errors.New("an account-package was billed concurrently")

// InvoiceRow is an invoice to insert.
type InvoiceRow struct {
	Number                           string
	AccountID, CurrencyID, BillRunID int
	Status                           invoice.Status
	Issued, Posted                   calendar.Date
	Total                            money.Decimal
}

// ChargeRow is a charge line to insert. Nil ids are NULL.
type ChargeRow struct {
	Kind, Description                             string
	AccountID, InvoiceID                          int
	AccountPackageID, AccountServiceID, ServiceID *int
	PeriodStart, PeriodEnd                        *calendar.Date
	Quantity                                      int
	UnitAmount, Amount                            money.Decimal
	// Used and Billed are a USAGE line's quantities, RatePlanID the plan that rated
	// it (nil for other kinds).
	Used, Billed *money.Decimal
	RatePlanID   *int
	// PriceSource says where a RECURRING line's price came from (nil on others).
	PriceSource *string
	Guard       string
}

// UsagePosition is an account-package's new usage position (docs/billing.md 6.3).
type UsagePosition struct {
	AccountPackageID int
	From             *calendar.Date // the usage_next it was rated from
	Next, Due        *calendar.Date // written as given
	// ClearLate clears the late-usage mark: the periods it pointed at were rated again.
	ClearLate bool
	// ActivatedOn sets the activation day if the package has none yet.
	ActivatedOn *calendar.Date
}

// Position is an account-package's new billing position. Nil fields keep the current
// value, but NextBillDate, which is written as given (nil: billing ended).
type Position struct {
	AccountPackageID int
	From             *calendar.Date // the next bill date it was rated from
	NextBillDate     *calendar.Date
	BilledThrough    *calendar.Date
	LastPeriodStart  *calendar.Date
	StatusID         *int
	// BillDay is a new bill day now in force: it becomes the package's own and the
	// pending new bill day is cleared.
	BillDay *int
}

// Bulk returns the bulk writer of the transaction ctx carries, which InConnTx opened.
func (db *DB) Bulk(ctx context.Context) (Bulk, error) {
	conn, ok := TxConn(ctx)
	if !ok {
		return nil, errors.New("store: Bulk needs a transaction opened by InConnTx")
	}
	c := Client(ctx, db.Client)
	if db.Dialect == dialect.Postgres {
		return &pgBulk{c: c, conn: conn}, nil
	}
	w := &sqliteBulk{c: c}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&w.invoice, sqliteInvoiceInsert}, {&w.charge, sqliteChargeInsert}, {&w.move, sqliteMoveUpdate}} {
		st, err := conn.PrepareContext(ctx, p.sql)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("preparing batch statements: %w", err)
		}
		*p.stmt = st
	}
	return w, nil
}

// chargeColumns are the columns a charge row is written with; its id comes from the
// table's own sequence (its global id range).
var chargeColumns = []string{"kind", "description", "account_id", "account_package_id", "account_service_id",
	"service_id", "invoice_id", "period_start", "period_end", "quantity", "unit_amount", "amount",
	"used_quantity", "billed_quantity", "rate_plan_id", "price_source", "guard"}

const (
	sqliteInvoiceInsert = "INSERT INTO invoices (number, account_id, currency_id, bill_run_id, status, " +
		"issue_date, posting_date, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	sqliteChargeInsert = "INSERT INTO charges (kind, description, account_id, account_package_id, " +
		"account_service_id, service_id, invoice_id, period_start, period_end, quantity, unit_amount, amount, " +
		"used_quantity, billed_quantity, rate_plan_id, price_source, guard) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	sqliteMoveUpdate = "UPDATE account_packages SET next_bill_date = ?, " +
		"billed_through = COALESCE(?, billed_through), last_period_start = COALESCE(?, last_period_start), " +
		"status_id = COALESCE(?, status_id), own_bill_day = COALESCE(?, own_bill_day), " +
		"new_bill_day = CASE WHEN ? IS NULL THEN new_bill_day ELSE NULL END WHERE id = ? AND next_bill_date IS ?"
)

// sqliteBulk runs statements prepared on the transaction's connection.
type sqliteBulk struct {
	c                     *ent.Client
	invoice, charge, move *sql.Stmt
}

func (w *sqliteBulk) Close() {
	for _, st := range []*sql.Stmt{w.invoice, w.charge, w.move} {
		if st != nil {
			_ = st.Close()
		}
	}
}

func (w *sqliteBulk) InsertInvoices(ctx context.Context, rows []InvoiceRow) ([]int, error) {
	ids := make([]int, len(rows))
	for i, r := range rows {
		res, err := w.invoice.ExecContext(ctx, r.Number, r.AccountID, r.CurrencyID, r.BillRunID, string(r.Status),
			r.Issued.String(), r.Posted.String(), r.Total.String())
		if err != nil {
			return nil, err
		}
		id, err := res.LastInsertId()
		if err != nil {
			return nil, err
		}
		ids[i] = int(id)
	}
	return ids, nil
}

func (w *sqliteBulk) InsertCharges(ctx context.Context, rows []ChargeRow) error {
	for _, r := range rows {
		if _, err := w.charge.ExecContext(ctx, r.Kind, r.Description, r.AccountID, r.AccountPackageID,
			r.AccountServiceID, r.ServiceID, r.InvoiceID, dateText(r.PeriodStart), dateText(r.PeriodEnd),
			r.Quantity, r.UnitAmount.String(), r.Amount.String(), decimalText(r.Used), decimalText(r.Billed), r.RatePlanID,
			r.PriceSource, r.Guard); err != nil {
			return err
		}
	}
	return nil
}

func (w *sqliteBulk) MovePositions(ctx context.Context, moves []Position) error {
	for _, m := range moves {
		res, err := w.move.ExecContext(ctx, positionArgs(m)...)
		if err != nil {
			return err
		}
		if err := moved(res, 1); err != nil {
			return err
		}
	}
	return nil
}

// pgBulk copies charges and updates positions many at a time.
type pgBulk struct {
	c    *ent.Client
	conn *sql.Conn
}

func (w *pgBulk) Close() {}

func (w *pgBulk) InsertInvoices(ctx context.Context, rows []InvoiceRow) ([]int, error) {
	builders := make([]*ent.InvoiceCreate, len(rows))
	for i, r := range rows {
		builders[i] = w.c.Invoice.Create().SetNumber(r.Number).SetAccountID(r.AccountID).
			SetCurrencyID(r.CurrencyID).SetBillRunID(r.BillRunID).SetStatus(r.Status).
			SetIssueDate(r.Issued).SetPostingDate(r.Posted).SetTotal(r.Total)
	}
	created, err := w.c.Invoice.CreateBulk(builders...).Save(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(created))
	for i, inv := range created {
		ids[i] = inv.ID
	}
	return ids, nil
}

func (w *pgBulk) InsertCharges(ctx context.Context, rows []ChargeRow) error {
	data := make([][]any, len(rows))
	for i, r := range rows {
		data[i] = []any{r.Kind, r.Description, r.AccountID, r.AccountPackageID, r.AccountServiceID, r.ServiceID,
			r.InvoiceID, dateTime(r.PeriodStart), dateTime(r.PeriodEnd), r.Quantity, numeric(r.UnitAmount),
			numeric(r.Amount), numericOrNull(r.Used), numericOrNull(r.Billed), r.RatePlanID, r.PriceSource, r.Guard}
	}
	return CopyFrom(ctx, w.conn, "charges", chargeColumns, data)
}

func (w *pgBulk) MovePositions(ctx context.Context, moves []Position) error {
	const chunk = 500
	for i := 0; i < len(moves); i += chunk {
		part := moves[i:min(i+chunk, len(moves))]
		query, args := pgMoveSQL(part)
		res, err := w.c.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if err := moved(res, len(part)); err != nil {
			return err
		}
	}
	return nil
}

// moved checks that a guarded position update wrote want rows: fewer means another
// transaction moved some position meanwhile (ErrPositionMoved).
func moved(res sql.Result, want int) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if int(n) != want {
		return ErrPositionMoved
	}
	return nil
}

// positionArgs is a position as the arguments of the SQLite update, in its order.
func positionArgs(m Position) []any {
	var status, day any
	if m.StatusID != nil {
		status = *m.StatusID
	}
	if m.BillDay != nil {
		day = *m.BillDay
	}
	return []any{dateText(m.NextBillDate), dateText(m.BilledThrough), dateText(m.LastPeriodStart), status, day, day,
		m.AccountPackageID, dateText(m.From)}
}

// pgMoveSQL builds one UPDATE of many positions from a VALUES list.
func pgMoveSQL(moves []Position) (string, []any) {
	var b strings.Builder
	b.WriteString("UPDATE account_packages AS ap SET next_bill_date = v.nbd, " +
		"billed_through = COALESCE(v.bt, ap.billed_through), " +
		"last_period_start = COALESCE(v.lps, ap.last_period_start), " +
		"status_id = COALESCE(v.st, ap.status_id), own_bill_day = COALESCE(v.day, ap.own_bill_day), " +
		"new_bill_day = CASE WHEN v.day IS NULL THEN ap.new_bill_day ELSE NULL END FROM (VALUES ")
	args := make([]any, 0, 7*len(moves))
	for i, m := range moves {
		k := 7 * i
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d::date, $%d::date, $%d::date, $%d::bigint, $%d::bigint, $%d::bigint, $%d::date)",
			k+1, k+2, k+3, k+4, k+5, k+6, k+7)
		var status, day any
		if m.StatusID != nil {
			status = *m.StatusID
		}
		if m.BillDay != nil {
			day = *m.BillDay
		}
		args = append(args, dateText(m.NextBillDate), dateText(m.BilledThrough), dateText(m.LastPeriodStart),
			status, day, m.AccountPackageID, dateText(m.From))
	}
	b.WriteString(") AS v(nbd, bt, lps, st, day, id, old) WHERE ap.id = v.id AND ap.next_bill_date IS NOT DISTINCT FROM v.old")
	return b.String(), args
}

// dateText is a date as SQL text, or NULL.
func dateText(d *calendar.Date) any {
	if d == nil {
		return nil
	}
	return d.String()
}

// dateTime is a date as pgx binds a DATE, or NULL.
func dateTime(d *calendar.Date) any {
	if d == nil {
		return nil
	}
	return d.Time()
}

// decimalText is a decimal as SQLite stores it, or NULL.
func decimalText(x *money.Decimal) any {
	if x == nil {
		return nil
	}
	return x.String()
}

// numericOrNull is x in pgx's binary NUMERIC form, or NULL.
func numericOrNull(x *money.Decimal) any {
	if x == nil {
		return nil
	}
	return numeric(*x)
}

// numeric is x in pgx's binary NUMERIC form.
func numeric(x money.Decimal) pgtype.Numeric {
	return pgtype.Numeric{Int: x.Coefficient(), Exp: x.Exponent(), Valid: true}
}
