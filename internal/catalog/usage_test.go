package catalog_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/rateplan"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/fault"
)

// usageFixture is a catalog with a USAGE service (Data, MB, 0 decimals), a second one
// (Volume, GB, 3 decimals), a RECURRING Line and a rate plan per currency.
type usageFixture struct {
	data, volume, line *ent.Service
	usd, eur           *ent.RatePlan
}

func (b *testBundle) usageFixture(t *testing.T) usageFixture {
	t.Helper()
	usage := func(name, unit string, decimals int) *ent.Service {
		sv, err := b.svc.CreateService(b.ctx, catalog.CreateServiceInput{Name: name, Kind: service.KindUSAGE,
			Unit: ptr(unit), UnitDecimals: ptr(decimals)})
		require.NoError(t, err)
		return sv
	}
	return usageFixture{
		data:   usage("Data", "MB", 0),
		volume: usage("Volume", "GB", 3),
		line:   b.service(t, "Line", service.KindRECURRING),
		usd:    b.ratePlan(t, "USD"),
		eur:    b.ratePlan(t, "EUR"),
	}
}

// ratePlan creates a one-tier plan of 0.10 a unit in the currency.
func (b *testBundle) ratePlan(t *testing.T, cur string) *ent.RatePlan {
	t.Helper()
	p, err := b.svc.CreateRatePlan(b.ctx, catalog.CreateRatePlanInput{Name: "Data " + cur, Currency: cur,
		Model: rateplan.ModelGRADUATED, Tiers: []*catalog.RateTierInput{{UnitPrice: dec("0.10")}}})
	require.NoError(t, err)
	return p
}

// usageInput is a valid package: Line at 10.00 a month and Data priced by the USD plan.
func usageInput(f usageFixture, name string) catalog.CreatePackageInput {
	return catalog.CreatePackageInput{
		Name:       name,
		Currencies: []string{"USD"},
		Services: []*catalog.PackageServiceInput{{ServiceID: f.line.ID},
			{ServiceID: f.data.ID, Included: decp("100"), Shared: ptr(true)}},
		Frequencies: []*catalog.PackageFrequencyInput{{
			Name: "Monthly", Interval: packagefrequency.IntervalMONTH,
			Prices: []*catalog.ServicePriceInput{
				{ServiceID: f.line.ID, Currency: "USD", Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec("10.00")}}},
				{ServiceID: f.data.ID, Currency: "USD", RatePlanID: &f.usd.ID},
			},
		}},
	}
}

func TestCreateUsageService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sv, err := b.svc.CreateService(b.ctx, catalog.CreateServiceInput{Name: "Minutes", Kind: service.KindUSAGE, Unit: ptr(" minute ")})
	require.NoError(t, err)
	require.Equal(t, "minute", *sv.Unit)
	require.Equal(t, 0, sv.UnitDecimals)

	for _, tc := range []struct {
		name  string
		in    catalog.CreateServiceInput
		field string
	}{
		{"usage without a unit", catalog.CreateServiceInput{Name: "X", Kind: service.KindUSAGE}, "input.unit"},
		{"blank unit", catalog.CreateServiceInput{Name: "X", Kind: service.KindUSAGE, Unit: ptr("  ")}, "input.unit"},
		{"unit too long", catalog.CreateServiceInput{Name: "X", Kind: service.KindUSAGE, Unit: ptr(letters(21))}, "input.unit"},
		{"seven decimals", catalog.CreateServiceInput{Name: "X", Kind: service.KindUSAGE, Unit: ptr("MB"), UnitDecimals: ptr(7)}, "input.unitDecimals"},
		{"negative decimals", catalog.CreateServiceInput{Name: "X", Kind: service.KindUSAGE, Unit: ptr("MB"), UnitDecimals: ptr(-1)}, "input.unitDecimals"},
		{"a unit on a recurring service", catalog.CreateServiceInput{Name: "X", Kind: service.KindRECURRING, Unit: ptr("MB")}, "input.unit"},
		{"decimals on a one-time service", catalog.CreateServiceInput{Name: "X", Kind: service.KindONE_TIME, UnitDecimals: ptr(2)}, "input.unitDecimals"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.rows(t)
			_, err := b.svc.CreateService(b.ctx, tc.in)
			requireFault(t, err, fault.Invalid, tc.field)
			require.Equal(t, before, b.rows(t))
		})
	}
}

