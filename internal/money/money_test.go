package money_test

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
)

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"75.00", "-7.10", "0", "12", "0.000001", "0.00", "-0.5", "123456789012345678901234567890.123456"} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			d, err := money.Parse(s)
			require.NoError(t, err)
			require.Equal(t, s, d.String(), "Parse must keep the scale")
			require.Equal(t, s, money.MustParse(s).String())
		})
	}
}

func TestParseScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in    string
		scale int32
	}{
		{"75.00", 2}, {"12", 0}, {"0.000001", 6}, {"-7.10", 2}, {"1.5", 1},
	} {
		require.Equal(t, tc.scale, money.MustParse(tc.in).Scale(), tc.in)
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"1e5", "1E5", "", ".5", "5.", "+1", "1,000.00", "abc", "1.2.3", "0.0000001", "-0.0000001",
		"NaN", "nan", "Inf", "-Inf", "+Inf", "Infinity", "-Infinity",
		" 1", "1 ", "--1", "-", "0x10", "1_000", "١٢", strings.Repeat("9", 41),
	} {
		t.Run(s, func(t *testing.T) {
			t.Parallel()
			_, err := money.Parse(s)
			require.Error(t, err)
			require.Panics(t, func() { money.MustParse(s) })
		})
	}
}

func TestRound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		places int32
		want   string
	}{
		{"10.645161", 2, "10.65"}, // rules §1
		{"10.645", 2, "10.65"},
		{"10.644999", 2, "10.64"},
		{"-7.0967", 2, "-7.10"}, // rules §1
		{"-7.095", 2, "-7.10"},
		{"-7.094999", 2, "-7.09"},
		{"2.5", 0, "3"},
		{"-2.5", 0, "-3"},
		{"3.5", 0, "4"}, // not banker's rounding
		{"-3.5", 0, "-4"},
		{"0.125", 2, "0.13"},
		{"-0.125", 2, "-0.13"},
		{"1.005", 2, "1.01"}, // exact: a float would give 1.00
		{"0.4", 0, "0"},
		{"-0.4", 0, "0"},
		{"0.0049", 2, "0.00"},
		{"50", 2, "50.00"}, // pads
		{"0", 2, "0.00"},
		{"0.5", 3, "0.500"},
		{"12.34", 2, "12.34"},
		{"999.995", 2, "1000.00"},
		{"-999.995", 2, "-1000.00"},
		{"0.0125", 3, "0.013"},
		{"12345.6789", 4, "12345.6789"},
	} {
		t.Run(tc.in+"@"+string(rune('0'+tc.places)), func(t *testing.T) {
			t.Parallel()
			got := money.Round(money.MustParse(tc.in), tc.places)
			require.Equal(t, tc.want, got.String())
			require.Equal(t, tc.places, got.Scale())
		})
	}
}

func TestAtLeastScale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in     string
		places int32
		want   string
	}{
		{"50", 2, "50.00"},
		{"0.0125", 2, "0.0125"}, // never removes digits
		{"7.1", 2, "7.10"},
		{"7.10", 2, "7.10"},
		{"1000", 0, "1000"},
	} {
		require.Equal(t, tc.want, money.AtLeastScale(money.MustParse(tc.in), tc.places).String(), tc.in)
	}
}

func TestProrate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		price    string
		num, den int64
		places   int32
		want     string
	}{
		// Worked examples of rules §5.
		{"ex3 A 17/31", "50.00", 17, 31, 2, "27.42"},
		{"ex3 B 17/31", "25.00", 17, 31, 2, "13.71"},
		{"ex5 bulk 30 11/31", "30.00", 11, 31, 2, "10.65"},
		{"ex5 bulk 20 20/31", "20.00", 20, 31, 2, "12.90"},
		{"ex6 postpaid 22/31", "30.00", 22, 31, 2, "21.29"},
		{"ex7 bill day 31 19/29", "31.00", 19, 29, 2, "20.31"},
		{"ex8 yearly 17/366", "120.00", 17, 366, 2, "5.57"},
		{"ex10 alignment 14/31", "30.00", 14, 31, 2, "13.55"},
		// JPY has no minor unit.
		{"JPY 1/3", "1000", 1, 3, 0, "333"},
		{"JPY 2/3 of 1000", "2000", 1, 3, 0, "667"},
		// Rounding of exact halves, both signs.
		{"half up", "1.00", 1, 8, 2, "0.13"},
		{"half down negative", "-1.00", 1, 8, 2, "-0.13"},
		{"half cent", "0.01", 1, 2, 2, "0.01"},
		{"half yen", "5", 1, 2, 0, "3"},
		{"negative price", "-20.00", 20, 31, 2, "-12.90"},
		// Exact results still carry the currency's places.
		{"whole period", "50.00", 31, 31, 2, "50.00"},
		{"integer price padded", "50", 17, 31, 2, "27.42"},
		{"nothing", "50.00", 0, 31, 2, "0.00"},
		{"zero price", "0", 5, 7, 2, "0.00"},
		{"fine unit price", "0.0125", 100, 1, 2, "1.25"},
		{"fine unit price rounds", "0.0125", 1, 1, 2, "0.01"},
		{"BHD", "10.000", 1, 3, 3, "3.333"},
		{"more than whole", "10.00", 45, 30, 2, "15.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := money.Prorate(money.MustParse(tc.price), tc.num, tc.den, tc.places)
			require.Equal(t, tc.want, got.String())
			require.Equal(t, tc.places, got.Scale())
		})
	}
}

