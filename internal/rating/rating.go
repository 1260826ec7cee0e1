// Package rating is billd's billing engine: a pure function from the state of one
// account-package and a bill run's range to the charge lines to write and the
// package's new billing position. It touches no database, no clock and no GraphQL;
// every rule of docs/billing.md section 4 lives here. See README.md.
package rating

import (
	"fmt"
	"sort"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
)

// Kind is the kind of a charge line.
type Kind string

// The line kinds.
const (
	Recurring  Kind = "RECURRING"
	OneTime    Kind = "ONE_TIME"
	Transition Kind = "TRANSITION"
	Credit     Kind = "CREDIT"
	Usage      Kind = "USAGE"
)

// CancelOption says how the final period of a canceled package is billed.
type CancelOption string

// The cancellation billing options.
const (
	Prorated   CancelOption = "PRORATED"
	FullPeriod CancelOption = "FULL_PERIOD"
	NoCharge   CancelOption = "NONE"
)

// The built-in status codes, always present in the catalog (docs/billing.md,
// 3). Canceled is the one a canceled package and its services get.
const (
	Active    = "ACTIVE"
	Suspended = "SUSPENDED"
	Pending   = "PENDING"
	Canceled  = "CANCELED"
)

// BillDayInForce is the bill day an account-package is billed on: its own, else its
// account's (docs/billing.md 3).
func BillDayInForce(own *int, account int) int {
	if own != nil {
		return *own
	}
	return account
}

// StatusPair is a from→to status change.
type StatusPair struct{ From, To string }

// Service is one account-service as billing sees it: its instances, its status, and
// its prices with overrides already applied.
type Service struct {
	ID        int // account-service id
	ServiceID int
	Name      string
	Status    string
	Quantity  int
	// Effective is the first day the service is billed from; a period that starts
	// before it is not charged for this service (services added later start with the
	// next period).
	Effective calendar.Date
	// Recurring maps a status code to the recurring price per period; a status with
	// no price costs nothing.
	Recurring     map[string]money.Decimal
	OneTime       *money.Decimal
	OneTimeBilled bool
	Transitions   map[StatusPair]money.Decimal
	// Charged holds what was charged (RECURRING and its DISCOUNT lines) per period
	// start, for the periods a cancellation may credit; keyed by the period start.
	Charged map[calendar.Date]ChargedPeriod
	// Pricing, when set, decides the recurring price instead of Recurring
	// (docs/billing.md 7.1): override, price plan, counting rule, price book,
	// catalog. Recurring alone is catalog pricing.
	Pricing *Pricing
	// Discounts reduce the recurring lines of the days they cover (7.2).
	Discounts []DiscountTerm
}

// price is the recurring price of the service in its status for a period that starts
// on day, and where it came from.
func (s *Service) price(day calendar.Date) (Price, bool) {
	if s.Pricing != nil {
		return PriceOf(s.Pricing, s.Status, day)
	}
	a, ok := s.Recurring[s.Status]
	return Price{a, FromCatalog}, ok
}

// ChargedPeriod is what one service was charged for one period.
type ChargedPeriod struct {
	Amount     money.Decimal // the sum of its lines
	UnitAmount money.Decimal // the unit price of its recurring line
	Quantity   int           // the quantity of its recurring line
}

// StatusChange is a status change of an account-service not yet charged.
type StatusChange struct {
	ID               int
	AccountServiceID int
	From, To         string
	On               calendar.Date
}

// Package is the billing state of one account-package.
type Package struct {
	ID               int
	Effective        calendar.Date
	Cadence          Cadence
	BillDay          int  // the effective bill day (own or the account's)
	NewBillDay       *int // takes effect after the current billed period
	Postpaid         bool
	ChargeFullPeriod bool
	OneTimeBilling   bool
	Bulk             int
	Status           string
	Billable         bool // whether Status makes recurring charges
	NextBillDate     *calendar.Date
	BilledThrough    *calendar.Date
	LastPeriodStart  *calendar.Date // start of the latest billed period
	CancelOn         *calendar.Date // first day out of service
	CancelOption     CancelOption
	Services         []Service
	Changes          []StatusChange
	// OnlyIfUsed is chargeRecurringOnlyIfUsage (docs/billing.md 6.4): a recurring
	// period is charged only if a usage record of the package is dated in it; Used
	// holds the days with records (of any quantity) over the periods this billing
	// may reach.
	OnlyIfUsed bool
	Used       map[calendar.Date]bool
	// UsedLateFrom is the earliest day of usage recorded after its period was
	// billed: recurring periods passed uncharged from there on are charged if they
	// now have usage and no recurring line (RecurringCharged holds the starts of
	// the periods that have one).
	UsedLateFrom     *calendar.Date
	RecurringCharged map[calendar.Date]bool
}

