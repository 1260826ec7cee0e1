package billing

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

// ratingPackage builds the rating engine's view of an account-package.
func ratingPackage(ctx context.Context, c *ent.Client, cc *Catalog, acc *ent.Account, ap *ent.AccountPackage,
	st *state) (rating.Package, error) {
	changes, charged := st.changes, st.charged
	pkg, err := cc.pkg(ctx, c, ap.PackageID)
	if err != nil {
		return rating.Package{}, err
	}
	freq, err := cc.freq(ctx, c, ap.FrequencyID)
	if err != nil {
		return rating.Package{}, err
	}
	status, err := cc.status(ctx, c, ap.StatusID)
	if err != nil {
		return rating.Package{}, err
	}
	catalogPrices, err := cc.pricesFor(ctx, c, ap.FrequencyID, acc.CurrencyID)
	if err != nil {
		return rating.Package{}, err
	}
	rp := rating.Package{
		ID: ap.ID, Effective: ap.EffectiveDate,
		Cadence: rating.CadenceOf(string(freq.Interval), freq.IntervalCount),
		BillDay: rating.BillDayInForce(ap.OwnBillDay, acc.BillDay), NewBillDay: ap.NewBillDay, Postpaid: ap.Postpaid,
		ChargeFullPeriod: ap.ChargeFullPeriod, OneTimeBilling: pkg.OneTimeBilling,
		Bulk: ap.BulkQuantity, Status: status.Code, Billable: status.Billable,
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
		pr := &rating.Pricing{Catalog: map[string]money.Decimal{}, Override: map[string]money.Decimal{}}
		if p := catalogPrices[sv.ServiceID]; p != nil {
			for k, v := range p.recurring {
				rs.Recurring[k] = v
			}
			pr.Catalog = p.recurring
			rs.OneTime = p.oneTime
			rs.Transitions = p.transitions
			if p.rule != nil {
				pr.Rule = p.rule
				if pr.Counted, err = counted(ctx, c, cc, st, acc.ID, ap.PackageID, sv.ServiceID, p.rule.Basis); err != nil {
					return rating.Package{}, err
				}
			}
		}
		if acc.PriceBookID != nil {
			book, err := cc.bookPrices(ctx, c, *acc.PriceBookID, ap.FrequencyID, acc.CurrencyID)
			if err != nil {
				return rating.Package{}, err
			}
			pr.Book = book[sv.ServiceID]
		}
		if ap.ProductCode != nil {
			entries, err := cc.planEntries(ctx, c, *ap.ProductCode, ap.PackageID)
			if err != nil {
				return rating.Package{}, err
			}
			for _, e := range entries {
				if e.ServiceID == sv.ServiceID {
					pr.Plan = append(pr.Plan, e)
				}
			}
		}
		for _, o := range sv.Edges.PriceOverrides {
			ost, err := cc.status(ctx, c, o.StatusID)
			if err != nil {
				return rating.Package{}, err
			}
			rs.Recurring[ost.Code] = o.Amount
			pr.Override[ost.Code] = o.Amount
		}
		rs.Pricing = pr
		rs.Discounts = st.discounts[sv.ID]
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
	if rp.CancelOn != nil && !rp.Postpaid && rp.LastPeriodStart != nil {
		for i := range rp.Services {
			rs := &rp.Services[i]
			for _, ch := range charged[rs.ID] {
				if ch.Kind != charge.KindRECURRING || !ch.PeriodStart.Equal(*rp.LastPeriodStart) {
					continue
				}
				if rs.Charged == nil {
					rs.Charged = map[calendar.Date]rating.ChargedPeriod{}
				}
				rs.Charged[*ch.PeriodStart] = rating.ChargedPeriod{Amount: ch.Amount, UnitAmount: ch.UnitAmount, Quantity: ch.Quantity}
			}
			// The discount lines of that period count as charged for it (docs/billing.md 7.2).
			for _, ch := range charged[rs.ID] {
				cp, ok := rs.Charged[*rp.LastPeriodStart]
				if ch.Kind != charge.KindDISCOUNT || !ok || ch.PeriodStart.Before(*rp.LastPeriodStart) ||
					(rp.NextBillDate != nil && !ch.PeriodStart.Before(*rp.NextBillDate)) {
					continue
				}
				cp.Amount = cp.Amount.Add(ch.Amount)
				rs.Charged[*rp.LastPeriodStart] = cp
			}
		}
	}
	return rp, nil
}

// counted is what a counting rule on a service of a package counts over an account
// (docs/billing.md 7.1): its account-packages of the package (PACKAGES), or the
// instances of the service on them (SERVICES, times their bulk quantity), those in a
// billable status now, each from its effective date.
func counted(ctx context.Context, c *ent.Client, cc *Catalog, st *state, accountID, packageID, serviceID int,
	basis rating.CountingBasis) ([]rating.Counted, error) {
	aps, err := st.countedOf(ctx, c, accountID, packageID)
	if err != nil {
		return nil, err
	}
	var out []rating.Counted
	for _, ap := range aps {
		if !ap.Edges.Status.Billable {
			continue
		}
		if basis == rating.CountPackages {
			out = append(out, rating.Counted{Effective: ap.EffectiveDate, N: 1})
			continue
		}
		for _, sv := range ap.Edges.Services {
			if sv.ServiceID != serviceID || !sv.Edges.Status.Billable {
				continue
			}
			eff := sv.EffectiveDate
			if ap.EffectiveDate.After(eff) {
				eff = ap.EffectiveDate
			}
			out = append(out, rating.Counted{Effective: eff, N: sv.Quantity * ap.BulkQuantity})
		}
	}
	return out, nil
}
