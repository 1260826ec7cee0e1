// Package provisioning adds packages to accounts and changes them: account-packages
// and their account-services, rules section 3. See README.md for its invariants.
package provisioning

import (
	"context"
	"fmt"
	"sort"
	"strings"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/catalogpackage"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/contract"
	"github.com/billd/billd/ent/discount"
	"github.com/billd/billd/ent/packageservice"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/serviceprice"
	"github.com/billd/billd/ent/statuschange"
	"github.com/billd/billd/ent/statusprice"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// Service is the provisioning service layer. Every method runs in one transaction
// and returns *fault.Error for refusals, writing nothing then.
type Service struct {
	db     *store.DB
	client *ent.Client
	clock  clock.Clock
}

// New returns the provisioning service.
func New(db *store.DB, clk clock.Clock) *Service {
	return &Service{db: db, client: db.Client, clock: clk}
}

func (s *Service) today() calendar.Date { return calendar.Of(s.clock.Now()) }

// statuses loads all statuses by code.
func statuses(ctx context.Context, c *ent.Client) (map[string]*ent.Status, map[int]*ent.Status, error) {
	all, err := c.Status.Query().All(ctx)
	if err != nil {
		return nil, nil, err
	}
	byCode, byID := map[string]*ent.Status{}, map[int]*ent.Status{}
	for _, st := range all {
		byCode[st.Code], byID[st.ID] = st, st
	}
	return byCode, byID, nil
}

// lockAccountPackage reads an account-package for change, locking its row so
// concurrent changes (and bill runs) of it serialize, and its package's row for share
// (see sharePackage), reading the package under that lock.
func (s *Service) lockAccountPackage(ctx context.Context, c *ent.Client, id int) (*ent.AccountPackage, error) {
	q := c.AccountPackage.Query().Where(accountpackage.ID(id)).WithStatus().WithFrequency()
	ap, err := store.ForUpdate(s.db, q, entsql.WithLockTables(accountpackage.Table)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, fault.NotFoundf("id", "account-package %d not found", id)
	} else if err != nil {
		return nil, err
	}
	ap.Edges.Package, err = s.sharePackage(c.CatalogPackage.Query().Where(catalogpackage.ID(ap.PackageID))).Only(ctx)
	return ap, err
}

// sharePackage makes a package query lock the package's row for share until the
// transaction ends. Catalog changes lock that row for update, so the rules they check
// against the package's account-packages (no bulk quantity above 1 without the bulk
// component, no delete while in use) cannot miss an account-package being written or
// changed, and provisioning cannot work from a package that is changing.
func (s *Service) sharePackage(q *ent.CatalogPackageQuery) *ent.CatalogPackageQuery {
	return store.ForShare(s.db, q, entsql.WithLockTables(catalogpackage.Table))
}

// cadence is the rating cadence of a frequency.
func cadence(f *ent.PackageFrequency) rating.Cadence {
	return rating.CadenceOf(string(f.Interval), f.IntervalCount)
}

// Provision adds a package to an account: quantity separate, identical
// account-packages, in one transaction. Refusals: BAD_USER_INPUT for a quantity
// outside 1..10000, a bulk quantity outside its range, a bill day outside 1..31, an
// end date before the effective date, or a malformed service or price override;
// NOT_FOUND for an unknown account, package, frequency or status code;
// FAILED_PRECONDITION when the account's currency is not one of the package's, the
// effective date is outside the package's availability, the bulk quantity is not 1 on
// a package without the bulk component, the status is read-only, a service is not in
// the package, or instances fall outside the package's limits.
func (s *Service) Provision(ctx context.Context, in ProvisionPackageInput) ([]*ent.AccountPackage, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out []*ent.AccountPackage
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		// For share: an account's bill day change locks the row for update, so it
		// cannot miss a package added here to follow that bill day.
		acc, err := store.ForShare(s.db, c.Account.Query().Where(account.ID(in.AccountID)),
			entsql.WithLockTables(account.Table)).WithCurrency().Only(ctx)
		if ent.IsNotFound(err) {
			return fault.NotFoundf("input.accountId", "account %d not found", in.AccountID)
		} else if err != nil {
			return err
		}
		pkg, err := s.sharePackage(c.CatalogPackage.Query().Where(catalogpackage.ID(in.PackageID))).
			WithCurrencies().WithDefaultStatus().
			WithServices(func(q *ent.PackageServiceQuery) { q.Order(ent.Asc(packageservice.FieldPosition)).WithService() }).
			Only(ctx)
		if ent.IsNotFound(err) {
			return fault.NotFoundf("input.packageId", "package %d not found", in.PackageID)
		} else if err != nil {
			return err
		}
		freq, err := c.PackageFrequency.Get(ctx, in.FrequencyID)
		if ent.IsNotFound(err) || (err == nil && freq.PackageID != pkg.ID) {
			return fault.NotFoundf("input.frequencyId", "frequency %d not found on package %q", in.FrequencyID, pkg.Name)
		} else if err != nil {
			return err
		}
		if err := checkCurrency(acc, pkg); err != nil {
			return err
		}
		if err := checkAvailable(pkg, in.EffectiveDate, "input.effectiveDate"); err != nil {
			return err
		}
		bulk := 1
		if in.BulkQuantity != nil {
			bulk = *in.BulkQuantity
			if bulk != 1 && !pkg.BulkQuantity {
				return fault.PreconditionAt("input.bulkQuantity", "package %q has no bulk component: bulkQuantity must be 1", pkg.Name)
			}
		}
		byCode, _, err := statuses(ctx, c)
		if err != nil {
			return err
		}
		st := pkg.Edges.DefaultStatus
		if in.Status != nil {
			var ok bool
			if st, ok = byCode[*in.Status]; !ok {
				return fault.NotFoundf("input.status", "unknown status code %q", *in.Status)
			}
		}
		if st.ReadOnly {
			return fault.PreconditionAt("input.status", "status %s is read-only: a package cannot be provisioned in it", st.Code)
		}
		catalogPrices, err := recurringPrices(ctx, c, freq.ID, acc.CurrencyID)
		if err != nil {
			return err
		}
		plan, err := planServices(pkg, in.Services, byCode, catalogPrices)
		if err != nil {
			return err
		}
		quantity := 1
		if in.Quantity != nil {
			quantity = *in.Quantity
		}
		if err := s.claimPlanned(ctx, c, plan, quantity); err != nil {
			return err
		}
		if err := checkPlans(ctx, c, acc, in.RatePlanID, plan); err != nil {
			return err
		}
		if in.ProductCode != nil && *in.ProductCode != "" {
			if err := catalog.CheckProductCode(ctx, c, *in.ProductCode, pkg.ID, "input.productCode"); err != nil {
				return err
			}
		} else {
			in.ProductCode = nil
		}
		billDay := acc.BillDay
		if in.BillDay != nil {
			billDay = *in.BillDay
		}
		postpaid := pkg.Postpaid
		nbd := rating.FirstNextBillDate(cadence(freq), billDay, in.EffectiveDate, postpaid)
		ids, err := s.createCopies(ctx, c, copySpec{
			acc: acc, pkg: pkg, freq: freq, status: st, bulk: bulk, quantity: quantity,
			effective: in.EffectiveDate, endDate: in.EndDate, ownBillDay: in.BillDay,
			nextBillDate: nbd, plan: plan, usageBillDay: in.UsageBillDay, ratePlanID: in.RatePlanID,
			productCode: in.ProductCode,
		})
		if err != nil {
			return err
		}
		// Read back in the transaction, in creation order: a concurrent delete
		// cannot take a copy away between the commit and the answer.
		out, err = c.AccountPackage.Query().Where(accountpackage.IDIn(ids...)).
			Order(ent.Asc(accountpackage.FieldID)).All(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, ap := range out {
		out[i] = ap.Unwrap()
	}
	return out, nil
}

func checkCurrency(acc *ent.Account, pkg *ent.CatalogPackage) error {
	cur := acc.Edges.Currency
	var codes []string
	for _, c := range pkg.Edges.Currencies {
		if c.ID == cur.ID {
			return nil
		}
		codes = append(codes, c.Code)
	}
	sort.Strings(codes)
	return fault.Preconditionf("account %d is billed in %s, which package %q is not priced in (its currencies: %s)",
		acc.ID, cur.Code, pkg.Name, strings.Join(codes, ", "))
}

func checkAvailable(pkg *ent.CatalogPackage, e calendar.Date, field string) error {
	if pkg.StartDate != nil && e.Before(*pkg.StartDate) {
		return &fault.Error{Code: fault.FailedPrecondition, Field: field,
			Message: fmt.Sprintf("package %q is available from %s; %s is before that", pkg.Name, pkg.StartDate, e)}
	}
	if pkg.ExpiryDate != nil && !e.Before(*pkg.ExpiryDate) {
		return &fault.Error{Code: fault.FailedPrecondition, Field: field,
			Message: fmt.Sprintf("package %q expired on %s; %s is on or after that", pkg.Name, pkg.ExpiryDate, e)}
	}
	return nil
}

// plannedService is one account-service to create on each copy.
type plannedService struct {
	serviceID int
	quantity  int
	status    *ent.Status
	overrides []*catalog.StatusPriceInput
	ovStatus  []*ent.Status
	// identifier is the usage identifier asked for, at path identPath.
	identifier *string
	identPath  string
	// ratePlanID is the account-service's own rate plan, at path+".ratePlanId".
	ratePlanID *int
	path       string
}

// planServices turns the package's services and the requested ones into the
// account-services to create. A service asked for replaces the package's default
// instances of it; the others get their default instances, except an optional service,
// which starts with none unless asked for whatever its defaultInstances (docs/billing.md 2).
// Totals must stay within each service's limits. Overrides equal to the catalog price
// (catalogPrices: by service id, then status id) are dropped: that is catalog pricing.
func planServices(pkg *ent.CatalogPackage, req []*AccountServiceInput, byCode map[string]*ent.Status,
	catalogPrices map[int]map[int]*ent.StatusPrice) ([]plannedService, error) {
	inPkg := map[int]*ent.PackageService{}
	for _, ps := range pkg.Edges.Services {
		inPkg[ps.ServiceID] = ps
	}
	requested := map[int][]int{} // service id → indexes into req
	for i, r := range req {
		path := fault.Path("input.services", i)
		if _, ok := inPkg[r.ServiceID]; !ok {
			return nil, fault.PreconditionAt(path+".serviceId", "service %d is not in package %q", r.ServiceID, pkg.Name)
		}
		requested[r.ServiceID] = append(requested[r.ServiceID], i)
	}
	active := byCode[rating.Active]
	var plan []plannedService
	for _, ps := range pkg.Edges.Services {
		idx, asked := requested[ps.ServiceID]
		if !asked {
			if ps.DefaultInstances > 0 && !ps.Optional {
				plan = append(plan, plannedService{serviceID: ps.ServiceID, quantity: ps.DefaultInstances, status: active})
			}
			continue
		}
		total := 0
		for _, i := range idx {
			r := req[i]
			path := fault.Path("input.services", i)
			st := active
			if r.Status != nil {
				var ok bool
				if st, ok = byCode[*r.Status]; !ok {
					return nil, fault.NotFoundf(path+".status", "unknown status code %q", *r.Status)
				}
			}
			if len(r.PriceOverrides) > 0 && ps.Edges.Service != nil && ps.Edges.Service.Kind == service.KindUSAGE {
				return nil, fault.Invalidf(path+".priceOverrides", "service %q is a USAGE service: its usage is priced by rate plans, not recurring prices", ps.Edges.Service.Name)
			}
			p := plannedService{serviceID: r.ServiceID, quantity: r.quantity(), status: st, identPath: path + ".usageIdentifier",
				ratePlanID: r.RatePlanID, path: path}
			if r.UsageIdentifier != nil {
				ident, err := normalIdentifier(p.identPath, *r.UsageIdentifier)
				if err != nil {
					return nil, err
				}
				p.identifier = ident
			}
			for j, o := range r.PriceOverrides {
				ost, ok := byCode[o.Status]
				if !ok {
					return nil, fault.NotFoundf(fault.Path(path+".priceOverrides", j, "status"), "unknown status code %q", o.Status)
				}
				if cp, ok := catalogPrices[r.ServiceID][ost.ID]; ok && cp.Amount.Equal(o.Amount) {
					continue
				}
				p.overrides = append(p.overrides, o)
				p.ovStatus = append(p.ovStatus, ost)
			}
			total += p.quantity
			plan = append(plan, p)
		}
		last := fault.Path("input.services", idx[len(idx)-1], "quantity")
		if err := checkInstances(ps, total, last); err != nil {
			return nil, err
		}
	}
	return plan, nil
}

// checkInstances refuses an instance count outside a package service's limits.
func checkInstances(ps *ent.PackageService, total int, field string) error {
	if total < ps.MinInstances {
		return fault.PreconditionAt(field, "%d instance(s) of service %d is below its minInstances %d", total, ps.ServiceID, ps.MinInstances)
	}
	if ps.MaxInstances != nil && total > *ps.MaxInstances {
		return fault.PreconditionAt(field, "%d instance(s) of service %d is above its maxInstances %d", total, ps.ServiceID, *ps.MaxInstances)
	}
	return nil
}

type copySpec struct {
	acc          *ent.Account
	pkg          *ent.CatalogPackage
	freq         *ent.PackageFrequency
	status       *ent.Status
	bulk         int
	quantity     int
	effective    calendar.Date
	endDate      *calendar.Date
	ownBillDay   *int
	nextBillDate calendar.Date
	plan         []plannedService
	usageBillDay *int
	ratePlanID   *int
	productCode  *string
}

// bulkChunk bounds the rows of one multi-row insert (SQLite allows 32766 parameters).
const bulkChunk = 500

// createCopies writes spec.quantity account-packages with their services in bulk.
func (s *Service) createCopies(ctx context.Context, c *ent.Client, spec copySpec) ([]int, error) {
	var cancelOn *calendar.Date
	var option *accountpackage.CancelBillingOption
	if spec.endDate != nil {
		d := spec.endDate.AddDays(1)
		o := accountpackage.CancelBillingOptionPRORATED
		cancelOn, option = &d, &o
	}
	var ids []int
	for done := 0; done < spec.quantity; done += bulkChunk {
		n := min(bulkChunk, spec.quantity-done)
		builders := make([]*ent.AccountPackageCreate, n)
		for i := range builders {
			builders[i] = c.AccountPackage.Create().
				SetAccountID(spec.acc.ID).SetPackageID(spec.pkg.ID).SetFrequencyID(spec.freq.ID).
				SetStatusID(spec.status.ID).SetBulkQuantity(spec.bulk).
				SetEffectiveDate(spec.effective).SetNillableEndDate(spec.endDate).
				SetNillableCancellationDate(cancelOn).SetNillableCancelBillingOption(option).
				SetNillableOwnBillDay(spec.ownBillDay).SetNextBillDate(spec.nextBillDate).
				SetNillableUsageBillDay(spec.usageBillDay).SetNillableRatePlanID(spec.ratePlanID).
				SetNillableProductCode(spec.productCode).
				SetChargeFullPeriod(spec.pkg.ChargeFullPeriod || spec.pkg.OneTimeBilling).
				SetPostpaid(spec.pkg.Postpaid)
		}
		aps, err := c.AccountPackage.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return nil, err
		}
		for _, ap := range aps {
			ids = append(ids, ap.ID)
		}
	}
	// Services of all copies, then their overrides.
	type pending struct {
		b    *ent.AccountServiceCreate
		plan *plannedService
	}
	var all []pending
	for _, apID := range ids {
		for i := range spec.plan {
			p := &spec.plan[i]
			all = append(all, pending{c.AccountService.Create().
				SetAccountPackageID(apID).SetServiceID(p.serviceID).SetStatusID(p.status.ID).
				SetQuantity(p.quantity).SetEffectiveDate(spec.effective).SetNillableEndDate(spec.endDate).
				SetNillableUsageIdentifier(p.identifier).SetNillableRatePlanID(p.ratePlanID), p})
		}
	}
	for start := 0; start < len(all); start += bulkChunk {
		chunk := all[start:min(start+bulkChunk, len(all))]
		builders := make([]*ent.AccountServiceCreate, len(chunk))
		for i, p := range chunk {
			builders[i] = p.b
		}
		svcs, err := c.AccountService.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return nil, err
		}
		var ovs []*ent.StatusPriceCreate
		for i, sv := range svcs {
			p := chunk[i].plan
			for j, o := range p.overrides {
				ovs = append(ovs, c.StatusPrice.Create().SetAccountServiceID(sv.ID).
					SetStatusID(p.ovStatus[j].ID).SetAmount(o.Amount))
			}
		}
		for k := 0; k < len(ovs); k += bulkChunk {
			if err := c.StatusPrice.CreateBulk(ovs[k:min(k+bulkChunk, len(ovs))]...).Exec(ctx); err != nil {
				return nil, err
			}
		}
	}
	return ids, nil
}

