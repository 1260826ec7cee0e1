package rating_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

func dec(s string) money.Decimal { return money.MustParse(s) }

func upTo(s string) *money.Decimal { d := dec(s); return &d }

// tiers builds tiers from (upTo, unitPrice, flatFee) triples; "" is no upTo.
func tiers(spec ...[3]string) []rating.Tier {
	out := make([]rating.Tier, len(spec))
	for i, s := range spec {
		t := rating.Tier{UnitPrice: dec(s[1]), FlatFee: money.Zero}
		if s[0] != "" {
			t.UpTo = upTo(s[0])
		}
		if s[2] != "" {
			t.FlatFee = dec(s[2])
		}
		out[i] = t
	}
	return out
}

// The tiers of the worked examples (docs/billing.md 6.6).
var (
	u1Tiers   = tiers([3]string{"10", "1.50", ""}, [3]string{"110", "1.00", ""}, [3]string{"", "0.50", ""})
	u3Grad    = tiers([3]string{"5", "0", "100"}, [3]string{"10", "0", "50"}, [3]string{"15", "5", ""}, [3]string{"", "1", ""})
	u3Volume  = tiers([3]string{"5", "0", "100"}, [3]string{"10", "0", "150"}, [3]string{"15", "10", ""}, [3]string{"", "5", ""})
	u8Tiers   = tiers([3]string{"100", "0.05", ""}, [3]string{"", "0.02", ""})
	flat10cts = tiers([3]string{"", "0.10", ""})
)

func TestPlanPrice(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		model rating.Model
		tiers []rating.Tier
		used  string
		want  string // rounded to cents
	}{
		{"U1 graduated 111", rating.Graduated, u1Tiers, "111", "115.50"},
		{"U2 volume 111", rating.Volume, u1Tiers, "111", "55.50"},
		{"U2 volume 110", rating.Volume, u1Tiers, "110", "110.00"},
		{"U2 volume 10", rating.Volume, u1Tiers, "10", "15.00"},
		{"U3 graduated 22 with flat fees", rating.Graduated, u3Grad, "22", "182.00"},
		{"U3 volume 14", rating.Volume, u3Volume, "14", "140.00"},
		{"U3 volume 16", rating.Volume, u3Volume, "16", "80.00"},
		{"U3 volume 0 costs nothing", rating.Volume, u3Volume, "0", "0.00"},
		{"graduated 0 reaches no flat fee", rating.Graduated, u3Grad, "0", "0.00"},
		{"graduated on a tier bound", rating.Graduated, u3Grad, "10", "150.00"},
		{"graduated just past a bound", rating.Graduated, u3Grad, "10.5", "152.50"},
		{"volume on a tier bound", rating.Volume, u3Volume, "5", "100.00"},
		{"U8 graduated 90", rating.Graduated, u8Tiers, "90", "4.50"},
		{"U8 graduated 110", rating.Graduated, u8Tiers, "110", "5.20"},
		{"fractional units", rating.Graduated, u1Tiers, "10.125", "15.13"}, // 15 + 0.125
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := rating.Plan{Model: tc.model, Tiers: tc.tiers}
			require.NoError(t, p.Validate())
			require.Equal(t, tc.want, money.Round(p.Price(dec(tc.used)), 2).String())
		})
	}
}

func TestPlanValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		plan  rating.Plan
		err   error
		field string
		index int
	}{
		{"no tiers", rating.Plan{Model: rating.Graduated}, rating.ErrNoTiers, "", 0},
		{"unknown model", rating.Plan{Model: "FLAT", Tiers: flat10cts}, rating.ErrUnknownModel, "", 0},
		{"out of order", rating.Plan{Model: rating.Volume, Tiers: tiers([3]string{"10", "1", ""}, [3]string{"10", "1", ""}, [3]string{"", "1", ""})},
			rating.ErrTierOrder, "upTo", 1},
		{"descending", rating.Plan{Model: rating.Volume, Tiers: tiers([3]string{"10", "1", ""}, [3]string{"5", "1", ""}, [3]string{"", "1", ""})},
			rating.ErrTierOrder, "upTo", 1},
		{"last tier bounded", rating.Plan{Model: rating.Volume, Tiers: tiers([3]string{"10", "1", ""})}, rating.ErrLastTierBound, "upTo", 0},
		{"middle tier unbounded", rating.Plan{Model: rating.Volume, Tiers: tiers([3]string{"", "1", ""}, [3]string{"", "1", ""})},
			rating.ErrLastTierBound, "upTo", 0},
		{"zero upTo", rating.Plan{Model: rating.Volume, Tiers: tiers([3]string{"0", "1", ""}, [3]string{"", "1", ""})},
			rating.ErrUpToNotPositive, "upTo", 0},
		{"negative price", rating.Plan{Model: rating.Graduated, Tiers: tiers([3]string{"", "-0.01", ""})}, rating.ErrTierNegative, "unitPrice", 0},
		{"too precise price", rating.Plan{Model: rating.Graduated, Tiers: []rating.Tier{{UnitPrice: dec("0.000001").Mul(dec("0.1"))}}},
			rating.ErrTierPrecision, "unitPrice", 0},
		{"negative flat fee", rating.Plan{Model: rating.Graduated, Tiers: tiers([3]string{"", "1", "-1"})}, rating.ErrTierNegative, "flatFee", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.plan.Validate()
			require.ErrorIs(t, err, tc.err)
			var te *rating.TierError
			if tc.field != "" {
				require.True(t, errors.As(err, &te))
				require.Equal(t, tc.field, te.Field)
				require.Equal(t, tc.index, te.Index)
			}
		})
	}
	require.NoError(t, rating.Plan{Model: rating.Graduated, Tiers: tiers([3]string{"", "0.000001", ""})}.Validate())
}

func TestPlanProrated(t *testing.T) {
	t.Parallel()
	p := rating.Plan{Model: rating.Graduated, Tiers: u1Tiers}
	// 17 of 31 days: 10 → 5.48 → 5; 110 → 60.32 → 60.
	got := p.Prorated(17, 31, 0)
	require.Len(t, got.Tiers, 3)
	require.Equal(t, "5", got.Tiers[0].UpTo.String())
	require.Equal(t, "60", got.Tiers[1].UpTo.String())
	require.Nil(t, got.Tiers[2].UpTo)
	// Two decimals: 10 × 17/31 = 5.483… → 5.48.
	require.Equal(t, "5.48", p.Prorated(17, 31, 2).Tiers[0].UpTo.String())
	// 1 of 31 days: 10 → 0.32 → 0 (dropped), 110 → 3.55 → 4; flat fees stay whole.
	q := rating.Plan{Model: rating.Graduated, Tiers: u3Grad}.Prorated(1, 31, 0)
	// 5 → 0 dropped, 10 → 0 dropped, 15 → 0 dropped: only the open tier is left.
	require.Len(t, q.Tiers, 1)
	require.Equal(t, "1", q.Tiers[0].UnitPrice.String())
	r := rating.Plan{Model: rating.Graduated, Tiers: u3Grad}.Prorated(3, 31, 0)
	// 5 → 0.48 → 0 (dropped), 10 → 0.97 → 1, 15 → 1.45 → 1 (empty: dropped).
	require.Len(t, r.Tiers, 2)
	require.Equal(t, "1", r.Tiers[0].UpTo.String())
	require.Equal(t, "50", r.Tiers[0].FlatFee.String())
	require.Equal(t, "51.00", money.Round(r.Price(dec("2")), 2).String()) // 50 flat + 1 × 1
	// The catalog's plan is untouched.
	require.Equal(t, "10", p.Tiers[0].UpTo.String())
}

