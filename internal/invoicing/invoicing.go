// Package invoicing keeps invoices consistent: numbers unique and ascending, totals
// equal to the sum of their lines, CLOSED invoices never changed. See README.md.
package invoicing

import (
	"context"
	"fmt"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
)

// NumberPrefix starts every invoice number; the digits after it are zero-padded so
// numbers sort the same as text and as numbers.
const NumberPrefix = "INV-"

// FormatNumber formats the n-th invoice number.
func FormatNumber(n int64) string { return fmt.Sprintf("%s%010d", NumberPrefix, n) }

// counterName is the counter invoice numbers are drawn from.
const counterName = "invoice"

// NextNumbers reserves n invoice numbers and returns the first. Numbers are unique and
// ascending in the order they are drawn; where writers run in parallel a transaction
// that rolls back leaves a gap (store.DB.Reserve).
func NextNumbers(ctx context.Context, db *store.DB, n int) (int64, error) {
	first, err := db.Reserve(ctx, counterName, n)
	if err != nil {
		return 0, fmt.Errorf("drawing invoice numbers: %w", err)
	}
	return first, nil
}

// Service is the invoice service layer.
type Service struct {
	client *ent.Client
}

// New returns the invoice service over client.
func New(client *ent.Client) *Service { return &Service{client: client} }

// Close closes an OPEN invoice; from then on it never changes. NOT_FOUND for an
// unknown id, FAILED_PRECONDITION if it is already closed.
func (s *Service) Close(ctx context.Context, id int) (*ent.Invoice, error) {
	var out *ent.Invoice
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		inv, err := c.Invoice.Get(ctx, id)
		if ent.IsNotFound(err) {
			return fault.NotFoundf("id", "invoice %d not found", id)
		} else if err != nil {
			return err
		}
		if inv.Status == invoice.StatusCLOSED {
			return fault.Preconditionf("invoice %s is already closed", inv.Number)
		}
		n, err := c.Invoice.Update().Where(invoice.ID(id), invoice.StatusEQ(invoice.StatusOPEN)).
			SetStatus(invoice.StatusCLOSED).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fault.Conflictf("id", "invoice %s was closed by a concurrent request", inv.Number)
		}
		out, err = c.Invoice.Get(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// RemoveCharges deletes charges that are on OPEN invoices or on none, recomputes the
// totals of the invoices they were on, and deletes the invoices billing created that
// are left without lines. A charge on a CLOSED invoice is refused with
// FAILED_PRECONDITION: closed invoices never change. Runs in the caller's transaction.
func RemoveCharges(ctx context.Context, c *ent.Client, chargeIDs []int) error {
	if len(chargeIDs) == 0 {
		return nil
	}
	closed, err := c.Charge.Query().Where(charge.IDIn(chargeIDs...),
		charge.HasInvoiceWith(invoice.StatusEQ(invoice.StatusCLOSED))).Exist(ctx)
	if err != nil {
		return err
	}
	if closed {
		return fault.Preconditionf("some of its charges are on a CLOSED invoice")
	}
	var invIDs []int
	err = c.Charge.Query().Where(charge.IDIn(chargeIDs...), charge.InvoiceIDNotNil()).
		Unique(true).Select(charge.FieldInvoiceID).Scan(ctx, &invIDs)
	if err != nil {
		return err
	}
	if _, err := c.Charge.Delete().Where(charge.IDIn(chargeIDs...)).Exec(ctx); err != nil {
		return err
	}
	return Retotal(ctx, c, invIDs)
}

// Retotal sets each invoice's total to the sum of its lines (added in Go, exactly)
// and deletes the billing-created ones left with no lines.
func Retotal(ctx context.Context, c *ent.Client, invoiceIDs []int) error {
	for _, id := range invoiceIDs {
		inv, err := c.Invoice.Query().Where(invoice.ID(id)).WithCurrency().Only(ctx)
		if ent.IsNotFound(err) {
			continue
		} else if err != nil {
			return err
		}
		amounts, err := lineAmounts(ctx, c, id)
		if err != nil {
			return err
		}
		if len(amounts) == 0 && inv.BillRunID != nil {
			if err := c.Invoice.DeleteOneID(id).Exec(ctx); err != nil {
				return err
			}
			continue
		}
		total := money.Zero
		for _, a := range amounts {
			total = total.Add(a)
		}
		total = money.Round(total, int32(inv.Edges.Currency.Precision))
		if err := c.Invoice.UpdateOneID(id).SetTotal(total).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func lineAmounts(ctx context.Context, c *ent.Client, invoiceID int) ([]money.Decimal, error) {
	var rows []struct {
		Amount money.Decimal `json:"amount"`
	}
	err := c.Charge.Query().Where(charge.InvoiceID(invoiceID)).Select(charge.FieldAmount).Scan(ctx, &rows)
	out := make([]money.Decimal, len(rows))
	for i, r := range rows {
		out[i] = r.Amount
	}
	return out, err
}
