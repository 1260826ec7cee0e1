package catalog

import (
	"errors"
	"regexp"
	"strings"

	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/rateplan"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/text"
)

// Field paths in errors name the API input ("input.services[1].maxInstances"), because
// these inputs mirror the GraphQL inputs one to one.

var (
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
	statusCode   = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,31}$`)
)

// MaxNameLen bounds names of services and packages, in characters.
const MaxNameLen = text.MaxName

// MaxFrequencyNameLen bounds names of package frequencies, whose column is narrower.
const MaxFrequencyNameLen = 100

// CreateCurrencyInput adds a currency.
type CreateCurrencyInput struct {
	Code      string
	Name      string
	Precision int
}

// Validate checks the input without touching the database.
func (in *CreateCurrencyInput) Validate() error {
	if !currencyCode.MatchString(in.Code) {
		return fault.Invalidf("input.code", "currency code %q must be three capital letters (ISO 4217)", in.Code)
	}
	if err := checkName("input.name", &in.Name); err != nil {
		return err
	}
	if in.Precision < 0 || in.Precision > 4 {
		return fault.Invalidf("input.precision", "precision %d is outside 0..4", in.Precision)
	}
	return nil
}

// CreateStatusInput adds a status.
type CreateStatusInput struct {
	Code     string
	Name     string
	Billable bool
	ReadOnly bool
}

// Validate checks the input without touching the database.
func (in *CreateStatusInput) Validate() error {
	if !statusCode.MatchString(in.Code) {
		return fault.Invalidf("input.code", "status code %q must be capital letters, digits and underscores, starting with a letter (at most 32)", in.Code)
	}
	return checkName("input.name", &in.Name)
}

// CreateServiceInput adds a service.
type CreateServiceInput struct {
	Name        string
	Description *string
	Kind        service.Kind
	// Unit and UnitDecimals describe what a USAGE service measures (MB with 0
	// decimals, GB with 3); other kinds have neither.
	Unit         *string
	UnitDecimals *int
}

// MaxUnitLen bounds a usage unit's name, in characters.
const MaxUnitLen = 20

// Validate checks the input without touching the database.
func (in *CreateServiceInput) Validate() error {
	if err := checkName("input.name", &in.Name); err != nil {
		return err
	}
	if err := text.Description("input.description", in.Description); err != nil {
		return err
	}
	if err := service.KindValidator(in.Kind); err != nil {
		return fault.Invalidf("input.kind", "kind must be RECURRING, ONE_TIME or USAGE")
	}
	if in.Kind != service.KindUSAGE {
		switch {
		case in.Unit != nil:
			return fault.Invalidf("input.unit", "only a USAGE service measures a unit")
		case in.UnitDecimals != nil:
			return fault.Invalidf("input.unitDecimals", "only a USAGE service has unit decimals")
		}
		return nil
	}
	if in.Unit == nil {
		return fault.Invalidf("input.unit", "a USAGE service needs the unit it measures (MB, minute, ...)")
	}
	if err := text.Name("input.unit", in.Unit, MaxUnitLen); err != nil {
		return err
	}
	if in.UnitDecimals != nil && (*in.UnitDecimals < 0 || *in.UnitDecimals > rating.MaxUnitDecimals) {
		return fault.Invalidf("input.unitDecimals", "unitDecimals %d is outside 0..%d", *in.UnitDecimals, rating.MaxUnitDecimals)
	}
	return nil
}

// UpdateServiceInput changes a service's name or description.
type UpdateServiceInput struct {
	Name        *string
	Description *string
}

// Validate checks the input without touching the database.
func (in *UpdateServiceInput) Validate() error {
	if in.Name != nil {
		if err := checkName("input.name", in.Name); err != nil {
			return err
		}
	}
	return text.Description("input.description", in.Description)
}

// PackageServiceInput puts a service in a package with its instance limits.
type PackageServiceInput struct {
	ServiceID        int
	MinInstances     *int
	DefaultInstances *int
	MaxInstances     *int
	Optional         *bool
	// Included is a USAGE service's bucket per usage period and instance; Shared
	// puts what is left of it in the package's pool.
	Included *money.Decimal
	Shared   *bool
}

// resolved returns the limits with the contract's defaults applied: min 0 for an
// optional service, else 1; default = min.
func (in *PackageServiceInput) resolved() (minI, defI int, maxI *int, optional bool) {
	optional = in.Optional != nil && *in.Optional
	minI = 1
	if optional {
		minI = 0
	}
	if in.MinInstances != nil {
		minI = *in.MinInstances
	}
	defI = minI
	if in.DefaultInstances != nil {
		defI = *in.DefaultInstances
	}
	return minI, defI, in.MaxInstances, optional
}

// validate checks one package service at path.
func (in *PackageServiceInput) validate(path string) error {
	minI, defI, maxI, optional := in.resolved()
	switch {
	case minI < 0:
		return fault.Invalidf(path+".minInstances", "minInstances %d is negative", minI)
	case maxI != nil && *maxI < 0:
		return fault.Invalidf(path+".maxInstances", "maxInstances %d is negative", *maxI)
	case defI < minI:
		return fault.Invalidf(path+".defaultInstances", "defaultInstances %d is below minInstances %d", defI, minI)
	case maxI != nil && minI > *maxI:
		return fault.Invalidf(path+".minInstances", "minInstances %d is above maxInstances %d", minI, *maxI)
	case maxI != nil && defI > *maxI:
		return fault.Invalidf(path+".defaultInstances", "defaultInstances %d is above maxInstances %d", defI, *maxI)
	case !optional && defI < 1:
		return fault.Invalidf(path+".defaultInstances", "a service that is not optional needs at least one instance by default")
	case maxI != nil && *maxI == 0:
		return fault.Invalidf(path+".maxInstances", "maxInstances 0 would never allow the service")
	case in.Included != nil && in.Included.IsNegative():
		return fault.Invalidf(path+".included", "included %s is negative", *in.Included)
	case isTrue(in.Shared) && in.Included == nil:
		return fault.Invalidf(path+".shared", "only a service with an included quantity can share it")
	}
	return nil
}

// StatusPriceInput is a recurring price for one status.
type StatusPriceInput struct {
	Status string
	Amount money.Decimal
}

// TransitionPriceInput is a price for a status change.
type TransitionPriceInput struct {
	From   string
	To     string
	Amount money.Decimal
}

// ServicePriceInput prices one service of a frequency in one currency.
type ServicePriceInput struct {
	ServiceID   int
	Currency    string
	Recurring   []*StatusPriceInput
	OneTime     *money.Decimal
	Transitions []*TransitionPriceInput
	// RatePlanID prices a USAGE service's usage; it is the only price such a
	// service's entry may carry.
	RatePlanID *int
	// CountingRule replaces the recurring price of one status from tiers by count.
	CountingRule *CountingRuleInput
}

// PackageFrequencyInput is a billing cadence with its prices.
type PackageFrequencyInput struct {
	Name          string
	Interval      packagefrequency.Interval
	IntervalCount *int
	Prices        []*ServicePriceInput
	// RatePlanID prices the usage of USAGE services without a plan of their own.
	RatePlanID *int
}

// count returns the interval count with its default of 1.
func (in *PackageFrequencyInput) count() int {
	if in.IntervalCount == nil {
		return 1
	}
	return *in.IntervalCount
}

// MaxIntervalCount bounds intervalCount: 100 years is already no billing cadence.
const MaxIntervalCount = 1200

// validateShape checks what can be checked without the package (names, counts,
// non-negative amounts, duplicates); the package-dependent checks are in the service.
func (in *PackageFrequencyInput) validateShape(path string) error {
	if err := text.Name(path+".name", &in.Name, MaxFrequencyNameLen); err != nil {
		return err
	}
	if err := packagefrequency.IntervalValidator(in.Interval); err != nil {
		return fault.Invalidf(path+".interval", "interval must be DAY, WEEK, MONTH or YEAR")
	}
	if c := in.count(); c < 1 || c > MaxIntervalCount {
		return fault.Invalidf(path+".intervalCount", "intervalCount %d is outside 1..%d", c, MaxIntervalCount)
	}
	for i, p := range in.Prices {
		pp := fault.Path(path+".prices", i)
		for j, r := range p.Recurring {
			if r.Amount.IsNegative() {
				return fault.Invalidf(fault.Path(pp+".recurring", j, "amount"), "price %s is negative", r.Amount)
			}
		}
		if p.CountingRule != nil {
			if err := p.CountingRule.validate(pp + ".countingRule"); err != nil {
				return err
			}
		}
		if p.OneTime != nil && p.OneTime.IsNegative() {
			return fault.Invalidf(pp+".oneTime", "price %s is negative", *p.OneTime)
		}
		for j, t := range p.Transitions {
			if t.Amount.IsNegative() {
				return fault.Invalidf(fault.Path(pp+".transitions", j, "amount"), "price %s is negative", t.Amount)
			}
			if t.From == t.To {
				return fault.Invalidf(fault.Path(pp+".transitions", j, "to"), "a transition needs two different statuses, got %s to %s", t.From, t.To)
			}
		}
	}
	return nil
}

// CreatePackageInput defines a package with its services, currencies and frequencies.
type CreatePackageInput struct {
	Name             string
	Description      *string
	StartDate        *calendar.Date
	ExpiryDate       *calendar.Date
	DefaultStatus    *string
	OneTimeBilling   *bool
	ChargeFullPeriod *bool
	Postpaid         *bool
	BulkQuantity     *bool
	Currencies       []string
	Services         []*PackageServiceInput
	Frequencies      []*PackageFrequencyInput
	// ChargeRecurringOnlyIfUsage charges a recurring period only if usage was
	// recorded in it; it makes the package postpaid.
	ChargeRecurringOnlyIfUsage *bool
	Activation                 *ActivationInput
}

// ActivationInput starts billing an account-package after some days, or once one of
// its USAGE services reached a quantity, whichever comes first.
type ActivationInput struct {
	AfterDays      *int
	UsageThreshold *money.Decimal
	ServiceID      *int
}

// MaxActivationDays bounds afterDays: ten years.
const MaxActivationDays = 3660

// validate checks the activation's shape at path.
func (in *ActivationInput) validate(path string) error {
	switch {
	case in.AfterDays == nil && in.UsageThreshold == nil:
		return fault.Invalidf(path, "an activation needs afterDays, a usageThreshold or both")
	case in.AfterDays != nil && (*in.AfterDays < 0 || *in.AfterDays > MaxActivationDays):
		return fault.Invalidf(path+".afterDays", "afterDays %d is outside 0..%d", *in.AfterDays, MaxActivationDays)
	case in.UsageThreshold != nil && (in.UsageThreshold.IsNegative() || in.UsageThreshold.IsZero()):
		return fault.Invalidf(path+".usageThreshold", "usageThreshold %s must be above 0", *in.UsageThreshold)
	case in.UsageThreshold != nil && in.ServiceID == nil:
		return fault.Invalidf(path+".serviceId", "a usageThreshold needs the USAGE service whose usage it counts")
	case in.UsageThreshold == nil && in.ServiceID != nil:
		return fault.Invalidf(path+".usageThreshold", "a serviceId needs the usageThreshold it counts to")
	}
	return nil
}

// Validate checks the input without touching the database.
func (in *CreatePackageInput) Validate() error {
	if err := checkName("input.name", &in.Name); err != nil {
		return err
	}
	if err := text.Description("input.description", in.Description); err != nil {
		return err
	}
	if err := checkDates(in.StartDate, in.ExpiryDate, "input.expiryDate"); err != nil {
		return err
	}
	if isTrue(in.ChargeRecurringOnlyIfUsage) && in.Postpaid != nil && !*in.Postpaid {
		return fault.Invalidf("input.postpaid", "a package charged only if used is postpaid")
	}
	if isTrue(in.ChargeRecurringOnlyIfUsage) && isTrue(in.OneTimeBilling) {
		return fault.Invalidf("input.chargeRecurringOnlyIfUsage", "a one-time billing package has no recurring periods to charge only if used")
	}
	if in.Activation != nil {
		if err := in.Activation.validate("input.activation"); err != nil {
			return err
		}
	}
	if isTrue(in.OneTimeBilling) && in.ChargeFullPeriod != nil && !*in.ChargeFullPeriod {
		return fault.Invalidf("input.chargeFullPeriod", "a one-time billing package always charges the full period")
	}
	if len(in.Currencies) == 0 {
		return fault.Invalidf("input.currencies", "a package needs at least one currency")
	}
	seenCur := map[string]bool{}
	for i, c := range in.Currencies {
		if seenCur[c] {
			return fault.Invalidf(fault.Path("input.currencies", i), "currency %s is listed twice", c)
		}
		seenCur[c] = true
	}
	if len(in.Services) == 0 {
		return fault.Invalidf("input.services", "a package needs at least one service")
	}
	seenSvc := map[int]bool{}
	for i, s := range in.Services {
		path := fault.Path("input.services", i)
		if seenSvc[s.ServiceID] {
			return fault.Invalidf(path+".serviceId", "service %d is listed twice", s.ServiceID)
		}
		seenSvc[s.ServiceID] = true
		if err := s.validate(path); err != nil {
			return err
		}
		if _, _, _, optional := s.resolved(); optional && isTrue(in.BulkQuantity) {
			return fault.Invalidf(path+".optional", "a package with the bulk component cannot have optional services")
		}
	}
	seenFreq := map[string]bool{}
	for i, f := range in.Frequencies {
		path := fault.Path("input.frequencies", i)
		if err := f.validateShape(path); err != nil {
			return err
		}
		key := strings.ToLower(f.Name)
		if seenFreq[key] {
			return fault.Invalidf(path+".name", "frequency name %q is used twice", f.Name)
		}
		seenFreq[key] = true
	}
	return nil
}

// UpdatePackageInput changes a package; omitted fields stay as they are.
type UpdatePackageInput struct {
	Name             *string
	Description      *string
	StartDate        *calendar.Date
	ExpiryDate       *calendar.Date
	DefaultStatus    *string
	ChargeFullPeriod *bool
	Postpaid         *bool
	BulkQuantity     *bool
}

// Validate checks the input without touching the database.
func (in *UpdatePackageInput) Validate() error {
	if in.Name != nil {
		if err := checkName("input.name", in.Name); err != nil {
			return err
		}
	}
	return text.Description("input.description", in.Description)
}

// checkName trims a name and refuses it empty, longer than MaxNameLen characters or
// holding a control character.
func checkName(field string, name *string) error {
	return text.Name(field, name, MaxNameLen)
}

// checkDates refuses an expiryDate that is not after the startDate. field names the
// input that made them disagree: the expiryDate, or the startDate when only that
// was changed.
func checkDates(start, expiry *calendar.Date, field string) error {
	if start != nil && expiry != nil && !expiry.After(*start) {
		return fault.Invalidf(field, "expiryDate %s must be after startDate %s", expiry, start)
	}
	return nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// RateTierInput is one tier of a rate plan: up to upTo (none: the last tier), each
// unit at unitPrice, plus flatFee (default 0) once the quantity reaches the tier.
type RateTierInput struct {
	UpTo      *money.Decimal
	UnitPrice money.Decimal
	FlatFee   *money.Decimal
}

// CreateRatePlanInput defines a rate plan.
type CreateRatePlanInput struct {
	Name     string
	Currency string
	Model    rateplan.Model
	Tiers    []*RateTierInput
}

// MaxTiers bounds the tiers of a rate plan.
const MaxTiers = 100

// plan returns the input as the rating engine's plan.
func (in *CreateRatePlanInput) plan() rating.Plan {
	p := rating.Plan{Model: rating.Model(in.Model), Tiers: make([]rating.Tier, len(in.Tiers))}
	for i, t := range in.Tiers {
		p.Tiers[i] = rating.Tier{UpTo: t.UpTo, UnitPrice: t.UnitPrice, FlatFee: money.Zero}
		if t.FlatFee != nil {
			p.Tiers[i].FlatFee = *t.FlatFee
		}
	}
	return p
}

// Validate checks the input without touching the database: a name, a known model,
// and 1..MaxTiers tiers in ascending order of upTo, the last one without, with
// prices and fees not negative.
func (in *CreateRatePlanInput) Validate() error {
	if err := checkName("input.name", &in.Name); err != nil {
		return err
	}
	if !currencyCode.MatchString(in.Currency) {
		return fault.Invalidf("input.currency", "currency code %q must be three capital letters (ISO 4217)", in.Currency)
	}
	if len(in.Tiers) > MaxTiers {
		return fault.Invalidf("input.tiers", "a rate plan has at most %d tiers, got %d", MaxTiers, len(in.Tiers))
	}
	err := in.plan().Validate()
	var te *rating.TierError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return fault.Invalidf(fault.Path("input.tiers", te.Index, te.Field), "tier %d: %s %v", te.Index+1, te.Field, te.Err)
	case errors.Is(err, rating.ErrNoTiers):
		return fault.Invalidf("input.tiers", "%v", err)
	default:
		return fault.Invalidf("input.model", "%v", err)
	}
}
