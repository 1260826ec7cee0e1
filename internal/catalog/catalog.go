// Package catalog manages what operators sell: currencies, statuses, services, and
// packages with their services, frequencies and prices. See README.md for the rules it
// enforces.
package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/catalogpackage"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/packageservice"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/serviceprice"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/ent/statusprice"
	"github.com/billd/billd/ent/transitionprice"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// Service is the catalog's service layer: it validates, applies the catalog rules and
// writes in one transaction per call. Every method returns *fault.Error for refusals
// (BAD_USER_INPUT, NOT_FOUND, CONFLICT, FAILED_PRECONDITION) and writes nothing then.
type Service struct {
	client *ent.Client
}

// New returns the catalog service over client.
func New(client *ent.Client) *Service { return &Service{client: client} }

// Builtin currencies and statuses, present in every database.
var (
	BuiltinCurrencies = []CreateCurrencyInput{
		{Code: "USD", Name: "US Dollar", Precision: 2},
		{Code: "EUR", Name: "Euro", Precision: 2},
		{Code: "GBP", Name: "Pound Sterling", Precision: 2},
		{Code: "CAD", Name: "Canadian Dollar", Precision: 2},
		{Code: "JPY", Name: "Yen", Precision: 0},
	}
	BuiltinStatuses = []CreateStatusInput{
		{Code: rating.Active, Name: "Active", Billable: true},
		{Code: rating.Suspended, Name: "Suspended", Billable: true},
		{Code: rating.Pending, Name: "Pending", Billable: false},
		{Code: rating.Canceled, Name: "Canceled", Billable: false, ReadOnly: true},
	}
)

// Seed adds the builtin currencies and statuses that are missing. It is idempotent and
// safe to run concurrently: an existing code is left as it is.
func (s *Service) Seed(ctx context.Context) error {
	return store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		for _, cur := range BuiltinCurrencies {
			err := c.Currency.Create().SetCode(cur.Code).SetName(cur.Name).SetPrecision(cur.Precision).
				OnConflictColumns(currency.FieldCode).DoNothing().Exec(ctx)
			if err != nil && !isNoRows(err) {
				return fmt.Errorf("seeding currency %s: %w", cur.Code, err)
			}
		}
		for _, st := range BuiltinStatuses {
			err := c.Status.Create().SetCode(st.Code).SetName(st.Name).SetBillable(st.Billable).
				SetReadOnly(st.ReadOnly).SetBuiltin(true).
				OnConflictColumns(status.FieldCode).DoNothing().Exec(ctx)
			if err != nil && !isNoRows(err) {
				return fmt.Errorf("seeding status %s: %w", st.Code, err)
			}
		}
		return nil
	})
}

// isNoRows reports the error Ent returns when ON CONFLICT DO NOTHING inserted nothing.
func isNoRows(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no rows in result set")
}

// Currencies returns all currencies by code.
func (s *Service) Currencies(ctx context.Context) ([]*ent.Currency, error) {
	return store.Client(ctx, s.client).Currency.Query().Order(ent.Asc(currency.FieldCode)).All(ctx)
}

// Statuses returns all statuses, builtins first.
func (s *Service) Statuses(ctx context.Context) ([]*ent.Status, error) {
	return store.Client(ctx, s.client).Status.Query().Order(ent.Asc(status.FieldID)).All(ctx)
}

