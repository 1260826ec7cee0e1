package rating_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

// engineStep is one bill run of an engine case: what changes on the package before
// it (a cancellation, a status change, a new bill day), the run's range, and what the
// run must produce.
type engineStep struct {
	before   func(p *rating.Package)
	from, to string
	want     []line
	nbd      string // the next bill date after the run; "" for none
	through  string // billedThrough after the run; "" to skip the check
	canceled bool
	billDay  int // the bill day in force after the run; 0 to skip the check
}

// engineCase is a package and the runs billed over it one after another, each on the
// state the previous one left (apply).
type engineCase struct {
	name  string
	pkg   func() rating.Package
	steps []engineStep
}

// monthly30 is an ACTIVE 30.00 monthly service on bill day 1 billed in advance from eff.
func monthly30(eff string) rating.Package { return pkg(eff, monthly, 1, svc(1, "A", "30.00")) }

// postpaid30 is monthly30 billed postpaid: its first bill date is the end of its
// first period, as provisioning sets it.
func postpaid30(eff string) rating.Package {
	p := monthly30(eff)
	p.Postpaid = true
	p.NextBillDate = ptr(rating.PeriodFrom(monthly, 1, d(eff)).End)
	return p
}

func cancelOn(c string, opt rating.CancelOption) func(p *rating.Package) {
	return func(p *rating.Package) { p.CancelOn, p.CancelOption = dp(c), opt }
}

// janBilled is the step billing January of a monthly30 package in advance.
var janBilled = engineStep{from: "2024-01-01", to: "2024-01-31",
	want: []line{{rating.Recurring, "2024-01-01", "2024-01-31", "30.00"}}, nbd: "2024-02-01", through: "2024-01-31"}

