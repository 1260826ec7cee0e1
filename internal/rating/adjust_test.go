package rating_test

// Section 7 of docs/billing.md at the engine: the worked examples D1-D4, C1-C3 and
// T1-T2 with the amounts worked out by hand in the comments, and the price decision.

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

func mp(s string) *money.Decimal { x := m(s); return &x }

func discounted(price string, ds ...rating.DiscountTerm) rating.Package {
	s := svc(1, "Line", price)
	s.Discounts = ds
	return pkg("2024-01-01", monthly, 1, s)
}

func TestDiscountExamples(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		p        rating.Package
		from, to string
		want     []line
	}{
		// D1: 20 % of 50.00 = 10.00.
		{"D1", discounted("50.00", rating.DiscountTerm{ID: 1, Percent: mp("20"), Start: d("2024-01-01"), End: dp("2024-03-31")}),
			"2024-01-01", "2024-01-31", []line{{rating.Recurring, "2024-01-01", "2024-01-31", "50.00"},
				{rating.Discount, "2024-01-01", "2024-01-31", "-10.00"}}},
		// D2: from Jan 16, 50 × 0.2 × 16/31 = 5.1612… → 5.16; February in full 10.00.
		{"D2 January", discounted("50.00", rating.DiscountTerm{ID: 1, Percent: mp("20"), Start: d("2024-01-16")}),
			"2024-01-01", "2024-01-31", []line{{rating.Recurring, "2024-01-01", "2024-01-31", "50.00"},
				{rating.Discount, "2024-01-16", "2024-01-31", "-5.16"}}},
		// D3: 5.00 off for 10 of 31 days: 5 × 10/31 = 1.6129… → 1.61.
		{"D3", discounted("31.00", rating.DiscountTerm{ID: 1, Amount: mp("5.00"), Start: d("2024-01-01"), End: dp("2024-01-10")}),
			"2024-01-01", "2024-01-31", []line{{rating.Recurring, "2024-01-01", "2024-01-31", "31.00"},
				{rating.Discount, "2024-01-01", "2024-01-10", "-1.61"}}},
		// An amount above the line is capped at it: the period never nets below zero.
		{"capped", discounted("3.00", rating.DiscountTerm{ID: 1, Amount: mp("5.00"), Start: d("2024-01-01")}),
			"2024-01-01", "2024-01-31", []line{{rating.Recurring, "2024-01-01", "2024-01-31", "3.00"},
				{rating.Discount, "2024-01-01", "2024-01-31", "-3.00"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, lines(rate(t, tc.p, tc.from, tc.to)))
		})
	}
}

// D4: D1 billed for January (50.00 − 10.00 = 40.00), canceled on Jan 21 PRORATED: 20
// days cost 50 × 20/31 = 32.258… → 32.26, their discount 32.258… × 0.2 = 6.4516… →
// 6.45, so they net 25.81 and the credit is 25.81 − 40.00 = −14.19.
func TestDiscountCancellationCredit(t *testing.T) {
	t.Parallel()
	p := discounted("50.00", rating.DiscountTerm{ID: 1, Percent: mp("20"), Start: d("2024-01-01"), End: dp("2024-03-31")})
	p = apply(p, rate(t, p, "2024-01-01", "2024-01-31"))
	p.Services[0].Charged = map[calendar.Date]rating.ChargedPeriod{
		d("2024-01-01"): {Amount: m("40.00"), UnitAmount: m("50.00"), Quantity: 1}}
	p.CancelOn, p.CancelOption = dp("2024-01-21"), rating.Prorated
	require.Equal(t, []line{{rating.Credit, "2024-01-21", "2024-01-31", "-14.19"}}, lines(rate(t, p, "2024-01-21", "2024-01-31")))
}

