package rating_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

// randPlan draws a plan of 1-4 tiers with whole upTo bounds, prices of up to 3 places
// and some flat fees.
func randPlan(rng *rand.Rand, id int) *rating.Plan {
	p := &rating.Plan{ID: id, Currency: "USD", Model: rating.Graduated}
	if rng.IntN(2) == 0 {
		p.Model = rating.Volume
	}
	n, bound := 1+rng.IntN(4), 0
	for i := 0; i < n; i++ {
		t := rating.Tier{UnitPrice: money.MustParse(fmt.Sprintf("0.%03d", rng.IntN(1000)))}
		if rng.IntN(3) == 0 {
			t.FlatFee = randCents(rng, 0, 500)
		}
		if i < n-1 {
			bound += 1 + rng.IntN(200)
			up := money.MustParse(fmt.Sprint(bound))
			t.UpTo = &up
		}
		p.Tiers = append(p.Tiers, t)
	}
	return p
}

// randUsagePackage draws a package of 1-4 USAGE services of two units, with buckets
// (some shared), instances, plans, and usage on random days of 2024.
func randUsagePackage(rng *rand.Rand) rating.UsagePackage {
	start := d("2024-01-01").AddDays(rng.IntN(60))
	p := rating.UsagePackage{ID: 1, Span: rating.UsageSpan{Start: start, BillDay: 1 + rng.IntN(31)},
		KeepFull: rng.IntN(5) == 0}
	for i := 0; i < 1+rng.IntN(4); i++ {
		s := rating.UsageAccountService{ID: 10 + i, ServiceID: 100 + i, Name: fmt.Sprint("S", i),
			Unit: []string{"MB", "min"}[rng.IntN(2)], Instances: 1 + rng.IntN(3), Effective: start,
			Plan: randPlan(rng, i+1), Days: map[calendar.Date]rating.DayUsage{}}
		if rng.IntN(3) > 0 {
			inc := money.MustParse(fmt.Sprint(rng.IntN(150)))
			s.Included, s.Shared = &inc, rng.IntN(2) == 0
		}
		p.Services = append(p.Services, s)
	}
	return p
}

// addUsage adds n random records dated in [from, to) to the package's services and
// returns the earliest day it added to (to when none).
func addUsage(rng *rand.Rand, p *rating.UsagePackage, from, to calendar.Date, n int) calendar.Date {
	earliest := to
	for k := 0; k < n; k++ {
		s := &p.Services[rng.IntN(len(p.Services))]
		day := from.AddDays(rng.IntN(calendar.Days(from, to)))
		u := s.Days[day]
		u.Quantity = u.Quantity.Add(money.MustParse(fmt.Sprint(rng.IntN(120))))
		u.Records++
		s.Days[day] = u
		if day.Before(earliest) {
			earliest = day
		}
	}
	return earliest
}

// applyUsage adds a billing's lines to what the package's billed periods hold, as
// the billing core reads them back from the charges, and moves its usage position.
func applyUsage(p *rating.UsagePackage, res rating.UsageResult, plans map[int]*rating.Plan) {
	for _, l := range res.Lines {
		for i := range p.Services {
			s := &p.Services[i]
			if s.ID != l.AccountServiceID {
				continue
			}
			if s.Billed == nil {
				s.Billed = map[calendar.Date]rating.BilledUsage{}
			}
			b := s.Billed[l.PeriodStart]
			if b.Lines == 0 {
				b.Plan = plans[l.PlanID]
			}
			b.Used, b.Billed, b.Amount, b.Lines = b.Used.Add(*l.Used), b.Billed.Add(*l.Billed), b.Amount.Add(l.Amount), b.Lines+1
			s.Billed[l.PeriodStart] = b
		}
	}
	p.Next, p.LateFrom = res.Next, nil
}

