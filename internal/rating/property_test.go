package rating_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

// Property tests of the engine: each draws a few thousand random packages from a
// fixed seed (so a failure reproduces) and checks an invariant of docs/billing.md
// section 4 against a small independent model of the anchor schedule (oracle*). A
// failure message names the case number and the package.

// propCases is how many random cases each property runs.
const propCases = 3000

func propRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x62696c6c64)) }

// randDate is a day in 2023-01-01..2025-12-31.
func randDate(rng *rand.Rand) calendar.Date {
	return d("2023-01-01").AddDays(rng.IntN(calendar.Days(d("2023-01-01"), d("2026-01-01"))))
}

// randCents is a price with two places in [lo, hi] cents.
func randCents(rng *rand.Rand, lo, hi int) money.Decimal {
	c := lo + rng.IntN(hi-lo+1)
	return money.MustParse(fmt.Sprintf("%d.%02d", c/100, c%100))
}

// randCadence draws a cadence from the given ones.
func randCadence(rng *rand.Rand, choices ...rating.Cadence) rating.Cadence {
	return choices[rng.IntN(len(choices))]
}

var (
	weekly    = rating.Cadence{Interval: rating.Week, Count: 1}
	yearly    = rating.Cadence{Interval: rating.Year, Count: 1}
	quarterly = rating.Cadence{Interval: rating.Month, Count: 3}
	fortnight = rating.Cadence{Interval: rating.Week, Count: 2}
)

// oracleAnchor is bill day bd in the month `months` after year-month ym (months may
// be negative), clamped to that month's length: docs/billing.md 4.1.
func oracleAnchor(year int, month time.Month, months, bd int) calendar.Date {
	idx := year*12 + int(month-1) + months
	y, mo := idx/12, time.Month(idx%12+1)
	return calendar.New(y, mo, min(bd, calendar.DaysInMonth(y, mo)))
}

func oracleMonths(c rating.Cadence) int {
	if c.Interval == rating.Year {
		return 12 * c.Count
	}
	return c.Count
}

// oraclePeriod is one period of the model schedule: [start, end) priced against the
// full period [fullStart, fullEnd).
type oraclePeriod struct{ start, end, fullStart, fullEnd calendar.Date }

// oraclePeriods lists the schedule of a package effective on e with bill day bd, from
// e until the first period that ends after until. It is written from the rules, not
// from schedule.go: days and weeks step from e; months and years start with the
// partial period [e, A0) when e is not an anchor, A0 the first anchor on or after e,
// priced against [A0 − interval, A0), then full periods from anchor to anchor.
func oraclePeriods(c rating.Cadence, bd int, e, until calendar.Date) []oraclePeriod {
	var out []oraclePeriod
	if c.Interval == rating.Day || c.Interval == rating.Week {
		step := c.Count
		if c.Interval == rating.Week {
			step *= 7
		}
		for s := e; !s.After(until); s = s.AddDays(step) {
			out = append(out, oraclePeriod{s, s.AddDays(step), s, s.AddDays(step)})
		}
		return out
	}
	n := oracleMonths(c)
	a0 := oracleAnchor(e.Year(), e.Month(), 0, bd)
	if a0.Before(e) {
		a0 = oracleAnchor(e.Year(), e.Month(), 1, bd)
	}
	if !a0.Equal(e) {
		out = append(out, oraclePeriod{e, a0, oracleAnchor(a0.Year(), a0.Month(), -n, bd), a0})
	}
	for s := a0; !s.After(until); {
		next := oracleAnchor(s.Year(), s.Month(), n, bd)
		out = append(out, oraclePeriod{s, next, s, next})
		s = next
	}
	return out
}

// oracleAmount prices [start, end) of period p at total: rounded in full, or prorated
// against the full period, rounded once.
func oracleAmount(total money.Decimal, start, end calendar.Date, p oraclePeriod, full bool) money.Decimal {
	if full || (start.Equal(p.fullStart) && end.Equal(p.fullEnd)) {
		return money.Round(total, 2)
	}
	return money.Prorate(total, int64(calendar.Days(start, end)), int64(calendar.Days(p.fullStart, p.fullEnd)), 2)
}