// CreateCurrency adds a currency. A code already present is a CONFLICT.
func (s *Service) CreateCurrency(ctx context.Context, in CreateCurrencyInput) (*ent.Currency, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.Currency
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if n, err := c.Currency.Query().Where(currency.Code(in.Code)).Count(ctx); err != nil {
			return err
		} else if n > 0 {
			return fault.Conflictf("input.code", "currency %s already exists", in.Code)
		}
		var err error
		out, err = c.Currency.Create().SetCode(in.Code).SetName(in.Name).SetPrecision(in.Precision).Save(ctx)
		if ent.IsConstraintError(err) {
			// Created concurrently since the check above: the same refusal.
			return fault.Conflictf("input.code", "currency %s already exists", in.Code)
		}
		return store.Translate(err, "currency "+in.Code)
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

// CreateStatus adds a status. A code already present is a CONFLICT.
func (s *Service) CreateStatus(ctx context.Context, in CreateStatusInput) (*ent.Status, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.Status
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if n, err := c.Status.Query().Where(status.Code(in.Code)).Count(ctx); err != nil {
			return err
		} else if n > 0 {
			return fault.Conflictf("input.code", "status %s already exists", in.Code)
		}
		var err error
		out, err = c.Status.Create().SetCode(in.Code).SetName(in.Name).
			SetBillable(in.Billable).SetReadOnly(in.ReadOnly).Save(ctx)
		if ent.IsConstraintError(err) {
			// Created concurrently since the check above: the same refusal.
			return fault.Conflictf("input.code", "status %s already exists", in.Code)
		}
		return store.Translate(err, "status "+in.Code)
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

// CreateService adds a service.
func (s *Service) CreateService(ctx context.Context, in CreateServiceInput) (*ent.Service, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	create := store.Client(ctx, s.client).Service.Create().
		SetName(in.Name).SetNillableDescription(in.Description).SetKind(in.Kind).SetNillableUnit(in.Unit)
	if in.UnitDecimals != nil {
		create.SetUnitDecimals(*in.UnitDecimals)
	}
	return create.Save(ctx)
}

// UpdateService renames a service or changes its description. NOT_FOUND if id is not
// a service.
func (s *Service) UpdateService(ctx context.Context, id int, in UpdateServiceInput) (*ent.Service, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.Service
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if _, err := c.Service.Get(ctx, id); err != nil {
			return notFound(err, "id", "service", id)
		}
		var err error
		out, err = c.Service.UpdateOneID(id).SetNillableName(in.Name).SetNillableDescription(in.Description).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

// InUse reports whether any account-package uses the package.
func (s *Service) InUse(ctx context.Context, packageID int) (bool, error) {
	return store.Client(ctx, s.client).AccountPackage.Query().
		Where(accountpackage.PackageID(packageID)).Exist(ctx)
}

// InUseOf reports, for each of pkgs, whether account-packages use it, in one query.
func (s *Service) InUseOf(ctx context.Context, pkgs []int) (map[int]bool, error) {
	used, err := store.Client(ctx, s.client).AccountPackage.Query().
		Where(accountpackage.PackageIDIn(pkgs...)).Unique(true).Select(accountpackage.FieldPackageID).Ints(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(used))
	for _, p := range used {
		out[p] = true
	}
	return out, nil
}

// notFound turns Ent's not-found into a NOT_FOUND naming the argument.
func notFound(err error, field, what string, id int) error {
	if ent.IsNotFound(err) {
		return fault.NotFoundf(field, "%s %d not found", what, id)
	}
	return err
}

// refs holds the reference data a package definition is checked against.
type refs struct {
	currencies map[string]*ent.Currency
	statuses   map[string]*ent.Status
}

func (s *Service) loadRefs(ctx context.Context, c *ent.Client) (*refs, error) {
	curs, err := c.Currency.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	sts, err := c.Status.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	r := &refs{currencies: map[string]*ent.Currency{}, statuses: map[string]*ent.Status{}}
	for _, x := range curs {
		r.currencies[x.Code] = x
	}
	for _, x := range sts {
		r.statuses[x.Code] = x
	}
	return r, nil
}

// CreatePackage defines a package with its services, currencies and frequencies in
// one transaction. Refusals: BAD_USER_INPUT for a malformed definition, a negative
// price, a price in a currency the package does not list or for a service it does not
// contain, broken instance limits, or the bulk component with an optional service;
// NOT_FOUND for an unknown service id or an unknown currency or status code; CONFLICT
// for a name already used by another package in any letter case.
func (s *Service) CreatePackage(ctx context.Context, in CreatePackageInput) (*ent.CatalogPackage, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.CatalogPackage
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		r, err := s.loadRefs(ctx, c)
		if err != nil {
			return err
		}
		if err := s.checkNameFree(ctx, c, in.Name, 0); err != nil {
			return err
		}
		defStatus := rating.Active
		if in.DefaultStatus != nil {
			defStatus = *in.DefaultStatus
		}
		st, ok := r.statuses[defStatus]
		if !ok {
			return fault.NotFoundf("input.defaultStatus", "unknown status code %q", defStatus)
		}
		if st.ReadOnly {
			return fault.PreconditionAt("input.defaultStatus", "status %s is read-only: new account-packages cannot start in it", defStatus)
		}
		var curIDs []int
		pkgCur := map[string]*ent.Currency{}
		for i, code := range in.Currencies {
			cur, ok := r.currencies[code]
			if !ok {
				return fault.NotFoundf(fault.Path("input.currencies", i), "unknown currency code %q", code)
			}
			curIDs = append(curIDs, cur.ID)
			pkgCur[code] = cur
		}
		svcIDs := make([]int, len(in.Services))
		for i, ps := range in.Services {
			svcIDs[i] = ps.ServiceID
		}
		svcs, err := c.Service.Query().Where(service.IDIn(svcIDs...)).All(ctx)
		if err != nil {
			return err
		}
		byID := map[int]*ent.Service{}
		for _, sv := range svcs {
			byID[sv.ID] = sv
		}
		for i, ps := range in.Services {
			sv, ok := byID[ps.ServiceID]
			if !ok {
				return fault.NotFoundf(fault.Path("input.services", i, "serviceId"), "service %d not found", ps.ServiceID)
			}
			if err := checkUsageService(fault.Path("input.services", i), sv, ps, isTrue(in.BulkQuantity), fault.Invalidf); err != nil {
				return err
			}
		}
		if err := checkUsageTerms(&in, byID); err != nil {
			return err
		}
		oneTime := isTrue(in.OneTimeBilling)
		pkg, err := c.CatalogPackage.Create().
			SetName(in.Name).
			SetNameKey(nameKey(in.Name)).
			SetNillableDescription(in.Description).
			SetNillableStartDate(in.StartDate).
			SetNillableExpiryDate(in.ExpiryDate).
			SetDefaultStatusID(st.ID).
			SetOneTimeBilling(oneTime).
			SetChargeFullPeriod(oneTime || isTrue(in.ChargeFullPeriod)).
			SetPostpaid(isTrue(in.Postpaid) || isTrue(in.ChargeRecurringOnlyIfUsage)).
			SetBulkQuantity(isTrue(in.BulkQuantity)).
			SetChargeRecurringOnlyIfUsage(isTrue(in.ChargeRecurringOnlyIfUsage)).
			SetNillableActivationAfterDays(activationDays(in.Activation)).
			SetNillableActivationUsageThreshold(activationThreshold(in.Activation)).
			SetNillableActivationServiceID(activationService(in.Activation)).
			AddCurrencyIDs(curIDs...).
			Save(ctx)
		if ent.IsConstraintError(err) {
			// The name's key is the package's one unique column: another package took
			// the name since checkNameFree.
			return nameTaken(in.Name)
		} else if err != nil {
			return store.Translate(err, "package "+in.Name)
		}
		for i, ps := range in.Services {
			if err := createPackageService(ctx, c, pkg.ID, i, ps); err != nil {
				return err
			}
		}
		for i, f := range in.Frequencies {
			if _, err := createFrequency(ctx, c, r, pkg.ID, pkgCur, byID, fault.Path("input.frequencies", i), f, false); err != nil {
				return err
			}
		}
		out, err = c.CatalogPackage.Get(ctx, pkg.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

func createPackageService(ctx context.Context, c *ent.Client, pkgID, position int, ps *PackageServiceInput) error {
	minI, defI, maxI, optional := ps.resolved()
	return c.PackageService.Create().
		SetPackageID(pkgID).SetServiceID(ps.ServiceID).
		SetMinInstances(minI).SetDefaultInstances(defI).SetNillableMaxInstances(maxI).
		SetOptional(optional).SetPosition(position).
		SetNillableIncluded(ps.Included).SetShared(isTrue(ps.Shared)).
		Exec(ctx)
}

// nameKey is the form package names are unique in: trimmed and lower-cased.
func nameKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// checkNameFree refuses a package name another package (not except) already has.
func (s *Service) checkNameFree(ctx context.Context, c *ent.Client, name string, except int) error {
	taken, err := c.CatalogPackage.Query().
		Where(catalogpackage.NameKey(nameKey(name)), catalogpackage.IDNEQ(except)).Exist(ctx)
	if err != nil {
		return err
	}
	if taken {
		return nameTaken(name)
	}
	return nil
}

// nameTaken is the refusal of a package name another package has.
func nameTaken(name string) error {
	return fault.Conflictf("input.name", "a package named %q already exists (names are unique in any letter case)", name)
}

// lockPackage takes the package's row lock until the transaction ends, so that the
// changes of one package run one after the other and a check made after the lock (no
// optional service, no frequency of that name, not in use) still holds at commit.
// PostgreSQL runs at READ COMMITTED, where two transactions would otherwise both pass
// their checks; SQLite's immediate transactions are serialized already. It writes
// nothing: the row is updated to its own values. NOT_FOUND on field if the package
// does not exist.
func lockPackage(ctx context.Context, c *ent.Client, id int, field string) error {
	n, err := c.CatalogPackage.Update().Where(catalogpackage.ID(id)).
		Modify(func(u *entsql.UpdateBuilder) {
			u.Set(catalogpackage.FieldName, entsql.ExprFunc(func(b *entsql.Builder) { b.Ident(catalogpackage.FieldName) }))
		}).
		Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return fault.NotFoundf(field, "package %d not found", id)
	}
	return nil
}

// createFrequency validates a frequency against its package (currencies, services,
// statuses) and writes it with its prices.
//
// A price naming a service or currency the package lacks contradicts the request
// itself when the package is created with it (BAD_USER_INPUT), and the package as it
// stands when a frequency is added later (FAILED_PRECONDITION): existing tells which.
func createFrequency(ctx context.Context, c *ent.Client, r *refs, pkgID int, pkgCur map[string]*ent.Currency,
	svcs map[int]*ent.Service, path string, in *PackageFrequencyInput, existing bool) (*ent.PackageFrequency, error) {
	if err := in.validateShape(path); err != nil {
		return nil, err
	}
	refuse := fault.Invalidf
	if existing {
		refuse = fault.PreconditionAt
	}
	taken, err := c.PackageFrequency.Query().
		Where(packagefrequency.PackageID(pkgID)).All(ctx)
	if err != nil {
		return nil, err
	}
	for _, f := range taken {
		if strings.EqualFold(f.Name, in.Name) {
			return nil, fault.Conflictf(path+".name", "the package already has a frequency named %q", f.Name)
		}
	}
	if in.RatePlanID != nil {
		if err := checkFrequencyPlan(ctx, c, path+".ratePlanId", *in.RatePlanID, pkgCur, refuse); err != nil {
			return nil, err
		}
	}
	freq, err := c.PackageFrequency.Create().
		SetPackageID(pkgID).SetName(in.Name).SetInterval(in.Interval).SetIntervalCount(in.count()).
		SetNillableRatePlanID(in.RatePlanID).
		Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, fault.Conflictf(path+".name", "the package already has a frequency named %q", in.Name)
	} else if err != nil {
		return nil, store.Translate(err, "frequency "+in.Name)
	}
	type key struct {
		svc int
		cur string
	}
	seen := map[key]bool{}
	for i, p := range in.Prices {
		pp := fault.Path(path+".prices", i)
		sv, ok := svcs[p.ServiceID]
		if !ok {
			return nil, refuse(pp+".serviceId", "service %d is not one of the package's services", p.ServiceID)
		}
		cur, ok := pkgCur[p.Currency]
		if !ok {
			if _, known := r.currencies[p.Currency]; !known {
				return nil, fault.NotFoundf(pp+".currency", "unknown currency code %q", p.Currency)
			}
			return nil, refuse(pp+".currency", "the package is not priced in %s (its currencies: %s)", p.Currency, codes(pkgCur))
		}
		k := key{p.ServiceID, p.Currency}
		if seen[k] {
			return nil, fault.Invalidf(pp, "service %d already has prices in %s on this frequency", p.ServiceID, p.Currency)
		}
		seen[k] = true
		if sv.Kind == service.KindONE_TIME && len(p.Recurring) > 0 {
			return nil, fault.PreconditionAt(pp+".recurring", "service %d is a ONE_TIME service: give it a oneTime price, not recurring prices", p.ServiceID)
		}
		if err := checkPriceEntry(ctx, c, pp, sv, p); err != nil {
			return nil, err
		}
		prec := int32(cur.Precision)
		spc := c.ServicePrice.Create().SetFrequencyID(freq.ID).SetServiceID(p.ServiceID).SetCurrencyID(cur.ID).
			SetNillableRatePlanID(p.RatePlanID)
		if p.CountingRule != nil {
			if err := checkCountingRule(pp+".countingRule", sv, p.CountingRule, r); err != nil {
				return nil, err
			}
			spc.SetCountingRule(p.CountingRule.rule(prec))
		}
		if p.OneTime != nil {
			spc.SetOneTime(money.AtLeastScale(*p.OneTime, prec))
		}
		sp, err := spc.Save(ctx)
		if err != nil {
			return nil, err
		}
		seenSt := map[string]bool{}
		for j, rp := range p.Recurring {
			st, ok := r.statuses[rp.Status]
			if !ok {
				return nil, fault.NotFoundf(fault.Path(pp+".recurring", j, "status"), "unknown status code %q", rp.Status)
			}
			if seenSt[rp.Status] {
				return nil, fault.Invalidf(fault.Path(pp+".recurring", j, "status"), "status %s is priced twice", rp.Status)
			}
			seenSt[rp.Status] = true
			if err := c.StatusPrice.Create().SetServicePriceID(sp.ID).SetStatusID(st.ID).
				SetAmount(money.AtLeastScale(rp.Amount, prec)).Exec(ctx); err != nil {
				return nil, err
			}
		}
		seenTr := map[[2]string]bool{}
		for j, tp := range p.Transitions {
			tpath := fault.Path(pp+".transitions", j)
			from, ok := r.statuses[tp.From]
			if !ok {
				return nil, fault.NotFoundf(tpath+".from", "unknown status code %q", tp.From)
			}
			to, ok := r.statuses[tp.To]
			if !ok {
				return nil, fault.NotFoundf(tpath+".to", "unknown status code %q", tp.To)
			}
			if seenTr[[2]string{tp.From, tp.To}] {
				return nil, fault.Invalidf(tpath, "transition %s to %s is priced twice", tp.From, tp.To)
			}
			seenTr[[2]string{tp.From, tp.To}] = true
			if err := c.TransitionPrice.Create().SetServicePriceID(sp.ID).SetFromStatusID(from.ID).
				SetToStatusID(to.ID).SetAmount(money.AtLeastScale(tp.Amount, prec)).Exec(ctx); err != nil {
				return nil, err
			}
		}
	}
	return freq, nil
}

func codes(m map[string]*ent.Currency) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// AddPackageFrequency adds a billing cadence with its prices to a package. NOT_FOUND
// (field packageId) if the package does not exist; otherwise as CreatePackage.
func (s *Service) AddPackageFrequency(ctx context.Context, packageID int, in PackageFrequencyInput) (*ent.PackageFrequency, error) {
	var out *ent.PackageFrequency
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if err := lockPackage(ctx, c, packageID, "packageId"); err != nil {
			return err
		}
		pkg, err := c.CatalogPackage.Query().Where(catalogpackage.ID(packageID)).
			WithCurrencies().WithServices(func(q *ent.PackageServiceQuery) { q.WithService() }).Only(ctx)
		if err != nil {
			return notFound(err, "packageId", "package", packageID)
		}
		r, err := s.loadRefs(ctx, c)
		if err != nil {
			return err
		}
		pkgCur := map[string]*ent.Currency{}
		for _, cur := range pkg.Edges.Currencies {
			pkgCur[cur.Code] = cur
		}
		svcs := map[int]*ent.Service{}
		for _, ps := range pkg.Edges.Services {
			svcs[ps.ServiceID] = ps.Edges.Service
		}
		out, err = createFrequency(ctx, c, r, pkg.ID, pkgCur, svcs, "input", &in, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

// AddPackageService adds a service to an existing package. Account-packages already
// provisioned keep their services; new ones get it. Refusals as CreatePackage, and an
// optional service on a package with the bulk component.
func (s *Service) AddPackageService(ctx context.Context, packageID int, in PackageServiceInput) (*ent.PackageService, error) {
	if err := in.validate("input"); err != nil {
		return nil, err
	}
	var out *ent.PackageService
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if err := lockPackage(ctx, c, packageID, "packageId"); err != nil {
			return err
		}
		pkg, err := c.CatalogPackage.Get(ctx, packageID)
		if err != nil {
			return notFound(err, "packageId", "package", packageID)
		}
		sv, err := c.Service.Get(ctx, in.ServiceID)
		if err != nil {
			return notFound(err, "input.serviceId", "service", in.ServiceID)
		}
		if err := checkUsageService("input", sv, &in, pkg.BulkQuantity, fault.PreconditionAt); err != nil {
			return err
		}
		if _, _, _, optional := in.resolved(); optional && pkg.BulkQuantity {
			return fault.PreconditionAt("input.optional", "package %q has the bulk component, so it cannot have optional services", pkg.Name)
		}
		exists, err := c.PackageService.Query().Where(packageservice.PackageID(packageID), packageservice.ServiceID(in.ServiceID)).Exist(ctx)
		if err != nil {
			return err
		}
		if exists {
			return fault.Conflictf("input.serviceId", "service %d is already in package %q", in.ServiceID, pkg.Name)
		}
		n, err := c.PackageService.Query().Where(packageservice.PackageID(packageID)).Count(ctx)
		if err != nil {
			return err
		}
		minI, defI, maxI, optional := in.resolved()
		out, err = c.PackageService.Create().
			SetPackageID(packageID).SetServiceID(in.ServiceID).
			SetMinInstances(minI).SetDefaultInstances(defI).SetNillableMaxInstances(maxI).
			SetOptional(optional).SetPosition(n).
			SetNillableIncluded(in.Included).SetShared(isTrue(in.Shared)).Save(ctx)
		if ent.IsConstraintError(err) {
			return fault.Conflictf("input.serviceId", "service %d is already in package %q", in.ServiceID, pkg.Name)
		}
		return store.Translate(err, "package service")
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

// UpdatePackage changes a package. Account-packages keep the flags (chargeFullPeriod,
// postpaid) they were provisioned with; changes apply to new ones. Refusals: NOT_FOUND
// for an unknown package or default status code; CONFLICT for a taken name;
// BAD_USER_INPUT for dates out of order, clearing chargeFullPeriod on a one-time
// billing package, or the bulk component on a package with optional services;
// FAILED_PRECONDITION for removing the bulk component while account-packages use bulk
// quantities.
func (s *Service) UpdatePackage(ctx context.Context, id int, in UpdatePackageInput) (*ent.CatalogPackage, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *ent.CatalogPackage
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if err := lockPackage(ctx, c, id, "id"); err != nil {
			return err
		}
		pkg, err := c.CatalogPackage.Get(ctx, id)
		if err != nil {
			return notFound(err, "id", "package", id)
		}
		upd := c.CatalogPackage.UpdateOneID(id)
		if in.Name != nil {
			if err := s.checkNameFree(ctx, c, *in.Name, id); err != nil {
				return err
			}
			upd.SetName(*in.Name).SetNameKey(nameKey(*in.Name))
		}
		if in.Description != nil {
			upd.SetDescription(*in.Description)
		}
		start, expiry := pkg.StartDate, pkg.ExpiryDate
		if in.StartDate != nil {
			start = in.StartDate
			upd.SetStartDate(*in.StartDate)
		}
		if in.ExpiryDate != nil {
			expiry = in.ExpiryDate
			upd.SetExpiryDate(*in.ExpiryDate)
		}
		dateField := "input.expiryDate"
		if in.ExpiryDate == nil {
			dateField = "input.startDate"
		}
		if err := checkDates(start, expiry, dateField); err != nil {
			return err
		}
		if in.DefaultStatus != nil {
			st, err := c.Status.Query().Where(status.Code(*in.DefaultStatus)).Only(ctx)
			if ent.IsNotFound(err) {
				return fault.NotFoundf("input.defaultStatus", "unknown status code %q", *in.DefaultStatus)
			} else if err != nil {
				return err
			}
			if st.ReadOnly {
				return fault.PreconditionAt("input.defaultStatus", "status %s is read-only: new account-packages cannot start in it", *in.DefaultStatus)
			}
			upd.SetDefaultStatusID(st.ID)
		}
		if in.ChargeFullPeriod != nil {
			if pkg.OneTimeBilling && !*in.ChargeFullPeriod {
				return fault.PreconditionAt("input.chargeFullPeriod", "a one-time billing package always charges the full period")
			}
			upd.SetChargeFullPeriod(*in.ChargeFullPeriod)
		}
		if in.Postpaid != nil {
			upd.SetPostpaid(*in.Postpaid)
		}
		if in.BulkQuantity != nil {
			if *in.BulkQuantity && !pkg.BulkQuantity {
				hasOptional, err := c.PackageService.Query().
					Where(packageservice.PackageID(id), packageservice.Optional(true)).Exist(ctx)
				if err != nil {
					return err
				}
				if hasOptional {
					return fault.PreconditionAt("input.bulkQuantity", "package %q has optional services, so it cannot have the bulk component", pkg.Name)
				}
				hasUsage, err := c.PackageService.Query().
					Where(packageservice.PackageID(id), packageservice.HasServiceWith(service.KindEQ(service.KindUSAGE))).Exist(ctx)
				if err != nil {
					return err
				}
				if hasUsage {
					return fault.PreconditionAt("input.bulkQuantity", "package %q has USAGE services, so it cannot have the bulk component", pkg.Name)
				}
			}
			if !*in.BulkQuantity && pkg.BulkQuantity {
				bulkUsed, err := c.AccountPackage.Query().
					Where(accountpackage.PackageID(id), accountpackage.BulkQuantityGT(1)).Exist(ctx)
				if err != nil {
					return err
				}
				if bulkUsed {
					return fault.Preconditionf("package %q has account-packages with a bulk quantity above 1: the bulk component cannot be removed", pkg.Name)
				}
			}
			upd.SetBulkQuantity(*in.BulkQuantity)
		}
		out, err = upd.Save(ctx)
		if ent.IsConstraintError(err) && in.Name != nil {
			// Another package took the name since checkNameFree.
			return nameTaken(*in.Name)
		}
		return store.Translate(err, "package")
	})
	if err != nil {
		return nil, err
	}
	// Detach the result from the finished transaction so its edges load.
	return out.Unwrap(), nil
}

// DeletePackage deletes a package with its services, frequencies and prices. NOT_FOUND
// if it does not exist; FAILED_PRECONDITION while any account-package uses it.
func (s *Service) DeletePackage(ctx context.Context, id int) (int, error) {
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		if err := lockPackage(ctx, c, id, "id"); err != nil {
			return err
		}
		pkg, err := c.CatalogPackage.Get(ctx, id)
		if err != nil {
			return notFound(err, "id", "package", id)
		}
		used, err := c.AccountPackage.Query().Where(accountpackage.PackageID(id)).Count(ctx)
		if err != nil {
			return err
		}
		if used > 0 {
			return fault.Preconditionf("package %q is in use by %d account-package(s) and cannot be deleted", pkg.Name, used)
		}
		freqIDs, err := c.PackageFrequency.Query().Where(packagefrequency.PackageID(id)).IDs(ctx)
		if err != nil {
			return err
		}
		spIDs, err := c.ServicePrice.Query().Where(serviceprice.FrequencyIDIn(freqIDs...)).IDs(ctx)
		if err != nil {
			return err
		}
		if _, err := c.TransitionPrice.Delete().Where(transitionprice.ServicePriceIDIn(spIDs...)).Exec(ctx); err != nil {
			return err
		}
		if _, err := c.StatusPrice.Delete().Where(statusprice.ServicePriceIDIn(spIDs...)).Exec(ctx); err != nil {
			return err
		}
		if _, err := c.ServicePrice.Delete().Where(serviceprice.IDIn(spIDs...)).Exec(ctx); err != nil {
			return err
		}
		if _, err := c.PackageFrequency.Delete().Where(packagefrequency.IDIn(freqIDs...)).Exec(ctx); err != nil {
			return err
		}
		if _, err := c.PackageService.Delete().Where(packageservice.PackageID(id)).Exec(ctx); err != nil {
			return err
		}
		if err := c.CatalogPackage.UpdateOneID(id).ClearCurrencies().Exec(ctx); err != nil {
			return err
		}
		return c.CatalogPackage.DeleteOneID(id).Exec(ctx)
	})
	if err != nil {
		return 0, store.Translate(err, "package")
	}
	return id, nil
}
