package billrun

import (
	"context"
	"sort"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/billrunbatch"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/internal/money"
)

// View is a run's figures as one partner sees them: only its own accounts count. A
// run bills every customer of the operator, so its own counters are not a partner's
// to read.
type View struct {
	AccountsTotal     int
	AccountsProcessed int
	AccountsFailed    int
	InvoicesCreated   int
	ChargesCreated    int
	Totals            map[string]money.Decimal // by currency code
}

// Equal reports whether two views show the same figures.
func (v *View) Equal(w *View) bool {
	if v == nil || w == nil {
		return v == w
	}
	if v.AccountsTotal != w.AccountsTotal || v.AccountsProcessed != w.AccountsProcessed ||
		v.AccountsFailed != w.AccountsFailed || v.InvoicesCreated != w.InvoicesCreated ||
		v.ChargesCreated != w.ChargesCreated || len(v.Totals) != len(w.Totals) {
		return false
	}
	for code, t := range v.Totals {
		if u, ok := w.Totals[code]; !ok || !u.Equal(t) {
			return false
		}
	}
	return true
}

// PartnerViews computes the figures of runs over partner's accounts: the accounts of
// each run's batches that are the partner's (all of them in the total, as the run's
// own total counts every planned account; processed once their batch is done), and
// the failures, invoices, charges and totals of those accounts. It filters by partner
// itself, so the caller passes a context that reads every row; the work is a fixed
// number of statements however many runs are asked for.
func (s *Service) PartnerViews(ctx context.Context, runs []int, partner int) (map[int]*View, error) {
	views := make(map[int]*View, len(runs))
	for _, id := range runs {
		views[id] = &View{Totals: map[string]money.Decimal{}}
	}
	if len(runs) == 0 {
		return views, nil
	}
	// The partner's accounts, in id order, to count the batches' shares.
	mine, err := s.client.Account.Query().Where(account.PartnerID(partner)).Order(ent.Asc(account.FieldID)).IDs(ctx)
	if err != nil {
		return nil, err
	}
	in := func(lo, hi int) int { // partner accounts with lo <= id <= hi
		return sort.SearchInts(mine, hi+1) - sort.SearchInts(mine, lo)
	}
	owned := make(map[int]bool, len(mine))
	for _, id := range mine {
		owned[id] = true
	}
	batches, err := s.client.BillRunBatch.Query().Where(billrunbatch.BillRunIDIn(runs...)).
		Select(billrunbatch.FieldBillRunID, billrunbatch.FieldFirstAccountID, billrunbatch.FieldLastAccountID,
			billrunbatch.FieldAccountIds, billrunbatch.FieldState).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range batches {
		// Every batch counts in the total, canceled ones too, as on the run itself.
		n := 0
		if b.AccountIds != nil {
			for _, id := range b.AccountIds {
				if owned[id] {
					n++
				}
			}
		} else {
			n = in(b.FirstAccountID, b.LastAccountID)
		}
		v := views[b.BillRunID]
		v.AccountsTotal += n
		if b.State == billrunbatch.StateDONE {
			v.AccountsProcessed += n
		}
	}
	partnerAccounts := func(col string) func(*entsql.Selector) {
		return func(s *entsql.Selector) {
			t := entsql.Table(account.Table)
			s.Where(entsql.In(s.C(col), entsql.Select(t.C(account.FieldID)).From(t).Where(entsql.EQ(t.C(account.FieldPartnerID), partner))))
		}
	}
	var failed []struct {
		Run   int `json:"run"`
		Count int `json:"count"`
	}
	if err := s.client.BillRunError.Query().Where(billrunerror.BillRunIDIn(runs...)).
		Where(partnerAccounts(billrunerror.FieldAccountID)).
		Modify(func(s *entsql.Selector) {
			s.Select(entsql.As(s.C(billrunerror.FieldBillRunID), "run"), entsql.As(entsql.Count("*"), "count")).
				GroupBy(s.C(billrunerror.FieldBillRunID))
		}).Scan(ctx, &failed); err != nil {
		return nil, err
	}
	for _, f := range failed {
		views[f.Run].AccountsFailed = f.Count
	}
	var invs []struct {
		Run        int           `json:"bill_run_id"`
		CurrencyID int           `json:"currency_id"`
		Total      money.Decimal `json:"total"`
	}
	if err := s.client.Invoice.Query().Where(invoice.BillRunIDIn(runs...)).Where(partnerAccounts(invoice.FieldAccountID)).
		Select(invoice.FieldBillRunID, invoice.FieldCurrencyID, invoice.FieldTotal).Scan(ctx, &invs); err != nil {
		return nil, err
	}
	if len(invs) > 0 {
		curs, err := s.client.Currency.Query().All(ctx)
		if err != nil {
			return nil, err
		}
		code := make(map[int]string, len(curs))
		for _, c := range curs {
			code[c.ID] = c.Code
		}
		for _, i := range invs {
			v := views[i.Run]
			v.InvoicesCreated++
			v.Totals[code[i.CurrencyID]] = v.Totals[code[i.CurrencyID]].Add(i.Total)
		}
		var lines []struct {
			Run   int `json:"run"`
			Count int `json:"count"`
		}
		if err := s.client.Charge.Query().Where(partnerAccounts(charge.FieldAccountID)).
			Modify(func(s *entsql.Selector) {
				t := entsql.Table(invoice.Table)
				s.Join(t).On(s.C(charge.FieldInvoiceID), t.C(invoice.FieldID))
				s.Where(entsql.InInts(t.C(invoice.FieldBillRunID), runs...))
				s.Select(entsql.As(t.C(invoice.FieldBillRunID), "run"), entsql.As(entsql.Count("*"), "count")).
					GroupBy(t.C(invoice.FieldBillRunID))
			}).Scan(ctx, &lines); err != nil {
			return nil, err
		}
		for _, l := range lines {
			views[l.Run].ChargesCreated = l.Count
		}
	}
	return views, nil
}