// desc describes a package for failure messages.
func desc(i int, p rating.Package) string {
	s := fmt.Sprintf("case %d: effective %s, %s×%d, bill day %d, bulk %d, postpaid %v, chargeFullPeriod %v",
		i, p.Effective, p.Cadence.Interval, p.Cadence.Count, p.BillDay, p.Bulk, p.Postpaid, p.ChargeFullPeriod)
	for _, sv := range p.Services {
		s += fmt.Sprintf("; service %d qty %d %v", sv.ID, sv.Quantity, sv.Recurring)
	}
	if p.CancelOn != nil {
		s += fmt.Sprintf("; cancel %s %s", p.CancelOn, p.CancelOption)
	}
	if p.NewBillDay != nil {
		s += fmt.Sprintf("; new bill day %d", *p.NewBillDay)
	}
	return s
}

// rateQuiet is rate without a *testing.T helper frame per call, for hot loops.
func rateQuiet(t *testing.T, p rating.Package, r rating.Range) rating.Result {
	res, err := rating.Rate(p, r, 2)
	if err != nil {
		t.Fatalf("rating %s: %v", desc(-1, p), err)
	}
	return res
}

// firstNBD is where provisioning starts billing: the effective date in advance, the
// end of the first period when postpaid.
func firstNBD(p rating.Package) *calendar.Date {
	if p.Postpaid {
		e := rating.PeriodFrom(p.Cadence, p.BillDay, p.Effective).End
		return &e
	}
	e := p.Effective
	return &e
}

// TestPropertyProratedCancellationNets: a package billed in advance over its first
// period(s) and canceled on a day C inside the latest billed period [a, b) nets, for
// that period, to exactly round(price × bulk × qty × days(a, C) / days(p, q)) with
// PRORATED and to 0 with NONE (docs/billing.md 4.4); FULL_PERIOD leaves the charge alone.
func TestPropertyProratedCancellationNets(t *testing.T) {
	t.Parallel()
	rng := propRand(1)
	for i := range propCases {
		cad := randCadence(rng, monthly, yearly, weekly)
		s := svc(1, "A", "0")
		price := randCents(rng, 0, 99999)
		s.Recurring["ACTIVE"] = price
		s.Quantity = 1 + rng.IntN(5)
		p := pkg(randDate(rng).String(), cad, 1+rng.IntN(31), s)
		p.Bulk = 1 + rng.IntN(100)
		total := price.MulInt(int64(p.Bulk * s.Quantity))
		name := desc(i, p)

		// Bill 1..3 periods, one run per bill date.
		periods := 1 + rng.IntN(3)
		charged := money.Zero
		for range periods {
			r := rateQuiet(t, p, rating.Range{Start: *p.NextBillDate, End: *p.NextBillDate})
			require.LessOrEqual(t, len(r.Lines), 1, name)
			if len(r.Lines) == 1 {
				charged = r.Lines[0].Amount
			} else {
				charged = money.Zero
			}
			p = apply(p, r)
		}
		a, b := *p.LastPeriodStart, *p.NextBillDate
		want := oraclePeriods(cad, p.BillDay, p.Effective, a)
		last := want[len(want)-1]
		require.Equal(t, periods, len(want), name)
		require.Equal(t, []calendar.Date{last.start, last.end}, []calendar.Date{a, b}, name)
		require.True(t, charged.Equal(oracleAmount(total, a, b, last, false)), "%s: charged %s", name, charged)

		c := a.AddDays(rng.IntN(calendar.Days(a, b)))
		for _, opt := range []rating.CancelOption{rating.Prorated, rating.NoCharge, rating.FullPeriod} {
			q := p
			q.CancelOn, q.CancelOption = &c, opt
			name := fmt.Sprintf("%s; cancel %s %s", name, c, opt)
			r := rateQuiet(t, q, rating.Range{Start: c, End: c})
			require.True(t, r.Canceled, name)
			require.Nil(t, r.NextBillDate, name)
			if c.After(p.Effective) { // billed through the last day in service
				require.Equal(t, c.AddDays(-1), *r.BilledThrough, name)
			}
			credit := money.Zero
			for _, l := range r.Lines {
				require.Equal(t, rating.Credit, l.Kind, name)
				require.Equal(t, []string{c.String(), b.AddDays(-1).String()}, []string{l.PeriodStart.String(), l.PeriodEnd.String()}, name)
				require.True(t, l.Amount.IsNegative(), name)
				credit = credit.Add(l.Amount)
			}
			net := charged.Add(credit)
			var expect money.Decimal
			switch opt {
			case rating.Prorated:
				// Independent of the engine: price × bulk × qty × days(a, C) / days(p, q).
				expect = money.Prorate(total, int64(calendar.Days(a, c)), int64(calendar.Days(last.fullStart, last.fullEnd)), 2)
			case rating.NoCharge:
				expect = money.Zero
			case rating.FullPeriod:
				expect = charged
			}
			require.True(t, net.Equal(expect), "%s: C %s: charged %s + credit %s = %s, want %s", name, c, charged, credit, net, expect)
			if c.Equal(a) && opt != rating.FullPeriod {
				require.True(t, net.IsZero(), name)
			}
		}
	}
}

