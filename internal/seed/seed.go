// Package seed writes large, realistic data sets straight into the database: a small
// catalog and many accounts with provisioned packages, in bulk inserts. Tests of long
// bill runs, the demo and the benchmarks use it; it goes around the API on purpose
// (the API path is tested elsewhere) to create hundreds of thousands of rows quickly.
package seed

import (
	"context"
	"fmt"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
)

// Catalog is the package the seeded accounts use: "Seed Line" 10.00 and "Seed Support"
// 5.00 a month in USD, in advance.
type Catalog struct {
	PackageID   int
	FrequencyID int
	ServiceIDs  [2]int
	Monthly     money.Decimal // the package's price a month: 15.00
}

// NewCatalog creates the seed catalog through the catalog service (so it is valid).
func NewCatalog(ctx context.Context, cat *catalog.Service, name string) (Catalog, error) {
	a, err := cat.CreateService(ctx, catalog.CreateServiceInput{Name: name + " Line", Kind: "RECURRING"})
	if err != nil {
		return Catalog{}, err
	}
	b, err := cat.CreateService(ctx, catalog.CreateServiceInput{Name: name + " Support", Kind: "RECURRING"})
	if err != nil {
		return Catalog{}, err
	}
	price := func(svc int, amount string) *catalog.ServicePriceInput {
		return &catalog.ServicePriceInput{ServiceID: svc, Currency: "USD",
			Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: money.MustParse(amount)}}}
	}
	pkg, err := cat.CreatePackage(ctx, catalog.CreatePackageInput{
		Name: name, Currencies: []string{"USD"},
		Services: []*catalog.PackageServiceInput{{ServiceID: a.ID}, {ServiceID: b.ID}},
		Frequencies: []*catalog.PackageFrequencyInput{{Name: "Monthly", Interval: "MONTH",
			Prices: []*catalog.ServicePriceInput{price(a.ID, "10.00"), price(b.ID, "5.00")}}},
	})
	if err != nil {
		return Catalog{}, err
	}
	freqs, err := pkg.QueryFrequencies().IDs(ctx)
	if err != nil {
		return Catalog{}, err
	}
	return Catalog{PackageID: pkg.ID, FrequencyID: freqs[0], ServiceIDs: [2]int{a.ID, b.ID},
		Monthly: money.MustParse("15.00")}, nil
}

// Accounts writes n USD accounts billed on the 1st, each with the catalog's package
// effective on the given date (in advance), and returns their ids.
func Accounts(ctx context.Context, client *ent.Client, cat Catalog, n int, effective calendar.Date) ([]int, error) {
	usd, err := client.Currency.Query().Where(currency.Code("USD")).Only(ctx)
	if err != nil {
		return nil, err
	}
	active, err := client.Status.Query().Where(status.Code("ACTIVE")).Only(ctx)
	if err != nil {
		return nil, err
	}
	const chunk = 500
	var ids []int
	for done := 0; done < n; done += chunk {
		k := min(chunk, n-done)
		err := store.InTx(ctx, client, func(ctx context.Context) error {
			c := store.Client(ctx, client)
			accs := make([]*ent.AccountCreate, k)
			for i := range accs {
				accs[i] = c.Account.Create().SetName(fmt.Sprintf("Seed account %d", done+i+1)).
					SetCurrencyID(usd.ID).SetBillDay(1)
			}
			created, err := c.Account.CreateBulk(accs...).Save(ctx)
			if err != nil {
				return err
			}
			aps := make([]*ent.AccountPackageCreate, k)
			for i, a := range created {
				ids = append(ids, a.ID)
				aps[i] = c.AccountPackage.Create().SetAccountID(a.ID).SetPackageID(cat.PackageID).
					SetFrequencyID(cat.FrequencyID).SetStatusID(active.ID).SetEffectiveDate(effective).
					SetNextBillDate(effective).SetChargeFullPeriod(false).SetPostpaid(false)
			}
			pkgs, err := c.AccountPackage.CreateBulk(aps...).Save(ctx)
			if err != nil {
				return err
			}
			svcs := make([]*ent.AccountServiceCreate, 0, 2*k)
			for _, ap := range pkgs {
				for _, sid := range cat.ServiceIDs {
					svcs = append(svcs, c.AccountService.Create().SetAccountPackageID(ap.ID).SetServiceID(sid).
						SetStatusID(active.ID).SetQuantity(1).SetEffectiveDate(effective))
				}
			}
			return c.AccountService.CreateBulk(svcs...).Exec(ctx)
		})
		if err != nil {
			return nil, fmt.Errorf("seeding accounts %d..%d: %w", done+1, done+k, err)
		}
	}
	return ids, nil
}