func TestCreateRatePlan(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		p, err := b.svc.CreateRatePlan(b.ctx, catalog.CreateRatePlanInput{Name: "Tiered", Currency: "USD", Model: rateplan.ModelVOLUME,
			Tiers: []*catalog.RateTierInput{{UpTo: decp("10"), UnitPrice: dec("1.50")}, {UpTo: decp("110"), UnitPrice: dec("1.00"), FlatFee: decp("5")}, {UnitPrice: dec("0.000001")}}})
		require.NoError(t, err)
		got, err := b.db.Client.RatePlan.Query().Where(rateplan.ID(p.ID)).WithCurrency().Only(b.ctx)
		require.NoError(t, err)
		require.Equal(t, "USD", got.Edges.Currency.Code)
		require.Len(t, got.Tiers, 3)
		require.Equal(t, "10", got.Tiers[0].UpTo.String())
		require.Equal(t, "1.50", got.Tiers[0].UnitPrice.String())
		require.Equal(t, "0", got.Tiers[0].FlatFee.String())
		require.Equal(t, "5", got.Tiers[1].FlatFee.String())
		require.Nil(t, got.Tiers[2].UpTo)
		require.Equal(t, "0.000001", got.Tiers[2].UnitPrice.String())

		tier := func(upTo, price string) *catalog.RateTierInput {
			t := &catalog.RateTierInput{UnitPrice: dec(price)}
			if upTo != "" {
				t.UpTo = decp(upTo)
			}
			return t
		}
		many := make([]*catalog.RateTierInput, catalog.MaxTiers+1)
		for i := range many {
			many[i] = tier("", "1")
		}
		for _, tc := range []struct {
			name  string
			in    catalog.CreateRatePlanInput
			code  fault.Code
			field string
		}{
			{"no tiers", catalog.CreateRatePlanInput{Name: "P", Currency: "USD", Model: rateplan.ModelGRADUATED}, fault.Invalid, "input.tiers"},
			{"out of order", catalog.CreateRatePlanInput{Name: "P", Currency: "USD", Model: rateplan.ModelGRADUATED,
				Tiers: []*catalog.RateTierInput{tier("10", "1"), tier("5", "1"), tier("", "1")}}, fault.Invalid, "input.tiers[1].upTo"},
			{"last tier bounded", catalog.CreateRatePlanInput{Name: "P", Currency: "USD", Model: rateplan.ModelGRADUATED,
				Tiers: []*catalog.RateTierInput{tier("10", "1")}}, fault.Invalid, "input.tiers[0].upTo"},
			{"negative price", catalog.CreateRatePlanInput{Name: "P", Currency: "USD", Model: rateplan.ModelGRADUATED,
				Tiers: []*catalog.RateTierInput{tier("", "-1")}}, fault.Invalid, "input.tiers[0].unitPrice"},
			{"negative flat fee", catalog.CreateRatePlanInput{Name: "P", Currency: "USD", Model: rateplan.ModelGRADUATED,
				Tiers: []*catalog.RateTierInput{{UnitPrice: dec("1"), FlatFee: decp("-1")}}}, fault.Invalid, "input.tiers[0].flatFee"},
			{"unknown model", catalog.CreateRatePlanInput{Name: "P", Currency: "USD", Model: "FLAT",
				Tiers: []*catalog.RateTierInput{tier("", "1")}}, fault.Invalid, "input.model"},
			{"too many tiers", catalog.CreateRatePlanInput{Name: "P", Currency: "USD", Model: rateplan.ModelGRADUATED, Tiers: many}, fault.Invalid, "input.tiers"},
			{"no name", catalog.CreateRatePlanInput{Name: " ", Currency: "USD", Model: rateplan.ModelGRADUATED,
				Tiers: []*catalog.RateTierInput{tier("", "1")}}, fault.Invalid, "input.name"},
			{"unknown currency", catalog.CreateRatePlanInput{Name: "P", Currency: "XXX", Model: rateplan.ModelGRADUATED,
				Tiers: []*catalog.RateTierInput{tier("", "1")}}, fault.NotFound, "input.currency"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				n, err := b.db.Client.RatePlan.Query().Count(b.ctx)
				require.NoError(t, err)
				_, err = b.svc.CreateRatePlan(b.ctx, tc.in)
				requireFault(t, err, tc.code, tc.field)
				after, err := b.db.Client.RatePlan.Query().Count(b.ctx)
				require.NoError(t, err)
				require.Equal(t, n, after)
			})
		}
	})
}