// TestPropertySplitting: billing a year in one run gives the partial first period and
// the full periods that follow, each line rounded once to 2 places and equal to the
// model's price; billing the same year run by run (months, or one bill date at a
// time) gives exactly the same lines, so the one-run total is the sum of the pieces.
func TestPropertySplitting(t *testing.T) {
	t.Parallel()
	rng := propRand(2)
	for i := range propCases * 2 / 3 {
		cad := randCadence(rng, monthly, yearly, weekly, quarterly, fortnight)
		s := svc(1, "A", "0")
		price := randCents(rng, 0, 99999)
		s.Recurring["ACTIVE"] = price
		s.Quantity = 1 + rng.IntN(3)
		p := pkg(randDate(rng).String(), cad, 1+rng.IntN(31), s)
		p.Bulk = 1 + rng.IntN(100)
		p.ChargeFullPeriod = rng.IntN(4) == 0
		total := price.MulInt(int64(p.Bulk * s.Quantity))
		name := desc(i, p)
		yearEnd := p.Effective.AddDays(364)

		whole := rateQuiet(t, p, rating.Range{Start: p.Effective, End: yearEnd})
		want := oraclePeriods(cad, p.BillDay, p.Effective, yearEnd)
		sum, wantSum := money.Zero, money.Zero
		var got []oraclePeriod
		for _, l := range whole.Lines {
			if l.Kind != rating.Recurring || l.Amount.Scale() != 2 || !l.Amount.Equal(money.Round(l.Amount, 2)) {
				t.Fatalf("%s: line %+v is not a RECURRING amount rounded to 2 places", name, l)
			}
			sum = sum.Add(l.Amount)
			got = append(got, oraclePeriod{start: l.PeriodStart, end: l.PeriodEnd.AddDays(1)})
		}
		var wantNonZero []oraclePeriod
		for _, w := range want {
			amt := oracleAmount(total, w.start, w.end, w, p.ChargeFullPeriod)
			wantSum = wantSum.Add(amt)
			if !amt.IsZero() {
				wantNonZero = append(wantNonZero, oraclePeriod{start: w.start, end: w.end})
			}
		}
		require.Equal(t, wantNonZero, got, name)
		require.True(t, sum.Equal(wantSum), "%s: lines sum to %s, model %s", name, sum, wantSum)
		require.Equal(t, want[len(want)-1].end, *whole.NextBillDate, name)

		// The same year in pieces: month-long runs, or one run per bill date.
		pieces := p
		var pieceLines []rating.Line
		for start := p.Effective; !start.After(yearEnd); {
			end := start.AddDays(rng.IntN(40))
			if end.After(yearEnd) {
				end = yearEnd
			}
			r := rateQuiet(t, pieces, rating.Range{Start: start, End: end})
			pieceLines = append(pieceLines, r.Lines...)
			pieces = apply(pieces, r)
			start = end.AddDays(1)
		}
		require.Equal(t, whole.Lines, pieceLines, name)
		require.Equal(t, whole.NextBillDate, pieces.NextBillDate, name)
	}
}