// Range is a bill run's range, both ends inclusive as on the API.
type Range struct{ Start, End calendar.Date }

// Line is one charge line to write.
type Line struct {
	Kind             Kind
	AccountServiceID int
	ServiceID        int
	Description      string
	PeriodStart      calendar.Date
	PeriodEnd        calendar.Date // inclusive
	Quantity         int
	UnitAmount       money.Decimal
	Amount           money.Decimal
	// Used and Billed are a USAGE line's quantities: used in the period, and left to
	// rate after buckets (for a late-usage line, the differences). Nil otherwise.
	Used, Billed *money.Decimal
	// PlanID is the rate plan that rated a USAGE line's period (0: none).
	PlanID int
	// Source is where a RECURRING line's price came from.
	Source PriceSource
	// Guard names what the line charges; the database keeps it unique, so the same
	// thing can never be charged twice whatever races happen around this function.
	Guard string
}

// Result is what billing one package produced.
type Result struct {
	Lines []Line
	// The package's new billing position.
	NextBillDate    *calendar.Date
	BilledThrough   *calendar.Date
	LastPeriodStart *calendar.Date
	BillDay         int  // the bill day now in force
	BillDayChanged  bool // a pending new bill day took effect
	Canceled        bool // the package and its services became CANCELED
	// OneTimeBilled lists the account-services whose one-time charge was made.
	OneTimeBilled []int
	// ChangesCharged lists the status changes handled (charged or free).
	ChangesCharged []int
	// Moved reports whether anything changed at all.
	Moved bool
}

// Guard builds the guard of a line.
func Guard(kind Kind, accountServiceID int, key string) string {
	return fmt.Sprintf("%s:%d:%s", kind, accountServiceID, key)
}

// MaxSpanDays bounds what one run bills of one account-package: the days from its
// next bill date to the end of the run's range, twice the longest range a run may
// have. Catching up missed runs stays possible within it; a package further behind
// is billed by runs whose ranges end earlier, one span at a time.
const MaxSpanDays = 7320

// Rate bills one account-package over a range, in the currency precision prec. It
// is deterministic: the same state and range always give the same lines.
func Rate(p Package, r Range, prec int32) (Result, error) {
	if err := p.Cadence.Validate(); err != nil {
		return Result{}, fmt.Errorf("account-package %d: %w", p.ID, err)
	}
	if p.NextBillDate != nil && calendar.Days(*p.NextBillDate, r.End.AddDays(1)) > MaxSpanDays {
		return Result{}, fault.Preconditionf("account-package %d is unbilled since %s: one run bills at most %d days "+
			"of an account-package, so bill it first with a run ending on or before %s",
			p.ID, p.NextBillDate, MaxSpanDays, p.NextBillDate.AddDays(MaxSpanDays-1))
	}
	if p.Bulk < 1 {
		p.Bulk = 1
	}
	e := &engine{p: p, prec: prec, res: Result{
		NextBillDate: p.NextBillDate, BilledThrough: p.BilledThrough,
		LastPeriodStart: p.LastPeriodStart, BillDay: p.BillDay,
	}}
	e.transitions()
	e.lateUsed()
	// A package set CANCELED by hand (not by billing) still has a next bill date: its
	// periods pass without charges, like any non-billable status.
	if p.NextBillDate != nil {
		e.bill(r)
	}
	e.res.Moved = len(e.res.Lines) > 0 || e.res.Canceled || e.res.BillDayChanged ||
		len(e.res.ChangesCharged) > 0 || !sameDate(e.res.NextBillDate, p.NextBillDate)
	return e.res, nil
}

type engine struct {
	p    Package
	prec int32
	res  Result
}

