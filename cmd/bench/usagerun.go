package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/rateplan"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/server"
)

// A bill run over a customer base where every account-package has a usage service
// with usageRecordsPerMonth records in the month, against the same run on the same
// base with billUsage false: what billing usage costs a run.
const usageRecordsPerMonth = 30

// usageRun holds the figures of the two runs.
type usageRun struct {
	Packages               int
	Records                int
	With, Without          time.Duration
	WithLines, WithoutLine int
}

func (u usageRun) ratio() float64 {
	return (float64(u.Packages) / u.With.Seconds()) / (float64(u.Packages) / u.Without.Seconds())
}

// measureUsageRun seeds n accounts twice (one database each) and bills February on
// each: with usage (January's usage periods and February's recurring charges) and
// without.
func measureUsageRun(ctx context.Context, dialect, pgURL string, n int) (usageRun, error) {
	var u usageRun
	for _, withUsage := range []bool{false, true} {
		took, pkgs, recs, charges, err := usageRunOnce(ctx, dialect, pgURL, n, withUsage)
		if err != nil {
			return u, err
		}
		u.Packages, u.Records = pkgs, recs
		if withUsage {
			u.With, u.WithLines = took, charges
		} else {
			u.Without, u.WithoutLine = took, charges
		}
	}
	log.Printf("  usage run: %d account-packages with %d records: %s with usage (%d charges), %s without (%d): ratio %.2f",
		u.Packages, u.Records, u.With.Round(time.Millisecond), u.WithLines, u.Without.Round(time.Millisecond), u.WithoutLine, u.ratio())
	return u, nil
}

