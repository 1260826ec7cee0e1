// Package calendar holds billd's calendar date and the arithmetic billing needs on it.
//
// A Date is a day with no time of day and no time zone: billing periods are counted in
// whole calendar days. Periods are half-open internally ([start, end)) and shown with an
// inclusive end on the API.
package calendar

import (
	"database/sql/driver"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/billd/billd/internal/fault"
)

// Date is a calendar date. The zero value is not a valid date; use IsZero to test it.
type Date struct{ t time.Time } // always midnight UTC

// layout is the one text form of a Date, on the API and in SQLite.
const layout = "2006-01-02"

// New returns the date year-month-day, normalizing overflow like time.Date does.
func New(year int, month time.Month, day int) Date {
	return Date{time.Date(year, month, day, 0, 0, 0, 0, time.UTC)}
}

// Of returns the calendar date of t in t's own location.
func Of(t time.Time) Date {
	y, m, d := t.Date()
	return New(y, m, d)
}

// Parse reads a date in the form YYYY-MM-DD and refuses anything else, including
// impossible days such as 2023-02-29.
func Parse(s string) (Date, error) {
	if len(s) != len(layout) {
		return Date{}, fmt.Errorf("%q is not a date (expected YYYY-MM-DD)", s)
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a valid date (expected YYYY-MM-DD)", s)
	}
	return Date{t}, nil
}

// MustParse is Parse for constants in code and tests; it panics on bad input.
func MustParse(s string) Date {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d.t.IsZero() }

// String prints the date as YYYY-MM-DD.
func (d Date) String() string { return d.t.Format(layout) }

// Year, Month and Day return the parts of the date.
func (d Date) Year() int { return d.t.Year() }

// Month returns the month of the date.
func (d Date) Month() time.Month { return d.t.Month() }

// Day returns the day of the month.
func (d Date) Day() int { return d.t.Day() }

// AddDays returns d moved by n days.
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// Before reports whether d is earlier than e.
func (d Date) Before(e Date) bool { return d.t.Before(e.t) }

// After reports whether d is later than e.
func (d Date) After(e Date) bool { return d.t.After(e.t) }

// Equal reports whether d and e are the same day.
func (d Date) Equal(e Date) bool { return d.t.Equal(e.t) }

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int { return d.t.Compare(e.t) }

// Days counts the days in [a, b): 0 when b is not after a.
func Days(a, b Date) int {
	if !b.After(a) {
		return 0
	}
	// Whole seconds, not b.Sub(a): a time.Duration saturates after about 292 years, and
	// both dates are midnight UTC, so the difference is an exact multiple of a day.
	return int((b.t.Unix() - a.t.Unix()) / (24 * 60 * 60))
}

// DaysInMonth returns the number of days in the given month.
func DaysInMonth(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Value stores the date as YYYY-MM-DD text, which PostgreSQL's DATE parses and SQLite
// keeps (and sorts) as text.
func (d Date) Value() (driver.Value, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.String(), nil
}

// Scan reads a date from a DATE column (PostgreSQL) or from text (SQLite).
func (d *Date) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*d = New(v.Year(), v.Month(), v.Day())
		return nil
	case string:
		return d.scanText(v)
	case []byte:
		return d.scanText(string(v))
	case nil:
		*d = Date{}
		return nil
	default:
		return fmt.Errorf("calendar: cannot scan %T into a Date", src)
	}
}

func (d *Date) scanText(s string) error {
	if len(s) > len(layout) { // a driver may add a time of day
		s = s[:len(layout)]
	}
	p, err := Parse(s)
	if err != nil {
		return fmt.Errorf("calendar: column holds %q: %w", s, err)
	}
	*d = p
	return nil
}

// MarshalGQL writes the date as a GraphQL string.
func (d Date) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(d.String())) }

// Earliest and Latest bound every date a client gives billd: far enough apart for any
// real account, contract or bill run, and close enough that no date can make billing
// count centuries of periods.
var (
	Earliest = New(1970, time.January, 1)
	Latest   = New(2199, time.December, 31)
)

// InRange reports whether d lies within [Earliest, Latest].
func (d Date) InRange() bool { return !d.Before(Earliest) && !d.After(Latest) }

// UnmarshalGQL reads a GraphQL Date ("2024-01-31") within [Earliest, Latest].
func (d *Date) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return fault.Invalidf("", "a Date must be a string in the form YYYY-MM-DD, not %T", v)
	}
	p, err := Parse(s)
	if err != nil {
		return fault.Invalidf("", "%s", err.Error())
	}
	if !p.InRange() {
		return fault.Invalidf("", "%s is outside the dates billd accepts, %s to %s", s, Earliest, Latest)
	}
	*d = p
	return nil
}

// Time returns the date as midnight UTC.
func (d Date) Time() time.Time { return d.t }
