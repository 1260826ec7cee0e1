package rating

import (
	"fmt"
	"sort"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// DiscountTerm is a temporary discount of an account-service (docs/billing.md 7.2):
// a percent (0 < p ≤ 100) or an amount per full period and unit, from Start to End
// (inclusive; nil: open-ended). Exactly one of Percent and Amount is set.
type DiscountTerm struct {
	ID      int
	Percent *money.Decimal
	Amount  *money.Decimal
	Start   calendar.Date
	End     *calendar.Date
}

// covers returns the days of [from, to) the discount covers, as [a, b).
func (d DiscountTerm) covers(from, to calendar.Date) (a, b calendar.Date, ok bool) {
	a, b = from, to
	if d.Start.After(a) {
		a = d.Start
	}
	if d.End != nil && d.End.AddDays(1).Before(b) {
		b = d.End.AddDays(1)
	}
	return a, b, a.Before(b)
}

// fraction is the share of the full price a recurring line charges: num/den of it.
type fraction struct{ num, den int64 }

// discountLines are the DISCOUNT lines of a recurring line of s over [from, to) that
// charges total × f, rounded to charged (docs/billing.md 7.2). For each discount, by
// id, the days of the line it covers get:
//   - percent p: −round(x × p/100 × covered / days(line)), x = total × f exactly;
//   - amount A: −round(A × quantity × f × covered / days(line)).
//
// Together they never take more than the recurring line charged. A line's guard is
// that of its recurring line's period (keyed by lineStart) and the discount.
func discountLines(s *Service, lineStart, to calendar.Date, total money.Decimal, qty int, f fraction,
	charged money.Decimal, prec int32) []Line {
	if len(s.Discounts) == 0 || !charged.IsPositive() {
		return nil
	}
	ds := append([]DiscountTerm(nil), s.Discounts...)
	sort.Slice(ds, func(i, j int) bool { return ds[i].ID < ds[j].ID })
	days := int64(calendar.Days(lineStart, to))
	left := charged
	var out []Line
	for _, d := range ds {
		a, b, ok := d.covers(lineStart, to)
		if !ok {
			continue
		}
		covered := int64(calendar.Days(a, b))
		var off money.Decimal
		var what string
		if d.Percent != nil {
			off = money.Prorate(total.Mul(*d.Percent), f.num*covered, f.den*days*100, prec)
			what = d.Percent.String() + "% off"
		} else {
			off = money.Prorate(d.Amount.MulInt(int64(qty)), f.num*covered, f.den*days, prec)
			what = d.Amount.String() + " off"
		}
		if off.Cmp(left) > 0 {
			off = left
		}
		if !off.IsPositive() {
			continue
		}
		left = left.Sub(off)
		out = append(out, Line{
			Kind: Discount, AccountServiceID: s.ID, ServiceID: s.ServiceID,
			Description: fmt.Sprintf("%s: %s", s.Name, what), PeriodStart: a, PeriodEnd: b.AddDays(-1),
			Quantity: 1, UnitAmount: off.Neg(), Amount: off.Neg(),
			Guard: Guard(Discount, s.ID, fmt.Sprintf("%s:%d", lineStart, d.ID)),
		})
	}
	return out
}
