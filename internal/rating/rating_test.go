package rating_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

func d(s string) calendar.Date   { return calendar.MustParse(s) }
func dp(s string) *calendar.Date { x := d(s); return &x }
func m(s string) money.Decimal   { return money.MustParse(s) }

func svc(id int, name, active string) rating.Service {
	return rating.Service{ID: id, ServiceID: id, Name: name, Status: "ACTIVE", Quantity: 1,
		Recurring: map[string]money.Decimal{"ACTIVE": m(active)}}
}

// pkg is an in-advance package as provisioning leaves it.
func pkg(eff string, c rating.Cadence, billDay int, services ...rating.Service) rating.Package {
	for i := range services {
		services[i].Effective = d(eff)
	}
	return rating.Package{ID: 1, Effective: d(eff), Cadence: c, BillDay: billDay, Bulk: 1,
		Status: "ACTIVE", Billable: true, NextBillDate: dp(eff), Services: services}
}

var monthly = rating.Cadence{Interval: rating.Month, Count: 1}

type line struct {
	kind       rating.Kind
	start, end string
	amount     string
}

func lines(r rating.Result) []line {
	var out []line
	for _, l := range r.Lines {
		out = append(out, line{l.Kind, l.PeriodStart.String(), l.PeriodEnd.String(), l.Amount.String()})
	}
	return out
}

func rate(t *testing.T, p rating.Package, from, to string) rating.Result {
	t.Helper()
	r, err := rating.Rate(p, rating.Range{Start: d(from), End: d(to)}, 2)
	require.NoError(t, err)
	return r
}

// apply moves p to the position r leaves it in, as the bill run's write step does.
func apply(p rating.Package, r rating.Result) rating.Package {
	p.NextBillDate, p.BilledThrough, p.LastPeriodStart, p.BillDay = r.NextBillDate, r.BilledThrough, r.LastPeriodStart, r.BillDay
	if r.BillDayChanged {
		p.NewBillDay = nil
	}
	for _, id := range r.OneTimeBilled {
		for i := range p.Services {
			if p.Services[i].ID == id {
				p.Services[i].OneTimeBilled = true
			}
		}
	}
	for _, l := range r.Lines {
		for i := range p.Services {
			s := &p.Services[i]
			if s.ID == l.AccountServiceID && l.Kind == rating.Recurring {
				if s.Charged == nil {
					s.Charged = map[calendar.Date]rating.ChargedPeriod{}
				}
				s.Charged[l.PeriodStart] = rating.ChargedPeriod{Amount: l.Amount, UnitAmount: l.UnitAmount, Quantity: l.Quantity}
			}
		}
	}
	if r.Canceled {
		p.Status = rating.Canceled
	}
	p.Changes = nil
	return p
}