// randomPackage draws a package with 1..3 services and most of the engine's options:
// cadence, bill day, postpaid, chargeFullPeriod, bulk, non-billable status, one-time
// and transition prices, services effective later. minPrice bounds recurring prices
// from below (in cents).
func randomPackage(rng *rand.Rand, minPrice int) rating.Package {
	// Days in steps of 5: a daily cadence would only multiply the lines (the table
	// tests have it).
	cad := randCadence(rng, monthly, yearly, weekly, quarterly, rating.Cadence{Interval: rating.Day, Count: 5}, fortnight)
	n := 1 + rng.IntN(3)
	var services []rating.Service
	for k := 1; k <= n; k++ {
		s := svc(k, fmt.Sprintf("S%d", k), "0")
		s.Recurring["ACTIVE"] = randCents(rng, minPrice, 99999)
		s.Recurring["SUSPENDED"] = randCents(rng, minPrice, 9999)
		if rng.IntN(4) == 0 {
			s.Status = "SUSPENDED"
		}
		s.Quantity = 1 + rng.IntN(3)
		if rng.IntN(3) == 0 {
			s.OneTime = ptr(randCents(rng, 0, 9999))
		}
		if rng.IntN(3) == 0 {
			s.Transitions = map[rating.StatusPair]money.Decimal{
				{From: "ACTIVE", To: rating.Canceled}:    randCents(rng, 1, 5000),
				{From: "SUSPENDED", To: rating.Canceled}: randCents(rng, 1, 5000),
				{From: "ACTIVE", To: "SUSPENDED"}:        randCents(rng, 1, 5000),
			}
		}
		services = append(services, s)
	}
	p := pkg(randDate(rng).String(), cad, 1+rng.IntN(31), services...)
	p.Bulk = 1 + rng.IntN(20)
	p.Postpaid = rng.IntN(3) == 0
	p.ChargeFullPeriod = rng.IntN(5) == 0
	p.NextBillDate = firstNBD(p)
	return p
}

// TestPropertyIdempotent: billing the same range twice changes nothing: the second
// rating, on the state the first left, has no lines and Moved false. Packages come
// with pending status changes, cancellations, new bill days, non-billable statuses,
// one-time billing and a billing history before the range.
func TestPropertyIdempotent(t *testing.T) {
	t.Parallel()
	rng := propRand(3)
	for i := range propCases {
		p := randomPackage(rng, 0)
		if rng.IntN(6) == 0 {
			p.Status, p.Billable = "PENDING", false
		}
		if rng.IntN(10) == 0 {
			p.OneTimeBilling, p.ChargeFullPeriod = true, true
		}
		if rng.IntN(4) == 0 { // services added later start after the effective date
			p.Services[len(p.Services)-1].Effective = p.Effective.AddDays(rng.IntN(90))
		}
		// Some history first.
		if rng.IntN(2) == 0 {
			p = apply(p, rateQuiet(t, p, rating.Range{Start: p.Effective.AddDays(-rng.IntN(30)), End: p.Effective.AddDays(rng.IntN(200))}))
		}
		if p.Status == rating.Canceled {
			continue
		}
		if rng.IntN(3) == 0 {
			p.NewBillDay = ptr(1 + rng.IntN(31))
		}
		if rng.IntN(3) == 0 {
			p.Changes = []rating.StatusChange{{ID: 7, AccountServiceID: 1, From: "ACTIVE", To: "SUSPENDED", On: p.Effective.AddDays(rng.IntN(100))}}
		}
		if rng.IntN(2) == 0 {
			p.CancelOn = ptr(validCancelDate(rng, p))
			p.CancelOption = []rating.CancelOption{rating.Prorated, rating.FullPeriod, rating.NoCharge}[rng.IntN(3)]
		}
		start := p.Effective.AddDays(rng.IntN(400) - 60)
		rng2 := rating.Range{Start: start, End: start.AddDays(rng.IntN(120))}
		name := desc(i, p)
		first := rateQuiet(t, p, rng2)
		again := rateQuiet(t, apply(p, first), rng2)
		require.Empty(t, again.Lines, "%s: range %v", name, rng2)
		require.False(t, again.Moved, "%s: range %v", name, rng2)
	}
}

