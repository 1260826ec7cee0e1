// Package demo fills a database with a believable operator: a small catalog (monthly,
// quarterly and yearly plans; a bulk, a postpaid and a one-time-billing package; USD,
// EUR and CAD prices; suspended prices and a cancellation fee) and customer accounts
// with account-packages that start on various days, some canceled, some bulk. Loading
// twice adds nothing: catalog entries are found by name and accounts by number.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/billd/billd/ent"
	entaccount "github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/catalogpackage"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/provisioning"
)

// Services are what Load writes through: the same services the API uses, so demo
// data obeys every rule real data does.
type Services struct {
	Client       *ent.Client
	Catalog      *catalog.Service
	Accounts     *account.Service
	Provisioning *provisioning.Service
}

// Progress is told how many accounts are done out of how many.
type Progress func(done, total int)

// AccountName is the name of demo account number i (from 1); Load finds its earlier
// accounts by it.
func AccountName(i int) string { return fmt.Sprintf("Demo customer %05d", i) }

// Plan is a demo package with its frequencies by name.
type Plan struct {
	ID          int
	Frequencies map[string]int
}

// Catalog returns the demo catalog, creating what is missing.
func Catalog(ctx context.Context, s Services) (map[string]Plan, error) {
	svc := func(name string, kind service.Kind) (int, error) {
		if id, err := s.Client.Service.Query().Where(service.Name(name)).FirstID(ctx); err == nil {
			return id, nil
		} else if !ent.IsNotFound(err) {
			return 0, err
		}
		sv, err := s.Catalog.CreateService(ctx, catalog.CreateServiceInput{Name: name, Kind: kind})
		if err != nil {
			return 0, fmt.Errorf("demo service %s: %w", name, err)
		}
		return sv.ID, nil
	}
	fiber, err := svc("Fiber access", service.KindRECURRING)
	if err != nil {
		return nil, err
	}
	ip, err := svc("Static IP", service.KindRECURRING)
	if err != nil {
		return nil, err
	}
	router, err := svc("Managed router", service.KindRECURRING)
	if err != nil {
		return nil, err
	}
	install, err := svc("Installation", service.KindONE_TIME)
	if err != nil {
		return nil, err
	}
	seat, err := svc("Collaboration seat", service.KindRECURRING)
	if err != nil {
		return nil, err
	}
	support, err := svc("Support hours", service.KindRECURRING)
	if err != nil {
		return nil, err
	}
	setup, err := svc("Onboarding workshop", service.KindRECURRING)
	if err != nil {
		return nil, err
	}

	d := money.MustParse
	// Each price in USD; EUR and CAD are derived with fixed rates so the catalog reads
	// like a real price list.
	type price struct {
		service            int
		active, suspended  string
		oneTime, cancelFee string
	}
	prices := func(ps []price, factor string) map[string][]*catalog.ServicePriceInput {
		out := map[string][]*catalog.ServicePriceInput{}
		for _, cur := range []struct{ code, rate string }{{"USD", "1"}, {"EUR", "0.92"}, {"CAD", "1.36"}} {
			rate := d(cur.rate).Mul(d(factor))
			for _, p := range ps {
				in := &catalog.ServicePriceInput{ServiceID: p.service, Currency: cur.code}
				if p.active != "" {
					in.Recurring = append(in.Recurring, &catalog.StatusPriceInput{Status: "ACTIVE", Amount: money.Round(d(p.active).Mul(rate), 2)})
				}
				if p.suspended != "" {
					in.Recurring = append(in.Recurring, &catalog.StatusPriceInput{Status: "SUSPENDED", Amount: money.Round(d(p.suspended).Mul(rate), 2)})
				}
				if p.oneTime != "" {
					amt := money.Round(d(p.oneTime).Mul(rate), 2)
					in.OneTime = &amt
				}
				if p.cancelFee != "" {
					in.Transitions = []*catalog.TransitionPriceInput{{From: "ACTIVE", To: "CANCELED", Amount: money.Round(d(p.cancelFee).Mul(rate), 2)}}
				}
				out[cur.code] = append(out[cur.code], in)
			}
		}
		return out
	}
	freq := func(name string, interval packagefrequency.Interval, count int, ps []price, factor string) *catalog.PackageFrequencyInput {
		var all []*catalog.ServicePriceInput
		for _, code := range []string{"USD", "EUR", "CAD"} {
			all = append(all, prices(ps, factor)[code]...)
		}
		return &catalog.PackageFrequencyInput{Name: name, Interval: interval, IntervalCount: &count, Prices: all}
	}
	yes := true
	optional := func(id int) *catalog.PackageServiceInput {
		return &catalog.PackageServiceInput{ServiceID: id, Optional: &yes}
	}
	required := func(id int) *catalog.PackageServiceInput { return &catalog.PackageServiceInput{ServiceID: id} }
	home := []price{{service: fiber, active: "49.00", suspended: "9.00", cancelFee: "25.00"},
		{service: router, active: "6.00", suspended: "6.00"}, {service: install, oneTime: "99.00"}}
	business := []price{{service: fiber, active: "149.00", suspended: "29.00", cancelFee: "150.00"},
		{service: ip, active: "15.00"}, {service: router, active: "12.00", suspended: "12.00"}, {service: install, oneTime: "249.00"}}
	specs := []catalog.CreatePackageInput{
		{Name: "Home Fiber", Currencies: []string{"USD", "EUR", "CAD"},
			Services: []*catalog.PackageServiceInput{required(fiber), required(router), required(install)},
			Frequencies: []*catalog.PackageFrequencyInput{
				freq("Monthly", packagefrequency.IntervalMONTH, 1, home, "1"),
				freq("Quarterly", packagefrequency.IntervalMONTH, 3, home, "2.85"),
				freq("Yearly", packagefrequency.IntervalYEAR, 1, home, "11")}},
		{Name: "Business Fiber", Currencies: []string{"USD", "EUR", "CAD"},
			Services: []*catalog.PackageServiceInput{required(fiber), optional(ip), required(router), required(install)},
			Frequencies: []*catalog.PackageFrequencyInput{
				freq("Monthly", packagefrequency.IntervalMONTH, 1, business, "1"),
				freq("Yearly", packagefrequency.IntervalYEAR, 1, business, "11")}},
		{Name: "Team Seats", Currencies: []string{"USD", "EUR", "CAD"}, BulkQuantity: &yes,
			Services: []*catalog.PackageServiceInput{required(seat)},
			Frequencies: []*catalog.PackageFrequencyInput{
				freq("Monthly", packagefrequency.IntervalMONTH, 1, []price{{service: seat, active: "8.00", suspended: "2.00"}}, "1")}},
		{Name: "Support Plus", Currencies: []string{"USD", "EUR", "CAD"}, Postpaid: &yes,
			Services: []*catalog.PackageServiceInput{required(support)},
			Frequencies: []*catalog.PackageFrequencyInput{
				freq("Monthly", packagefrequency.IntervalMONTH, 1, []price{{service: support, active: "120.00"}}, "1")}},
		{Name: "Onboarding", Currencies: []string{"USD", "EUR", "CAD"}, OneTimeBilling: &yes,
			Services: []*catalog.PackageServiceInput{required(setup)},
			Frequencies: []*catalog.PackageFrequencyInput{
				freq("Once", packagefrequency.IntervalMONTH, 1, []price{{service: setup, active: "350.00"}}, "1")}},
	}
	plans := map[string]Plan{}
	for _, sp := range specs {
		pkg, err := s.Client.CatalogPackage.Query().Where(catalogpackage.Name(sp.Name)).WithFrequencies().First(ctx)
		if ent.IsNotFound(err) {
			created, cerr := s.Catalog.CreatePackage(ctx, sp)
			if cerr != nil {
				return nil, fmt.Errorf("demo package %s: %w", sp.Name, cerr)
			}
			pkg, err = s.Client.CatalogPackage.Query().Where(catalogpackage.ID(created.ID)).WithFrequencies().Only(ctx)
		}
		if err != nil {
			return nil, err
		}
		p := Plan{ID: pkg.ID, Frequencies: map[string]int{}}
		for _, f := range pkg.Edges.Frequencies {
			p.Frequencies[f.Name] = f.ID
		}
		plans[sp.Name] = p
	}
	return plans, nil
}