func TestRateUsage(t *testing.T) {
	t.Parallel()
	plan := func(tt []rating.Tier) *rating.Plan { return &rating.Plan{ID: 7, Model: rating.Graduated, Tiers: tt} }
	type want struct{ used, billed, amount string }
	for _, tc := range []struct {
		name string
		svcs []rating.UsageService
		want []want
	}{
		{"U4 bucket of 100, 130 used", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("130"), Bucket: dec("100"), Plan: plan(flat10cts)},
		}, []want{{"130", "30", "3.00"}}},
		{"U5 shared bucket feeds the pool in order", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("60"), Bucket: dec("100"), Shared: true, Plan: plan(flat10cts)},
			{AccountServiceID: 2, Unit: "MB", Used: dec("70"), Plan: plan(tiers([3]string{"", "0.50", ""}))},
			{AccountServiceID: 3, Unit: "MB", Used: dec("25"), Plan: plan(tiers([3]string{"", "0.20", ""}))},
		}, []want{{"60", "0", "0.00"}, {"70", "30", "15.00"}, {"25", "25", "5.00"}}},
		{"pool drained by the first service in order", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("0"), Bucket: dec("50"), Shared: true},
			{AccountServiceID: 2, Unit: "MB", Used: dec("40"), Plan: plan(flat10cts)},
			{AccountServiceID: 3, Unit: "MB", Used: dec("40"), Plan: plan(flat10cts)},
		}, []want{{"0", "0", "0.00"}, {"40", "0", "0.00"}, {"40", "30", "3.00"}}},
		{"a bucket not shared keeps its rest", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("10"), Bucket: dec("100")},
			{AccountServiceID: 2, Unit: "MB", Used: dec("40"), Plan: plan(flat10cts)},
		}, []want{{"10", "0", "0.00"}, {"40", "40", "4.00"}}},
		{"the pool serves its own unit only", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("0"), Bucket: dec("100"), Shared: true},
			{AccountServiceID: 2, Unit: "minute", Used: dec("40"), Plan: plan(flat10cts)},
		}, []want{{"0", "0", "0.00"}, {"40", "40", "4.00"}}},
		{"shared buckets of several services add up", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("20"), Bucket: dec("30"), Shared: true},
			{AccountServiceID: 2, Unit: "MB", Used: dec("25"), Bucket: dec("30"), Shared: true, Plan: plan(flat10cts)},
			{AccountServiceID: 3, Unit: "MB", Used: dec("20"), Plan: plan(flat10cts)},
		}, []want{{"20", "0", "0.00"}, {"25", "0", "0.00"}, {"20", "5", "0.50"}}},
		{"tiers start again at 1 after the bucket", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("111"), Bucket: dec("100"), Plan: plan(u1Tiers)},
		}, []want{{"111", "11", "16.00"}}}, // 10 × 1.50 + 1 × 1.00
		{"U6 prorated bucket 55, 80 used", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("80"), Bucket: money.Prorate(dec("100"), 17, 31, 0), Plan: plan(flat10cts)},
		}, []want{{"80", "25", "2.50"}}},
		{"U14 prorated bucket 65, 70 used", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("70"), Bucket: money.Prorate(dec("100"), 20, 31, 0), Plan: plan(flat10cts)},
		}, []want{{"70", "5", "0.50"}}},
		{"nothing left to bill needs no plan", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("10"), Bucket: dec("100")},
		}, []want{{"10", "0", "0.00"}}},
		{"rounded once per line", []rating.UsageService{
			{AccountServiceID: 1, Unit: "MB", Used: dec("3"), Plan: plan(tiers([3]string{"", "0.005", ""}))},
		}, []want{{"3", "3", "0.02"}}}, // 0.015 → 0.02, half away from zero
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := rating.RateUsage(tc.svcs, 2)
			require.NoError(t, err)
			require.Len(t, got, len(tc.want))
			for i, w := range tc.want {
				require.Equal(t, tc.svcs[i].AccountServiceID, got[i].AccountServiceID)
				require.Equal(t, w.used, got[i].Used.String(), "used of %d", i)
				require.Equal(t, w.billed, got[i].Billed.String(), "billed of %d", i)
				require.Equal(t, w.amount, got[i].Amount.String(), "amount of %d", i)
			}
		})
	}
}

func TestRateUsageNoRatePlan(t *testing.T) {
	t.Parallel()
	_, err := rating.RateUsage([]rating.UsageService{
		{AccountServiceID: 4, Unit: "MB", Used: dec("101"), Bucket: dec("100")},
	}, 2)
	require.ErrorIs(t, err, rating.ErrNoRatePlan)
}