func TestProrateRefusesNonPositiveDenominator(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { money.Prorate(money.MustParse("1.00"), 1, 0, 2) })
	require.Panics(t, func() { money.Prorate(money.MustParse("1.00"), 1, -3, 2) })
}

// exactRound is an oracle independent of the package: units × num / den, where units
// counts 10^-scale, rounded half away from zero to places digits, as a decimal string.
func exactRound(units int64, scale int32, num, den int64, places int32) string {
	n := new(big.Int).Mul(big.NewInt(units), big.NewInt(num))
	d := big.NewInt(den)
	shift := int64(places) - int64(scale)
	if shift >= 0 {
		n.Mul(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(shift), nil))
	} else {
		d.Mul(d, new(big.Int).Exp(big.NewInt(10), big.NewInt(-shift), nil))
	}
	neg := n.Sign() < 0
	n.Abs(n)
	q, r := new(big.Int).QuoRem(n, d, new(big.Int))
	if new(big.Int).Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	digits := q.String()
	if places > 0 {
		for len(digits) <= int(places) {
			digits = "0" + digits
		}
		digits = digits[:len(digits)-int(places)] + "." + digits[len(digits)-int(places):]
	}
	if neg && q.Sign() != 0 {
		digits = "-" + digits
	}
	return digits
}

// unitsString prints units × 10^-scale as a decimal with exactly scale places.
func unitsString(units int64, scale int32) string {
	return exactRound(units, scale, 1, 1, scale)
}

func TestProrateProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(20240131))
	for i := 0; i < 5000; i++ {
		places := int32(rng.Intn(4))          // 0..3, like JPY, USD, BHD
		units := rng.Int63n(100_000_000) - 10 // a price of up to 1,000,000 in minor units, some negative
		if rng.Intn(10) == 0 {
			units = -units
		}
		price := money.MustParse(unitsString(units, places))
		n := int64(1 + rng.Intn(366))
		k := int64(rng.Intn(int(n) + 1))

		a := money.Prorate(price, k, n, places)
		b := money.Prorate(price, n-k, n, places)

		// Exactly places digits, and the correctly rounded value of the true fraction.
		require.Equal(t, places, a.Scale(), "scale of %s×%d/%d", price, k, n)
		require.Equal(t, exactRound(units, places, k, n, places), a.String(), "%s×%d/%d at %d places", price, k, n, places)
		if places > 0 {
			require.Len(t, a.String()[strings.IndexByte(a.String(), '.')+1:], int(places))
		} else {
			require.NotContains(t, a.String(), ".")
		}

		// Splitting a period at any day costs the whole period, give or take one unit of
		// the last place.
		unit := money.MustParse(unitsString(1, places))
		diff := a.Add(b).Sub(price)
		if diff.IsNegative() {
			diff = diff.Neg()
		}
		require.LessOrEqual(t, diff.Cmp(unit), 0, "%s split at %d/%d: %s + %s", price, k, n, a, b)

		// A finer unit price (scale above the currency's) is still rounded exactly once.
		fine := rng.Int63n(10_000_000)
		fineScale := places + int32(1+rng.Intn(3))
		got := money.Prorate(money.MustParse(unitsString(fine, fineScale)), k, n, places)
		require.Equal(t, exactRound(fine, fineScale, k, n, places), got.String())
	}
}

func TestValueScanRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"75.00", "-7.10", "0", "0.000001", "12"} {
		d := money.MustParse(s)
		v, err := d.Value()
		require.NoError(t, err)
		require.Equal(t, s, v, "Value is the exact text")

		var fromString money.Decimal
		require.NoError(t, fromString.Scan(v))
		require.Equal(t, s, fromString.String())

		var fromBytes money.Decimal
		require.NoError(t, fromBytes.Scan([]byte(s)))
		require.Equal(t, s, fromBytes.String())
		require.True(t, fromBytes.Equal(d))
	}

	var i money.Decimal
	require.NoError(t, i.Scan(int64(42)))
	require.Equal(t, "42", i.String())
	require.NoError(t, i.Scan(int64(-3)))
	require.Equal(t, "-3", i.String())

	n := money.MustParse("5.00")
	require.NoError(t, n.Scan(nil))
	require.True(t, n.IsZero())
	require.Equal(t, "0", n.String())

	// PostgreSQL may hand back NUMERIC text with a different scale than was stored;
	// the value is what matters.
	var pg money.Decimal
	require.NoError(t, pg.Scan("75.0000"))
	require.True(t, pg.Equal(money.MustParse("75")))

	var _ driver.Valuer = money.Decimal{}
}

func TestScanRefuses(t *testing.T) {
	t.Parallel()
	for _, src := range []any{1.5, float32(2), true, "abc", []byte("1,00"), int32(4)} {
		var d money.Decimal
		require.Error(t, d.Scan(src), "%T %v", src, src)
	}
}

func TestMarshalGQL(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"75.00", "-7.10", "0", "1000"} {
		var buf bytes.Buffer
		money.MustParse(s).MarshalGQL(&buf)
		require.Equal(t, `"`+s+`"`, buf.String())
	}
	var buf bytes.Buffer
	money.Zero.MarshalGQL(&buf)
	require.Equal(t, `"0"`, buf.String())
}

func TestUnmarshalGQL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"75.00", "75.00"},
		{"-7.10", "-7.10"},
		{json.Number("12"), "12"},
		{int64(7), "7"},
		{int(-7), "-7"},
	} {
		var d money.Decimal
		require.NoError(t, d.UnmarshalGQL(tc.in), "%T %v", tc.in, tc.in)
		require.Equal(t, tc.want, d.String())
	}

	for _, in := range []any{
		75.5, float32(1), "1e5", "", "abc", "1,000.00", ".5", "0.0000001",
		json.Number("1e3"), json.Number("1.5E2"), json.Number("12.50"), nil, true, map[string]any{},
	} {
		d := money.MustParse("9.99")
		err := d.UnmarshalGQL(in)
		require.Error(t, err, "%T %v", in, in)
		require.Equal(t, fault.Invalid, fault.CodeOf(err), "%T %v: %v", in, in, err)
		require.Equal(t, "9.99", d.String(), "a refused value leaves the decimal alone")
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	type line struct {
		Amount money.Decimal            `json:"amount"`
		Totals map[string]money.Decimal `json:"totals"`
	}
	in := line{Amount: money.MustParse("-7.10"), Totals: map[string]money.Decimal{"USD": money.MustParse("3.55"), "JPY": money.MustParse("667")}}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	require.JSONEq(t, `{"amount":"-7.10","totals":{"USD":"3.55","JPY":"667"}}`, string(b))

	var out line
	require.NoError(t, json.Unmarshal(b, &out))
	require.Equal(t, "-7.10", out.Amount.String())
	require.Equal(t, "3.55", out.Totals["USD"].String())
	require.Equal(t, "667", out.Totals["JPY"].String())

	// Numbers have already been through a float in most JSON producers: refused, as
	// are strings Parse refuses.
	for _, bad := range []string{`{"amount":7.10}`, `{"amount":"1e5"}`, `{"amount":"abc"}`, `{"amount":true}`} {
		var l line
		require.Error(t, json.Unmarshal([]byte(bad), &l), bad)
	}

	// null leaves the value alone, as encoding/json's convention for Unmarshalers asks.
	keep := line{Amount: money.MustParse("1.00")}
	require.NoError(t, json.Unmarshal([]byte(`{"amount":null}`), &keep))
	require.Equal(t, "1.00", keep.Amount.String())
}

func TestArithmetic(t *testing.T) {
	t.Parallel()
	a, b := money.MustParse("12.90"), money.MustParse("20.00")
	require.Equal(t, "-7.10", a.Sub(b).String())
	require.Equal(t, "32.90", a.Add(b).String())
	require.Equal(t, "-12.90", a.Neg().String())
	require.Equal(t, "258.0000", a.Mul(b).String())
	require.Equal(t, "1290.00", a.MulInt(100).String())
	require.Equal(t, "100", money.FromInt(100).String())
	require.Equal(t, -1, a.Cmp(b))
	require.Equal(t, 1, b.Cmp(a))
	require.Equal(t, 0, money.MustParse("20").Cmp(b))
	require.True(t, money.MustParse("20").Equal(b), "Equal ignores scale")
	require.True(t, money.MustParse("0.00").IsZero())
	require.True(t, money.MustParse("-0.01").IsNegative())
	require.False(t, money.Zero.IsNegative())
	require.True(t, money.Zero.IsZero())
}