func TestWorkedExamples(t *testing.T) {
	t.Parallel()

	t.Run("1 and 2: full month in advance, then nothing on a re-run", func(t *testing.T) {
		t.Parallel()
		p := pkg("2024-01-01", monthly, 1, svc(1, "A", "50.00"), svc(2, "B", "25.00"))
		r := rate(t, p, "2024-01-01", "2024-01-31")
		require.Equal(t, []line{{rating.Recurring, "2024-01-01", "2024-01-31", "50.00"}, {rating.Recurring, "2024-01-01", "2024-01-31", "25.00"}}, lines(r))
		require.Equal(t, "2024-02-01", r.NextBillDate.String())
		require.Equal(t, "2024-01-31", r.BilledThrough.String())
		again := rate(t, apply(p, r), "2024-01-01", "2024-01-31")
		require.Empty(t, again.Lines)
		require.False(t, again.Moved)
	})

	t.Run("3: mid-month start prorated 17/31", func(t *testing.T) {
		t.Parallel()
		p := pkg("2024-01-15", monthly, 1, svc(1, "A", "50.00"), svc(2, "B", "25.00"))
		r := rate(t, p, "2024-01-01", "2024-01-31")
		require.Equal(t, []line{{rating.Recurring, "2024-01-15", "2024-01-31", "27.42"}, {rating.Recurring, "2024-01-15", "2024-01-31", "13.71"}}, lines(r))
		require.Equal(t, "2024-02-01", r.NextBillDate.String())
	})

	t.Run("4: bulk 100 with a one-time charge", func(t *testing.T) {
		t.Parallel()
		install := rating.Service{ID: 2, ServiceID: 2, Name: "Install", Status: "ACTIVE", Quantity: 1, OneTime: ptr(m("25.00"))}
		p := pkg("2024-01-01", monthly, 1, svc(1, "iLine", "1.00"), install)
		p.Bulk = 100
		r := rate(t, p, "2024-01-01", "2024-01-31")
		require.ElementsMatch(t, []line{{rating.OneTime, "2024-01-01", "2024-01-31", "2500.00"}, {rating.Recurring, "2024-01-01", "2024-01-31", "100.00"}}, lines(r))
		require.Equal(t, 100, r.Lines[1].Quantity)
		require.Equal(t, []int{2}, r.OneTimeBilled)
	})

	t.Run("5: prorated cancellation credit and a new package", func(t *testing.T) {
		t.Parallel()
		old := pkg("2024-01-01", monthly, 1, svc(1, "iLine", "1.00"))
		old.Bulk = 20
		old = apply(old, rate(t, old, "2024-01-01", "2024-01-31"))
		old.CancelOn, old.CancelOption = dp("2024-01-21"), rating.Prorated
		r := rate(t, old, "2024-01-21", "2024-01-31")
		require.Equal(t, []line{{rating.Credit, "2024-01-21", "2024-01-31", "-7.10"}}, lines(r))
		require.True(t, r.Canceled)
		require.Nil(t, r.NextBillDate)

		repl := pkg("2024-01-21", monthly, 1, svc(2, "iLine", "1.00"))
		repl.Bulk = 30
		r2 := rate(t, repl, "2024-01-21", "2024-01-31")
		require.Equal(t, []line{{rating.Recurring, "2024-01-21", "2024-01-31", "10.65"}}, lines(r2))
		require.Equal(t, "3.55", r.Lines[0].Amount.Add(r2.Lines[0].Amount).String())
	})

	t.Run("6: postpaid bills the period that ended", func(t *testing.T) {
		t.Parallel()
		p := pkg("2024-01-10", monthly, 1, svc(1, "A", "30.00"))
		p.Postpaid = true
		p.NextBillDate = dp("2024-02-01")
		jan := rate(t, p, "2024-01-01", "2024-01-31")
		require.Empty(t, jan.Lines)
		feb := rate(t, apply(p, jan), "2024-02-01", "2024-02-29")
		require.Equal(t, []line{{rating.Recurring, "2024-01-10", "2024-01-31", "21.29"}}, lines(feb))
		require.Equal(t, "2024-03-01", feb.NextBillDate.String())
	})

	t.Run("7: bill day 31 clamps to Feb 29", func(t *testing.T) {
		t.Parallel()
		p := pkg("2024-02-10", monthly, 31, svc(1, "A", "31.00"))
		r := rate(t, p, "2024-02-01", "2024-03-15")
		require.Equal(t, []line{{rating.Recurring, "2024-02-10", "2024-02-28", "20.31"}, {rating.Recurring, "2024-02-29", "2024-03-30", "31.00"}}, lines(r))
		require.Equal(t, "2024-03-31", r.NextBillDate.String())
	})

	t.Run("8: yearly prorated over 366 days", func(t *testing.T) {
		t.Parallel()
		p := pkg("2024-03-15", rating.Cadence{Interval: rating.Year, Count: 1}, 1, svc(1, "A", "120.00"))
		mar := rate(t, p, "2024-03-01", "2024-03-31")
		require.Equal(t, []line{{rating.Recurring, "2024-03-15", "2024-03-31", "5.57"}}, lines(mar))
		apr := rate(t, apply(p, mar), "2024-04-01", "2024-04-30")
		require.Equal(t, []line{{rating.Recurring, "2024-04-01", "2025-03-31", "120.00"}}, lines(apr))
	})

	t.Run("9: weekly in a monthly run", func(t *testing.T) {
		t.Parallel()
		p := pkg("2024-01-01", rating.Cadence{Interval: rating.Week, Count: 1}, 1, svc(1, "A", "7.00"))
		r := rate(t, p, "2024-01-01", "2024-01-31")
		require.Equal(t, []line{
			{rating.Recurring, "2024-01-01", "2024-01-07", "7.00"}, {rating.Recurring, "2024-01-08", "2024-01-14", "7.00"},
			{rating.Recurring, "2024-01-15", "2024-01-21", "7.00"}, {rating.Recurring, "2024-01-22", "2024-01-28", "7.00"},
			{rating.Recurring, "2024-01-29", "2024-02-04", "7.00"},
		}, lines(r))
	})

	t.Run("10: new bill day aligns", func(t *testing.T) {
		t.Parallel()
		p := pkg("2024-01-01", monthly, 1, svc(1, "A", "30.00"))
		p = apply(p, rate(t, p, "2024-01-01", "2024-01-31"))
		p.NewBillDay = ptr(15)
		r := rate(t, p, "2024-02-01", "2024-02-29")
		require.Equal(t, []line{{rating.Recurring, "2024-02-01", "2024-02-14", "13.55"}, {rating.Recurring, "2024-02-15", "2024-03-14", "30.00"}}, lines(r))
		require.Equal(t, 15, r.BillDay)
		require.True(t, r.BillDayChanged)
		require.Equal(t, "2024-03-15", r.NextBillDate.String())
	})
}

func ptr[T any](v T) *T { return &v }
