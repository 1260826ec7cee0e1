package rating

import "github.com/billd/billd/internal/calendar"

// UsageBilled reports whether an account-package has billed a usage period: its
// usage position (next, the first day of the next period to bill) is past the start
// of its usage (its activation day, else its effective date). Its usage bill day can
// then no longer change.
func UsageBilled(next *calendar.Date, effective calendar.Date, activatedOn *calendar.Date) bool {
	start := effective
	if activatedOn != nil {
		start = *activatedOn
	}
	return next != nil && next.After(start)
}