func TestPriceOf(t *testing.T) {
	t.Parallel()
	day := d("2024-01-01")
	catalog := map[string]money.Decimal{"ACTIVE": m("50.00")}
	rule := &rating.CountingRule{Basis: rating.CountPackages, Status: "ACTIVE",
		Tiers: []rating.CountingTier{{From: 1, Amount: m("10.00")}, {From: 6, Amount: m("8.00")}}}
	seven := []rating.Counted{{Effective: day, N: 7}}
	five := []rating.Counted{{Effective: day, N: 5}}
	for _, tc := range []struct {
		name string
		p    rating.Pricing
		want rating.Price
	}{
		{"catalog", rating.Pricing{Catalog: catalog}, rating.Price{Amount: m("50.00"), Source: rating.FromCatalog}},
		// C2: 45.00 in the account's price book.
		{"C2 price book", rating.Pricing{Catalog: catalog, Book: map[string]money.Decimal{"ACTIVE": m("45.00")}},
			rating.Price{Amount: m("45.00"), Source: rating.FromPriceBook}},
		// C3: 50 % off 50.00.
		{"C3 price plan", rating.Pricing{Catalog: catalog, Plan: []rating.PlanEntry{{ServiceID: 1, Status: "ACTIVE", PercentOff: mp("50")}}},
			rating.Price{Amount: m("25.00"), Source: rating.FromPricePlan}},
		// C1: 7 packages reach the 6+ tier, 5 stay in 1-5.
		{"C1 seven", rating.Pricing{Catalog: catalog, Rule: rule, Counted: seven}, rating.Price{Amount: m("8.00"), Source: rating.FromCountingRule}},
		{"C1 five", rating.Pricing{Catalog: catalog, Rule: rule, Counted: five}, rating.Price{Amount: m("10.00"), Source: rating.FromCountingRule}},
		// Packages effective after the period's first day are not counted.
		{"counted later", rating.Pricing{Catalog: catalog, Rule: rule, Counted: []rating.Counted{{Effective: day, N: 5},
			{Effective: d("2024-01-02"), N: 2}}}, rating.Price{Amount: m("10.00"), Source: rating.FromCountingRule}},
		{"override wins", rating.Pricing{Catalog: catalog, Override: map[string]money.Decimal{"ACTIVE": m("1.00")},
			Book: map[string]money.Decimal{"ACTIVE": m("45.00")}}, rating.Price{Amount: m("1.00"), Source: rating.FromOverride}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := rating.PriceOf(&tc.p, "ACTIVE", day)
			require.True(t, ok)
			require.Equal(t, tc.want.Source, got.Source)
			require.True(t, tc.want.Amount.Equal(got.Amount), "got %s, want %s", got.Amount, tc.want.Amount)
		})
	}
}

// T1: a minimum of 100.00 over a month holding 75.00 tops up 25.00; T2: a fee of
// 200.00 for a cancellation on Mar 15 of a contract ending 2025-01-01.
func TestContractLines(t *testing.T) {
	t.Parallel()
	jan := rating.ContractMonth(d("2024-01-01"), 0)
	ups := rating.TopUps(7, m("100.00"), []rating.MonthTotal{{Month: jan, Billed: m("75.00")},
		{Month: rating.ContractMonth(d("2024-01-01"), 1), Billed: m("120.00")}}, 2)
	require.Len(t, ups, 1)
	require.Equal(t, "25.00", ups[0].Amount.String())
	require.Equal(t, "2024-01-31", ups[0].PeriodEnd.String())
	end := rating.ContractEnd(d("2024-01-01"), 12)
	require.Equal(t, "2025-01-01", end.String())
	fee, ok := rating.TerminationFee(1, 7, m("200.00"), d("2024-03-15"), end, 2)
	require.True(t, ok)
	require.Equal(t, []string{"200.00", "2024-03-15", "2024-12-31"}, []string{fee.Amount.String(), fee.PeriodStart.String(), fee.PeriodEnd.String()})
	_, ok = rating.TerminationFee(1, 7, m("200.00"), end, end, 2)
	require.False(t, ok, "no fee for a cancellation on the contract's end")
	// Contract months clamp like anchors: a start on Jan 31 gives Feb 29, then Mar 31.
	require.Equal(t, "2024-02-29", rating.ContractMonth(d("2024-01-31"), 1).Start.String())
	require.Equal(t, "2024-03-31", rating.ContractMonth(d("2024-01-31"), 2).Start.String())
}
