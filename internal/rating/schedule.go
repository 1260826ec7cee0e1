package rating

import (
	"fmt"
	"time"

	"github.com/billd/billd/internal/calendar"
)

// Interval is the unit of a billing cadence.
type Interval string

// The cadence units.
const (
	Day   Interval = "DAY"
	Week  Interval = "WEEK"
	Month Interval = "MONTH"
	Year  Interval = "YEAR"
)

// Cadence is how often a package is billed: Count units of Interval.
type Cadence struct {
	Interval Interval
	Count    int
}

// anchored reports whether periods are anchored on a bill day (months and years) or
// simply run from the effective date (days and weeks).
// CadenceOf is the cadence of a package frequency: its interval unit (DAY, WEEK,
// MONTH, YEAR) and count.
func CadenceOf(interval string, count int) Cadence {
	return Cadence{Interval: Interval(interval), Count: count}
}

func (c Cadence) anchored() bool { return c.Interval == Month || c.Interval == Year }

func (c Cadence) months() int {
	if c.Interval == Year {
		return 12 * c.Count
	}
	return c.Count
}

func (c Cadence) days() int {
	if c.Interval == Week {
		return 7 * c.Count
	}
	return c.Count
}

// Validate refuses a cadence that cannot produce periods.
func (c Cadence) Validate() error {
	switch c.Interval {
	case Day, Week, Month, Year:
	default:
		return fmt.Errorf("unknown interval %q", c.Interval)
	}
	if c.Count < 1 {
		return fmt.Errorf("interval count %d is below 1", c.Count)
	}
	return nil
}

// Period is a billing period [Start, End) and the full period [FullStart, FullEnd) of
// the anchor schedule it is priced against. For a full period both are the same; for
// a partial one (a first period that starts off-anchor, or an alignment to a new bill
// day) the full period is the one that ends at the same anchor.
type Period struct {
	Start, End         calendar.Date
	FullStart, FullEnd calendar.Date
}

// Partial reports whether the period is shorter than the full period it belongs to.
func (p Period) Partial() bool { return !p.Start.Equal(p.FullStart) }

// Days is the number of days billed, Start to End.
func (p Period) Days() int { return calendar.Days(p.Start, p.End) }

// FullDays is the number of days of the full period.
func (p Period) FullDays() int { return calendar.Days(p.FullStart, p.FullEnd) }

// anchorIn is the bill-day anchor in a month: day d, clamped to the month's last day.
func anchorIn(year int, month time.Month, d int) calendar.Date {
	// Normalize month overflow first (month 13 is January of the next year).
	first := calendar.New(year, month, 1)
	last := calendar.DaysInMonth(first.Year(), first.Month())
	return calendar.New(first.Year(), first.Month(), min(d, last))
}

// IsAnchor reports whether x is an anchor of bill day d.
func IsAnchor(x calendar.Date, d int) bool {
	return x.Day() == min(d, calendar.DaysInMonth(x.Year(), x.Month()))
}

// FirstAnchor returns the first anchor of bill day d on or after x.
func FirstAnchor(x calendar.Date, d int) calendar.Date {
	a := anchorIn(x.Year(), x.Month(), d)
	if a.Before(x) {
		a = anchorIn(x.Year(), x.Month()+1, d)
	}
	return a
}

// addMonths moves an anchor by n months and re-clamps it to bill day d, so Jan 31 +
// 1 month is Feb 29 (2024) and + 2 months is Mar 31.
func addMonths(a calendar.Date, n, d int) calendar.Date {
	return anchorIn(a.Year(), a.Month()+time.Month(n), d)
}

// PeriodFrom returns the billing period that starts at s for a cadence and bill day d.
// Days and weeks run from s. For months and years, a period that starts on an anchor
// is a full period to the next anchor; one that starts off-anchor is partial and ends
// at the first anchor after s, priced against the full period ending there (docs/billing.md 4.1:
// amount = price × days(s, A0) / days(A0 − interval, A0)).
func PeriodFrom(c Cadence, d int, s calendar.Date) Period {
	if !c.anchored() {
		e := s.AddDays(c.days())
		return Period{Start: s, End: e, FullStart: s, FullEnd: e}
	}
	if IsAnchor(s, d) {
		e := addMonths(s, c.months(), d)
		return Period{Start: s, End: e, FullStart: s, FullEnd: e}
	}
	a0 := FirstAnchor(s, d) // after s, since s is not an anchor
	return Period{Start: s, End: a0, FullStart: addMonths(a0, -c.months(), d), FullEnd: a0}
}

// FirstNextBillDate is where billing starts for a package effective (or activated)
// on e: e itself in advance, the end of the first period when postpaid (docs/billing.md
// 4.2).
func FirstNextBillDate(c Cadence, billDay int, e calendar.Date, postpaid bool) calendar.Date {
	if postpaid {
		return PeriodFrom(c, billDay, e).End
	}
	return e
}