func engineCases() []engineCase {
	return []engineCase{
		// ---- Cancellation of a period already billed in advance (docs/billing.md 4.4) ----
		{
			// Jan billed 30.00; canceled on Jan 11: 10 days in service.
			// 30.00 × 10/31 = 9.677… → 9.68; credit 9.68 − 30.00 = −20.32 for Jan 11..31.
			// The Feb run carries it out (Feb 29 ≥ C) and bills nothing for February.
			name: "PRORATED, billed: credit down to the days in service",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{janBilled, {
				before: cancelOn("2024-01-11", rating.Prorated), from: "2024-02-01", to: "2024-02-29",
				want: []line{{rating.Credit, "2024-01-11", "2024-01-31", "-20.32"}}, canceled: true,
				through: "2024-01-10", // the last day in service, as if January had been cut at C
			}},
		},
		{
			// NONE: the final period costs nothing: a credit of all 30.00 charged.
			name: "NONE, billed: credit of everything charged for the period",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{janBilled, {
				before: cancelOn("2024-01-11", rating.NoCharge), from: "2024-01-11", to: "2024-01-31",
				want: []line{{rating.Credit, "2024-01-11", "2024-01-31", "-30.00"}}, canceled: true, through: "2024-01-10",
			}},
		},
		{
			// FULL_PERIOD: the final period costs its full price, already charged.
			name: "FULL_PERIOD, billed: nothing more",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{janBilled, {
				before: cancelOn("2024-01-11", rating.FullPeriod), from: "2024-02-01", to: "2024-02-29",
				canceled: true, through: "2024-01-10",
			}},
		},
		{
			// C = a on a billed period: no day in service, so PRORATED nets to 0:
			// 30.00 × 0/31 = 0.00, credit 0.00 − 30.00 = −30.00 for the whole of January.
			name: "PRORATED, billed, C on the period start: the whole charge credited",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{janBilled, {
				before: cancelOn("2024-01-01", rating.Prorated), from: "2024-01-01", to: "2024-01-31",
				want: []line{{rating.Credit, "2024-01-01", "2024-01-31", "-30.00"}}, canceled: true,
			}},
		},
		{
			// A first partial period billed: E Jan 15, 30.00 × 17/31 = 16.451… → 16.45.
			// Canceled on Jan 25: 10 days of the full January period,
			// 30.00 × 10/31 = 9.677… → 9.68; credit 9.68 − 16.45 = −6.77 for Jan 25..31.
			name: "PRORATED, billed partial first period: priced against the full month",
			pkg:  func() rating.Package { return monthly30("2024-01-15") },
			steps: []engineStep{
				{from: "2024-01-01", to: "2024-01-31", want: []line{{rating.Recurring, "2024-01-15", "2024-01-31", "16.45"}}, nbd: "2024-02-01"},
				{
					before: cancelOn("2024-01-25", rating.Prorated), from: "2024-01-25", to: "2024-01-31",
					want: []line{{rating.Credit, "2024-01-25", "2024-01-31", "-6.77"}}, canceled: true,
				},
			},
		},

		// ---- Cancellation of a period not billed yet ----
		{
			// Nothing billed; canceled on Jan 11: PRORATED charges Jan 1..10 only,
			// 30.00 × 10/31 = 9.677… → 9.68; never billed in full and credited.
			name: "PRORATED, not billed: only the days in service",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{{
				before: cancelOn("2024-01-11", rating.Prorated), from: "2024-01-01", to: "2024-01-31",
				want: []line{{rating.Recurring, "2024-01-01", "2024-01-10", "9.68"}}, canceled: true, through: "2024-01-10",
			}},
		},
		{
			// FULL_PERIOD, not billed: the full 30.00 for January.
			name: "FULL_PERIOD, not billed: the full price",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{{
				before: cancelOn("2024-01-11", rating.FullPeriod), from: "2024-01-01", to: "2024-01-31",
				want: []line{{rating.Recurring, "2024-01-01", "2024-01-31", "30.00"}}, canceled: true,
			}},
		},
		{
			// NONE, not billed: nothing at all.
			name: "NONE, not billed: nothing",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{{
				before: cancelOn("2024-01-11", rating.NoCharge), from: "2024-01-01", to: "2024-01-31",
				canceled: true,
			}},
		},
		{
			// Jan billed; canceled on Feb 20, carried out by the Feb run: February is the
			// final period, not billed: 30.00 × 19/29 = 19.655… → 19.66 for Feb 1..19.
			name: "PRORATED, not billed, a later period: cut at C",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{janBilled, {
				before: cancelOn("2024-02-20", rating.Prorated), from: "2024-02-01", to: "2024-02-29",
				want: []line{{rating.Recurring, "2024-02-01", "2024-02-19", "19.66"}}, canceled: true, through: "2024-02-19",
			}},
		},
		{
			// A run that ends before C does not carry the cancellation out: Jan billed,
			// canceled on Mar 5; the Feb run bills February as usual (30.00); the Mar run
			// cuts March: 30.00 × 4/31 = 3.870… → 3.87 for Mar 1..4.
			name: "a cancellation waits for a run that reaches C",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{janBilled,
				{
					before: cancelOn("2024-03-05", rating.Prorated), from: "2024-02-01", to: "2024-02-29",
					want: []line{{rating.Recurring, "2024-02-01", "2024-02-29", "30.00"}}, nbd: "2024-03-01",
				},
				{from: "2024-03-01", to: "2024-03-31", want: []line{{rating.Recurring, "2024-03-01", "2024-03-04", "3.87"}}, canceled: true},
			},
		},
		{
			// FULL_PERIOD on a first partial period not billed: its full price is that of
			// the partial period (the same it would have been charged in advance):
			// 30.00 × 17/31 = 16.451… → 16.45 for Jan 15..31.
			name: "FULL_PERIOD, not billed, first partial period",
			pkg:  func() rating.Package { return monthly30("2024-01-15") },
			steps: []engineStep{{
				before: cancelOn("2024-01-20", rating.FullPeriod), from: "2024-01-01", to: "2024-01-31",
				want: []line{{rating.Recurring, "2024-01-15", "2024-01-31", "16.45"}}, canceled: true,
			}},
		},

		// ---- C on the start of a period not billed: nothing ----
		{
			name: "C on the start of the next period, PRORATED: nothing",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{janBilled, {
				before: cancelOn("2024-02-01", rating.Prorated), from: "2024-02-01", to: "2024-02-29",
				canceled: true, through: "2024-01-31",
			}},
		},
		{
			name: "C on the start of the next period, FULL_PERIOD: nothing",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{janBilled, {
				before: cancelOn("2024-02-01", rating.FullPeriod), from: "2024-02-01", to: "2024-02-29",
				canceled: true, through: "2024-01-31",
			}},
		},
		{
			// Canceled on its effective date before any billing: no day of the first
			// period was in service, so even FULL_PERIOD charges nothing.
			name: "C on the effective date, not billed: nothing",
			pkg:  func() rating.Package { return monthly30("2024-01-01") },
			steps: []engineStep{{
				before: cancelOn("2024-01-01", rating.FullPeriod), from: "2024-01-01", to: "2024-01-31",
				canceled: true,
			}},
		},

		// ---- chargeFullPeriod ----
		{
			// chargeFullPeriod charges the partial first period in full (30.00 for Jan
			// 15..31), and a cancellation never credits it back, whatever the option.
			name: "chargeFullPeriod: partial period in full, never credited (PRORATED)",
			pkg: func() rating.Package {
				p := monthly30("2024-01-15")
				p.ChargeFullPeriod = true
				return p
			},
			steps: []engineStep{
				{from: "2024-01-01", to: "2024-01-31", want: []line{{rating.Recurring, "2024-01-15", "2024-01-31", "30.00"}}, nbd: "2024-02-01"},
				{before: cancelOn("2024-01-20", rating.Prorated), from: "2024-02-01", to: "2024-02-29", canceled: true},
			},
		},
		{
			name: "chargeFullPeriod: never credited (NONE)",
			pkg: func() rating.Package {
				p := monthly30("2024-01-01")
				p.ChargeFullPeriod = true
				return p
			},
			steps: []engineStep{janBilled, {before: cancelOn("2024-01-02", rating.NoCharge), from: "2024-01-02", to: "2024-01-31", canceled: true}},
		},

		// ---- Postpaid cancellation ----
		{
			// Postpaid from Jan 1: nothing in Jan (first bill date Feb 1). Canceled on
			// Feb 11 PRORATED; the Feb run bills January (30.00) and the final period
			// February cut at C: 30.00 × 10/29 = 10.344… → 10.34 for Feb 1..10.
			name: "postpaid PRORATED: the ended period, then the final one cut at C",
			pkg:  func() rating.Package { return postpaid30("2024-01-01") },
			steps: []engineStep{
				{from: "2024-01-01", to: "2024-01-31", nbd: "2024-02-01"},
				{
					before: cancelOn("2024-02-11", rating.Prorated), from: "2024-02-01", to: "2024-02-29",
					want: []line{
						{rating.Recurring, "2024-01-01", "2024-01-31", "30.00"},
						{rating.Recurring, "2024-02-01", "2024-02-10", "10.34"},
					},
					canceled: true, through: "2024-02-10",
				},
			},
		},
		{
			// FULL_PERIOD postpaid: January 30.00 and February in full 30.00.
			name: "postpaid FULL_PERIOD",
			pkg:  func() rating.Package { return postpaid30("2024-01-01") },
			steps: []engineStep{{
				before: cancelOn("2024-02-11", rating.FullPeriod), from: "2024-02-01", to: "2024-02-29",
				want: []line{
					{rating.Recurring, "2024-01-01", "2024-01-31", "30.00"},
					{rating.Recurring, "2024-02-01", "2024-02-29", "30.00"},
				},
				canceled: true,
			}},
		},
		{
			// NONE postpaid: the final period costs nothing; January was in service.
			name: "postpaid NONE",
			pkg:  func() rating.Package { return postpaid30("2024-01-01") },
			steps: []engineStep{{
				before: cancelOn("2024-02-11", rating.NoCharge), from: "2024-02-01", to: "2024-02-29",
				want:     []line{{rating.Recurring, "2024-01-01", "2024-01-31", "30.00"}},
				canceled: true,
			}},
		},
		{
			// Canceled inside the first period before anything was billed: the Jan run
			// reaches C = Jan 21 though the first bill date (Feb 1) is after the range:
			// 30.00 × 20/31 = 19.354… → 19.35 for Jan 1..20.
			name: "postpaid PRORATED inside the first period",
			pkg:  func() rating.Package { return postpaid30("2024-01-01") },
			steps: []engineStep{{
				before: cancelOn("2024-01-21", rating.Prorated), from: "2024-01-01", to: "2024-01-31",
				want: []line{{rating.Recurring, "2024-01-01", "2024-01-20", "19.35"}}, canceled: true,
			}},
		},

		// ---- One-time billing ----
		{
			// One-time billing: every recurring price once in full (5.00, the line shows
			// the first period Jan 15..31 although it starts mid-month) plus the one-time
			// 25.00, then CANCELED; a later run bills nothing.
			name: "one-time billing package",
			pkg: func() rating.Package {
				setup := rating.Service{ID: 2, ServiceID: 2, Name: "Setup", Status: "ACTIVE", Quantity: 1, OneTime: ptr(m("25.00"))}
				p := pkg("2024-01-15", monthly, 1, svc(1, "A", "5.00"), setup)
				p.OneTimeBilling, p.ChargeFullPeriod = true, true
				return p
			},
			steps: []engineStep{
				{from: "2024-01-01", to: "2024-01-31", want: []line{
					{rating.OneTime, "2024-01-15", "2024-01-31", "25.00"},
					{rating.Recurring, "2024-01-15", "2024-01-31", "5.00"},
				}, canceled: true},
				{from: "2024-02-01", to: "2024-02-29", canceled: true},
			},
		},

		// ---- Transitions (docs/billing.md 4.4 and 4.5) ----
		{
			// Jan billed at ACTIVE 30.00 × 2 instances = 60.00. On Jan 20 the service goes
			// ACTIVE→SUSPENDED, transition 5.00 × 2 = 10.00, charged by the next run over
			// the account although the package is not due (nbd Feb 1 > Jan 31). February
			// is then priced SUSPENDED: 10.00 × 2 = 20.00.
			name: "status change with a transition price, then the new status prices",
			pkg: func() rating.Package {
				s := svc(1, "A", "30.00")
				s.Quantity = 2
				s.Recurring["SUSPENDED"] = m("10.00")
				s.Transitions = map[rating.StatusPair]money.Decimal{{From: "ACTIVE", To: "SUSPENDED"}: m("5.00")}
				return pkg("2024-01-01", monthly, 1, s)
			},
			steps: []engineStep{
				{from: "2024-01-01", to: "2024-01-31", want: []line{{rating.Recurring, "2024-01-01", "2024-01-31", "60.00"}}, nbd: "2024-02-01"},
				{
					before: func(p *rating.Package) {
						p.Services[0].Status = "SUSPENDED"
						p.Changes = []rating.StatusChange{{ID: 9, AccountServiceID: 1, From: "ACTIVE", To: "SUSPENDED", On: d("2024-01-20")}}
					},
					from: "2024-01-21", to: "2024-01-31",
					want: []line{{rating.Transition, "2024-01-20", "2024-01-20", "10.00"}}, nbd: "2024-02-01",
				},
				{from: "2024-02-01", to: "2024-02-29", want: []line{{rating.Recurring, "2024-02-01", "2024-02-29", "20.00"}}, nbd: "2024-03-01"},
			},
		},
		{
			// A cancellation charges the ACTIVE→CANCELED transition 15.00 in the run that
			// carries it out, dated C, next to the PRORATED credit (−20.32, see above).
			name: "cancellation charges ACTIVE→CANCELED",
			pkg: func() rating.Package {
				s := svc(1, "A", "30.00")
				s.Transitions = map[rating.StatusPair]money.Decimal{{From: "ACTIVE", To: rating.Canceled}: m("15.00")}
				return pkg("2024-01-01", monthly, 1, s)
			},
			steps: []engineStep{janBilled, {
				before: cancelOn("2024-01-11", rating.Prorated), from: "2024-02-01", to: "2024-02-29",
				want: []line{
					{rating.Credit, "2024-01-11", "2024-01-31", "-20.32"},
					{rating.Transition, "2024-01-11", "2024-01-11", "15.00"},
				},
				canceled: true,
			}},
		},

		// ---- Non-billable status ----
		{
			// PENDING is not billable: the periods pass (nbd Jan 1 → Apr 1) with no
			// recurring charge; the one-time charge is still made, with the first period.
			name: "non-billable status advances without charges",
			pkg: func() rating.Package {
				setup := rating.Service{ID: 2, ServiceID: 2, Name: "Setup", Status: "ACTIVE", Quantity: 1, OneTime: ptr(m("25.00"))}
				p := pkg("2024-01-01", monthly, 1, svc(1, "A", "30.00"), setup)
				p.Status, p.Billable = "PENDING", false
				return p
			},
			steps: []engineStep{
				{from: "2024-01-01", to: "2024-03-31", want: []line{{rating.OneTime, "2024-01-01", "2024-01-31", "25.00"}}, nbd: "2024-04-01", through: "2024-03-31"},
				{from: "2024-04-01", to: "2024-04-30", nbd: "2024-05-01", through: "2024-04-30"},
			},
		},

		// ---- Schedules ----
		{
			// Quarterly (MONTH×3) on bill day 31, effective Jan 15 2024. A0 = Jan 31.
			// Partial Jan 15..30 against [Oct 31 2023, Jan 31 2024): 1 + 30 + 31 + 30 = 92
			// days; 90.00 × 16/92 = 15.652… → 15.65. Then [Jan 31, Apr 30) (Apr 30 is
			// Jan 31 + 3 months clamped) 90.00, and [Apr 30, Jul 31) 90.00, billed on Apr 30
			// inside the run.
			name: "quarterly on bill day 31",
			pkg:  func() rating.Package { return pkg("2024-01-15", quarterly, 31, svc(1, "A", "90.00")) },
			steps: []engineStep{{from: "2024-01-01", to: "2024-05-31", want: []line{
				{rating.Recurring, "2024-01-15", "2024-01-30", "15.65"},
				{rating.Recurring, "2024-01-31", "2024-04-29", "90.00"},
				{rating.Recurring, "2024-04-30", "2024-07-30", "90.00"},
			}, nbd: "2024-07-31", through: "2024-07-30"}},
		},
		{
			// A daily cadence ignores the bill day (15): a line per day, Feb 29 included.
			name: "daily cadence",
			pkg: func() rating.Package {
				return pkg("2024-02-27", rating.Cadence{Interval: rating.Day, Count: 1}, 15, svc(1, "A", "1.50"))
			},
			steps: []engineStep{{from: "2024-02-27", to: "2024-03-02", want: []line{
				{rating.Recurring, "2024-02-27", "2024-02-27", "1.50"},
				{rating.Recurring, "2024-02-28", "2024-02-28", "1.50"},
				{rating.Recurring, "2024-02-29", "2024-02-29", "1.50"},
				{rating.Recurring, "2024-03-01", "2024-03-01", "1.50"},
				{rating.Recurring, "2024-03-02", "2024-03-02", "1.50"},
			}, nbd: "2024-03-03"}},
		},
		{
			// Bill day 30 in February 2023 (28 days): anchors Jan 30, Feb 28, Mar 30.
			// Effective Feb 10: partial Feb 10..27 against [Jan 30, Feb 28) = 29 days:
			// 30.00 × 18/29 = 18.620… → 18.62; then [Feb 28, Mar 30) 30.00.
			name: "bill day 30 in February of a non-leap year",
			pkg:  func() rating.Package { return pkg("2023-02-10", monthly, 30, svc(1, "A", "30.00")) },
			steps: []engineStep{{from: "2023-02-01", to: "2023-03-15", want: []line{
				{rating.Recurring, "2023-02-10", "2023-02-27", "18.62"},
				{rating.Recurring, "2023-02-28", "2023-03-29", "30.00"},
			}, nbd: "2023-03-30"}},
		},
		{
			// Postpaid 30.00 from Jan 1, Jan billed by the Feb run (nbd Mar 1). New bill
			// day 15 set in February: the Mar run bills February (30.00, the period that
			// ended), then the alignment period from the bill date Mar 1 to the first
			// anchor of day 15, Mar 15, priced against [Feb 15, Mar 15) = 29 days:
			// 30.00 × 14/29 = 14.482… → 14.48, billed on Mar 15 within the run. Next bill
			// date Apr 15 (the end of [Mar 15, Apr 15)).
			name: "new bill day on a postpaid package",
			pkg:  func() rating.Package { return postpaid30("2024-01-01") },
			steps: []engineStep{
				{from: "2024-02-01", to: "2024-02-29", want: []line{{rating.Recurring, "2024-01-01", "2024-01-31", "30.00"}}, nbd: "2024-03-01"},
				{
					before: func(p *rating.Package) { p.NewBillDay = ptr(15) },
					from:   "2024-03-01", to: "2024-03-31",
					want: []line{
						{rating.Recurring, "2024-02-01", "2024-02-29", "30.00"},
						{rating.Recurring, "2024-03-01", "2024-03-14", "14.48"},
					},
					nbd: "2024-04-15", through: "2024-03-14", billDay: 15,
				},
				{from: "2024-04-01", to: "2024-04-30", want: []line{{rating.Recurring, "2024-03-15", "2024-04-14", "30.00"}}, nbd: "2024-05-15", billDay: 15},
			},
		},
		{
			// Service B added on Jan 10 (its Effective) is not charged for January, which
			// started before it; it starts with February.
			name: "a service effective after the period start is not charged",
			pkg: func() rating.Package {
				p := pkg("2024-01-01", monthly, 1, svc(1, "A", "50.00"), svc(2, "B", "25.00"))
				p.Services[1].Effective = d("2024-01-10")
				return p
			},
			steps: []engineStep{
				{from: "2024-01-01", to: "2024-01-31", want: []line{{rating.Recurring, "2024-01-01", "2024-01-31", "50.00"}}, nbd: "2024-02-01"},
				{from: "2024-02-01", to: "2024-02-29", want: []line{
					{rating.Recurring, "2024-02-01", "2024-02-29", "50.00"},
					{rating.Recurring, "2024-02-01", "2024-02-29", "25.00"},
				}, nbd: "2024-03-01"},
			},
		},
	}
}