// validCancelDate draws a cancellation date the API accepts: in advance not before the
// start of the latest billed period (or the effective date), postpaid after
// billedThrough (docs/billing.md 4.4).
func validCancelDate(rng *rand.Rand, p rating.Package) calendar.Date {
	from := p.Effective
	if p.Postpaid && p.BilledThrough != nil {
		from = p.BilledThrough.AddDays(1)
	} else if !p.Postpaid && p.LastPeriodStart != nil {
		from = *p.LastPeriodStart
	}
	return from.AddDays(rng.IntN(120))
}

// randomRuns draws a sequence of bill run ranges moving forward from around from:
// contiguous month-like runs, re-runs of the previous range, runs overlapping it, and
// jumps that leave a gap (billing catches up).
func randomRuns(rng *rand.Rand, from calendar.Date, n int) []rating.Range {
	var runs []rating.Range
	cur := rating.Range{Start: from, End: from.AddDays(27 + rng.IntN(4))}
	runs = append(runs, cur)
	for len(runs) < n {
		switch rng.IntN(6) {
		case 0: // re-run
		case 1: // overlapping: from the middle of the last one
			mid := cur.Start.AddDays(calendar.Days(cur.Start, cur.End) / 2)
			cur = rating.Range{Start: mid, End: cur.End.AddDays(1 + rng.IntN(31))}
		case 2: // a gap, then a run
			s := cur.End.AddDays(2 + rng.IntN(20))
			cur = rating.Range{Start: s, End: s.AddDays(rng.IntN(31))}
		default: // the next run
			s := cur.End.AddDays(1)
			cur = rating.Range{Start: s, End: s.AddDays(rng.IntN(35))}
		}
		runs = append(runs, cur)
	}
	return runs
}

// TestPropertyChargedOnce: over random sequences of bill runs (contiguous, repeated,
// overlapping, with gaps), with a new bill day or a PRORATED cancellation arriving
// between runs, no guard repeats, and each service's RECURRING lines tile the time
// line from the effective date to the last billedThrough without gap or overlap.
func TestPropertyChargedOnce(t *testing.T) {
	t.Parallel()
	rng := propRand(4)
	for i := range propCases / 2 {
		// Recurring prices of at least 10.00 so no line of a day or more rounds to
		// nothing (10.00 × 1/366 = 0.03): every period billed leaves a line.
		p := randomPackage(rng, 1000)
		p.ChargeFullPeriod = p.ChargeFullPeriod && rng.IntN(2) == 0
		orig := p
		var name string
		runs := randomRuns(rng, p.Effective.AddDays(-rng.IntN(40)), 3+rng.IntN(10))
		changeAt, cancelAt := rng.IntN(len(runs)+2), rng.IntN(len(runs)+3)
		seen := map[string]rating.Range{}
		var all []rating.Line
		for k, r := range runs {
			if p.Status == rating.Canceled {
				break
			}
			if k == changeAt {
				p.NewBillDay = ptr(1 + rng.IntN(31))
				orig.NewBillDay = p.NewBillDay
			}
			if k == cancelAt && !p.ChargeFullPeriod {
				p.CancelOn, p.CancelOption = ptr(validCancelDate(rng, p)), rating.Prorated
				orig.CancelOn, orig.CancelOption = p.CancelOn, p.CancelOption
			}
			res := rateQuiet(t, p, r)
			for _, l := range res.Lines {
				if prev, dup := seen[l.Guard]; dup {
					t.Fatalf("%s: guard %s charged by run %v and again by run %v", desc(i, orig), l.Guard, prev, r)
				}
				seen[l.Guard] = r
				all = append(all, l)
			}
			p = apply(p, res)
		}
		if p.BilledThrough == nil {
			continue
		}
		name = desc(i, orig)
		// After a cancellation on C the package is billed through C − 1 (its last day
		// in service), whether the final period was cut at C or billed and credited.
		var lastDay *calendar.Date
		if p.Status == rating.Canceled && p.CancelOn.After(p.Effective) {
			lastDay = ptr(p.CancelOn.AddDays(-1))
			require.Equal(t, lastDay.String(), p.BilledThrough.String(), "%s: billedThrough after the cancellation", name)
		}
		for _, s := range p.Services {
			var rec []rating.Line
			for _, l := range all {
				if l.Kind == rating.Recurring && l.AccountServiceID == s.ID {
					rec = append(rec, l)
				}
			}
			sort.Slice(rec, func(a, b int) bool { return rec[a].PeriodStart.Before(rec[b].PeriodStart) })
			priced := p.Billable && !s.Recurring[s.Status].IsZero()
			if !priced || s.Effective.After(p.Effective) {
				continue
			}
			require.NotEmpty(t, rec, name)
			next := p.Effective
			for _, l := range rec {
				if !l.PeriodStart.Equal(next) || l.PeriodEnd.Before(l.PeriodStart) {
					t.Fatalf("%s: service %d: line %s..%s after %s: gap or overlap", name, s.ID, l.PeriodStart, l.PeriodEnd, next)
				}
				next = l.PeriodEnd.AddDays(1)
			}
			last := rec[len(rec)-1]
			switch {
			case p.Status != rating.Canceled:
				require.Equal(t, p.BilledThrough.String(), last.PeriodEnd.String(), "%s: service %d: last line vs billedThrough", name, s.ID)
			case lastDay != nil:
				// The last line ends on the last day in service, or it was billed in
				// advance from C or earlier and what it charged from C on was credited.
				require.False(t, last.PeriodStart.After(*p.CancelOn) || last.PeriodEnd.Before(*lastDay),
					"%s: service %d: last line %s..%s vs last day in service %s", name, s.ID, last.PeriodStart, last.PeriodEnd, lastDay)
				if last.PeriodEnd.After(*lastDay) {
					credited := false
					for _, l := range all {
						credited = credited || (l.Kind == rating.Credit && l.AccountServiceID == s.ID &&
							l.PeriodStart.Equal(*p.CancelOn) && l.PeriodEnd.Equal(last.PeriodEnd))
					}
					require.True(t, credited, "%s: service %d: no credit for %s..%s", name, s.ID, p.CancelOn, last.PeriodEnd)
				}
			}
		}
	}
}