// transitions charges the pending status changes, whether or not the package is due
// (docs/billing.md 4.5).
func (e *engine) transitions() {
	byID := map[int]*Service{}
	for i := range e.p.Services {
		byID[e.p.Services[i].ID] = &e.p.Services[i]
	}
	changes := append([]StatusChange(nil), e.p.Changes...)
	sort.Slice(changes, func(i, j int) bool { return changes[i].ID < changes[j].ID })
	for _, ch := range changes {
		e.res.ChangesCharged = append(e.res.ChangesCharged, ch.ID)
		s := byID[ch.AccountServiceID]
		if s == nil {
			continue
		}
		e.transitionLine(s, StatusPair{ch.From, ch.To}, ch.On, fmt.Sprintf("%d", ch.ID))
	}
}

func (e *engine) transitionLine(s *Service, pair StatusPair, on calendar.Date, key string) {
	price, ok := s.Transitions[pair]
	if !ok {
		return
	}
	qty := e.p.Bulk * s.Quantity
	amount := money.Round(price.MulInt(int64(qty)), e.prec)
	if amount.IsZero() {
		return
	}
	e.res.Lines = append(e.res.Lines, Line{
		Kind: Transition, AccountServiceID: s.ID, ServiceID: s.ServiceID,
		Description: fmt.Sprintf("%s: %s to %s", s.Name, pair.From, pair.To),
		PeriodStart: on, PeriodEnd: on, Quantity: qty, UnitAmount: price, Amount: amount,
		Guard: Guard(Transition, s.ID, key),
	})
}

// bill moves the package through every period due in the range, carrying out a
// cancellation whose date the range reaches.
func (e *engine) bill(r Range) {
	p := &e.p
	cancelNow := p.CancelOn != nil && !p.CancelOn.After(r.End)
	for guard := 0; guard < 100000; guard++ {
		nbd := *e.res.NextBillDate
		if p.Postpaid {
			start := p.Effective
			if e.res.BilledThrough != nil {
				start = e.res.BilledThrough.AddDays(1)
			}
			per := PeriodFrom(p.Cadence, e.res.BillDay, start)
			per.End = nbd // the period accumulating since the last billing
			if cancelNow && p.CancelOn.Before(nbd) {
				e.finalNotBilled(per)
				return
			}
			if nbd.After(r.End) {
				return
			}
			e.charge(per)
			bt := nbd.AddDays(-1)
			e.res.BilledThrough, e.res.LastPeriodStart = &bt, &per.Start
			if p.OneTimeBilling {
				e.cancel()
				return
			}
			e.applyNewBillDay()
			next := PeriodFrom(p.Cadence, e.res.BillDay, nbd).End
			e.res.NextBillDate = &next
			continue
		}
		// In advance.
		if cancelNow && p.CancelOn.Before(nbd) && e.res.LastPeriodStart != nil {
			last := PeriodFrom(p.Cadence, e.res.BillDay, *e.res.LastPeriodStart)
			last.End = nbd
			e.finalBilled(last)
			return
		}
		if nbd.After(r.End) {
			return
		}
		e.applyNewBillDay()
		per := PeriodFrom(p.Cadence, e.res.BillDay, nbd)
		if p.CancelOn != nil && p.CancelOn.Before(per.End) {
			if cancelNow {
				e.finalNotBilled(per)
				return
			}
			// The final period is due before a run reaches the cancellation date:
			// bill it as final now (cut at C for PRORATED), so it is never billed in
			// full and then credited. The run that reaches C finds it billed, has
			// nothing to credit, and carries out the cancellation.
			e.billFinal(per)
			end := per.End
			e.res.NextBillDate = &end
			return
		}
		e.charge(per)
		end, bt := per.End, per.End.AddDays(-1)
		e.res.NextBillDate, e.res.BilledThrough, e.res.LastPeriodStart = &end, &bt, &per.Start
		if p.OneTimeBilling {
			e.cancel()
			return
		}
	}
}

// applyNewBillDay switches to a pending new bill day; the next period then runs from
// the next bill date to the first anchor of the new day (the alignment period,
// docs/billing.md 4.6), which PeriodFrom prices as a partial period.
func (e *engine) applyNewBillDay() {
	if e.p.NewBillDay != nil && !e.res.BillDayChanged {
		e.res.BillDay = *e.p.NewBillDay
		e.res.BillDayChanged = true
	}
}