func TestCreateUsagePackage(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		f := b.usageFixture(t)
		in := usageInput(f, "Mobile")
		in.ChargeRecurringOnlyIfUsage = ptr(true)
		in.Activation = &catalog.ActivationInput{AfterDays: ptr(7), UsageThreshold: decp("10"), ServiceID: &f.data.ID}
		in.Frequencies[0].RatePlanID = &f.usd.ID
		pkg := b.createPackage(t, in)
		require.True(t, pkg.ChargeRecurringOnlyIfUsage)
		require.True(t, pkg.Postpaid, "charging only if used makes the package postpaid")
		require.Equal(t, 7, *pkg.ActivationAfterDays)
		require.Equal(t, "10", pkg.ActivationUsageThreshold.String())
		require.Equal(t, f.data.ID, *pkg.ActivationServiceID)
		svcs := b.packageServices(t, pkg.ID)
		require.Nil(t, svcs[0].Included)
		require.Equal(t, "100", svcs[1].Included.String())
		require.True(t, svcs[1].Shared)
		freq, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).WithPrices().Only(b.ctx)
		require.NoError(t, err)
		require.Equal(t, f.usd.ID, *freq.RatePlanID)
		plans := 0
		for _, sp := range freq.Edges.Prices {
			if sp.RatePlanID != nil {
				plans++
				require.Equal(t, f.data.ID, sp.ServiceID)
				require.Equal(t, f.usd.ID, *sp.RatePlanID)
			}
		}
		require.Equal(t, 1, plans)
	})
}

func TestUsagePackageRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.usageFixture(t)
	other, err := b.svc.CreateService(b.ctx, catalog.CreateServiceInput{Name: "SMS", Kind: service.KindUSAGE, Unit: ptr("message")})
	require.NoError(t, err)
	for _, tc := range []struct {
		name   string
		change func(in *catalog.CreatePackageInput)
		code   fault.Code
		field  string
	}{
		{"bulk package with a USAGE service", func(in *catalog.CreatePackageInput) { in.BulkQuantity = ptr(true) },
			fault.Invalid, "input.services[1].serviceId"},
		{"included on a recurring service", func(in *catalog.CreatePackageInput) { in.Services[0].Included = decp("5") },
			fault.Invalid, "input.services[0].included"},
		{"included more precise than the unit", func(in *catalog.CreatePackageInput) { in.Services[1].Included = decp("100.5") },
			fault.Invalid, "input.services[1].included"},
		{"negative included", func(in *catalog.CreatePackageInput) { in.Services[1].Included = decp("-1") },
			fault.Invalid, "input.services[1].included"},
		{"shared without included", func(in *catalog.CreatePackageInput) { in.Services[1].Included = nil },
			fault.Invalid, "input.services[1].shared"},
		{"recurring price on a USAGE service", func(in *catalog.CreatePackageInput) {
			in.Frequencies[0].Prices[1].Recurring = []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec("1")}}
		}, fault.Invalid, "input.frequencies[0].prices[1].recurring"},
		{"one-time price on a USAGE service", func(in *catalog.CreatePackageInput) { in.Frequencies[0].Prices[1].OneTime = decp("1") },
			fault.Invalid, "input.frequencies[0].prices[1].oneTime"},
		{"transition price on a USAGE service", func(in *catalog.CreatePackageInput) {
			in.Frequencies[0].Prices[1].Transitions = []*catalog.TransitionPriceInput{{From: "ACTIVE", To: "SUSPENDED", Amount: dec("1")}}
		}, fault.Invalid, "input.frequencies[0].prices[1].transitions"},
		{"rate plan on a recurring service", func(in *catalog.CreatePackageInput) { in.Frequencies[0].Prices[0].RatePlanID = &f.usd.ID },
			fault.Invalid, "input.frequencies[0].prices[0].ratePlanId"},
		{"rate plan in another currency than the price", func(in *catalog.CreatePackageInput) { in.Frequencies[0].Prices[1].RatePlanID = &f.eur.ID },
			fault.Invalid, "input.frequencies[0].prices[1].ratePlanId"},
		{"unknown rate plan", func(in *catalog.CreatePackageInput) { in.Frequencies[0].Prices[1].RatePlanID = ptr(f.usd.ID + 1000) },
			fault.NotFound, "input.frequencies[0].prices[1].ratePlanId"},
		{"frequency plan in a currency the package lacks", func(in *catalog.CreatePackageInput) { in.Frequencies[0].RatePlanID = &f.eur.ID },
			fault.Invalid, "input.frequencies[0].ratePlanId"},
		{"charge only if used without usage", func(in *catalog.CreatePackageInput) {
			in.Services = in.Services[:1]
			in.Frequencies[0].Prices = in.Frequencies[0].Prices[:1]
			in.ChargeRecurringOnlyIfUsage = ptr(true)
		}, fault.Invalid, "input.chargeRecurringOnlyIfUsage"},
		{"charge only if used but prepaid", func(in *catalog.CreatePackageInput) {
			in.ChargeRecurringOnlyIfUsage, in.Postpaid = ptr(true), ptr(false)
		}, fault.Invalid, "input.postpaid"},
		{"empty activation", func(in *catalog.CreatePackageInput) { in.Activation = &catalog.ActivationInput{} },
			fault.Invalid, "input.activation"},
		{"negative afterDays", func(in *catalog.CreatePackageInput) { in.Activation = &catalog.ActivationInput{AfterDays: ptr(-1)} },
			fault.Invalid, "input.activation.afterDays"},
		{"threshold without a service", func(in *catalog.CreatePackageInput) {
			in.Activation = &catalog.ActivationInput{UsageThreshold: decp("10")}
		}, fault.Invalid, "input.activation.serviceId"},
		{"zero threshold", func(in *catalog.CreatePackageInput) {
			in.Activation = &catalog.ActivationInput{UsageThreshold: decp("0"), ServiceID: &f.data.ID}
		}, fault.Invalid, "input.activation.usageThreshold"},
		{"threshold on a service outside the package", func(in *catalog.CreatePackageInput) {
			in.Activation = &catalog.ActivationInput{UsageThreshold: decp("10"), ServiceID: &other.ID}
		}, fault.Invalid, "input.activation.serviceId"},
		{"threshold on a recurring service", func(in *catalog.CreatePackageInput) {
			in.Activation = &catalog.ActivationInput{UsageThreshold: decp("10"), ServiceID: &f.line.ID}
		}, fault.Invalid, "input.activation.serviceId"},
		{"threshold more precise than the unit", func(in *catalog.CreatePackageInput) {
			in.Activation = &catalog.ActivationInput{UsageThreshold: decp("10.5"), ServiceID: &f.data.ID}
		}, fault.Invalid, "input.activation.usageThreshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := usageInput(f, "Refused")
			tc.change(&in)
			before := b.rows(t)
			_, err := b.svc.CreatePackage(b.ctx, in)
			requireFault(t, err, tc.code, tc.field)
			require.Equal(t, before, b.rows(t), "nothing written")
		})
	}
}

