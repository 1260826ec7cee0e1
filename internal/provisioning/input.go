package provisioning

import (
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/fault"
)

// Limits of provisioning.
const (
	MaxQuantity  = 10000     // account-packages one provisionPackage may create
	MaxBulk      = 1_000_000 // the bulk quantity of one account-package
	MaxInstances = 100_000   // instances of one service on one account-package
)

// AccountServiceInput asks for instances of one of the package's services: its number
// of instances (replacing the package's default for that service), its status and its
// recurring price overrides.
type AccountServiceInput struct {
	ServiceID      int
	Quantity       *int
	Status         *string
	PriceOverrides []*catalog.StatusPriceInput
	// UsageIdentifier names a USAGE account-service in usage records (a phone
	// number, a device id): unique among account-services not CANCELED.
	UsageIdentifier *string
	// RatePlanID rates this account-service's usage, before any other level.
	RatePlanID *int
}

func (in *AccountServiceInput) quantity() int {
	if in.Quantity == nil {
		return 1
	}
	return *in.Quantity
}

func (in *AccountServiceInput) validate(path string) error {
	if q := in.quantity(); q < 1 || q > MaxInstances {
		return fault.Invalidf(path+".quantity", "quantity %d is outside 1..%d", q, MaxInstances)
	}
	return validateOverrides(path+".priceOverrides", in.PriceOverrides)
}

func validateOverrides(path string, ovs []*catalog.StatusPriceInput) error {
	seen := map[string]bool{}
	for i, o := range ovs {
		p := fault.Path(path, i)
		if o.Amount.IsNegative() {
			return fault.Invalidf(p+".amount", "price %s is negative", o.Amount)
		}
		if seen[o.Status] {
			return fault.Invalidf(p+".status", "status %s is overridden twice", o.Status)
		}
		seen[o.Status] = true
	}
	return nil
}

// ProvisionPackageInput adds a package to an account.
type ProvisionPackageInput struct {
	AccountID     int
	PackageID     int
	FrequencyID   int
	EffectiveDate calendar.Date
	EndDate       *calendar.Date
	Status        *string
	Quantity      *int
	BulkQuantity  *int
	BillDay       *int
	Services      []*AccountServiceInput
	// UsageBillDay anchors the account-package's usage periods (default: the
	// account's usage bill day, else the bill day in force); RatePlanID rates its
	// usage where its services and their prices have no plan.
	UsageBillDay *int
	RatePlanID   *int
	// ProductCode names the price plan that prices the account-packages
	// (docs/billing.md 7.1).
	ProductCode *string
}

// Validate checks the input without touching the database.
func (in *ProvisionPackageInput) Validate() error {
	if in.UsageBillDay != nil && (*in.UsageBillDay < 1 || *in.UsageBillDay > 31) {
		return fault.Invalidf("input.usageBillDay", "usageBillDay %d is outside 1..31", *in.UsageBillDay)
	}
	if in.Quantity != nil && (*in.Quantity < 1 || *in.Quantity > MaxQuantity) {
		return fault.Invalidf("input.quantity", "quantity %d is outside 1..%d", *in.Quantity, MaxQuantity)
	}
	if in.BulkQuantity != nil && (*in.BulkQuantity < 1 || *in.BulkQuantity > MaxBulk) {
		return fault.Invalidf("input.bulkQuantity", "bulkQuantity %d is outside 1..%d", *in.BulkQuantity, MaxBulk)
	}
	if in.BillDay != nil && (*in.BillDay < 1 || *in.BillDay > 31) {
		return fault.Invalidf("input.billDay", "bill day %d is outside 1..31", *in.BillDay)
	}
	if in.EndDate != nil && in.EndDate.Before(in.EffectiveDate) {
		return fault.Invalidf("input.endDate", "endDate %s is before effectiveDate %s", in.EndDate, in.EffectiveDate)
	}
	for i, s := range in.Services {
		if err := s.validate(fault.Path("input.services", i)); err != nil {
			return err
		}
	}
	return nil
}