// billDay is the bill day in force for an account-package.
func billDay(ctx context.Context, c *ent.Client, ap *ent.AccountPackage) (int, error) {
	if ap.OwnBillDay != nil {
		return *ap.OwnBillDay, nil
	}
	acc, err := c.Account.Get(ctx, ap.AccountID)
	if err != nil {
		return 0, err
	}
	return rating.BillDayInForce(ap.OwnBillDay, acc.BillDay), nil
}

// canceledByBilling reports whether billing has carried out the package's
// cancellation: nothing can bring it back.
func canceledByBilling(ap *ent.AccountPackage) bool { return ap.NextBillDate == nil }

// Update changes an account-package. In a read-only status only the status may
// change. A status change applies to its services too and their transition prices
// are charged by the next bill run; a bulk quantity change applies from the next bill
// date; a new bill day after the current billed period (at once if nothing was
// billed); an end date schedules a PRORATED cancellation on the next day; an
// effective date change removes its charges from OPEN invoices to be re-rated.
// Refusals: BAD_USER_INPUT for a bulk quantity or bill day out of range, or an end
// date before the effective date given with it; NOT_FOUND for an unknown
// account-package or status code; FAILED_PRECONDITION for a change in a read-only
// status, a bulk quantity on a package without the bulk component, an end date before
// the effective date or inside the billed periods, a status change of a package
// billing canceled, or an effective date change once a charge is on a CLOSED invoice.
func (s *Service) Update(ctx context.Context, id int, in UpdateAccountPackageInput) (*ent.AccountPackage, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.AccountPackage
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		ap, err := s.lockAccountPackage(ctx, c, id)
		if err != nil {
			return err
		}
		if ap.Edges.Status.ReadOnly && !in.onlyStatus() {
			return fault.Preconditionf("account-package %d is %s (read-only): only its status may change", id, ap.Edges.Status.Code)
		}
		upd := c.AccountPackage.UpdateOneID(id)
		// billed is the billing position the other changes are checked against: once the
		// effective date moves, nothing is billed any more.
		billed := ap
		effective := ap.EffectiveDate
		effectiveChanged := in.EffectiveDate != nil && !in.EffectiveDate.Equal(ap.EffectiveDate)
		if effectiveChanged {
			end := ap.EndDate
			if in.EndDate != nil {
				end = nil // the new end date is checked against the new effective date below
			}
			if err := s.changeEffective(ctx, c, ap, *in.EffectiveDate, end, upd); err != nil {
				return err
			}
			effective = *in.EffectiveDate
			moved := *ap
			moved.EffectiveDate, moved.BilledThrough, moved.LastPeriodStart = effective, nil, nil
			billed = &moved
		}
		if in.BulkQuantity != nil && *in.BulkQuantity != ap.BulkQuantity {
			if !ap.Edges.Package.BulkQuantity && *in.BulkQuantity != 1 {
				return fault.PreconditionAt("input.bulkQuantity", "package %q has no bulk component: bulkQuantity must be 1", ap.Edges.Package.Name)
			}
			upd.SetBulkQuantity(*in.BulkQuantity)
		}
		if in.NewBillDay != nil {
			if err := s.newBillDay(ctx, c, ap, *in.NewBillDay, effective, effectiveChanged, upd); err != nil {
				return err
			}
		}
		if in.EndDate != nil {
			if in.EndDate.Before(effective) {
				if in.EffectiveDate != nil { // both in this request
					return fault.Invalidf("input.endDate", "endDate %s is before the effective date %s", in.EndDate, effective)
				}
				return fault.PreconditionAt("input.endDate", "endDate %s is before the effective date %s", in.EndDate, effective)
			}
			cancelOn := in.EndDate.AddDays(1)
			if err := checkCancelDate(billed, cancelOn, "input.endDate"); err != nil {
				return err
			}
			upd.SetEndDate(*in.EndDate).SetCancellationDate(cancelOn).
				SetCancelBillingOption(accountpackage.CancelBillingOptionPRORATED)
			if err := clampServices(ctx, c, id, *in.EndDate); err != nil {
				return err
			}
		}
		if in.Status != nil && *in.Status != ap.Edges.Status.Code {
			if err := s.changeStatus(ctx, c, ap, *in.Status, upd); err != nil {
				return err
			}
		}
		if err := usageLevels(ctx, c, billed, in, upd); err != nil {
			return err
		}
		switch {
		case in.ProductCode == nil:
		case *in.ProductCode == "":
			upd.ClearProductCode()
		default:
			if err := catalog.CheckProductCode(ctx, c, *in.ProductCode, ap.PackageID, "input.productCode"); err != nil {
				return err
			}
			upd.SetProductCode(*in.ProductCode)
		}
		if err := upd.Exec(ctx); err != nil {
			return err
		}
		out, err = c.AccountPackage.Get(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// changeStatus moves the package and its services to a new status, recording each
// service's change so its transition price is charged by the next bill run.
func (s *Service) changeStatus(ctx context.Context, c *ent.Client, ap *ent.AccountPackage, code string, upd *ent.AccountPackageUpdateOne) error {
	byCode, _, err := statuses(ctx, c)
	if err != nil {
		return err
	}
	st, ok := byCode[code]
	if !ok {
		return fault.NotFoundf("input.status", "unknown status code %q", code)
	}
	if canceledByBilling(ap) {
		return fault.Preconditionf("account-package %d was canceled by billing and cannot change status: provision the package again", ap.ID)
	}
	upd.SetStatusID(st.ID)
	svcs, err := c.AccountService.Query().Where(accountservice.AccountPackageID(ap.ID)).All(ctx)
	if err != nil {
		return err
	}
	return s.recordChanges(ctx, c, ap.AccountID, svcs, st)
}

// recordChanges sets services to status st and records each change.
func (s *Service) recordChanges(ctx context.Context, c *ent.Client, accountID int, svcs []*ent.AccountService, st *ent.Status) error {
	var changes []*ent.StatusChangeCreate
	var ids []int
	for _, sv := range svcs {
		if sv.StatusID == st.ID {
			continue
		}
		ids = append(ids, sv.ID)
		changes = append(changes, c.StatusChange.Create().SetAccountServiceID(sv.ID).SetAccountID(accountID).
			SetFromStatusID(sv.StatusID).SetToStatusID(st.ID).SetChangedOn(s.today()))
	}
	if len(ids) == 0 {
		return nil
	}
	if err := c.AccountService.Update().Where(accountservice.IDIn(ids...)).SetStatusID(st.ID).Exec(ctx); err != nil {
		return err
	}
	return c.StatusChange.CreateBulk(changes...).Exec(ctx)
}

// newBillDay schedules a new bill day. Before anything is billed it takes effect at
// once (the first period is then anchored on it); afterwards at the next billing,
// which charges the alignment period (docs/billing.md 4.6).
func (s *Service) newBillDay(ctx context.Context, c *ent.Client, ap *ent.AccountPackage, day int, effective calendar.Date,
	effectiveChanged bool, upd *ent.AccountPackageUpdateOne) error {
	if canceledByBilling(ap) {
		return fault.Preconditionf("account-package %d is canceled", ap.ID)
	}
	current, err := billDay(ctx, c, ap)
	if err != nil {
		return err
	}
	if ap.BilledThrough == nil || effectiveChanged {
		upd.SetOwnBillDay(day).ClearNewBillDay()
		upd.SetNextBillDate(rating.FirstNextBillDate(cadence(ap.Edges.Frequency), day, effective, ap.Postpaid))
		return nil
	}
	if day == current {
		upd.ClearNewBillDay()
		return nil
	}
	upd.SetNewBillDay(day)
	return nil
}

// checkCancelDate applies the cancellation date rule: not before the effective date,
// not before the start of the latest billed period (in advance), not on or before
// billedThrough (postpaid).
func checkCancelDate(ap *ent.AccountPackage, c calendar.Date, field string) error {
	if c.Before(ap.EffectiveDate) {
		return fault.PreconditionAt(field, "the package would end before its effective date %s", ap.EffectiveDate)
	}
	if ap.Postpaid {
		if ap.BilledThrough != nil && !c.After(*ap.BilledThrough) {
			return &fault.Error{Code: fault.FailedPrecondition, Field: field,
				Message: fmt.Sprintf("the package is billed through %s: it cannot be canceled on or before that", ap.BilledThrough)}
		}
		return nil
	}
	if ap.CancellationDate != nil && ap.BilledThrough != nil && ap.NextBillDate != nil &&
		ap.BilledThrough.AddDays(1).Before(*ap.NextBillDate) {
		return &fault.Error{Code: fault.FailedPrecondition, Field: field,
			Message: fmt.Sprintf("the final period was already billed up to the cancellation date %s: the cancellation can no longer change", ap.CancellationDate)}
	}
	if rating.UsageBilled(ap.UsageNext, ap.EffectiveDate, ap.ActivatedOn) && c.Before(*ap.UsageNext) {
		return &fault.Error{Code: fault.FailedPrecondition, Field: field,
			Message: fmt.Sprintf("its usage is billed through %s: the package cannot be canceled before %s", ap.UsageNext.AddDays(-1), ap.UsageNext)}
	}
	if ap.LastPeriodStart != nil && c.Before(*ap.LastPeriodStart) {
		return &fault.Error{Code: fault.FailedPrecondition, Field: field,
			Message: fmt.Sprintf("the latest billed period starts on %s: the package cannot be canceled before that", ap.LastPeriodStart)}
	}
	return nil
}

// changeEffective moves the start of an account-package that has nothing on a
// CLOSED invoice: its charges are removed from OPEN invoices and it is billed again
// from the new date. The transition charges go with the others, so its status changes
// are left to be charged again by the next billing, like its periods (docs/billing.md 3). end is
// the end date e must not be after, if any.
func (s *Service) changeEffective(ctx context.Context, c *ent.Client, ap *ent.AccountPackage, e calendar.Date,
	end *calendar.Date, upd *ent.AccountPackageUpdateOne) error {
	if canceledByBilling(ap) {
		return fault.Preconditionf("account-package %d is canceled", ap.ID)
	}
	if err := checkAvailable(ap.Edges.Package, e, "input.effectiveDate"); err != nil {
		return err
	}
	if end != nil && end.Before(e) {
		return fault.PreconditionAt("input.effectiveDate", "effectiveDate %s is after the end date %s", e, end)
	}
	chargeIDs, err := c.Charge.Query().Where(charge.AccountPackageID(ap.ID)).IDs(ctx)
	if err != nil {
		return err
	}
	if err := invoicing.RemoveCharges(ctx, c, chargeIDs); err != nil {
		if fe, ok := fault.As(err); ok && fe.Code == fault.FailedPrecondition {
			return fault.PreconditionAt("input.effectiveDate", "account-package %d has charges on a CLOSED invoice: its effective date can no longer change", ap.ID)
		}
		return err
	}
	day, err := billDay(ctx, c, ap)
	if err != nil {
		return err
	}
	if ap.NewBillDay != nil {
		day = *ap.NewBillDay
		upd.SetOwnBillDay(day).ClearNewBillDay()
	}
	// Billed again from the new date, usage and activation too.
	upd.SetEffectiveDate(e).ClearBilledThrough().ClearLastPeriodStart().
		SetNextBillDate(rating.FirstNextBillDate(cadence(ap.Edges.Frequency), day, e, ap.Postpaid)).
		ClearUsageNext().ClearUsageDue().ClearUsageLateFrom().ClearActivatedOn()
	svcIDs, err := c.AccountService.Query().Where(accountservice.AccountPackageID(ap.ID)).IDs(ctx)
	if err != nil || len(svcIDs) == 0 {
		return err
	}
	if err := c.StatusChange.Update().Where(statuschange.AccountServiceIDIn(svcIDs...), statuschange.Charged(true)).
		SetCharged(false).Exec(ctx); err != nil {
		return err
	}
	return c.AccountService.Update().Where(accountservice.IDIn(svcIDs...)).
		SetEffectiveDate(e).SetOneTimeBilled(false).Exec(ctx)
}

// Cancel schedules the cancellation of an account-package on date (the first day out
// of service) with a billing option for its final period; the next bill run over the
// account whose range reaches that date carries it out. Refusals: BAD_USER_INPUT for
// an unknown billing option; NOT_FOUND for an unknown account-package;
// FAILED_PRECONDITION for a package already canceled or read-only, a date before the
// effective date, or a date inside what is already billed (before the latest billed
// period in advance, on or before billedThrough postpaid).
func (s *Service) Cancel(ctx context.Context, id int, in CancelAccountPackageInput) (*ent.AccountPackage, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.AccountPackage
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		ap, err := s.lockAccountPackage(ctx, c, id)
		if err != nil {
			return err
		}
		if canceledByBilling(ap) || ap.Edges.Status.ReadOnly {
			return fault.Preconditionf("account-package %d is already %s", id, ap.Edges.Status.Code)
		}
		if err := checkCancelDate(ap, in.CancellationDate, "input.cancellationDate"); err != nil {
			return err
		}
		waive := in.WaiveEarlyTerminationFee != nil && *in.WaiveEarlyTerminationFee
		out, err = ScheduleCancel(ctx, c, id, in.CancellationDate, in.BillingOption, waive)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// ScheduleCancel writes the cancellation of an account-package on date (the first
// day out of service) with a billing option, in the transaction ctx carries, for the
// next bill run reaching the date to carry out: the package and its services end the
// day before. waive cancels without the contract's early termination fee. The caller
// has checked the date and locked the account-package.
func ScheduleCancel(ctx context.Context, c *ent.Client, id int, date calendar.Date, option accountpackage.CancelBillingOption,
	waive bool) (*ent.AccountPackage, error) {
	end := date.AddDays(-1)
	if err := clampServices(ctx, c, id, end); err != nil {
		return nil, err
	}
	return c.AccountPackage.UpdateOneID(id).SetCancellationDate(date).
		SetCancelBillingOption(option).SetEndDate(end).SetWaiveTerminationFee(waive).Save(ctx)
}

// clampServices ends the account-services of an account-package whose own end date is
// later than the package's new end date with the package (docs/billing.md 3.1).
func clampServices(ctx context.Context, c *ent.Client, apID int, end calendar.Date) error {
	_, err := c.AccountService.Update().
		Where(accountservice.AccountPackageID(apID), accountservice.EndDateGT(end)).
		SetEndDate(end).Save(ctx)
	return err
}

// Delete removes an account-package that has nothing on a CLOSED invoice: its
// charges leave their OPEN invoices (an invoice billing created and left empty is
// deleted too). NOT_FOUND; FAILED_PRECONDITION once a charge is on a CLOSED invoice
// (cancel it instead).
func (s *Service) Delete(ctx context.Context, id int) (int, error) {
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if _, err := s.lockAccountPackage(ctx, c, id); err != nil {
			return err
		}
		chargeIDs, err := c.Charge.Query().Where(charge.AccountPackageID(id)).IDs(ctx)
		if err != nil {
			return err
		}
		if err := invoicing.RemoveCharges(ctx, c, chargeIDs); err != nil {
			if fe, ok := fault.As(err); ok && fe.Code == fault.FailedPrecondition {
				return fault.Preconditionf("account-package %d has charges on a CLOSED invoice and cannot be deleted: cancel it instead", id)
			}
			return err
		}
		svcIDs, err := c.AccountService.Query().Where(accountservice.AccountPackageID(id)).IDs(ctx)
		if err != nil {
			return err
		}
		if err := deleteServices(ctx, c, svcIDs); err != nil {
			return err
		}
		if _, err := c.Contract.Delete().Where(contract.AccountPackageID(id)).Exec(ctx); err != nil {
			return err
		}
		return c.AccountPackage.DeleteOneID(id).Exec(ctx)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

func deleteServices(ctx context.Context, c *ent.Client, ids []int) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := c.StatusChange.Delete().Where(statuschange.AccountServiceIDIn(ids...)).Exec(ctx); err != nil {
		return err
	}
	if _, err := c.StatusPrice.Delete().Where(statusprice.AccountServiceIDIn(ids...)).Exec(ctx); err != nil {
		return err
	}
	if _, err := c.Discount.Delete().Where(discount.AccountServiceIDIn(ids...)).Exec(ctx); err != nil {
		return err
	}
	_, err := c.AccountService.Delete().Where(accountservice.IDIn(ids...)).Exec(ctx)
	return err
}

// instances counts the instances of a service on an account-package, leaving out one
// account-service (except, 0 for none).
func instances(ctx context.Context, c *ent.Client, apID, serviceID, except int) (int, error) {
	svcs, err := c.AccountService.Query().Where(accountservice.AccountPackageID(apID),
		accountservice.ServiceID(serviceID), accountservice.IDNEQ(except)).All(ctx)
	n := 0
	for _, sv := range svcs {
		n += sv.Quantity
	}
	return n, err
}

func packageService(ctx context.Context, c *ent.Client, packageID, serviceID int) (*ent.PackageService, error) {
	return c.PackageService.Query().Where(packageservice.PackageID(packageID), packageservice.ServiceID(serviceID)).Only(ctx)
}

// mutable refuses changes to the services of a package that is canceled or in a
// read-only status.
func mutable(ap *ent.AccountPackage) error {
	if canceledByBilling(ap) || ap.Edges.Status.ReadOnly {
		return fault.Preconditionf("account-package %d is %s (read-only): its services cannot change", ap.ID, ap.Edges.Status.Code)
	}
	return nil
}

// lockAccountService reads an account-service for change: it locks its account-package
// (see lockAccountPackage) and then reads the service again under that lock, so that
// the instance counts and the status it works from are not those of before a
// concurrent change, and a service removed meanwhile is NOT_FOUND.
func (s *Service) lockAccountService(ctx context.Context, c *ent.Client, id int) (*ent.AccountService, *ent.AccountPackage, error) {
	notFound := fault.NotFoundf("id", "account-service %d not found", id)
	sv, err := c.AccountService.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil, notFound
	} else if err != nil {
		return nil, nil, err
	}
	ap, err := s.lockAccountPackage(ctx, c, sv.AccountPackageID)
	if fe, ok := fault.As(err); ok && fe.Code == fault.NotFound {
		return nil, nil, notFound // its package was deleted meanwhile
	} else if err != nil {
		return nil, nil, err
	}
	sv, err = c.AccountService.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, nil, notFound
	} else if err != nil {
		return nil, nil, err
	}
	return sv, ap, nil
}

// AddService adds instances of one of the package's services to an account-package.
// It is billed from the start of the package's next unbilled period. Refusals:
// BAD_USER_INPUT for a quantity out of range or a malformed price override; NOT_FOUND
// for an unknown account-package or status code; FAILED_PRECONDITION for a service not
// in the package, instances beyond maxInstances, or a canceled or read-only package.
func (s *Service) AddService(ctx context.Context, apID int, in AccountServiceInput) (*ent.AccountService, error) {
	if err := in.validate("input"); err != nil {
		return nil, err
	}
	var out *ent.AccountService
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		ap, err := s.lockAccountPackage(ctx, c, apID)
		if err != nil {
			if fe, ok := fault.As(err); ok && fe.Code == fault.NotFound {
				fe.Field = "accountPackageId"
			}
			return err
		}
		if err := mutable(ap); err != nil {
			return err
		}
		ps, err := packageService(ctx, c, ap.PackageID, in.ServiceID)
		if ent.IsNotFound(err) {
			return fault.PreconditionAt("input.serviceId", "service %d is not in package %q", in.ServiceID, ap.Edges.Package.Name)
		} else if err != nil {
			return err
		}
		have, err := instances(ctx, c, apID, in.ServiceID, 0)
		if err != nil {
			return err
		}
		if err := checkInstances(ps, have+in.quantity(), "input.quantity"); err != nil {
			return err
		}
		byCode, _, err := statuses(ctx, c)
		if err != nil {
			return err
		}
		st := byCode[rating.Active]
		if in.Status != nil {
			var ok bool
			if st, ok = byCode[*in.Status]; !ok {
				return fault.NotFoundf("input.status", "unknown status code %q", *in.Status)
			}
		}
		from := *ap.NextBillDate
		if ap.Postpaid {
			from = ap.EffectiveDate
			if ap.BilledThrough != nil {
				from = ap.BilledThrough.AddDays(1)
			}
		}
		var ident *string
		if in.UsageIdentifier != nil {
			if ident, err = normalIdentifier("input.usageIdentifier", *in.UsageIdentifier); err != nil {
				return err
			}
		}
		if ident != nil {
			svc, err := c.Service.Get(ctx, in.ServiceID)
			if err != nil {
				return err
			}
			if err := s.claimIdentifier(ctx, c, svc, *ident, 0, "input.usageIdentifier"); err != nil {
				return err
			}
		}
		if in.RatePlanID != nil {
			acc, err := c.Account.Get(ctx, ap.AccountID)
			if err != nil {
				return err
			}
			svc, err := c.Service.Get(ctx, in.ServiceID)
			if err != nil {
				return err
			}
			if err := checkServicePlan(ctx, c, acc, svc, *in.RatePlanID, "input.ratePlanId"); err != nil {
				return err
			}
		}
		sv, err := c.AccountService.Create().SetAccountPackageID(apID).SetServiceID(in.ServiceID).
			SetStatusID(st.ID).SetQuantity(in.quantity()).SetEffectiveDate(from).
			SetNillableEndDate(ap.EndDate).SetNillableUsageIdentifier(ident).SetNillableRatePlanID(in.RatePlanID).Save(ctx)
		if err != nil {
			return err
		}
		if err := s.setOverrides(ctx, c, ap, sv, in.PriceOverrides, byCode, "input.priceOverrides"); err != nil {
			return err
		}
		out = sv
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// recurringPrices returns a frequency's recurring catalog prices in a currency, by
// service id and then status id.
func recurringPrices(ctx context.Context, c *ent.Client, frequencyID, currencyID int) (map[int]map[int]*ent.StatusPrice, error) {
	sps, err := c.ServicePrice.Query().Where(serviceprice.FrequencyID(frequencyID),
		serviceprice.CurrencyID(currencyID)).WithRecurring().All(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int]map[int]*ent.StatusPrice, len(sps))
	for _, sp := range sps {
		byStatus := map[int]*ent.StatusPrice{}
		for _, p := range sp.Edges.Recurring {
			byStatus[p.StatusID] = p
		}
		out[sp.ServiceID] = byStatus
	}
	return out, nil
}

// setOverrides replaces an account-service's price overrides. An override equal to
// the catalog price is not kept: it is catalog pricing.
func (s *Service) setOverrides(ctx context.Context, c *ent.Client, ap *ent.AccountPackage, sv *ent.AccountService,
	ovs []*catalog.StatusPriceInput, byCode map[string]*ent.Status, path string) error {
	if _, err := c.StatusPrice.Delete().Where(statusprice.AccountServiceID(sv.ID)).Exec(ctx); err != nil {
		return err
	}
	if len(ovs) == 0 {
		return nil
	}
	if svc, err := c.Service.Get(ctx, sv.ServiceID); err != nil {
		return err
	} else if svc.Kind == service.KindUSAGE {
		return fault.Invalidf(path, "service %q is a USAGE service: its usage is priced by rate plans, not recurring prices", svc.Name)
	}
	acc, err := c.Account.Get(ctx, ap.AccountID)
	if err != nil {
		return err
	}
	catalogPrices, err := recurringPrices(ctx, c, ap.FrequencyID, acc.CurrencyID)
	if err != nil {
		return err
	}
	for i, o := range ovs {
		st, ok := byCode[o.Status]
		if !ok {
			return fault.NotFoundf(fault.Path(path, i, "status"), "unknown status code %q", o.Status)
		}
		if cp, ok := catalogPrices[sv.ServiceID][st.ID]; ok && cp.Amount.Equal(o.Amount) {
			continue
		}
		if err := c.StatusPrice.Create().SetAccountServiceID(sv.ID).SetStatusID(st.ID).SetAmount(o.Amount).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// UpdateService changes an account-service: its status (the transition price is
// charged by the next bill run), its instances (within the package's limits), or its
// price overrides (replaced as a whole; an empty list returns to catalog pricing).
// Refusals: BAD_USER_INPUT for a quantity out of range or a malformed price override;
// NOT_FOUND for an unknown account-service or status code; FAILED_PRECONDITION for
// instances outside the package's limits or a canceled or read-only package.
func (s *Service) UpdateService(ctx context.Context, id int, in UpdateAccountServiceInput) (*ent.AccountService, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.AccountService
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		sv, ap, err := s.lockAccountService(ctx, c, id)
		if err != nil {
			return err
		}
		if err := mutable(ap); err != nil {
			return err
		}
		byCode, _, err := statuses(ctx, c)
		if err != nil {
			return err
		}
		if in.Quantity != nil && *in.Quantity != sv.Quantity {
			ps, err := packageService(ctx, c, ap.PackageID, sv.ServiceID)
			if err != nil {
				return err
			}
			others, err := instances(ctx, c, ap.ID, sv.ServiceID, sv.ID)
			if err != nil {
				return err
			}
			if err := checkInstances(ps, others+*in.Quantity, "input.quantity"); err != nil {
				return err
			}
			if err := c.AccountService.UpdateOneID(id).SetQuantity(*in.Quantity).Exec(ctx); err != nil {
				return err
			}
		}
		if in.PriceOverrides != nil {
			if err := s.setOverrides(ctx, c, ap, sv, in.PriceOverrides, byCode, "input.priceOverrides"); err != nil {
				return err
			}
		}
		if in.UsageIdentifier != nil {
			if err := s.setIdentifier(ctx, c, sv, *in.UsageIdentifier); err != nil {
				return err
			}
		}
		if in.RatePlanID != nil {
			if err := setServicePlan(ctx, c, ap, sv, *in.RatePlanID); err != nil {
				return err
			}
		}
		if in.Status != nil {
			st, ok := byCode[*in.Status]
			if !ok {
				return fault.NotFoundf("input.status", "unknown status code %q", *in.Status)
			}
			if err := s.recordChanges(ctx, c, ap.AccountID, []*ent.AccountService{sv}, st); err != nil {
				return err
			}
		}
		out, err = c.AccountService.Get(ctx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out.Unwrap(), nil
}

// RemoveService removes an account-service. Its charges stay on their invoices.
// Refusals: NOT_FOUND; FAILED_PRECONDITION when the package would fall below the
// service's minInstances, or is canceled or read-only.
func (s *Service) RemoveService(ctx context.Context, id int) (int, error) {
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		sv, ap, err := s.lockAccountService(ctx, c, id)
		if err != nil {
			return err
		}
		if err := mutable(ap); err != nil {
			return err
		}
		ps, err := packageService(ctx, c, ap.PackageID, sv.ServiceID)
		if err != nil {
			return err
		}
		others, err := instances(ctx, c, ap.ID, sv.ServiceID, sv.ID)
		if err != nil {
			return err
		}
		if others < ps.MinInstances {
			return fault.Preconditionf("removing it would leave %d instance(s) of service %d, below its minInstances %d", others, sv.ServiceID, ps.MinInstances)
		}
		return deleteServices(ctx, c, []int{id})
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}