func TestUsageServiceOnExistingPackages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.usageFixture(t)
	bulk := usageInput(f, "Bulk")
	bulk.Services, bulk.Frequencies[0].Prices = bulk.Services[:1], bulk.Frequencies[0].Prices[:1]
	bulk.BulkQuantity = ptr(true)
	bulkPkg := b.createPackage(t, bulk)
	_, err := b.svc.AddPackageService(b.ctx, bulkPkg.ID, catalog.PackageServiceInput{ServiceID: f.data.ID})
	requireFault(t, err, fault.FailedPrecondition, "input.serviceId")

	mobile := b.createPackage(t, usageInput(f, "Mobile"))
	_, err = b.svc.UpdatePackage(b.ctx, mobile.ID, catalog.UpdatePackageInput{BulkQuantity: ptr(true)})
	requireFault(t, err, fault.FailedPrecondition, "input.bulkQuantity")

	ps, err := b.svc.AddPackageService(b.ctx, mobile.ID, catalog.PackageServiceInput{ServiceID: f.volume.ID, Included: decp("1.5")})
	require.NoError(t, err)
	require.Equal(t, "1.5", ps.Included.String())
	_, err = b.svc.AddPackageService(b.ctx, bulkPkg.ID, catalog.PackageServiceInput{ServiceID: f.data.ID, Included: decp("1")})
	requireFault(t, err, fault.FailedPrecondition, "input.serviceId")

	// A frequency added later: its plan must be in one of the package's currencies.
	freq := &catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, RatePlanID: &f.eur.ID}
	_, err = b.svc.AddPackageFrequency(b.ctx, mobile.ID, *freq)
	requireFault(t, err, fault.FailedPrecondition, "input.ratePlanId")
	freq.RatePlanID = &f.usd.ID
	_, err = b.svc.AddPackageFrequency(b.ctx, mobile.ID, *freq)
	require.NoError(t, err)
}
