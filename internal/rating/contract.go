package rating

import (
	"fmt"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// The arithmetic of contracts (docs/billing.md 7.3). Contract months run from the
// contract's start on its day of the month, clamped like anchors: a start on the 31st
// gives Feb 29, Mar 31.

// More line kinds: a discount next to the recurring line it reduces, a contract
// month's top-up to its minimum, and an early termination fee.
const (
	Discount Kind = "DISCOUNT"
	TopUp    Kind = "TOP_UP"
	Fee      Kind = "FEE"
)

// ContractMonth is the k-th month (from 0) of a contract that starts on start, as
// [Start, End).
func ContractMonth(start calendar.Date, k int) Range {
	return Range{Start: addMonths(start, k, start.Day()), End: addMonths(start, k+1, start.Day())}
}

// ContractEnd is the first day out of a contract that starts on start and runs for
// months.
func ContractEnd(start calendar.Date, months int) calendar.Date {
	return addMonths(start, months, start.Day())
}

// MonthIndex is the index of the contract month that starts on day (which must be
// the start of one).
func MonthIndex(start, day calendar.Date) int {
	k := (day.Year()-start.Year())*12 + int(day.Month()) - int(start.Month())
	for k > 0 && ContractMonth(start, k).Start.After(day) {
		k--
	}
	return k
}

// MonthTotal is what an account's lines hold for one contract month.
type MonthTotal struct {
	Month  Range // [Start, End)
	Billed money.Decimal
}

// TopUps returns the TOP_UP lines of a contract's months (docs/billing.md 7.3): for
// each month the minimum less what its lines hold, if positive. Amounts are exact at
// the currency's precision already; no rounding is needed, and none is done.
func TopUps(contractID int, minimum money.Decimal, months []MonthTotal, prec int32) []Line {
	var out []Line
	for _, m := range months {
		short := money.Round(minimum.Sub(m.Billed), prec)
		if !short.IsPositive() {
			continue
		}
		out = append(out, Line{
			Kind: TopUp, Description: fmt.Sprintf("Minimum monthly amount %s (contract %d)", minimum, contractID),
			PeriodStart: m.Month.Start, PeriodEnd: m.Month.End.AddDays(-1), Quantity: 1, UnitAmount: short, Amount: short,
			Guard: Guard(TopUp, contractID, m.Month.Start.String()),
		})
	}
	return out
}

// TerminationFee returns the FEE line of an account-package canceled on cancelOn
// before its contract's end (the current term's end): the fee, for the days from the
// cancellation to the end; none on or after the end, or for a zero fee.
func TerminationFee(accountPackageID, contractID int, fee money.Decimal, cancelOn, end calendar.Date, prec int32) (Line, bool) {
	amount := money.Round(fee, prec)
	if !cancelOn.Before(end) || !amount.IsPositive() {
		return Line{}, false
	}
	return Line{
		Kind: Fee, Description: fmt.Sprintf("Early termination fee (contract %d)", contractID),
		PeriodStart: cancelOn, PeriodEnd: end.AddDays(-1), Quantity: 1, UnitAmount: amount, Amount: amount,
		Guard: Guard(Fee, accountPackageID, fmt.Sprintf("%d", contractID)),
	}, true
}