// TestBillUsageProperties: over random packages, usage and late records, every
// period's lines of a service add up to a fresh rating of all its records (used,
// billed and amount), however many late batches came in between, and no guard
// repeats.
func TestBillUsageProperties(t *testing.T) {
	t.Parallel()
	rng := propRand(613)
	differences := 0
	for c := 0; c < 500; c++ {
		p := randUsagePackage(rng)
		plans := map[int]*rating.Plan{}
		for _, s := range p.Services {
			plans[s.Plan.ID] = s.Plan
		}
		type key struct {
			svc   int
			start calendar.Date
		}
		sums := map[key][3]money.Decimal{} // used, billed, amount of the lines so far
		guards := map[string]bool{}
		end := d("2024-03-31")
		addUsage(rng, &p, p.Span.Start, d("2024-04-01"), 1+rng.IntN(20))
		for step := 0; step < 4; step++ {
			res, err := rating.BillUsage(p, rating.Range{Start: end.AddDays(-30), End: end}, 2)
			require.NoError(t, err, "case %d", c)
			for _, l := range res.Lines {
				require.False(t, guards[l.Guard], "case %d: guard %s twice", c, l.Guard)
				guards[l.Guard] = true
				if step > 0 && l.PeriodStart.Before(*p.Next) {
					differences++
				}
				k := key{l.AccountServiceID, l.PeriodStart}
				s := sums[k]
				sums[k] = [3]money.Decimal{s[0].Add(*l.Used), s[1].Add(*l.Billed), s[2].Add(l.Amount)}
			}
			applyUsage(&p, res, plans)
			// Late records for the periods billed, and the next month.
			first := *res.Next
			if late := addUsage(rng, &p, p.Span.Start, first, rng.IntN(6)); late.Before(first) {
				p.LateFrom = &late
			}
			addUsage(rng, &p, first, first.AddDays(30), rng.IntN(6))
			end = end.AddDays(30)
		}
		res, err := rating.BillUsage(p, rating.Range{Start: end.AddDays(-30), End: end}, 2)
		require.NoError(t, err)
		for _, l := range res.Lines {
			k := key{l.AccountServiceID, l.PeriodStart}
			s := sums[k]
			sums[k] = [3]money.Decimal{s[0].Add(*l.Used), s[1].Add(*l.Billed), s[2].Add(l.Amount)}
		}
		applyUsage(&p, res, plans)

		// A fresh rating of each billed period over all its records: its lines hold it.
		fresh := p
		fresh.Services = nil
		for _, s := range p.Services {
			s.Billed = nil
			fresh.Services = append(fresh.Services, s)
		}
		fresh.Next, fresh.LateFrom = nil, nil
		all, err := rating.BillUsage(fresh, rating.Range{Start: end.AddDays(-30), End: end}, 2)
		require.NoError(t, err)
		want := map[key][3]money.Decimal{}
		for _, l := range all.Lines {
			want[key{l.AccountServiceID, l.PeriodStart}] = [3]money.Decimal{*l.Used, *l.Billed, l.Amount}
		}
		for k, w := range want {
			got := sums[k]
			for i := range w {
				require.True(t, w[i].Equal(got[i]), "case %d: service %d period %s: lines hold %v, a fresh rating %v",
					c, k.svc, k.start, got, w)
			}
		}
		for k, got := range sums {
			if _, ok := want[k]; !ok {
				for i := 1; i < 3; i++ {
					require.True(t, got[i].IsZero(), "case %d: service %d period %s: lines %v, a fresh rating none", c, k.svc, k.start, got)
				}
			}
		}
	}
	require.Greater(t, differences, 200, "late usage made difference lines")
}

// TestRateUsageConservation: the units used equal those billed plus those buckets and
// the pool covered, and what the pool gave is no more than the shared buckets left.
func TestRateUsageConservation(t *testing.T) {
	t.Parallel()
	rng := propRand(614)
	for c := 0; c < propCases; c++ {
		var svcs []rating.UsageService
		for i := 0; i < 1+rng.IntN(5); i++ {
			s := rating.UsageService{AccountServiceID: i, Unit: []string{"MB", "min"}[rng.IntN(2)],
				Used: money.MustParse(fmt.Sprint(rng.IntN(300))), Bucket: money.MustParse(fmt.Sprint(rng.IntN(200))),
				Shared: rng.IntN(2) == 0, Plan: randPlan(rng, i)}
			svcs = append(svcs, s)
		}
		out, err := rating.RateUsage(svcs, 2)
		require.NoError(t, err)
		for _, unit := range []string{"MB", "min"} {
			used, billed, own, shared := money.Zero, money.Zero, money.Zero, money.Zero
			for i, s := range svcs {
				if s.Unit != unit {
					continue
				}
				used, billed = used.Add(s.Used), billed.Add(out[i].Billed)
				take := s.Used
				if s.Bucket.Cmp(take) < 0 {
					take = s.Bucket
				}
				own = own.Add(take)
				if s.Shared {
					shared = shared.Add(s.Bucket.Sub(take))
				}
				require.False(t, out[i].Billed.IsNegative(), "case %d", c)
				require.True(t, out[i].Billed.Cmp(s.Used) <= 0, "case %d", c)
			}
			pool := used.Sub(billed).Sub(own) // what the pool covered
			require.False(t, pool.IsNegative(), "case %d: %s", c, unit)
			require.True(t, pool.Cmp(shared) <= 0, "case %d: the pool gave %s of %s", c, pool, shared)
			// Usage is billed only once the pool is empty.
			if !billed.IsZero() {
				require.True(t, pool.Equal(shared), "case %d: %s billed with %s of the pool left", c, billed, shared.Sub(pool))
			}
		}
	}
}

// TestBillUsageNoRatePlan: usage left to bill without a plan fails the package with
// the reason NO_RATE_PLAN; usage all within buckets needs none.
func TestBillUsageNoRatePlan(t *testing.T) {
	t.Parallel()
	inc := dec("100")
	p := rating.UsagePackage{ID: 7, Span: rating.UsageSpan{Start: d("2024-01-01"), BillDay: 1},
		Services: []rating.UsageAccountService{{ID: 1, Name: "Data", Unit: "MB", Included: &inc, Instances: 1,
			Effective: d("2024-01-01"), Days: map[calendar.Date]rating.DayUsage{d("2024-01-10"): {Quantity: dec("80"), Records: 1}}}}}
	r := rating.Range{Start: d("2024-02-01"), End: d("2024-02-29")}
	res, err := rating.BillUsage(p, r, 2)
	require.NoError(t, err)
	require.Empty(t, res.Lines)
	require.Equal(t, d("2024-02-01"), *res.Next)
	require.Equal(t, d("2024-03-01"), *res.Due)

	p.Services[0].Days[d("2024-01-11")] = rating.DayUsage{Quantity: dec("30"), Records: 1}
	_, err = rating.BillUsage(p, r, 2)
	fe, ok := fault.As(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, rating.ReasonNoRatePlan, fe.Reason)
	require.Equal(t, fault.FailedPrecondition, fe.Code)
}
