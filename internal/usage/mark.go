package usage

import (
	"context"
	"sort"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/usageday"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
)

// batchMark is what a batch stored for one account-package: its earliest record day,
// and per account-service the days it added to.
type batchMark struct {
	earliest calendar.Date
	services map[int]bool
}

// lockAccounts takes a share lock on the batch's accounts (PostgreSQL), so that a
// batch and the billing of the same accounts take turns: billing locks them for
// update before it reads usage, so records it has not read are seen by this batch's
// marks below, and records it has read were committed before. (SQLite runs one
// writing transaction at a time.)
func lockAccounts(ctx context.Context, db *store.DB, c *ent.Client, ids []int) error {
	if len(ids) == 0 {
		return nil
	}
	sort.Ints(ids)
	_, err := store.ForShare(db, c.Account.Query().Where(account.IDIn(ids...)).Order(ent.Asc(account.FieldID))).IDs(ctx)
	return err
}

// mark records what the batch means for its account-packages' billing, read after
// the accounts were locked: records dated in usage periods already billed (or, for
// a postpaid package, in recurring periods already billed) mark the package as
// having late usage from their earliest day (docs/billing.md 6.3, 6.4); a package
// waiting for its activation activates on the day its threshold service's usage
// since the effective date reaches the threshold, or on effectiveDate + afterDays
// if that is earlier (6.5).
func mark(ctx context.Context, c *ent.Client, byPackage map[int]*batchMark) error {
	if len(byPackage) == 0 {
		return nil
	}
	ids := make([]int, 0, len(byPackage))
	for id := range byPackage {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	aps, err := c.AccountPackage.Query().Where(accountpackage.IDIn(ids...)).WithPackage().All(ctx)
	if err != nil {
		return err
	}
	for _, ap := range aps {
		st := byPackage[ap.ID]
		late := (ap.UsageNext != nil && st.earliest.Before(*ap.UsageNext)) ||
			(ap.Postpaid && ap.BilledThrough != nil && !st.earliest.After(*ap.BilledThrough))
		if late && (ap.UsageLateFrom == nil || st.earliest.Before(*ap.UsageLateFrom)) {
			if err := c.AccountPackage.Update().Where(accountpackage.ID(ap.ID)).SetUsageLateFrom(st.earliest).Exec(ctx); err != nil {
				return err
			}
		}
		pkg := ap.Edges.Package
		if ap.ActivatedOn != nil || pkg.ActivationUsageThreshold == nil || pkg.ActivationServiceID == nil {
			continue
		}
		on, err := thresholdDay(ctx, c, ap, *pkg.ActivationServiceID, *pkg.ActivationUsageThreshold, st.services)
		if err != nil || on == nil {
			if err != nil {
				return err
			}
			continue
		}
		if pkg.ActivationAfterDays != nil {
			if by := ap.EffectiveDate.AddDays(*pkg.ActivationAfterDays); by.Before(*on) {
				on = &by
			}
		}
		if err := c.AccountPackage.Update().Where(accountpackage.ID(ap.ID), accountpackage.ActivatedOnIsNil()).
			SetActivatedOn(*on).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// thresholdDay is the day the usage of an account-package's threshold service, taken
// in date order from the effective date, reaches threshold; nil if it has not (or the
// batch added nothing to that service).
func thresholdDay(ctx context.Context, c *ent.Client, ap *ent.AccountPackage, serviceID int, threshold money.Decimal,
	touched map[int]bool) (*calendar.Date, error) {
	svcs, err := c.AccountService.Query().Where(accountservice.AccountPackageID(ap.ID), accountservice.ServiceID(serviceID)).IDs(ctx)
	if err != nil {
		return nil, err
	}
	hit := false
	for _, id := range svcs {
		hit = hit || touched[id]
	}
	if !hit {
		return nil, nil
	}
	days, err := c.UsageDay.Query().Where(usageday.AccountServiceIDIn(svcs...), usageday.DayGTE(ap.EffectiveDate)).
		Order(ent.Asc(usageday.FieldDay)).All(ctx)
	if err != nil {
		return nil, err
	}
	total := money.Zero
	for _, d := range days {
		total = total.Add(d.Quantity)
		if total.Cmp(threshold) >= 0 {
			day := d.Day
			return &day, nil
		}
	}
	return nil, nil
}
