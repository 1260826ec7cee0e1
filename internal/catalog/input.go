package catalog

import (
	"regexp"
	"strings"

	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
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
}

// Validate checks the input without touching the database.
func (in *CreateServiceInput) Validate() error {
	if err := checkName("input.name", &in.Name); err != nil {
		return err
	}
	if err := text.Description("input.description", in.Description); err != nil {
		return err
	}
	if err := service.KindValidator(in.Kind); err != nil {
		return fault.Invalidf("input.kind", "kind must be RECURRING or ONE_TIME")
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
}

// PackageFrequencyInput is a billing cadence with its prices.
type PackageFrequencyInput struct {
	Name          string
	Interval      packagefrequency.Interval
	IntervalCount *int
	Prices        []*ServicePriceInput
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
