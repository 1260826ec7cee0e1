package billrun

import (
	"context"
	"sort"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/billrunbatch"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/internal/access"
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

// PartnerView computes run's figures over partner's accounts: the accounts of the
// run's batches that are the partner's (processed once their batch is done), and the
// failures, invoices, charges and totals of those accounts.
func (s *Service) PartnerView(ctx context.Context, run *ent.BillRun, partner int) (*View, error) {
	v := &View{Totals: map[string]money.Decimal{}}
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
	// Batches are billd's own bookkeeping, hidden from partners: read unscoped, and
	// only their membership is used.
	batches, err := s.client.BillRunBatch.Query().Where(billrunbatch.BillRunID(run.ID)).
		Select(billrunbatch.FieldFirstAccountID, billrunbatch.FieldLastAccountID, billrunbatch.FieldAccountIds,
			billrunbatch.FieldState).All(access.Unscoped(ctx))
	if err != nil {
		return nil, err
	}
	for _, b := range batches {
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
		if b.State == billrunbatch.StateCANCELED {
			continue
		}
		v.AccountsTotal += n
		if b.State == billrunbatch.StateDONE {
			v.AccountsProcessed += n
		}
	}
	// The rest is read with the caller's scope: only the partner's rows.
	if v.AccountsFailed, err = s.client.BillRunError.Query().Where(billrunerror.BillRunID(run.ID)).Count(ctx); err != nil {
		return nil, err
	}
	var invs []struct {
		CurrencyID int           `json:"currency_id"`
		Total      money.Decimal `json:"total"`
	}
	if err := s.client.Invoice.Query().Where(invoice.BillRunID(run.ID)).
		Select(invoice.FieldCurrencyID, invoice.FieldTotal).Scan(ctx, &invs); err != nil {
		return nil, err
	}
	v.InvoicesCreated = len(invs)
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
			v.Totals[code[i.CurrencyID]] = v.Totals[code[i.CurrencyID]].Add(i.Total)
		}
	}
	if v.ChargesCreated, err = s.client.Charge.Query().Where(charge.HasInvoiceWith(invoice.BillRunID(run.ID))).Count(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// scopeRuns makes every bill run read under a PARTNER key carry that partner's view
// (View) in its counters and totals, whichever entry point loaded it: node, lists,
// an invoice's run, or the runs that subscriptions send.
func (s *Service) scopeRuns() {
	s.client.BillRun.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			v, err := next.Query(ctx, q)
			partner, ok := access.PartnerOf(ctx)
			if err != nil || !ok {
				return v, err
			}
			runs, ok := v.([]*ent.BillRun)
			if !ok {
				return v, nil // counts and ids
			}
			for _, r := range runs {
				view, err := s.PartnerView(ctx, r, partner)
				if err != nil {
					return nil, err
				}
				r.AccountsTotal, r.AccountsProcessed, r.AccountsFailed = view.AccountsTotal, view.AccountsProcessed, view.AccountsFailed
				r.InvoicesCreated, r.ChargesCreated, r.Totals = view.InvoicesCreated, view.ChargesCreated, view.Totals
			}
			return v, nil
		})
	}))
}