func TestUsagePeriods(t *testing.T) {
	t.Parallel()
	d := calendar.MustParse
	for _, tc := range []struct {
		name      string
		u         int
		start     string
		end, full string
		num, den  int64
	}{
		{"full month on bill day 1", 1, "2024-01-01", "2024-02-01", "2024-01-01", 1, 1},
		{"U6 effective mid-month", 1, "2024-01-15", "2024-02-01", "2024-01-01", 17, 31},
		{"U13 usage bill day 15, effective on the 1st", 15, "2024-01-01", "2024-01-15", "2023-12-15", 14, 31},
		{"U13 then a full period", 15, "2024-01-15", "2024-02-15", "2024-01-15", 1, 1},
		{"clamped to February's end", 31, "2024-01-31", "2024-02-29", "2024-01-31", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := rating.UsagePeriodFrom(tc.u, d(tc.start))
			require.Equal(t, tc.end, p.End.String())
			require.Equal(t, tc.full, p.FullStart.String())
			num, den := rating.UsagePart(p)
			require.Equal(t, [2]int64{tc.num, tc.den}, [2]int64{num, den})
		})
	}
}

func TestDifference(t *testing.T) {
	t.Parallel()
	plan := &rating.Plan{Model: rating.Graduated, Tiers: flat10cts}
	rate := func(used string) rating.UsageAmount {
		got, err := rating.RateUsage([]rating.UsageService{{AccountServiceID: 1, Unit: "MB", Used: dec(used), Bucket: dec("100"), Plan: plan}}, 2)
		require.NoError(t, err)
		return got[0]
	}
	// U7: 130 billed as 30 → 3.00; 50 more → 180, 80 → 8.00; the difference is 5.00.
	diff, ok := rating.Difference(rate("130"), rate("180"))
	require.True(t, ok)
	require.Equal(t, "50", diff.Used.String())
	require.Equal(t, "50", diff.Billed.String())
	require.Equal(t, "5.00", diff.Amount.String())
	// No new usage: nothing.
	_, ok = rating.Difference(rate("130"), rate("130"))
	require.False(t, ok)
	// Late usage still inside the bucket: no line either.
	_, ok = rating.Difference(rate("60"), rate("90"))
	require.False(t, ok)
	// A VOLUME tier crossed makes the difference negative.
	vol := &rating.Plan{Model: rating.Volume, Tiers: u1Tiers}
	rv := func(used string) rating.UsageAmount {
		got, err := rating.RateUsage([]rating.UsageService{{AccountServiceID: 1, Unit: "MB", Used: dec(used), Plan: vol}}, 2)
		require.NoError(t, err)
		return got[0]
	}
	diff, ok = rating.Difference(rv("110"), rv("111")) // 110.00 → 55.50
	require.True(t, ok)
	require.Equal(t, "-54.50", diff.Amount.String())
	require.Equal(t, "1", diff.Billed.String())
}

func TestUsageSpanPeriodContaining(t *testing.T) {
	t.Parallel()
	d := calendar.MustParse
	end := d("2024-03-21")
	for _, tc := range []struct {
		name             string
		span             rating.UsageSpan
		day              string
		start, stop, fst string // stop is the exclusive end; fst the full period's start
		ok               bool
	}{
		{"first, partial", rating.UsageSpan{Start: d("2024-01-15"), BillDay: 1}, "2024-01-20", "2024-01-15", "2024-02-01", "2024-01-01", true},
		{"on its first day", rating.UsageSpan{Start: d("2024-01-15"), BillDay: 1}, "2024-01-15", "2024-01-15", "2024-02-01", "2024-01-01", true},
		{"a later month", rating.UsageSpan{Start: d("2024-01-15"), BillDay: 1}, "2024-02-29", "2024-02-01", "2024-03-01", "2024-02-01", true},
		{"on an anchor", rating.UsageSpan{Start: d("2024-01-15"), BillDay: 1}, "2024-03-01", "2024-03-01", "2024-04-01", "2024-03-01", true},
		{"U13 bill day 15, before it", rating.UsageSpan{Start: d("2024-01-01"), BillDay: 15}, "2024-01-05", "2024-01-01", "2024-01-15", "2023-12-15", true},
		{"U13 bill day 15, after it", rating.UsageSpan{Start: d("2024-01-01"), BillDay: 15}, "2024-01-20", "2024-01-15", "2024-02-15", "2024-01-15", true},
		{"bill day 31 in February", rating.UsageSpan{Start: d("2024-01-31"), BillDay: 31}, "2024-03-05", "2024-02-29", "2024-03-31", "2024-02-29", true},
		{"final, cut by the cancellation", rating.UsageSpan{Start: d("2024-01-01"), End: &end, BillDay: 1}, "2024-03-20", "2024-03-01", "2024-03-21", "2024-03-01", true},
		{"on the cancellation date", rating.UsageSpan{Start: d("2024-01-01"), End: &end, BillDay: 1}, "2024-03-21", "", "", "", false},
		{"before the start", rating.UsageSpan{Start: d("2024-01-15"), BillDay: 1}, "2024-01-14", "", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, ok := tc.span.PeriodContaining(d(tc.day))
			require.Equal(t, tc.ok, ok)
			if !ok {
				return
			}
			require.Equal(t, [3]string{tc.start, tc.stop, tc.fst}, [3]string{p.Start.String(), p.End.String(), p.FullStart.String()})
		})
	}
}