func TestEngineCases(t *testing.T) {
	t.Parallel()
	for _, tc := range engineCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := tc.pkg()
			for i, st := range tc.steps {
				if st.before != nil {
					st.before(&p)
				}
				r := rate(t, p, st.from, st.to)
				require.Equal(t, st.want, lines(r), "step %d (%s..%s)", i, st.from, st.to)
				if st.nbd == "" {
					require.Nil(t, r.NextBillDate, "step %d: next bill date", i)
				} else {
					require.NotNil(t, r.NextBillDate, "step %d: next bill date", i)
					require.Equal(t, st.nbd, r.NextBillDate.String(), "step %d: next bill date", i)
				}
				if st.through != "" {
					require.NotNil(t, r.BilledThrough, "step %d", i)
					require.Equal(t, st.through, r.BilledThrough.String(), "step %d: billedThrough", i)
				}
				require.Equal(t, st.canceled, r.Canceled || p.Status == rating.Canceled, "step %d: canceled", i)
				if st.billDay != 0 {
					require.Equal(t, st.billDay, r.BillDay, "step %d: bill day", i)
				}
				for _, l := range r.Lines {
					require.Equal(t, int32(2), l.Amount.Scale(), "step %d: %s is not rounded to cents", i, l.Amount)
				}
				p = apply(p, r)
				// Every run is idempotent: the same range again finds nothing.
				again := rate(t, p, st.from, st.to)
				require.Empty(t, again.Lines, "step %d: re-run", i)
				require.False(t, again.Moved, "step %d: re-run", i)
			}
		})
	}
}
