package billrun

import (
	"context"
	"database/sql"
	"fmt"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
)

// writer writes a batch's invoices, charges and package positions inside the batch's
// transaction, the cheapest way its database offers. Billing needs no ids back but the
// invoices', so nothing else asks for them. On SQLite, which runs in-process, a
// statement prepared once per batch and run per row beats one long multi-row
// statement, whose parsing grows with its length. On PostgreSQL, charges (most of the
// rows) go through COPY on the transaction's own connection.
type writer struct {
	dialect string
	c       *ent.Client
	conn    *sql.Conn
	// SQLite only: prepared on the transaction's connection.
	invoice, charge, move *sql.Stmt
}

// chargeColumns are the columns a charge row is written with; its id comes from the
// table's own sequence (its global id range).
var chargeColumns = []string{"kind", "description", "account_id", "account_package_id", "account_service_id",
	"service_id", "invoice_id", "period_start", "period_end", "quantity", "unit_amount", "amount", "guard"}

const (
	sqliteInvoiceInsert = "INSERT INTO invoices (number, account_id, currency_id, bill_run_id, status, " +
		"issue_date, posting_date, total) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	sqliteChargeInsert = "INSERT INTO charges (kind, description, account_id, account_package_id, " +
		"account_service_id, service_id, invoice_id, period_start, period_end, quantity, unit_amount, amount, " +
		"guard) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	sqliteMoveUpdate = "UPDATE account_packages SET next_bill_date = ?, " +
		"billed_through = COALESCE(?, billed_through), last_period_start = COALESCE(?, last_period_start), " +
		"status_id = COALESCE(?, status_id) WHERE id = ? AND next_bill_date IS ?"
)

func (s *Service) newWriter(ctx context.Context, c *ent.Client, conn *sql.Conn) (*writer, error) {
	w := &writer{dialect: s.dialect, c: c, conn: conn}
	if s.dialect == dialect.Postgres {
		return w, nil
	}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{{&w.invoice, sqliteInvoiceInsert}, {&w.charge, sqliteChargeInsert}, {&w.move, sqliteMoveUpdate}} {
		st, err := conn.PrepareContext(ctx, p.sql)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("preparing batch statements: %w", err)
		}
		*p.stmt = st
	}
	return w, nil
}

func (w *writer) close() {
	for _, st := range []*sql.Stmt{w.invoice, w.charge, w.move} {
		if st != nil {
			_ = st.Close()
		}
	}
}

// invoiceRow is an invoice to insert.
type invoiceRow struct {
	number                     string
	accountID, currencyID, run int
	status                     invoice.Status
	issued, posted             calendar.Date
	total                      money.Decimal
}

// insertInvoices writes invoices and returns their ids, in order.
func (w *writer) insertInvoices(ctx context.Context, rows []invoiceRow) ([]int, error) {
	ids := make([]int, len(rows))
	if w.dialect == dialect.Postgres {
		builders := make([]*ent.InvoiceCreate, len(rows))
		for i, r := range rows {
			builders[i] = w.c.Invoice.Create().SetNumber(r.number).SetAccountID(r.accountID).
				SetCurrencyID(r.currencyID).SetBillRunID(r.run).SetStatus(r.status).
				SetIssueDate(r.issued).SetPostingDate(r.posted).SetTotal(r.total)
		}
		created, err := w.c.Invoice.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return nil, err
		}
		for i, inv := range created {
			ids[i] = inv.ID
		}
		return ids, nil
	}
	for i, r := range rows {
		res, err := w.invoice.ExecContext(ctx, r.number, r.accountID, r.currencyID, r.run, string(r.status),
			r.issued.String(), r.posted.String(), r.total.String())
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

// insertCharges writes charge lines. The guard index still refuses a second charge of
// anything, whichever way the rows travel.
func (w *writer) insertCharges(ctx context.Context, rows []chargeRow) error {
	if w.dialect == dialect.Postgres {
		data := make([][]any, len(rows))
		for i, r := range rows {
			data[i] = []any{string(r.Kind), r.Description, r.accountID, r.apID, r.AccountServiceID, r.ServiceID,
				r.invoiceID, r.PeriodStart.Time(), r.PeriodEnd.Time(), r.Quantity, numeric(r.UnitAmount),
				numeric(r.Amount), r.Guard}
		}
		return store.CopyFrom(ctx, w.conn, "charges", chargeColumns, data)
	}
	for _, r := range rows {
		if _, err := w.charge.ExecContext(ctx, string(r.Kind), r.Description, r.accountID, r.apID,
			r.AccountServiceID, r.ServiceID, r.invoiceID, r.PeriodStart.String(), r.PeriodEnd.String(),
			r.Quantity, r.UnitAmount.String(), r.Amount.String(), r.Guard); err != nil {
			return err
		}
	}
	return nil
}

// numeric is x in pgx's binary NUMERIC form.
func numeric(x money.Decimal) pgtype.Numeric {
	return pgtype.Numeric{Int: x.Coefficient(), Exp: x.Exponent(), Valid: true}
}

// chargeRow is a charge line to insert.
type chargeRow struct {
	line
	accountID, invoiceID int
}