// charge bills one period in full: each service's recurring price for its status
// (prorated if the period is partial and the package does not charge full periods),
// and the one-time charges not made yet.
func (e *engine) charge(per Period) {
	e.oneTimes(per)
	if !e.p.Billable || !e.usedIn(per.Start, per.End) {
		return
	}
	for i := range e.p.Services {
		s := &e.p.Services[i]
		if per.Start.Before(s.Effective) {
			continue
		}
		e.recurringLine(s, per, per.End, e.p.ChargeFullPeriod || !per.Partial())
	}
}

// recurringLine charges s for [per.Start, end): in full when full is set, else
// prorated against the full period.
func (e *engine) recurringLine(s *Service, per Period, end calendar.Date, full bool) {
	price, ok := s.price(per.Start)
	if !ok {
		return
	}
	qty := e.p.Bulk * s.Quantity
	total := price.Amount.MulInt(int64(qty))
	f := fraction{1, 1}
	if !full {
		f = fraction{int64(calendar.Days(per.Start, end)), int64(per.FullDays())}
	}
	amount := money.Prorate(total, f.num, f.den, e.prec)
	if amount.IsZero() {
		return
	}
	e.res.Lines = append(e.res.Lines, Line{
		Kind: Recurring, AccountServiceID: s.ID, ServiceID: s.ServiceID,
		Description: s.Name, PeriodStart: per.Start, PeriodEnd: end.AddDays(-1),
		Quantity: qty, UnitAmount: price.Amount, Amount: amount, Source: price.Source,
		Guard: Guard(Recurring, s.ID, per.Start.String()),
	})
	e.res.Lines = append(e.res.Lines, discountLines(s, per.Start, end, total, qty, f, amount, e.prec)...)
}

// usedIn reports whether the recurring prices of [from, to) are due: always, but for
// a chargeRecurringOnlyIfUsage package without a usage record dated in it.
func (e *engine) usedIn(from, to calendar.Date) bool {
	if !e.p.OnlyIfUsed {
		return true
	}
	for d := from; d.Before(to); d = d.AddDays(1) {
		if e.p.Used[d] {
			return true
		}
	}
	return false
}

// lateUsed charges, for a chargeRecurringOnlyIfUsage package, the billed periods that
// passed uncharged and got usage since (docs/billing.md 6.4): once each, at the prices
// in force now. The periods are those of the package's schedule on its bill day now.
func (e *engine) lateUsed() {
	p := &e.p
	if !p.OnlyIfUsed || p.UsedLateFrom == nil || p.BilledThrough == nil || !p.Billable {
		return
	}
	per := PeriodFrom(p.Cadence, p.BillDay, p.Effective)
	for n := 0; n < maxUsagePeriods && !per.Start.After(*p.BilledThrough); n++ {
		if per.End.After(*p.UsedLateFrom) && !p.RecurringCharged[per.Start] && e.usedIn(per.Start, per.End) {
			for i := range p.Services {
				s := &p.Services[i]
				if per.Start.Before(s.Effective) {
					continue
				}
				e.recurringLine(s, per, per.End, p.ChargeFullPeriod || !per.Partial())
			}
		}
		per = PeriodFrom(p.Cadence, p.BillDay, per.End)
	}
}

// oneTimes makes the one-time charges of services that have not had theirs; the line
// shows the period billed with it.
func (e *engine) oneTimes(per Period) {
	for i := range e.p.Services {
		s := &e.p.Services[i]
		if s.OneTime == nil || s.OneTimeBilled {
			continue
		}
		s.OneTimeBilled = true
		e.res.OneTimeBilled = append(e.res.OneTimeBilled, s.ID)
		qty := e.p.Bulk * s.Quantity
		amount := money.Round(s.OneTime.MulInt(int64(qty)), e.prec)
		if amount.IsZero() {
			continue
		}
		e.res.Lines = append(e.res.Lines, Line{
			Kind: OneTime, AccountServiceID: s.ID, ServiceID: s.ServiceID,
			Description: s.Name + " (one-time)", PeriodStart: per.Start, PeriodEnd: per.End.AddDays(-1),
			Quantity: qty, UnitAmount: *s.OneTime, Amount: amount,
			Guard: Guard(OneTime, s.ID, "once"),
		})
	}
}