func usageRunOnce(ctx context.Context, dialect, pgURL string, n int, withUsage bool) (time.Duration, int, int, int, error) {
	dbURL, drop, err := freshDB(dialect, pgURL)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer drop()
	srv, err := server.Open(ctx, server.Config{DatabaseURL: dbURL, NoWorkers: true, BootstrapAdminKey: benchKey, Limits: benchLimits})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	pkgs, recs, err := seedUsageBase(ctx, srv, n)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	if dialect == "postgres" {
		if _, err := srv.DB.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	_ = srv.Close()
	ch, err := startChild(dbURL)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer ch.stop()
	t0 := time.Now()
	id, err := gql(ch.base, `mutation($u: Boolean) { startBillRun(input: {periodStart: "2024-02-01", periodEnd: "2024-02-29", billUsage: $u}) { id } }`,
		map[string]any{"u": withUsage}, "startBillRun", "id")
	if err != nil {
		return 0, 0, 0, 0, err
	}
	run, err := waitRun(ch.base, id.(string), func(int) {})
	if err != nil {
		return 0, 0, 0, 0, err
	}
	took := time.Since(t0)
	if run.Status != "COMPLETED" {
		return 0, 0, 0, 0, fmt.Errorf("the usage run ended %s", run.Status)
	}
	want := pkgs // one recurring line each
	if withUsage {
		want = 2 * pkgs // and one usage line
	}
	if run.ChargesCreated != want {
		return 0, 0, 0, 0, fmt.Errorf("the usage run wrote %d charges, not %d", run.ChargesCreated, want)
	}
	return took, pkgs, recs, run.ChargesCreated, nil
}

// seedUsageBase writes n accounts, each with one monthly package of a recurring Line
// (10.00) and a Data service (100 MB included, the rest at 0.02 up to 500, then 0.01)
// billed through January, and usageRecordsPerMonth records of Data in January with
// their daily totals, straight into the database.
func seedUsageBase(ctx context.Context, srv *server.Server, n int) (int, int, error) {
	cat := srv.Catalog
	line, err := cat.CreateService(ctx, catalog.CreateServiceInput{Name: "Line", Kind: service.KindRECURRING})
	if err != nil {
		return 0, 0, err
	}
	data, err := cat.CreateService(ctx, catalog.CreateServiceInput{Name: "Data", Kind: service.KindUSAGE, Unit: strp("MB")})
	if err != nil {
		return 0, 0, err
	}
	up := money.MustParse("500")
	plan, err := cat.CreateRatePlan(ctx, catalog.CreateRatePlanInput{Name: "Data", Currency: "USD", Model: rateplan.ModelGRADUATED,
		Tiers: []*catalog.RateTierInput{{UpTo: &up, UnitPrice: money.MustParse("0.02")}, {UnitPrice: money.MustParse("0.01")}}})
	if err != nil {
		return 0, 0, err
	}
	included := money.MustParse("100")
	pkg, err := cat.CreatePackage(ctx, catalog.CreatePackageInput{Name: "Mobile", Currencies: []string{"USD"},
		Services: []*catalog.PackageServiceInput{{ServiceID: line.ID}, {ServiceID: data.ID, Included: &included}},
		Frequencies: []*catalog.PackageFrequencyInput{{Name: "Monthly", Interval: packagefrequency.IntervalMONTH,
			Prices: []*catalog.ServicePriceInput{
				{ServiceID: line.ID, Currency: "USD", Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: money.MustParse("10.00")}}},
				{ServiceID: data.ID, Currency: "USD", RatePlanID: &plan.ID}}}}})
	if err != nil {
		return 0, 0, err
	}
	c := srv.DB.Client
	freq, err := c.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).Only(ctx)
	if err != nil {
		return 0, 0, err
	}
	active, err := c.Status.Query().Where(status.Code("ACTIVE")).OnlyID(ctx)
	if err != nil {
		return 0, 0, err
	}
	usd, err := c.Currency.Query().Where(currency.Code("USD")).Only(ctx)
	if err != nil {
		return 0, 0, err
	}
	jan, feb, through := calendar.MustParse("2024-01-01"), calendar.MustParse("2024-02-01"), calendar.MustParse("2024-01-31")
	records := 0
	const chunk = 500
	for done := 0; done < n; done += chunk {
		k := min(chunk, n-done)
		accs := make([]*ent.AccountCreate, k)
		for i := range accs {
			accs[i] = c.Account.Create().SetName(fmt.Sprintf("Usage %d", done+i)).SetCurrencyID(usd.ID).SetBillDay(1)
		}
		made, err := c.Account.CreateBulk(accs...).Save(ctx)
		if err != nil {
			return 0, 0, err
		}
		aps := make([]*ent.AccountPackageCreate, k)
		for i, a := range made {
			aps[i] = c.AccountPackage.Create().SetAccountID(a.ID).SetPackageID(pkg.ID).SetFrequencyID(freq.ID).SetStatusID(active).
				SetBulkQuantity(1).SetEffectiveDate(jan).SetNextBillDate(feb).SetBilledThrough(through).SetLastPeriodStart(jan).
				SetUsageNext(jan).SetUsageDue(feb).SetChargeFullPeriod(false).SetPostpaid(false)
		}
		apRows, err := c.AccountPackage.CreateBulk(aps...).Save(ctx)
		if err != nil {
			return 0, 0, err
		}
		svcs := make([]*ent.AccountServiceCreate, 0, 2*k)
		for _, ap := range apRows {
			svcs = append(svcs,
				c.AccountService.Create().SetAccountPackageID(ap.ID).SetServiceID(line.ID).SetStatusID(active).SetQuantity(1).SetEffectiveDate(jan),
				c.AccountService.Create().SetAccountPackageID(ap.ID).SetServiceID(data.ID).SetStatusID(active).SetQuantity(1).SetEffectiveDate(jan))
		}
		svcRows, err := c.AccountService.CreateBulk(svcs...).Save(ctx)
		if err != nil {
			return 0, 0, err
		}
		var recs []*ent.UsageRecordCreate
		var days []*ent.UsageDayCreate
		for i, sv := range svcRows {
			if sv.ServiceID != data.ID {
				continue
			}
			acc := made[i/2].ID
			for day := 0; day < usageRecordsPerMonth; day++ {
				q := money.MustParse(fmt.Sprint(1 + (sv.ID+day)%19))
				d := jan.AddDays(day)
				recs = append(recs, c.UsageRecord.Create().SetKey(fmt.Sprintf("%d-%d", sv.ID, day)).SetAccountID(acc).
					SetAccountServiceID(sv.ID).SetQuantity(q).SetDate(d))
				days = append(days, c.UsageDay.Create().SetAccountID(acc).SetAccountServiceID(sv.ID).SetDay(d).SetQuantity(q).SetRecords(1))
			}
		}
		for i := 0; i < len(recs); i += chunk {
			if err := c.UsageRecord.CreateBulk(recs[i:min(i+chunk, len(recs))]...).Exec(ctx); err != nil {
				return 0, 0, err
			}
			if err := c.UsageDay.CreateBulk(days[i:min(i+chunk, len(days))]...).Exec(ctx); err != nil {
				return 0, 0, err
			}
		}
		records += len(recs)
	}
	log.Printf("  seeded %d accounts with usage (%d records)", n, records)
	return n, records, nil
}