// TestPropertyPostpaidShifted: the same package billed postpaid produces the same
// RECURRING lines as in advance, each billed by the run that reaches the end of its
// period instead of the run that reaches its start.
func TestPropertyPostpaidShifted(t *testing.T) {
	t.Parallel()
	rng := propRand(5)
	for i := range propCases * 2 / 3 {
		adv := randomPackage(rng, 0)
		adv.Postpaid = false
		adv.NextBillDate = firstNBD(adv)
		post := adv
		post.Postpaid = true
		post.NextBillDate = firstNBD(post)
		name := desc(i, post)

		// Contiguous runs from before the effective date.
		var runs []rating.Range
		for s := adv.Effective.AddDays(-rng.IntN(20)); len(runs) < 5+rng.IntN(8); {
			e := s.AddDays(rng.IntN(40))
			runs = append(runs, rating.Range{Start: s, End: e})
			s = e.AddDays(1)
		}
		horizon := runs[len(runs)-1].End
		runOf := func(x calendar.Date) int {
			for k, r := range runs {
				if !x.Before(r.Start) && !x.After(r.End) {
					return k
				}
			}
			return -1
		}
		type billed struct {
			l   rating.Line
			run int
		}
		collect := func(p rating.Package) []billed {
			var out []billed
			for k, r := range runs {
				res := rateQuiet(t, p, r)
				for _, l := range res.Lines {
					if l.Kind == rating.Recurring {
						out = append(out, billed{l, k})
					}
				}
				p = apply(p, res)
			}
			return out
		}
		inAdvance, postpaid := collect(adv), collect(post)
		var want []rating.Line
		for _, b := range inAdvance {
			if runOf(b.l.PeriodStart) != b.run {
				t.Fatalf("%s: in advance, %s billed by run %d", name, b.l.PeriodStart, b.run)
			}
			if !b.l.PeriodEnd.After(horizon.AddDays(-1)) { // its period ended within the runs
				want = append(want, b.l)
			}
		}
		var got []rating.Line
		for _, b := range postpaid {
			if runOf(b.l.PeriodEnd.AddDays(1)) != b.run {
				t.Fatalf("%s: postpaid, %s..%s billed by run %d", name, b.l.PeriodStart, b.l.PeriodEnd, b.run)
			}
			got = append(got, b.l)
		}
		require.Equal(t, want, got, name)
	}
}
