package billing

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/discount"
	"github.com/billd/billd/ent/predicate"
	"github.com/billd/billd/ent/statuschange"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/rating"
)

// state is what billing a set of accounts needs from the database.
type state struct {
	packages  map[int][]*ent.AccountPackage    // by account, in id order
	changes   map[int][]*ent.StatusChange      // pending, by account-service
	charged   map[int][]*ent.Charge            // recurring and discount charges of final periods, by account-service
	discounts map[int][]rating.DiscountTerm    // by account-service
	counted   map[[2]int][]*ent.AccountPackage // every account-package of (account, package) with a counting rule
}

// load reads, for a set of accounts, the account-packages a run ending on end may
// touch (due by then, with a cancellation it reaches, or with status changes to
// charge), their services and overrides, the pending status changes, and what was
// charged for the periods a cancellation may credit: a handful of queries whatever
// the number of accounts.
func load(ctx context.Context, c *ent.Client, end calendar.Date, accs []*ent.Account, usageIDs []int) (*state, error) {
	ids := make([]int, len(accs))
	for i, a := range accs {
		ids[i] = a.ID
	}
	st := &state{packages: map[int][]*ent.AccountPackage{}, changes: map[int][]*ent.StatusChange{},
		charged: map[int][]*ent.Charge{}, discounts: map[int][]rating.DiscountTerm{}, counted: map[[2]int][]*ent.AccountPackage{}}
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
	due := []predicate.AccountPackage{
		accountpackage.NextBillDateLTE(end),
		accountpackage.And(accountpackage.NextBillDateNotNil(), accountpackage.CancellationDateLTE(end)),
		accountpackage.IDIn(changedPkgs...),
	}
	if len(usageIDs) > 0 {
		// Usage due (docs/billing.md 6.3), never billed yet, or late.
		due = append(due, accountpackage.UsageDueLTE(end), accountpackage.UsageLateFromNotNil(),
			accountpackage.And(accountpackage.UsageNextIsNil(),
				accountpackage.HasServicesWith(accountservice.ServiceIDIn(usageIDs...))))
	}
	aps, err := c.AccountPackage.Query().Where(accountpackage.AccountIDIn(ids...), accountpackage.Or(due...)).WithServices(func(q *ent.AccountServiceQuery) {
		q.WithPriceOverrides().Order(ent.Asc(accountservice.FieldID))
	}).Order(ent.Asc(accountpackage.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	var creditSvcs, allSvcs []int
	var creditStarts []calendar.Date
	for _, ap := range aps {
		for _, sv := range ap.Edges.Services {
			allSvcs = append(allSvcs, sv.ID)
		}
		st.packages[ap.AccountID] = append(st.packages[ap.AccountID], ap)
		if ap.CancellationDate != nil && !ap.Postpaid && ap.LastPeriodStart != nil {
			for _, sv := range ap.Edges.Services {
				creditSvcs = append(creditSvcs, sv.ID)
			}
			creditStarts = append(creditStarts, *ap.LastPeriodStart)
		}
	}
	if len(creditSvcs) > 0 {
		first := creditStarts[0]
		for _, d := range creditStarts {
			if d.Before(first) {
				first = d
			}
		}
		ch, err := c.Charge.Query().Where(charge.AccountServiceIDIn(creditSvcs...), charge.Or(
			charge.And(charge.KindEQ(charge.KindRECURRING), charge.PeriodStartIn(creditStarts...)),
			charge.And(charge.KindEQ(charge.KindDISCOUNT), charge.PeriodStartGTE(first)))).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, x := range ch {
			st.charged[*x.AccountServiceID] = append(st.charged[*x.AccountServiceID], x)
		}
	}
	if len(allSvcs) > 0 {
		ds, err := c.Discount.Query().Where(discount.AccountServiceIDIn(allSvcs...)).All(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			st.discounts[d.AccountServiceID] = append(st.discounts[d.AccountServiceID],
				rating.DiscountTerm{ID: d.ID, Percent: d.Percent, Amount: d.Amount, Start: d.StartDate, End: d.EndDate})
		}
	}
	return st, nil
}

// countedOf returns every account-package of an account's package, with its status
// and services, for a counting rule to count (loaded once per batch).
func (st *state) countedOf(ctx context.Context, c *ent.Client, accountID, packageID int) ([]*ent.AccountPackage, error) {
	key := [2]int{accountID, packageID}
	if aps, ok := st.counted[key]; ok {
		return aps, nil
	}
	aps, err := c.AccountPackage.Query().Where(accountpackage.AccountID(accountID), accountpackage.PackageID(packageID)).
		WithStatus().WithServices(func(q *ent.AccountServiceQuery) { q.WithStatus() }).All(ctx)
	if err != nil {
		return nil, err
	}
	st.counted[key] = aps
	return aps, nil
}
