// Package money holds billd's exact decimal type and its one rounding rule.
//
// Every amount in billd, from API input to database column to API output, is a Decimal:
// an arbitrary-precision decimal that never passes through a float. A Decimal keeps its
// scale ("75.00" stays "75.00"), so a value rounded to a currency's precision prints with
// exactly that many places.
package money

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/billd/billd/internal/fault"
)

// Decimal is an exact decimal number. The zero value is 0.
type Decimal struct{ d decimal.Decimal }

// Zero is the decimal 0.
var Zero = Decimal{}

// MaxScale is the most digits after the decimal point that billd accepts in an amount.
// Unit prices may be finer than a currency's precision (0.0125 a minute); charge
// amounts are always rounded to the currency.
const MaxScale = 6

// literal is the only accepted text form: optional minus, digits, optional fraction.
// No exponents, no thousands separators, no leading plus, no bare ".5".
var literal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// wholeNumber is the one JSON number form accepted for a Decimal.
var wholeNumber = regexp.MustCompile(`^-?[0-9]+$`)

// Parse reads a decimal from its text form ("75.00", "-7.10", "12"). It refuses anything
// else, including exponents and values with more than MaxScale places.
func Parse(s string) (Decimal, error) {
	if len(s) > 40 || !literal.MatchString(s) {
		return Decimal{}, fmt.Errorf("%q is not a decimal number (expected digits with an optional fraction, e.g. \"75.00\")", s)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return Decimal{}, fmt.Errorf("%q is not a decimal number", s)
	}
	if -d.Exponent() > MaxScale {
		return Decimal{}, fmt.Errorf("%q has more than %d digits after the decimal point", s, MaxScale)
	}
	return Decimal{d}, nil
}