// UpdateAccountPackageInput changes an account-package; omitted fields stay.
type UpdateAccountPackageInput struct {
	Status        *string
	BulkQuantity  *int
	NewBillDay    *int
	EndDate       *calendar.Date
	EffectiveDate *calendar.Date
	// UsageBillDay anchors the package's usage periods (docs/billing.md 6.3); it can
	// change until a usage period is billed.
	UsageBillDay *int
	// RatePlanID rates the package's usage where its services have no plan of their
	// own and the catalog's price has none; ClearRatePlan removes it. Both take
	// effect for usage periods billed later.
	RatePlanID    *int
	ClearRatePlan *bool
	// ProductCode names the price plan that prices the periods billed later; ""
	// clears it.
	ProductCode *string
}

// Validate checks the input without touching the database.
func (in *UpdateAccountPackageInput) Validate() error {
	if in.BulkQuantity != nil && (*in.BulkQuantity < 1 || *in.BulkQuantity > MaxBulk) {
		return fault.Invalidf("input.bulkQuantity", "bulkQuantity %d is outside 1..%d", *in.BulkQuantity, MaxBulk)
	}
	if in.NewBillDay != nil && (*in.NewBillDay < 1 || *in.NewBillDay > 31) {
		return fault.Invalidf("input.newBillDay", "bill day %d is outside 1..31", *in.NewBillDay)
	}
	if in.UsageBillDay != nil && (*in.UsageBillDay < 1 || *in.UsageBillDay > 31) {
		return fault.Invalidf("input.usageBillDay", "usage bill day %d is outside 1..31", *in.UsageBillDay)
	}
	if in.RatePlanID != nil && in.ClearRatePlan != nil && *in.ClearRatePlan {
		return fault.Invalidf("input.clearRatePlan", "cannot be set with ratePlanId")
	}
	return nil
}

// onlyStatus reports whether the input changes nothing but the status.
func (in *UpdateAccountPackageInput) onlyStatus() bool {
	return in.BulkQuantity == nil && in.NewBillDay == nil && in.EndDate == nil && in.EffectiveDate == nil &&
		in.UsageBillDay == nil && in.RatePlanID == nil && in.ClearRatePlan == nil && in.ProductCode == nil
}

// CancelAccountPackageInput schedules a cancellation.
type CancelAccountPackageInput struct {
	CancellationDate calendar.Date
	BillingOption    accountpackage.CancelBillingOption
	// WaiveEarlyTerminationFee cancels without the contract's early termination fee.
	WaiveEarlyTerminationFee *bool
}

// Validate checks the input without touching the database.
func (in *CancelAccountPackageInput) Validate() error {
	if err := accountpackage.CancelBillingOptionValidator(in.BillingOption); err != nil {
		return fault.Invalidf("input.billingOption", "billingOption must be PRORATED, FULL_PERIOD or NONE")
	}
	return nil
}

// UpdateAccountServiceInput changes an account-service. PriceOverrides replaces all of
// its overrides; an empty list clears them.
type UpdateAccountServiceInput struct {
	Status         *string
	Quantity       *int
	PriceOverrides []*catalog.StatusPriceInput
	// UsageIdentifier sets the account-service's usage identifier; "" clears it.
	UsageIdentifier *string
	// RatePlanID sets the account-service's own rate plan.
	RatePlanID *int
}

// Validate checks the input without touching the database.
func (in *UpdateAccountServiceInput) Validate() error {
	if in.Quantity != nil && (*in.Quantity < 1 || *in.Quantity > MaxInstances) {
		return fault.Invalidf("input.quantity", "quantity %d is outside 1..%d (remove the service to go below one)", *in.Quantity, MaxInstances)
	}
	return validateOverrides("input.priceOverrides", in.PriceOverrides)
}