// Load makes the demo catalog and accounts 1..n (those missing), relative to today:
// account-packages start on days spread over the last four months, so the current
// month's run has first periods, full periods, catch-ups, a few cancellations and
// bulk lines to bill.
func Load(ctx context.Context, s Services, n int, today time.Time, progress Progress) error {
	plans, err := Catalog(ctx, s)
	if err != nil {
		return err
	}
	existing := map[string]bool{}
	names, err := s.Client.Account.Query().Where(entaccount.NameHasPrefix("Demo customer ")).Select(entaccount.FieldName).Strings(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		existing[name] = true
	}
	base := calendar.Of(today)
	monthStart := calendar.New(base.Year(), base.Month(), 1)
	currencies := []string{"USD", "USD", "EUR", "CAD"}
	for i := 1; i <= n; i++ {
		if progress != nil && (i%100 == 0 || i == n) {
			progress(i, n)
		}
		if existing[AccountName(i)] {
			continue
		}
		if err := loadAccount(ctx, s, plans, i, currencies[i%len(currencies)], monthStart); err != nil {
			return fmt.Errorf("demo account %d: %w", i, err)
		}
	}
	return nil
}

func loadAccount(ctx context.Context, s Services, plans map[string]Plan, i int, currency string, monthStart calendar.Date) error {
	acc, err := s.Accounts.Create(ctx, account.CreateAccountInput{Name: AccountName(i), Currency: currency, BillDay: 1 + i%28})
	if err != nil {
		return err
	}
	// Starts spread over the four months before this one and the first days of it.
	start := monthStart.AddDays(-120 + (i*37)%130)
	provision := func(plan, freq string, extra func(*provisioning.ProvisionPackageInput)) (*ent.AccountPackage, error) {
		p := plans[plan]
		in := provisioning.ProvisionPackageInput{AccountID: acc.ID, PackageID: p.ID, FrequencyID: p.Frequencies[freq], EffectiveDate: start}
		if extra != nil {
			extra(&in)
		}
		aps, err := s.Provisioning.Provision(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", plan, freq, err)
		}
		return aps[0], nil
	}
	var main *ent.AccountPackage
	switch i % 10 {
	case 0, 1, 2, 3:
		main, err = provision("Home Fiber", "Monthly", nil)
	case 4:
		main, err = provision("Home Fiber", "Quarterly", nil)
	case 5:
		main, err = provision("Home Fiber", "Yearly", nil)
	case 6, 7:
		main, err = provision("Business Fiber", "Monthly", nil)
	case 8:
		main, err = provision("Business Fiber", "Yearly", nil)
	default:
		main, err = provision("Team Seats", "Monthly", func(in *provisioning.ProvisionPackageInput) {
			bulk := 5 + i%20
			in.BulkQuantity = &bulk
		})
	}
	if err != nil {
		return err
	}
	if i%3 == 0 {
		if _, err := provision("Support Plus", "Monthly", nil); err != nil {
			return err
		}
	}
	if i%7 == 0 {
		if _, err := provision("Onboarding", "Once", nil); err != nil {
			return err
		}
	}
	if i%15 == 0 {
		// Canceled in the middle of this month, prorated; some with no refund.
		opt := accountpackage.CancelBillingOptionPRORATED
		if i%30 == 0 {
			opt = accountpackage.CancelBillingOptionNONE
		}
		cancel := monthStart.AddDays(14)
		if cancel.Before(start) {
			cancel = start
		}
		if _, err := s.Provisioning.Cancel(ctx, main.ID, provisioning.CancelAccountPackageInput{CancellationDate: cancel, BillingOption: opt}); err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
	}
	return nil
}
