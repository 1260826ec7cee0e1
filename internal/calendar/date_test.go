package calendar_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
)

func d(s string) calendar.Date { return calendar.MustParse(s) }

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		year  int
		month time.Month
		day   int
	}{
		{"2024-01-01", 2024, time.January, 1},
		{"2024-01-31", 2024, time.January, 31},
		{"2024-02-29", 2024, time.February, 29}, // leap year
		{"2000-02-29", 2000, time.February, 29}, // divisible by 400
		{"2023-12-31", 2023, time.December, 31},
		{"9999-12-31", 9999, time.December, 31},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := calendar.Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.year, got.Year())
			require.Equal(t, tc.month, got.Month())
			require.Equal(t, tc.day, got.Day())
			require.Equal(t, tc.in, got.String())
			require.False(t, got.IsZero())
			require.True(t, got.Equal(calendar.New(tc.year, tc.month, tc.day)))
		})
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"2023-02-29", // not a leap year
		"1900-02-29", // divisible by 100, not by 400
		"2024-13-01",
		"2024-00-10",
		"2024-04-31",
		"2024-01-00",
		"2024-01-32",
		"2024-1-5",
		"2024-01-5",
		"2024-01-01T00:00:00Z",
		"2024-01-01 00:00:00",
		"",
		"24-01-01",
		"2024/01/01",
		"01-01-2024",
		" 2024-01-1",
		"2024-01-1 ",
		"+024-01-01",
		"abcd-ef-gh",
	} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			_, err := calendar.Parse(s)
			require.Error(t, err)
			require.Panics(t, func() { calendar.MustParse(s) })
		})
	}
}

func TestDays(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b string
		want int
	}{
		{"January 2024", "2024-01-01", "2024-02-01", 31},
		{"February 2024", "2024-02-01", "2024-03-01", 29},
		{"February 2023", "2023-02-01", "2023-03-01", 28},
		{"April 2024", "2024-04-01", "2024-05-01", 30},
		{"year 2024", "2024-01-01", "2025-01-01", 366},
		{"year 2023", "2023-01-01", "2024-01-01", 365},
		{"anchor year 2024-04..2025-04", "2024-04-01", "2025-04-01", 365},
		{"anchor year 2023-04..2024-04", "2023-04-01", "2024-04-01", 366},
		{"one day", "2024-01-31", "2024-02-01", 1},
		{"same day", "2024-01-15", "2024-01-15", 0},
		{"b before a", "2024-02-01", "2024-01-01", 0},
		{"example 3: Jan 15 .. Feb 1", "2024-01-15", "2024-02-01", 17},
		{"example 5: Jan 21 .. Feb 1", "2024-01-21", "2024-02-01", 11},
		{"example 6: Jan 10 .. Feb 1", "2024-01-10", "2024-02-01", 22},
		{"example 7: Feb 10 .. Feb 29", "2024-02-10", "2024-02-29", 19},
		{"example 7: Jan 31 .. Feb 29", "2024-01-31", "2024-02-29", 29},
		{"example 8: Mar 15 .. Apr 1", "2024-03-15", "2024-04-01", 17},
		{"example 10: Feb 1 .. Feb 15", "2024-02-01", "2024-02-15", 14},
		{"across a DST change elsewhere", "2024-03-30", "2024-04-01", 2},
		// 400 Gregorian years are 146,097 days; longer than a time.Duration can hold.
		{"400 years", "2000-01-01", "2400-01-01", 146097},
		{"far expiry", "2024-01-01", "9999-12-31", 2913173},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, calendar.Days(d(tc.a), d(tc.b)))
		})
	}
}

func TestDaysInMonth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		year  int
		month time.Month
		want  int
	}{
		{2024, time.January, 31},
		{2024, time.February, 29},
		{2023, time.February, 28},
		{1900, time.February, 28},
		{2000, time.February, 29},
		{2024, time.April, 30},
		{2024, time.June, 30},
		{2024, time.September, 30},
		{2024, time.November, 30},
		{2024, time.December, 31},
	} {
		require.Equal(t, tc.want, calendar.DaysInMonth(tc.year, tc.month), "%d-%02d", tc.year, tc.month)
	}
	// Days of a month agrees with DaysInMonth for every month of a leap and a common year.
	for _, y := range []int{2023, 2024} {
		for m := time.January; m <= time.December; m++ {
			first := calendar.New(y, m, 1)
			next := calendar.New(y, m+1, 1)
			require.Equal(t, calendar.DaysInMonth(y, m), calendar.Days(first, next), "%d-%02d", y, m)
		}
	}
}