// MustParse is Parse for constants in code and tests; it panics on bad input.
func MustParse(s string) Decimal {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// FromInt returns the integer n as a Decimal.
func FromInt(n int64) Decimal { return Decimal{decimal.NewFromInt(n)} }

// String prints the decimal with its own scale, never in exponent form.
func (x Decimal) String() string {
	if x.d.Exponent() < 0 {
		return x.d.StringFixed(-x.d.Exponent())
	}
	return x.d.String()
}

// Scale is the number of digits after the decimal point the value carries.
func (x Decimal) Scale() int32 {
	if x.d.Exponent() < 0 {
		return -x.d.Exponent()
	}
	return 0
}

// Coefficient and Exponent give x as coefficient × 10^exponent, the form binary
// database encodings (PostgreSQL's NUMERIC over COPY) take.
func (x Decimal) Coefficient() *big.Int { return x.d.Coefficient() }

// Exponent is the power of ten Coefficient is scaled by.
func (x Decimal) Exponent() int32 { return x.d.Exponent() }

// Add returns x + y.
func (x Decimal) Add(y Decimal) Decimal { return Decimal{x.d.Add(y.d)} }

// Sub returns x - y.
func (x Decimal) Sub(y Decimal) Decimal { return Decimal{x.d.Sub(y.d)} }

// Neg returns -x.
func (x Decimal) Neg() Decimal { return Decimal{x.d.Neg()} }

// Mul returns x × y exactly.
func (x Decimal) Mul(y Decimal) Decimal { return Decimal{x.d.Mul(y.d)} }

// MulInt returns x × n exactly.
func (x Decimal) MulInt(n int64) Decimal { return Decimal{x.d.Mul(decimal.NewFromInt(n))} }

// Cmp compares x and y: -1 if x < y, 0 if equal, +1 if x > y.
func (x Decimal) Cmp(y Decimal) int { return x.d.Cmp(y.d) }

// Equal reports whether x and y are the same number, whatever their scales.
func (x Decimal) Equal(y Decimal) bool { return x.d.Equal(y.d) }

// IsZero reports whether x is 0.
func (x Decimal) IsZero() bool { return x.d.IsZero() }

// IsPositive reports whether x > 0.
func (x Decimal) IsPositive() bool { return x.d.IsPositive() }

// IsNegative reports whether x < 0.
func (x Decimal) IsNegative() bool { return x.d.IsNegative() }

// Round is billd's one rounding rule: x rounded to places digits after the decimal
// point, half away from zero (10.645 → 10.65, -7.095 → -7.10). The result carries
// exactly places digits, so Round also pads ("50" → "50.00").
func Round(x Decimal, places int32) Decimal {
	return Decimal{x.d.Round(places)}
}

// Prorate returns amount × num / den rounded once with Round to places digits. The
// product and quotient are exact until that single rounding, so the result is the
// correctly rounded value of the true fraction. den must be positive.
func Prorate(amount Decimal, num, den int64, places int32) Decimal {
	if den <= 0 {
		panic("money: Prorate with a non-positive denominator")
	}
	exact := amount.d.Mul(decimal.NewFromInt(num))
	// DivRound rounds half away from zero, like Round, and computes the quotient
	// digit by digit, so nothing is lost before the rounding.
	return Decimal{exact.DivRound(decimal.NewFromInt(den), places)}
}

// AtLeastScale pads x with zeros to at least places digits after the point without
// changing its value; it never removes digits. Used to print prices in a currency's
// precision ("50" in USD prints "50.00", "0.0125" stays as it is).
func AtLeastScale(x Decimal, places int32) Decimal {
	if x.Scale() >= places {
		return x
	}
	return Round(x, places)
}

// Value stores the decimal as its exact text; PostgreSQL's NUMERIC parses it and
// SQLite keeps it as TEXT.
func (x Decimal) Value() (driver.Value, error) { return x.String(), nil }

// Scan reads the decimal from a database column. Floats are refused: a float in the
// path would mean the column was declared wrong.
func (x *Decimal) Scan(src any) error {
	switch v := src.(type) {
	case string:
		return x.scanText(v)
	case []byte:
		return x.scanText(string(v))
	case int64:
		x.d = decimal.NewFromInt(v)
		return nil
	case nil:
		x.d = decimal.Decimal{}
		return nil
	default:
		return fmt.Errorf("money: cannot scan %T into a Decimal", src)
	}
}

func (x *Decimal) scanText(s string) error {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return fmt.Errorf("money: column holds %q: %w", s, err)
	}
	x.d = d
	return nil
}

// MarshalGQL writes the decimal as a GraphQL string ("75.00").
func (x Decimal) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(x.String())) }

// UnmarshalGQL reads a GraphQL Decimal: a string in Parse's form. A JSON integer is
// accepted too; a JSON float is refused, because it has already lost exactness.
func (x *Decimal) UnmarshalGQL(v any) error {
	switch v := v.(type) {
	case string:
		d, err := Parse(v)
		if err != nil {
			return fault.Invalidf("", "%s", err.Error())
		}
		*x = d
		return nil
	case json.Number:
		// A JSON number with a fraction or exponent went through a float in the
		// client's hands; only whole numbers are exact.
		if !wholeNumber.MatchString(v.String()) {
			return fault.Invalidf("", "a Decimal must be a string such as \"75.00\"; the JSON number %s may have lost exactness", v)
		}
		d, err := Parse(v.String())
		if err != nil {
			return fault.Invalidf("", "%s", err.Error())
		}
		*x = d
		return nil
	case int64:
		*x = FromInt(v)
		return nil
	case int:
		*x = FromInt(int64(v))
		return nil
	default:
		return fault.Invalidf("", "a Decimal must be a string such as \"75.00\", not %T", v)
	}
}

// MarshalJSON writes the decimal as a JSON string.
func (x Decimal) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(x.String())), nil }

// UnmarshalJSON reads a decimal from a JSON string. A JSON null leaves x unchanged, as
// encoding/json expects of an Unmarshaler.
func (x *Decimal) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return fmt.Errorf("money: a decimal must be a JSON string: %w", err)
	}
	d, err := Parse(s)
	if err != nil {
		return err
	}
	*x = d
	return nil
}