// finalNotBilled carries out a cancellation whose final period [a, b) has not been
// billed: PRORATED charges its days in service [a, C), FULL_PERIOD bills it as usual,
// NONE charges nothing; nothing at all when C = a (docs/billing.md 4.4).
func (e *engine) finalNotBilled(per Period) {
	e.billFinal(per)
	e.cancel()
}

// billFinal charges a final period [a, b) as the cancellation option says and moves
// billedThrough to the last day in service, C − 1.
func (e *engine) billFinal(per Period) {
	c := *e.p.CancelOn
	if c.After(per.Start) {
		e.oneTimes(per)
		if e.p.Billable && e.usedIn(per.Start, c) {
			for i := range e.p.Services {
				s := &e.p.Services[i]
				if per.Start.Before(s.Effective) {
					continue
				}
				switch {
				case e.p.CancelOption == NoCharge:
				case e.p.CancelOption == FullPeriod || e.p.ChargeFullPeriod:
					e.recurringLine(s, per, per.End, e.p.ChargeFullPeriod || !per.Partial())
				default: // PRORATED: only the days in service, priced against the full period
					e.recurringLine(s, per, c, false)
				}
			}
		}
		end := c.AddDays(-1)
		e.res.BilledThrough, e.res.LastPeriodStart = &end, &per.Start
	}
}

// finalBilled carries out a cancellation whose final period [a, b) was billed in
// advance: PRORATED credits what was charged beyond the rounded cost of its days in
// service, NONE credits all of it, FULL_PERIOD nothing; chargeFullPeriod packages are
// never credited (docs/billing.md 4.4). Like a final period not billed yet, the package is then
// billed through its last day in service, C − 1, so its position does not depend on
// whether a run billed the final period before another carried the cancellation out.
func (e *engine) finalBilled(per Period) {
	c := *e.p.CancelOn
	if c.After(e.p.Effective) {
		end := c.AddDays(-1)
		e.res.BilledThrough = &end
	}
	if !e.p.ChargeFullPeriod && e.p.CancelOption != FullPeriod {
		for i := range e.p.Services {
			s := &e.p.Services[i]
			charged, ok := s.Charged[per.Start]
			if !ok || charged.Amount.IsZero() {
				continue
			}
			keep := money.Zero
			if e.p.CancelOption == Prorated && c.After(per.Start) {
				// The days in service cost their rounded price less the discount of
				// those days, computed on their exact cost (docs/billing.md 7.2).
				total := charged.UnitAmount.MulInt(int64(charged.Quantity))
				f := fraction{int64(calendar.Days(per.Start, c)), int64(per.FullDays())}
				keep = money.Prorate(total, f.num, f.den, e.prec)
				for _, d := range discountLines(s, per.Start, c, total, charged.Quantity, f, keep, e.prec) {
					keep = keep.Add(d.Amount)
				}
			}
			credit := keep.Sub(charged.Amount)
			if !credit.IsNegative() {
				continue
			}
			e.res.Lines = append(e.res.Lines, Line{
				Kind: Credit, AccountServiceID: s.ID, ServiceID: s.ServiceID,
				Description: s.Name + " (credit after cancellation)",
				PeriodStart: c, PeriodEnd: per.End.AddDays(-1),
				Quantity: charged.Quantity, UnitAmount: charged.UnitAmount, Amount: credit,
				Guard: Guard(Credit, s.ID, per.Start.String()),
			})
		}
	}
	e.cancel()
}

// cancel makes the package and its services CANCELED and charges the transition
// prices of that change.
func (e *engine) cancel() {
	e.res.Canceled = true
	e.res.NextBillDate = nil
	on := e.p.Effective
	if e.p.CancelOn != nil {
		on = *e.p.CancelOn
	} else if e.res.BilledThrough != nil {
		on = e.res.BilledThrough.AddDays(1)
	}
	for i := range e.p.Services {
		s := &e.p.Services[i]
		if s.Status == Canceled {
			continue
		}
		e.transitionLine(s, StatusPair{s.Status, Canceled}, on, "cancel")
	}
}

func sameDate(a, b *calendar.Date) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
