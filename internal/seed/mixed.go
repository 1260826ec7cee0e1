package seed

import (
	"context"
	"fmt"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// Plan is one package of the mixed catalog.
type Plan struct {
	Name        string
	PackageID   int
	FrequencyID int
	ServiceIDs  []int
	Cadence     rating.Cadence
	Postpaid    bool
	Bulk        bool
}

// MixedCatalog creates a catalog of five packages: monthly in advance (two services),
// yearly, weekly, monthly postpaid, and a bulk line.
func MixedCatalog(ctx context.Context, cat *catalog.Service) ([]Plan, error) {
	specs := []struct {
		name     string
		interval string
		prices   []string
		postpaid bool
		bulk     bool
	}{
		{"Mixed Monthly", "MONTH", []string{"29.99", "4.50"}, false, false},
		{"Mixed Yearly", "YEAR", []string{"299.00"}, false, false},
		{"Mixed Weekly", "WEEK", []string{"7.25"}, false, false},
		{"Mixed Postpaid", "MONTH", []string{"19.90"}, true, false},
		{"Mixed Bulk Lines", "MONTH", []string{"1.15"}, false, true},
	}
	var plans []Plan
	for _, sp := range specs {
		var svcs []*catalog.PackageServiceInput
		var prices []*catalog.ServicePriceInput
		var ids []int
		for i, p := range sp.prices {
			sv, err := cat.CreateService(ctx, catalog.CreateServiceInput{Name: fmt.Sprintf("%s service %d", sp.name, i+1), Kind: "RECURRING"})
			if err != nil {
				return nil, err
			}
			ids = append(ids, sv.ID)
			svcs = append(svcs, &catalog.PackageServiceInput{ServiceID: sv.ID})
			prices = append(prices, &catalog.ServicePriceInput{ServiceID: sv.ID, Currency: "USD",
				Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: money.MustParse(p)}}})
		}
		postpaid, bulk := sp.postpaid, sp.bulk
		pkg, err := cat.CreatePackage(ctx, catalog.CreatePackageInput{Name: sp.name, Currencies: []string{"USD"},
			Postpaid: &postpaid, BulkQuantity: &bulk, Services: svcs,
			Frequencies: []*catalog.PackageFrequencyInput{{Name: "Main", Interval: packageInterval(sp.interval), Prices: prices}}})
		if err != nil {
			return nil, err
		}
		fid, err := pkg.QueryFrequencies().FirstID(ctx)
		if err != nil {
			return nil, err
		}
		plans = append(plans, Plan{Name: sp.name, PackageID: pkg.ID, FrequencyID: fid, ServiceIDs: ids,
			Cadence: rating.Cadence{Interval: rating.Interval(sp.interval), Count: 1}, Postpaid: postpaid, Bulk: bulk})
	}
	return plans, nil
}

// MixedAccounts writes n accounts with 1 to 3 account-packages each, chosen by the
// account's number so every run of the same n builds the same data: all kinds of
// plans, one in five starting mid-December (a partial first period), one in twenty
// canceled PRORATED on January 20, bulk lines with 10 units. Every package is due in a
// January run. It returns the number of account-packages written.
func MixedAccounts(ctx context.Context, client *ent.Client, plans []Plan, n int, progress func(done int)) (int, error) {
	usd, err := client.Currency.Query().Where(currency.Code("USD")).Only(ctx)
	if err != nil {
		return 0, err
	}
	active, err := client.Status.Query().Where(status.Code("ACTIVE")).Only(ctx)
	if err != nil {
		return 0, err
	}
	const chunk = 1000
	total := 0
	for done := 0; done < n; done += chunk {
		k := min(chunk, n-done)
		err := store.InTx(ctx, client, func(ctx context.Context) error {
			c := store.Client(ctx, client)
			accs := make([]*ent.AccountCreate, k)
			for i := range accs {
				accs[i] = c.Account.Create().SetName(fmt.Sprintf("Account %07d", done+i+1)).
					SetCurrencyID(usd.ID).SetBillDay(1 + (done+i)%28)
			}
			created, err := c.Account.CreateBulk(accs...).Save(ctx)
			if err != nil {
				return err
			}
			var aps []*ent.AccountPackageCreate
			var apPlans []Plan
			for i, a := range created {
				num := done + i
				for j := 0; j < 1+num%3; j++ {
					pl := plans[(num+j)%len(plans)]
					eff := calendar.MustParse("2024-01-01")
					if num%5 == 0 {
						eff = calendar.MustParse("2023-12-15")
					}
					day := a.BillDay
					nbd := eff
					if pl.Postpaid {
						nbd = rating.PeriodFrom(pl.Cadence, day, eff).End
					}
					b := c.AccountPackage.Create().SetAccountID(a.ID).SetPackageID(pl.PackageID).
						SetFrequencyID(pl.FrequencyID).SetStatusID(active.ID).SetEffectiveDate(eff).
						SetNextBillDate(nbd).SetChargeFullPeriod(false).SetPostpaid(pl.Postpaid)
					if pl.Bulk {
						b.SetBulkQuantity(10)
					}
					if num%20 == 7 {
						b.SetCancellationDate(calendar.MustParse("2024-01-20")).
							SetCancelBillingOption(accountpackage.CancelBillingOptionPRORATED).
							SetEndDate(calendar.MustParse("2024-01-19"))
					}
					aps = append(aps, b)
					apPlans = append(apPlans, pl)
				}
			}
			var saved []*ent.AccountPackage
			for i := 0; i < len(aps); i += 1000 {
				part, err := c.AccountPackage.CreateBulk(aps[i:min(i+1000, len(aps))]...).Save(ctx)
				if err != nil {
					return err
				}
				saved = append(saved, part...)
			}
			var svcs []*ent.AccountServiceCreate
			for i, ap := range saved {
				for _, sid := range apPlans[i].ServiceIDs {
					svcs = append(svcs, c.AccountService.Create().SetAccountPackageID(ap.ID).SetServiceID(sid).
						SetStatusID(active.ID).SetQuantity(1).SetEffectiveDate(ap.EffectiveDate))
				}
			}
			for i := 0; i < len(svcs); i += 1000 {
				if err := c.AccountService.CreateBulk(svcs[i:min(i+1000, len(svcs))]...).Exec(ctx); err != nil {
					return err
				}
			}
			total += len(saved)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("seeding accounts %d..%d: %w", done+1, done+k, err)
		}
		if progress != nil {
			progress(done + k)
		}
	}
	return total, nil
}

func packageInterval(s string) packagefrequency.Interval { return packagefrequency.Interval(s) }