func TestBucket(t *testing.T) {
	t.Parallel()
	d := calendar.MustParse
	jan := rating.UsagePeriodFrom(1, d("2024-01-01"))
	part := rating.UsagePeriodFrom(1, d("2024-01-15"))
	for _, tc := range []struct {
		name      string
		included  string
		instances int
		from, to  string
		p         rating.Period
		places    int32
		want      string
	}{
		{"full month", "100", 1, "2024-01-01", "2024-02-01", jan, 0, "100"},
		{"times instances", "100", 3, "2024-01-01", "2024-02-01", jan, 0, "300"},
		{"U6 17 of 31 days", "100", 1, "2024-01-15", "2024-02-01", part, 0, "55"},
		{"U14 20 of 31 days", "100", 1, "2024-01-01", "2024-01-21", jan, 0, "65"},
		{"in GB with 3 decimals", "1.5", 1, "2024-01-15", "2024-02-01", part, 3, "0.823"}, // 1.5 × 17/31 = 0.8225…
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := rating.Bucket(dec(tc.included), tc.instances, d(tc.from), d(tc.to), tc.p, tc.places)
			require.Equal(t, tc.want, got.String())
		})
	}
}

// TestChoosePlan is U12: plans on every level, dropped from the narrowest; with none
// left the account has no plan (NO_RATE_PLAN when it has usage to bill).
func TestChoosePlan(t *testing.T) {
	t.Parallel()
	plan := func(price string) *rating.Plan {
		return &rating.Plan{Currency: "USD", Model: rating.Graduated, Tiers: tiers([3]string{"", price, ""})}
	}
	accountService, servicePrice, accountPackage, frequency, account := plan("0.01"), plan("0.03"), plan("0.02"), plan("0.04"), plan("0.05")
	levels := []*rating.Plan{accountService, servicePrice, accountPackage, frequency, account}
	want := []string{"1.00", "3.00", "2.00", "4.00", "5.00"}
	for i := range levels {
		got := rating.ChoosePlan("USD", levels[i:]...)
		require.NotNil(t, got)
		require.Equal(t, want[i], money.Round(got.Price(dec("100")), 2).String(), "levels from %d", i)
	}
	require.Nil(t, rating.ChoosePlan("USD"))
	// Only plans in the account's currency count.
	eur := &rating.Plan{Currency: "EUR", Model: rating.Graduated, Tiers: flat10cts}
	require.Same(t, account, rating.ChoosePlan("USD", eur, nil, account))
	require.Nil(t, rating.ChoosePlan("USD", eur))
}

func TestUsageBillDay(t *testing.T) {
	t.Parallel()
	ap, acc := 20, 15
	require.Equal(t, 20, rating.UsageBillDay(&ap, &acc, 1))
	require.Equal(t, 15, rating.UsageBillDay(nil, &acc, 1))
	require.Equal(t, 1, rating.UsageBillDay(nil, nil, 1))
}