func TestArithmeticAndOrder(t *testing.T) {
	t.Parallel()
	jan31 := d("2024-01-31")
	require.Equal(t, "2024-02-01", jan31.AddDays(1).String())
	require.Equal(t, "2024-03-01", d("2024-02-29").AddDays(1).String())
	require.Equal(t, "2023-12-31", d("2024-01-01").AddDays(-1).String())
	require.Equal(t, "2025-01-01", d("2024-01-01").AddDays(366).String())
	require.Equal(t, "2024-03-02", calendar.New(2024, time.February, 31).String(), "New normalizes overflow")

	feb1 := d("2024-02-01")
	require.True(t, jan31.Before(feb1))
	require.False(t, feb1.Before(jan31))
	require.True(t, feb1.After(jan31))
	require.False(t, jan31.After(jan31))
	require.Equal(t, -1, jan31.Compare(feb1))
	require.Equal(t, 1, feb1.Compare(jan31))
	require.Equal(t, 0, jan31.Compare(d("2024-01-31")))
	require.True(t, calendar.Date{}.IsZero())

	// Of takes the date in t's own location.
	late := time.Date(2024, 1, 31, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600))
	require.Equal(t, "2024-01-31", calendar.Of(late).String())
	require.Equal(t, "2024-02-01", calendar.Of(late.UTC()).String())
}

func TestScan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  any
		want string
	}{
		{"time UTC", time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), "2024-01-31"},
		{"time with a time of day", time.Date(2024, 2, 29, 17, 45, 0, 0, time.UTC), "2024-02-29"},
		{"time in another zone keeps its own date", time.Date(2024, 3, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), "2024-03-01"},
		{"string", "2024-01-31", "2024-01-31"},
		{"bytes", []byte("2024-12-31"), "2024-12-31"},
		{"string with a time of day", "2024-01-31 00:00:00", "2024-01-31"},
		{"RFC 3339 text", "2024-01-31T00:00:00Z", "2024-01-31"},
		{"bytes with a time of day", []byte("2024-02-29 00:00:00+00:00"), "2024-02-29"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got calendar.Date
			require.NoError(t, got.Scan(tc.src))
			require.Equal(t, tc.want, got.String())
		})
	}

	z := d("2024-01-01")
	require.NoError(t, z.Scan(nil))
	require.True(t, z.IsZero())

	for _, bad := range []any{"2023-02-29", "31/01/2024", "", []byte("x"), int64(20240131), 1.5, true} {
		var got calendar.Date
		require.Error(t, got.Scan(bad), "%T %v", bad, bad)
	}
}

func TestValue(t *testing.T) {
	t.Parallel()
	v, err := d("2024-02-29").Value()
	require.NoError(t, err)
	require.Equal(t, "2024-02-29", v)

	v, err = calendar.Date{}.Value()
	require.NoError(t, err)
	require.Nil(t, v)

	// Value and Scan round-trip.
	for _, s := range []string{"2024-01-01", "2024-02-29", "1999-12-31"} {
		v, err := d(s).Value()
		require.NoError(t, err)
		var back calendar.Date
		require.NoError(t, back.Scan(v))
		require.True(t, back.Equal(d(s)))
	}
}

func TestGQL(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	d("2024-01-31").MarshalGQL(&buf)
	require.Equal(t, `"2024-01-31"`, buf.String())

	var got calendar.Date
	require.NoError(t, got.UnmarshalGQL("2024-02-29"))
	require.Equal(t, "2024-02-29", got.String())

	for _, bad := range []any{"2023-02-29", "2024-1-5", "2024-01-01T00:00:00Z", "", 20240131, int64(1), 1.5, nil, true} {
		keep := d("2024-01-01")
		err := keep.UnmarshalGQL(bad)
		require.Error(t, err, "%T %v", bad, bad)
		require.Equal(t, fault.Invalid, fault.CodeOf(err), "%T %v: %v", bad, bad, err)
		require.Equal(t, "2024-01-01", keep.String(), "a refused value leaves the date alone")
	}
}
