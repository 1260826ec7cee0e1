package provisioning_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/statuschange"
	"github.com/billd/billd/ent/statusprice"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// Package tests of provisioning (docs/billing.md 3, 3.1, 4.4), on real databases:
// SQLite always, PostgreSQL too where the behaviour depends on the database (bulk
// inserts, row locks, foreign keys on delete). Billing positions and invoices are
// written through ent where a test needs them, as a bill run would leave them.

func d(s string) calendar.Date   { return calendar.MustParse(s) }
func dp(s string) *calendar.Date { x := d(s); return &x }
func m(s string) money.Decimal   { return money.MustParse(s) }
func ptr[T any](v T) *T          { return &v }

// today is the fixed clock's date: status changes are recorded on it.
var today = time.Date(2024, 3, 5, 9, 0, 0, 0, time.UTC)

// pkgRef is a catalog package and its frequencies by name.
type pkgRef struct {
	id    int
	freqs map[string]int
}

func (p pkgRef) monthly() int { return p.freqs["Monthly"] }

// testBundle is what a test works on: a fresh database holding the catalog below, and
// the services built over it.
//
//   - services Line, Addon, Multi, Extra, Tuner (RECURRING) and Spare (in no package);
//   - Pro, in USD and EUR: Line (1..unlimited, default 1), Addon (1..3, default 1),
//     Multi (2..4, default 2), Extra (optional, max 2), Tuner (optional, default 1); its
//     Monthly prices in USD are Line 10.00 ACTIVE and 2.00 SUSPENDED, Addon 5.00, Multi
//     1.00, Extra 3.00, Tuner 4.00; in EUR Line 9.00;
//   - Post: postpaid, USD, Line, on Monthly 30.00, Quarterly (MONTH×3) 90.00, Yearly
//     120.00 and Weekly 7.00;
//   - Bulk (the bulk component), Dated (available 2024-01-01 until 2025-01-01), Euro
//     (EUR only), Trial (default status PENDING), Full (chargeFullPeriod), Once
//     (oneTimeBilling): Line on Monthly;
//   - accounts Acme (USD, bill day 1), Beta (USD, bill day 15), Eurco (EUR, bill day 1).
//
// The cases of a table share their test's database (a fresh one costs more than most
// cases): each works on accounts of its own (fork), and its snapshots see only their
// rows.
type testBundle struct {
	ctx   context.Context
	db    *store.DB
	clk   *clock.Fixed
	prov  *provisioning.Service
	cat   *catalog.Service
	accts *account.Service

	line, addon, multi, extra, tuner, spare int

	pro, post, bulk, dated, euro, trial, full, once pkgRef

	acme, beta, eurco *ent.Account

	statuses map[string]int // status id by code
	scoped   bool           // snapshots see only the bundle's accounts (see fork)
}

// guards numbers the lines tests write, whose guards must be unique.
var guards atomic.Int64

// setup builds the bundle on a fresh SQLite database.
func setup(t *testing.T) *testBundle { return setupDB(t, "sqlite") }

// setupDB builds the bundle on a fresh database of the given kind.
func setupDB(t *testing.T, dialect string) *testBundle {
	t.Helper()
	ctx := context.Background()
	db := testenv.OpenDB(t, dialect)
	clk := clock.NewFixed(today)
	b := &testBundle{ctx: ctx, db: db, clk: clk, prov: provisioning.New(db, clk), cat: catalog.New(db.Client),
		statuses: map[string]int{}}

	svc := func(name string) int {
		s, err := b.cat.CreateService(ctx, catalog.CreateServiceInput{Name: name, Kind: service.KindRECURRING})
		require.NoError(t, err)
		return s.ID
	}
	b.line, b.addon, b.multi = svc("Line"), svc("Addon"), svc("Multi")
	b.extra, b.tuner, b.spare = svc("Extra"), svc("Tuner"), svc("Spare")

	price := func(svc int, cur, active string, more ...string) *catalog.ServicePriceInput {
		rec := []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m(active)}}
		for i := 0; i+1 < len(more); i += 2 {
			rec = append(rec, &catalog.StatusPriceInput{Status: more[i], Amount: m(more[i+1])})
		}
		return &catalog.ServicePriceInput{ServiceID: svc, Currency: cur, Recurring: rec}
	}
	freq := func(name string, iv packagefrequency.Interval, count int, prices ...*catalog.ServicePriceInput) *catalog.PackageFrequencyInput {
		return &catalog.PackageFrequencyInput{Name: name, Interval: iv, IntervalCount: &count, Prices: prices}
	}
	create := func(in catalog.CreatePackageInput) pkgRef {
		p, err := b.cat.CreatePackage(ctx, in)
		require.NoError(t, err)
		fs, err := db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(p.ID)).All(ctx)
		require.NoError(t, err)
		ref := pkgRef{id: p.ID, freqs: map[string]int{}}
		for _, f := range fs {
			ref.freqs[f.Name] = f.ID
		}
		return ref
	}
	b.pro = create(catalog.CreatePackageInput{
		Name: "Pro", Currencies: []string{"USD", "EUR"},
		Services: []*catalog.PackageServiceInput{
			{ServiceID: b.line},
			{ServiceID: b.addon, MinInstances: ptr(1), DefaultInstances: ptr(1), MaxInstances: ptr(3)},
			{ServiceID: b.multi, MinInstances: ptr(2), DefaultInstances: ptr(2), MaxInstances: ptr(4)},
			{ServiceID: b.extra, Optional: ptr(true), MaxInstances: ptr(2)},
			{ServiceID: b.tuner, Optional: ptr(true), DefaultInstances: ptr(1)},
		},
		Frequencies: []*catalog.PackageFrequencyInput{freq("Monthly", packagefrequency.IntervalMONTH, 1,
			price(b.line, "USD", "10.00", "SUSPENDED", "2.00"),
			price(b.addon, "USD", "5.00"),
			price(b.multi, "USD", "1.00"),
			price(b.extra, "USD", "3.00"),
			price(b.tuner, "USD", "4.00"),
			price(b.line, "EUR", "9.00"),
		)},
	})
	simple := func(name, cur, amount string, mod func(in *catalog.CreatePackageInput)) pkgRef {
		in := catalog.CreatePackageInput{
			Name: name, Currencies: []string{cur},
			Services:    []*catalog.PackageServiceInput{{ServiceID: b.line}},
			Frequencies: []*catalog.PackageFrequencyInput{freq("Monthly", packagefrequency.IntervalMONTH, 1, price(b.line, cur, amount))},
		}
		if mod != nil {
			mod(&in)
		}
		return create(in)
	}
	b.post = simple("Post", "USD", "30.00", func(in *catalog.CreatePackageInput) {
		in.Postpaid = ptr(true)
		in.Frequencies = append(in.Frequencies,
			freq("Quarterly", packagefrequency.IntervalMONTH, 3, price(b.line, "USD", "90.00")),
			freq("Yearly", packagefrequency.IntervalYEAR, 1, price(b.line, "USD", "120.00")),
			freq("Weekly", packagefrequency.IntervalWEEK, 1, price(b.line, "USD", "7.00")))
	})
	b.bulk = simple("Bulk", "USD", "1.00", func(in *catalog.CreatePackageInput) { in.BulkQuantity = ptr(true) })
	b.dated = simple("Dated", "USD", "5.00", func(in *catalog.CreatePackageInput) {
		in.StartDate, in.ExpiryDate = dp("2024-01-01"), dp("2025-01-01")
	})
	b.euro = simple("Euro", "EUR", "9.00", nil)
	b.trial = simple("Trial", "USD", "10.00", func(in *catalog.CreatePackageInput) { in.DefaultStatus = ptr("PENDING") })
	b.full = simple("Full", "USD", "10.00", func(in *catalog.CreatePackageInput) { in.ChargeFullPeriod = ptr(true) })
	b.once = simple("Once", "USD", "5.00", func(in *catalog.CreatePackageInput) { in.OneTimeBilling = ptr(true) })

	b.accts = account.New(db, clk)
	b.openAccounts(t)

	sts, err := db.Client.Status.Query().All(ctx)
	require.NoError(t, err)
	for _, st := range sts {
		b.statuses[st.Code] = st.ID
	}
	return b
}

func (b *testBundle) openAccounts(t *testing.T) {
	t.Helper()
	acc := func(name, cur string, day int) *ent.Account {
		a, err := b.accts.Create(b.ctx, account.CreateAccountInput{Name: name, Currency: cur, BillDay: day})
		require.NoError(t, err)
		return a
	}
	b.acme, b.beta, b.eurco = acc("Acme", "USD", 1), acc("Beta", "USD", 15), acc("Eurco", "EUR", 1)
}

// fork returns the bundle with accounts of its own, for a case sharing its test's
// database with others running in parallel: its snapshots see only its accounts' rows.
func (b *testBundle) fork(t *testing.T) *testBundle {
	t.Helper()
	f := *b
	f.openAccounts(t)
	f.scoped = true
	return &f
}

// noSuch is added to an id to name a row that does not exist (ids are global, each
// table with a range of its own far larger than this).
const noSuch = 1_000_000

// input is a provisioning of pkg on its Monthly frequency, with the required fields only.
func (b *testBundle) input(acc *ent.Account, p pkgRef, eff string) provisioning.ProvisionPackageInput {
	return provisioning.ProvisionPackageInput{AccountID: acc.ID, PackageID: p.id, FrequencyID: p.monthly(), EffectiveDate: d(eff)}
}

func (b *testBundle) provision(t *testing.T, in provisioning.ProvisionPackageInput) []*ent.AccountPackage {
	t.Helper()
	aps, err := b.prov.Provision(b.ctx, in)
	require.NoError(t, err)
	return aps
}

func (b *testBundle) one(t *testing.T, in provisioning.ProvisionPackageInput) *ent.AccountPackage {
	t.Helper()
	aps := b.provision(t, in)
	require.Len(t, aps, 1)
	return aps[0]
}

func (b *testBundle) ap(t *testing.T, id int) *ent.AccountPackage {
	t.Helper()
	ap, err := b.db.Client.AccountPackage.Get(b.ctx, id)
	require.NoError(t, err)
	return ap
}

// services returns an account-package's account-services in creation order.
func (b *testBundle) services(t *testing.T, apID int) []*ent.AccountService {
	t.Helper()
	svcs, err := b.db.Client.AccountService.Query().Where(accountservice.AccountPackageID(apID)).
		Order(ent.Asc(accountservice.FieldID)).All(b.ctx)
	require.NoError(t, err)
	return svcs
}

// servicesOf returns the account-services of one service on an account-package.
func (b *testBundle) servicesOf(t *testing.T, apID, serviceID int) []*ent.AccountService {
	t.Helper()
	var out []*ent.AccountService
	for _, sv := range b.services(t, apID) {
		if sv.ServiceID == serviceID {
			out = append(out, sv)
		}
	}
	return out
}

// instances sums the instances of a service on an account-package.
func (b *testBundle) instances(t *testing.T, apID, serviceID int) int {
	t.Helper()
	n := 0
	for _, sv := range b.servicesOf(t, apID, serviceID) {
		n += sv.Quantity
	}
	return n
}

// overrides returns an account-service's price overrides as "STATUS amount".
func (b *testBundle) overrides(t *testing.T, svID int) []string {
	t.Helper()
	ovs, err := b.db.Client.StatusPrice.Query().Where(statusprice.AccountServiceID(svID)).WithStatus().All(b.ctx)
	require.NoError(t, err)
	out := []string{}
	for _, o := range ovs {
		out = append(out, o.Edges.Status.Code+" "+o.Amount.String())
	}
	return out
}

// state is every row provisioning can write, counted and printed.
type state struct {
	counts map[string]int
	rows   map[string][]string
}

func rowsOf[T fmt.Stringer](t *testing.T, all []T, err error) []string {
	t.Helper()
	require.NoError(t, err)
	out := make([]string, len(all))
	for i, x := range all {
		out[i] = x.String()
	}
	return out
}

// queries select the rows of the tables provisioning writes: all of them, or with a
// forked bundle those of its accounts.
func (b *testBundle) queries() (*ent.AccountPackageQuery, *ent.AccountServiceQuery, *ent.StatusPriceQuery,
	*ent.StatusChangeQuery, *ent.ChargeQuery, *ent.InvoiceQuery) {
	c := b.db.Client
	aps, svcs, sps := c.AccountPackage.Query(), c.AccountService.Query(), c.StatusPrice.Query()
	scs, chs, invs := c.StatusChange.Query(), c.Charge.Query(), c.Invoice.Query()
	if b.scoped {
		ids := []int{b.acme.ID, b.beta.ID, b.eurco.ID}
		ofAccounts := accountpackage.AccountIDIn(ids...)
		aps.Where(ofAccounts)
		svcs.Where(accountservice.HasAccountPackageWith(ofAccounts))
		sps.Where(statusprice.HasAccountServiceWith(accountservice.HasAccountPackageWith(ofAccounts)))
		scs.Where(statuschange.AccountIDIn(ids...))
		chs.Where(charge.AccountIDIn(ids...))
		invs.Where(invoice.AccountIDIn(ids...))
	}
	return aps, svcs, sps, scs, chs, invs
}

// counts counts the rows queries selects, by table, with ent.
func (b *testBundle) counts(t *testing.T) map[string]int {
	t.Helper()
	count := func(n int, err error) int {
		require.NoError(t, err)
		return n
	}
	aps, svcs, sps, scs, chs, invs := b.queries()
	return map[string]int{
		"account_packages": count(aps.Count(b.ctx)),
		"account_services": count(svcs.Count(b.ctx)),
		"status_prices":    count(sps.Count(b.ctx)),
		"status_changes":   count(scs.Count(b.ctx)),
		"charges":          count(chs.Count(b.ctx)),
		"invoices":         count(invs.Count(b.ctx)),
	}
}

// snapshot reads the state a refused call must leave as it was: every row, or with a
// forked bundle every row of its accounts.
func (b *testBundle) snapshot(t *testing.T) state {
	t.Helper()
	ctx := b.ctx
	s := state{counts: b.counts(t), rows: map[string][]string{}}
	aps, svcs, sps, scs, chs, invs := b.queries()
	apRows, err := aps.Order(ent.Asc(accountpackage.FieldID)).All(ctx)
	s.rows["account_packages"] = rowsOf(t, apRows, err)
	svRows, err := svcs.Order(ent.Asc(accountservice.FieldID)).All(ctx)
	s.rows["account_services"] = rowsOf(t, svRows, err)
	spRows, err := sps.Order(ent.Asc(statusprice.FieldID)).All(ctx)
	s.rows["status_prices"] = rowsOf(t, spRows, err)
	scRows, err := scs.Order(ent.Asc(statuschange.FieldID)).All(ctx)
	s.rows["status_changes"] = rowsOf(t, scRows, err)
	chRows, err := chs.Order(ent.Asc(charge.FieldID)).All(ctx)
	s.rows["charges"] = rowsOf(t, chRows, err)
	invRows, err := invs.Order(ent.Asc(invoice.FieldID)).All(ctx)
	s.rows["invoices"] = rowsOf(t, invRows, err)
	return s
}

// requireUnchanged asserts that nothing was written since before was taken.
func (b *testBundle) requireUnchanged(t *testing.T, before state) {
	t.Helper()
	after := b.snapshot(t)
	require.Equal(t, before.counts, after.counts, "a refused call added or removed rows")
	require.Equal(t, before.rows, after.rows, "a refused call changed rows")
}

// requireFault asserts err is a *fault.Error with the code and field.
func requireFault(t *testing.T, err error, code fault.Code, field string) {
	t.Helper()
	require.Error(t, err)
	fe, ok := fault.As(err)
	require.True(t, ok, "want a *fault.Error, got %v", err)
	require.Equal(t, code, fe.Code, "code; message: %s", fe.Message)
	require.Equal(t, field, fe.Field, "field; message: %s", fe.Message)
}

// billed puts an account-package where a bill run leaves it: its latest billed period
// starting on lastStart, billed through through, next billed on next.
func (b *testBundle) billed(t *testing.T, apID int, lastStart, through, next string) {
	t.Helper()
	require.NoError(t, b.db.Client.AccountPackage.UpdateOneID(apID).SetLastPeriodStart(d(lastStart)).
		SetBilledThrough(d(through)).SetNextBillDate(d(next)).Exec(b.ctx))
}

// canceledByBilling puts an account-package where a bill run that carried out its
// cancellation leaves it: CANCELED, with its services, and no next bill date.
func (b *testBundle) canceledByBilling(t *testing.T, apID int) {
	t.Helper()
	st := b.statuses["CANCELED"]
	require.NoError(t, b.db.Client.AccountPackage.UpdateOneID(apID).SetStatusID(st).ClearNextBillDate().
		SetCancellationDate(d("2024-01-15")).SetCancelBillingOption(accountpackage.CancelBillingOptionPRORATED).
		SetEndDate(d("2024-01-14")).SetBilledThrough(d("2024-01-14")).SetLastPeriodStart(d("2024-01-01")).Exec(b.ctx))
	require.NoError(t, b.db.Client.AccountService.Update().Where(accountservice.AccountPackageID(apID)).
		SetStatusID(st).Exec(b.ctx))
}

// setCanceled moves an account-package to the read-only status CANCELED by a status
// change: billing has not canceled it, it still has a next bill date.
func (b *testBundle) setCanceled(t *testing.T, apID int) {
	t.Helper()
	ap, err := b.prov.Update(b.ctx, apID, provisioning.UpdateAccountPackageInput{Status: ptr("CANCELED")})
	require.NoError(t, err)
	require.Equal(t, b.statuses["CANCELED"], ap.StatusID)
	require.NotNil(t, ap.NextBillDate)
}

// billRun writes a finished bill run, for invoices billing created.
func (b *testBundle) billRun(t *testing.T) *ent.BillRun {
	t.Helper()
	r, err := b.db.Client.BillRun.Create().SetStatus(billrun.StatusCOMPLETED).SetPeriodStart(d("2024-01-01")).
		SetPeriodEnd(d("2024-01-31")).SetPostingDate(d("2024-01-31")).SetCreatedAt(today).Save(b.ctx)
	require.NoError(t, err)
	return r
}

// invoice writes an OPEN invoice of acc with the given total, created by run if not nil.
func (b *testBundle) invoice(t *testing.T, acc *ent.Account, run *ent.BillRun, total string) *ent.Invoice {
	t.Helper()
	n, err := invoicing.NextNumbers(b.ctx, b.db, 1)
	require.NoError(t, err)
	q := b.db.Client.Invoice.Create().SetNumber(invoicing.FormatNumber(n)).SetAccountID(acc.ID).
		SetCurrencyID(acc.CurrencyID).SetIssueDate(d("2024-01-31")).SetPostingDate(d("2024-01-31")).SetTotal(m(total))
	if run != nil {
		q.SetBillRunID(run.ID)
	}
	inv, err := q.Save(b.ctx)
	require.NoError(t, err)
	return inv
}

// charge writes a RECURRING line of an account-package's first account-service, on inv
// (or on no invoice).
func (b *testBundle) charge(t *testing.T, ap *ent.AccountPackage, inv *ent.Invoice, start, amount string) *ent.Charge {
	t.Helper()
	sv := b.services(t, ap.ID)[0]
	per := d(start)
	q := b.db.Client.Charge.Create().SetKind(charge.KindRECURRING).SetDescription("test line").
		SetAccountID(ap.AccountID).SetAccountPackageID(ap.ID).SetAccountServiceID(sv.ID).SetServiceID(sv.ServiceID).
		SetPeriodStart(per).SetPeriodEnd(per.AddDays(27)).SetQuantity(1).SetUnitAmount(m(amount)).SetAmount(m(amount)).
		SetGuard(fmt.Sprintf("TEST:%d:%d", ap.ID, guards.Add(1)))
	if inv != nil {
		q.SetInvoiceID(inv.ID)
	}
	ch, err := q.Save(b.ctx)
	require.NoError(t, err)
	return ch
}

func (b *testBundle) closeInvoice(t *testing.T, inv *ent.Invoice) {
	t.Helper()
	_, err := invoicing.New(b.db.Client).Close(b.ctx, inv.ID)
	require.NoError(t, err)
}

func (b *testBundle) invoiceTotal(t *testing.T, id int) string {
	t.Helper()
	inv, err := b.db.Client.Invoice.Get(b.ctx, id)
	require.NoError(t, err)
	return inv.Total.String()
}

func (b *testBundle) invoiceExists(t *testing.T, id int) bool {
	t.Helper()
	ok, err := b.db.Client.Invoice.Query().Where(invoice.ID(id)).Exist(b.ctx)
	require.NoError(t, err)
	return ok
}

func (b *testBundle) chargesOf(t *testing.T, apID int) int {
	t.Helper()
	n, err := b.db.Client.Charge.Query().Where(charge.AccountPackageID(apID)).Count(b.ctx)
	require.NoError(t, err)
	return n
}

// race runs n calls at once and returns their errors.
func race(n int, call func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// TestProvision holds what provisionPackage writes (docs/billing.md 3): the package's
// default status, the account's bill day unless one is given, each package service
// with its default instances except optional ones not asked for, requested instances,
// statuses and overrides (those equal to the catalog price dropped), the bulk quantity,
// an end date scheduling a PRORATED cancellation on the next day, and the flags copied
// from the package.
func TestProvision(t *testing.T) {
	t.Parallel()

	type svcWant struct {
		service  func(b *testBundle) int
		quantity int
		status   string
		ovs      []string
	}
	tests := []struct {
		name string
		in   func(b *testBundle) provisioning.ProvisionPackageInput
		// want: the account-package's fields, then its account-services in order.
		status               string
		bulk                 int
		ownBillDay           *int
		next                 string
		endDate, cancelOn    *calendar.Date
		chargeFull, postpaid bool
		services             []svcWant
	}{
		{
			name:   "defaults: the package's services with their default instances, optional ones left out",
			in:     func(b *testBundle) provisioning.ProvisionPackageInput { return b.input(b.acme, b.pro, "2024-01-10") },
			status: "ACTIVE", bulk: 1, next: "2024-01-10",
			services: []svcWant{
				{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.addon }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.multi }, 2, "ACTIVE", nil},
			},
		},
		{
			name: "requested instances, statuses and overrides; an optional service asked for",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.pro, "2024-01-10")
				in.Services = []*provisioning.AccountServiceInput{
					{ServiceID: b.extra, Quantity: ptr(2)},
					{ServiceID: b.addon, Quantity: ptr(2), Status: ptr("SUSPENDED")},
					{ServiceID: b.line, PriceOverrides: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m("7.50")}}},
				}
				return in
			},
			status: "ACTIVE", bulk: 1, next: "2024-01-10",
			services: []svcWant{
				{func(b *testBundle) int { return b.line }, 1, "ACTIVE", []string{"ACTIVE 7.50"}},
				{func(b *testBundle) int { return b.addon }, 2, "SUSPENDED", nil},
				{func(b *testBundle) int { return b.multi }, 2, "ACTIVE", nil},
				{func(b *testBundle) int { return b.extra }, 2, "ACTIVE", nil},
			},
		},
		{
			name: "an optional service asked for without a quantity gets one instance",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.pro, "2024-01-10")
				in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.tuner}}
				return in
			},
			status: "ACTIVE", bulk: 1, next: "2024-01-10",
			services: []svcWant{
				{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.addon }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.multi }, 2, "ACTIVE", nil},
				{func(b *testBundle) int { return b.tuner }, 1, "ACTIVE", nil},
			},
		},
		{
			name: "a service asked for twice: two account-services within its maxInstances (1+2 of 3)",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.pro, "2024-01-10")
				in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.addon}, {ServiceID: b.addon, Quantity: ptr(2)}}
				return in
			},
			status: "ACTIVE", bulk: 1, next: "2024-01-10",
			services: []svcWant{
				{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.addon }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.addon }, 2, "ACTIVE", nil},
				{func(b *testBundle) int { return b.multi }, 2, "ACTIVE", nil},
			},
		},
		{
			name: "overrides equal to the catalog price are dropped, whatever their scale; others kept",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.pro, "2024-01-10")
				in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.line, PriceOverrides: []*catalog.StatusPriceInput{
					{Status: "ACTIVE", Amount: m("10")},      // the USD catalog price
					{Status: "SUSPENDED", Amount: m("1.00")}, // catalog 2.00
					{Status: "PENDING", Amount: m("0.50")},   // no catalog price
				}}, {ServiceID: b.addon, PriceOverrides: []*catalog.StatusPriceInput{
					{Status: "ACTIVE", Amount: m("5.000")}, // the catalog price
				}}}
				return in
			},
			status: "ACTIVE", bulk: 1, next: "2024-01-10",
			services: []svcWant{
				{func(b *testBundle) int { return b.line }, 1, "ACTIVE", []string{"SUSPENDED 1.00", "PENDING 0.50"}},
				{func(b *testBundle) int { return b.addon }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.multi }, 2, "ACTIVE", nil},
			},
		},
		{
			name: "overrides are compared with the catalog price in the account's currency",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.eurco, b.pro, "2024-01-10")
				in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.line, PriceOverrides: []*catalog.StatusPriceInput{
					{Status: "ACTIVE", Amount: m("9.00")},    // the EUR catalog price
					{Status: "SUSPENDED", Amount: m("2.00")}, // the USD price only: kept
				}}}
				return in
			},
			status: "ACTIVE", bulk: 1, next: "2024-01-10",
			services: []svcWant{
				{func(b *testBundle) int { return b.line }, 1, "ACTIVE", []string{"SUSPENDED 2.00"}},
				{func(b *testBundle) int { return b.addon }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.multi }, 2, "ACTIVE", nil},
			},
		},
		{
			name: "a status asked for: the package is in it, its services stay ACTIVE",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.pro, "2024-01-10")
				in.Status = ptr("SUSPENDED")
				return in
			},
			status: "SUSPENDED", bulk: 1, next: "2024-01-10",
			services: []svcWant{
				{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.addon }, 1, "ACTIVE", nil},
				{func(b *testBundle) int { return b.multi }, 2, "ACTIVE", nil},
			},
		},
		{
			name:   "the package's default status",
			in:     func(b *testBundle) provisioning.ProvisionPackageInput { return b.input(b.acme, b.trial, "2024-01-10") },
			status: "PENDING", bulk: 1, next: "2024-01-10",
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name: "bulk quantity with the bulk component",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.bulk, "2024-01-01")
				in.BulkQuantity = ptr(100)
				return in
			},
			status: "ACTIVE", bulk: 100, next: "2024-01-01",
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name: "the most bulk quantity",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.bulk, "2024-01-01")
				in.BulkQuantity = ptr(provisioning.MaxBulk)
				return in
			},
			status: "ACTIVE", bulk: 1_000_000, next: "2024-01-01",
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name: "bulk quantity 1 without the bulk component",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.trial, "2024-01-01")
				in.BulkQuantity = ptr(1)
				return in
			},
			status: "PENDING", bulk: 1, next: "2024-01-01",
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name: "a bill day of its own: in advance it still starts on the effective date",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.full, "2024-01-10")
				in.BillDay = ptr(31)
				return in
			},
			status: "ACTIVE", bulk: 1, ownBillDay: ptr(31), next: "2024-01-10", chargeFull: true,
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name: "an end date schedules a PRORATED cancellation on the next day",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.trial, "2024-01-01")
				in.EndDate = dp("2024-06-30")
				return in
			},
			status: "PENDING", bulk: 1, next: "2024-01-01", endDate: dp("2024-06-30"), cancelOn: dp("2024-07-01"),
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name: "an end date on the effective date: one day in service",
			in: func(b *testBundle) provisioning.ProvisionPackageInput {
				in := b.input(b.acme, b.trial, "2024-02-29")
				in.EndDate = dp("2024-02-29")
				return in
			},
			status: "PENDING", bulk: 1, next: "2024-02-29", endDate: dp("2024-02-29"), cancelOn: dp("2024-03-01"),
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name:   "postpaid is copied from the package",
			in:     func(b *testBundle) provisioning.ProvisionPackageInput { return b.input(b.acme, b.post, "2024-01-10") },
			status: "ACTIVE", bulk: 1, next: "2024-02-01", postpaid: true,
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name:   "a one-time billing package charges the full period",
			in:     func(b *testBundle) provisioning.ProvisionPackageInput { return b.input(b.acme, b.once, "2024-01-10") },
			status: "ACTIVE", bulk: 1, next: "2024-01-10", chargeFull: true,
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name:   "the first day of the package's window",
			in:     func(b *testBundle) provisioning.ProvisionPackageInput { return b.input(b.acme, b.dated, "2024-01-01") },
			status: "ACTIVE", bulk: 1, next: "2024-01-01",
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
		{
			name:   "the day before the package's expiry",
			in:     func(b *testBundle) provisioning.ProvisionPackageInput { return b.input(b.acme, b.dated, "2024-12-31") },
			status: "ACTIVE", bulk: 1, next: "2024-12-31",
			services: []svcWant{{func(b *testBundle) int { return b.line }, 1, "ACTIVE", nil}},
		},
	}
	shared := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := shared.fork(t)
			in := tt.in(b)
			ap := b.one(t, in)

			require.Equal(t, in.AccountID, ap.AccountID)
			require.Equal(t, in.PackageID, ap.PackageID)
			require.Equal(t, in.FrequencyID, ap.FrequencyID)
			require.Equal(t, b.statuses[tt.status], ap.StatusID, "status %s", tt.status)
			require.Equal(t, tt.bulk, ap.BulkQuantity)
			require.Equal(t, in.EffectiveDate, ap.EffectiveDate)
			require.Equal(t, tt.ownBillDay, ap.OwnBillDay)
			require.Nil(t, ap.NewBillDay)
			require.Equal(t, dp(tt.next), ap.NextBillDate, "nextBillDate")
			require.Nil(t, ap.BilledThrough)
			require.Nil(t, ap.LastPeriodStart)
			require.Equal(t, tt.endDate, ap.EndDate)
			require.Equal(t, tt.cancelOn, ap.CancellationDate)
			if tt.cancelOn != nil {
				require.Equal(t, ptr(accountpackage.CancelBillingOptionPRORATED), ap.CancelBillingOption)
			} else {
				require.Nil(t, ap.CancelBillingOption)
			}
			require.Equal(t, tt.chargeFull, ap.ChargeFullPeriod)
			require.Equal(t, tt.postpaid, ap.Postpaid)

			svcs := b.services(t, ap.ID)
			require.Len(t, svcs, len(tt.services))
			for i, want := range tt.services {
				sv := svcs[i]
				require.Equal(t, want.service(b), sv.ServiceID, "account-service %d", i)
				require.Equal(t, want.quantity, sv.Quantity, "account-service %d", i)
				require.Equal(t, b.statuses[want.status], sv.StatusID, "account-service %d status %s", i, want.status)
				require.Equal(t, in.EffectiveDate, sv.EffectiveDate, "account-service %d", i)
				require.Equal(t, tt.endDate, sv.EndDate, "account-service %d", i)
				require.False(t, sv.OneTimeBilled)
				ovs := want.ovs
				if ovs == nil {
					ovs = []string{}
				}
				require.ElementsMatch(t, ovs, b.overrides(t, sv.ID), "account-service %d", i)
			}
			require.Equal(t, ap.String(), b.ap(t, ap.ID).String(), "what Provision returns is what it wrote")
		})
	}
}

// TestProvisionFirstNextBillDate holds where billing starts (docs/billing.md 4.1,
// 4.2): in advance on the effective date; postpaid at the end of the first period,
// which ends at the first anchor of the bill day in force (the package's own, else the
// account's) after the effective date, or a full period later on an anchor; daily and
// weekly periods ignore the bill day.
func TestProvisionFirstNextBillDate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pkg     func(b *testBundle) pkgRef
		freq    string
		acc     func(b *testBundle) *ent.Account
		billDay *int
		eff     string
		want    string
	}{
		{"in advance: the effective date", func(b *testBundle) pkgRef { return b.pro }, "Monthly", acme, nil, "2024-01-10", "2024-01-10"},
		{"in advance with a bill day of its own: the effective date", func(b *testBundle) pkgRef { return b.pro }, "Monthly", acme, ptr(15), "2024-01-10", "2024-01-10"},
		{"postpaid monthly, effective 2024-01-10, bill day 1", post, "Monthly", acme, nil, "2024-01-10", "2024-02-01"},
		{"postpaid monthly on an anchor: a full first period", post, "Monthly", acme, nil, "2024-01-01", "2024-02-01"},
		{"postpaid monthly, own bill day 15", post, "Monthly", acme, ptr(15), "2024-01-10", "2024-01-15"},
		{"postpaid monthly, the account's bill day 15", post, "Monthly", beta, nil, "2024-01-20", "2024-02-15"},
		{"postpaid monthly, bill day 31 in February 2024", post, "Monthly", acme, ptr(31), "2024-02-10", "2024-02-29"},
		{"postpaid monthly, bill day 31 from its January anchor", post, "Monthly", acme, ptr(31), "2024-01-31", "2024-02-29"},
		{"postpaid quarterly off an anchor: the first anchor", post, "Quarterly", acme, nil, "2024-01-10", "2024-02-01"},
		{"postpaid quarterly on an anchor: three months", post, "Quarterly", acme, nil, "2024-02-01", "2024-05-01"},
		{"postpaid yearly off an anchor: the first anchor", post, "Yearly", acme, nil, "2024-03-15", "2024-04-01"},
		{"postpaid yearly on an anchor: a year", post, "Yearly", acme, nil, "2024-04-01", "2025-04-01"},
		{"postpaid weekly ignores the bill day", post, "Weekly", acme, ptr(15), "2024-01-03", "2024-01-10"},
	}
	shared := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := shared.fork(t)
			p := tt.pkg(b)
			in := provisioning.ProvisionPackageInput{AccountID: tt.acc(b).ID, PackageID: p.id, FrequencyID: p.freqs[tt.freq],
				EffectiveDate: d(tt.eff), BillDay: tt.billDay}
			ap := b.one(t, in)
			require.Equal(t, dp(tt.want), ap.NextBillDate)
			require.Equal(t, tt.billDay, ap.OwnBillDay)
		})
	}
}

func acme(b *testBundle) *ent.Account { return b.acme }
func beta(b *testBundle) *ent.Account { return b.beta }
func post(b *testBundle) pkgRef       { return b.post }

// TestProvisionQuantity holds that quantity N writes N separate, identical
// account-packages with their services and overrides, for N up to 10,000, across the
// bulk insert chunks (500 rows), in ascending ids: on both databases, whose limits on
// one statement differ.
func TestProvisionQuantity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int
		lean bool // Trial: one account-service, no override, on each copy
	}{{1, false}, {2, false}, {500, false}, {501, false}, {1001, false}, {provisioning.MaxQuantity, true}}
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			shared := setupDB(t, dialect)
			for _, tt := range tests {
				t.Run(fmt.Sprint(tt.n), func(t *testing.T) {
					t.Parallel()
					b := shared.fork(t)
					n := tt.n
					in := b.input(b.beta, b.pro, "2024-03-10")
					// Line, Addon, Multi and Extra (with an override) on each copy.
					in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.extra,
						PriceOverrides: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m("2.50")}}}}
					perCopy, overrides := []int{b.line, b.addon, b.multi, b.extra}, 1
					if tt.lean {
						in = b.input(b.beta, b.trial, "2024-03-10")
						perCopy, overrides = []int{b.line}, 0
					}
					in.Quantity = ptr(n)
					before := b.counts(t)
					aps := b.provision(t, in)
					require.Len(t, aps, n)
					after := b.counts(t)
					require.Equal(t, before["account_packages"]+n, after["account_packages"])
					require.Equal(t, before["account_services"]+len(perCopy)*n, after["account_services"])
					require.Equal(t, before["status_prices"]+overrides*n, after["status_prices"])

					first := aps[0]
					for i, ap := range aps {
						if i > 0 {
							require.Less(t, aps[i-1].ID, ap.ID, "ids ascend in creation order")
						}
						same := *ap
						same.ID = first.ID
						require.Equal(t, first.String(), same.String(), "copy %d is identical to the first", i)
					}
					// Every copy has services of its own: look at the first, one past a
					// chunk and the last.
					for _, ap := range []*ent.AccountPackage{first, aps[min(n-1, 500)], aps[n-1]} {
						svcs := b.services(t, ap.ID)
						got := []int{}
						for _, sv := range svcs {
							got = append(got, sv.ServiceID)
							require.Equal(t, d("2024-03-10"), sv.EffectiveDate)
						}
						require.Equal(t, perCopy, got)
						if !tt.lean {
							require.Equal(t, []string{"ACTIVE 2.50"}, b.overrides(t, svcs[3].ID))
						}
					}
				})
			}
		})
	}
}

// TestProvisionRefusals holds every refusal of provisionPackage, with its code and
// field: BAD_USER_INPUT for an argument wrong on its own or against the same request,
// NOT_FOUND for an unknown id or status code, FAILED_PRECONDITION where the catalog or
// the account refuses it. A refusal writes nothing.
func TestProvisionRefusals(t *testing.T) {
	t.Parallel()
	const (
		bad  = fault.Invalid
		nf   = fault.NotFound
		pre  = fault.FailedPrecondition
		none = ""
	)
	type mod = func(b *testBundle, in *provisioning.ProvisionPackageInput)
	services := func(svcs ...func(b *testBundle) *provisioning.AccountServiceInput) mod {
		return func(b *testBundle, in *provisioning.ProvisionPackageInput) {
			for _, s := range svcs {
				in.Services = append(in.Services, s(b))
			}
		}
	}
	svc := func(id func(b *testBundle) int, q *int, st *string, ovs ...*catalog.StatusPriceInput) func(b *testBundle) *provisioning.AccountServiceInput {
		return func(b *testBundle) *provisioning.AccountServiceInput {
			return &provisioning.AccountServiceInput{ServiceID: id(b), Quantity: q, Status: st, PriceOverrides: ovs}
		}
	}
	line := func(b *testBundle) int { return b.line }
	addon := func(b *testBundle) int { return b.addon }
	multi := func(b *testBundle) int { return b.multi }
	extra := func(b *testBundle) int { return b.extra }
	spare := func(b *testBundle) int { return b.spare }
	ov := func(st, amount string) *catalog.StatusPriceInput {
		return &catalog.StatusPriceInput{Status: st, Amount: m(amount)}
	}

	tests := []struct {
		name  string
		mod   mod
		code  fault.Code
		field string
	}{
		// Arguments wrong on their own or against the same request.
		{"quantity 0", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.Quantity = ptr(0) }, bad, "input.quantity"},
		{"quantity -1", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.Quantity = ptr(-1) }, bad, "input.quantity"},
		{"quantity 10001", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.Quantity = ptr(10001) }, bad, "input.quantity"},
		{"bulkQuantity 0", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.BulkQuantity = ptr(0) }, bad, "input.bulkQuantity"},
		{"bulkQuantity 0 with the bulk component", func(b *testBundle, in *provisioning.ProvisionPackageInput) {
			*in = b.input(b.acme, b.bulk, "2024-01-10")
			in.BulkQuantity = ptr(0)
		}, bad, "input.bulkQuantity"},
		{"bulkQuantity above 1,000,000", func(b *testBundle, in *provisioning.ProvisionPackageInput) {
			*in = b.input(b.acme, b.bulk, "2024-01-10")
			in.BulkQuantity = ptr(provisioning.MaxBulk + 1)
		}, bad, "input.bulkQuantity"},
		{"billDay 0", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.BillDay = ptr(0) }, bad, "input.billDay"},
		{"billDay 32", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.BillDay = ptr(32) }, bad, "input.billDay"},
		{"endDate before effectiveDate", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.EndDate = dp("2024-01-09") }, bad, "input.endDate"},
		{"service quantity 0", services(svc(extra, ptr(0), nil)), bad, "input.services[0].quantity"},
		{"service quantity above 100,000", services(svc(line, ptr(provisioning.MaxInstances+1), nil)), bad, "input.services[0].quantity"},
		{"negative price override", services(svc(line, nil, nil, ov("ACTIVE", "-0.01"))), bad, "input.services[0].priceOverrides[0].amount"},
		{"a status overridden twice", services(svc(extra, nil, nil), svc(line, nil, nil, ov("ACTIVE", "1.00"), ov("ACTIVE", "2.00"))),
			bad, "input.services[1].priceOverrides[1].status"},

		// Unknown ids and codes.
		{"unknown account", func(b *testBundle, in *provisioning.ProvisionPackageInput) { in.AccountID = b.eurco.ID + noSuch }, nf, "input.accountId"},
		{"unknown package", func(b *testBundle, in *provisioning.ProvisionPackageInput) { in.PackageID = b.once.id + noSuch }, nf, "input.packageId"},
		{"unknown frequency", func(b *testBundle, in *provisioning.ProvisionPackageInput) {
			in.FrequencyID = b.once.monthly() + noSuch
		}, nf, "input.frequencyId"},
		{"a frequency of another package", func(b *testBundle, in *provisioning.ProvisionPackageInput) { in.FrequencyID = b.post.monthly() }, nf, "input.frequencyId"},
		{"unknown status", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.Status = ptr("NOPE") }, nf, "input.status"},
		{"unknown service status", services(svc(extra, nil, ptr("NOPE"))), nf, "input.services[0].status"},
		{"price override of an unknown status", services(svc(extra, nil, nil), svc(line, nil, nil, ov("ACTIVE", "1.00"), ov("NOPE", "1.00"))),
			nf, "input.services[1].priceOverrides[1].status"},

		// What the catalog and the account hold refuse it.
		{"bulkQuantity 2 without the bulk component", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.BulkQuantity = ptr(2) }, pre, "input.bulkQuantity"},
		{"the read-only status CANCELED", func(_ *testBundle, in *provisioning.ProvisionPackageInput) { in.Status = ptr("CANCELED") }, pre, "input.status"},
		{"the account's currency is not the package's", func(b *testBundle, in *provisioning.ProvisionPackageInput) {
			*in = b.input(b.acme, b.euro, "2024-01-10")
		}, pre, none},
		{"effectiveDate before the package's startDate", func(b *testBundle, in *provisioning.ProvisionPackageInput) {
			*in = b.input(b.acme, b.dated, "2023-12-31")
		}, pre, "input.effectiveDate"},
		{"effectiveDate on the package's expiryDate", func(b *testBundle, in *provisioning.ProvisionPackageInput) {
			*in = b.input(b.acme, b.dated, "2025-01-01")
		}, pre, "input.effectiveDate"},
		{"a service the package does not contain", services(svc(spare, nil, nil)), pre, "input.services[0].serviceId"},
		{"instances below minInstances", services(svc(multi, ptr(1), nil)), pre, "input.services[0].quantity"},
		{"instances above maxInstances", services(svc(line, nil, nil), svc(addon, ptr(4), nil)), pre, "input.services[1].quantity"},
		{"instances above maxInstances over two entries: the last one is at fault",
			services(svc(addon, ptr(2), nil), svc(line, nil, nil), svc(addon, ptr(2), nil)), pre, "input.services[2].quantity"},
		{"an optional service above maxInstances", services(svc(extra, ptr(3), nil)), pre, "input.services[0].quantity"},
	}
	shared := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := shared.fork(t)
			in := b.input(b.acme, b.pro, "2024-01-10")
			tt.mod(b, &in)
			before := b.snapshot(t)
			aps, err := b.prov.Provision(b.ctx, in)
			requireFault(t, err, tt.code, tt.field)
			require.Nil(t, aps)
			b.requireUnchanged(t, before)
		})
	}
}

// TestUpdate holds the accepted changes of an account-package (docs/billing.md 3.1): a
// status change moves its services and records one change per service that changed,
// to be charged by the next bill run; a new bill day applies at once before anything
// is billed, else waits for the next billing; an end date schedules a PRORATED
// cancellation on the next day and ends later-ending services with it; a bulk quantity
// changes on a package with the bulk component; a read-only package changes its status.
func TestUpdate(t *testing.T) {
	t.Parallel()

	t.Run("status change applies to the services and records the changes to charge", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.input(b.acme, b.pro, "2024-01-01")
		in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.addon, Status: ptr("SUSPENDED")}}
		ap := b.one(t, in)
		svcs := b.services(t, ap.ID) // Line ACTIVE, Addon SUSPENDED, Multi ACTIVE

		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{Status: ptr("SUSPENDED")})
		require.NoError(t, err)
		require.Equal(t, b.statuses["SUSPENDED"], got.StatusID)
		for _, sv := range b.services(t, ap.ID) {
			require.Equal(t, b.statuses["SUSPENDED"], sv.StatusID, "account-service %d", sv.ID)
		}
		changes, err := b.db.Client.StatusChange.Query().Order(ent.Asc(statuschange.FieldID)).All(b.ctx)
		require.NoError(t, err)
		require.Len(t, changes, 2, "Line and Multi changed; Addon was SUSPENDED already")
		for i, sv := range []*ent.AccountService{svcs[0], svcs[2]} {
			c := changes[i]
			require.Equal(t, sv.ID, c.AccountServiceID)
			require.Equal(t, b.acme.ID, c.AccountID)
			require.Equal(t, b.statuses["ACTIVE"], c.FromStatusID)
			require.Equal(t, b.statuses["SUSPENDED"], c.ToStatusID)
			require.Equal(t, d("2024-03-05"), c.ChangedOn, "the clock's date")
			require.False(t, c.Charged, "left for the next bill run to charge")
		}
		want := *ap
		want.StatusID = b.statuses["SUSPENDED"]
		require.Equal(t, want.String(), got.String(), "only the status changed")

		// The same status again is no change.
		_, err = b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{Status: ptr("SUSPENDED")})
		require.NoError(t, err)
		n, err := b.db.Client.StatusChange.Query().Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
	})

	t.Run("read-only: the status may change, to CANCELED and back", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
		b.setCanceled(t, ap.ID)
		for _, sv := range b.services(t, ap.ID) {
			require.Equal(t, b.statuses["CANCELED"], sv.StatusID)
		}
		// An empty change of a read-only package is no change, and allowed.
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{})
		require.NoError(t, err)
		require.Equal(t, b.statuses["CANCELED"], got.StatusID)

		got, err = b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{Status: ptr("ACTIVE")})
		require.NoError(t, err)
		require.Equal(t, b.statuses["ACTIVE"], got.StatusID)
		for _, sv := range b.services(t, ap.ID) {
			require.Equal(t, b.statuses["ACTIVE"], sv.StatusID)
		}
		n, err := b.db.Client.StatusChange.Query().Where(statuschange.Charged(false)).Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 6, n, "three services there and back")
	})

	t.Run("new bill day before anything is billed applies at once", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-10"))
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{NewBillDay: ptr(15)})
		require.NoError(t, err)
		require.Equal(t, ptr(15), got.OwnBillDay)
		require.Nil(t, got.NewBillDay)
		require.Equal(t, dp("2024-01-10"), got.NextBillDate, "in advance: still the effective date")

		post := b.one(t, b.input(b.acme, b.post, "2024-01-10"))
		require.Equal(t, dp("2024-02-01"), post.NextBillDate)
		got, err = b.prov.Update(b.ctx, post.ID, provisioning.UpdateAccountPackageInput{NewBillDay: ptr(15)})
		require.NoError(t, err)
		require.Equal(t, ptr(15), got.OwnBillDay)
		require.Equal(t, dp("2024-01-15"), got.NextBillDate, "postpaid: the first period now ends on the 15th")
	})

	t.Run("new bill day after billing waits for the next billing", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
		b.billed(t, ap.ID, "2024-01-01", "2024-01-31", "2024-02-01")
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{NewBillDay: ptr(15)})
		require.NoError(t, err)
		require.Nil(t, got.OwnBillDay, "still the account's bill day")
		require.Equal(t, ptr(15), got.NewBillDay)
		require.Equal(t, dp("2024-02-01"), got.NextBillDate)
		// The bill day in force again drops the pending one.
		got, err = b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{NewBillDay: ptr(1)})
		require.NoError(t, err)
		require.Nil(t, got.NewBillDay)
		require.Nil(t, got.OwnBillDay)
		require.Equal(t, dp("2024-02-01"), got.NextBillDate)
	})

	t.Run("end date schedules a PRORATED cancellation and ends later services with it", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.input(b.acme, b.pro, "2024-01-01")
		in.EndDate = dp("2024-06-30")
		ap := b.one(t, in)
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{EndDate: dp("2024-04-30")})
		require.NoError(t, err)
		require.Equal(t, dp("2024-04-30"), got.EndDate)
		require.Equal(t, dp("2024-05-01"), got.CancellationDate)
		require.Equal(t, ptr(accountpackage.CancelBillingOptionPRORATED), got.CancelBillingOption)
		require.Equal(t, b.statuses["ACTIVE"], got.StatusID)
		for _, sv := range b.services(t, ap.ID) {
			require.Equal(t, dp("2024-04-30"), sv.EndDate)
		}
		// A cancellation scheduled with another option becomes PRORATED.
		_, err = b.prov.Cancel(b.ctx, ap.ID, provisioning.CancelAccountPackageInput{CancellationDate: d("2024-03-01"),
			BillingOption: accountpackage.CancelBillingOptionNONE})
		require.NoError(t, err)
		got, err = b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{EndDate: dp("2024-01-31")})
		require.NoError(t, err)
		require.Equal(t, dp("2024-02-01"), got.CancellationDate)
		require.Equal(t, ptr(accountpackage.CancelBillingOptionPRORATED), got.CancelBillingOption)
	})

	t.Run("end date on the day before the latest billed period is allowed", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
		b.billed(t, ap.ID, "2024-02-01", "2024-02-29", "2024-03-01")
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{EndDate: dp("2024-01-31")})
		require.NoError(t, err)
		require.Equal(t, dp("2024-02-01"), got.CancellationDate, "the start of the latest billed period")

		post := b.one(t, b.input(b.acme, b.post, "2024-01-01"))
		b.billed(t, post.ID, "2024-01-01", "2024-01-31", "2024-03-01")
		got, err = b.prov.Update(b.ctx, post.ID, provisioning.UpdateAccountPackageInput{EndDate: dp("2024-01-31")})
		require.NoError(t, err)
		require.Equal(t, dp("2024-02-01"), got.CancellationDate, "postpaid: the day after billedThrough")
	})

	t.Run("bulk quantity", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.input(b.acme, b.bulk, "2024-01-01")
		in.BulkQuantity = ptr(20)
		ap := b.one(t, in)
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{BulkQuantity: ptr(30)})
		require.NoError(t, err)
		want := *ap
		want.BulkQuantity = 30
		require.Equal(t, want.String(), got.String(), "only the bulk quantity changed")

		// 1 is no bulk quantity: fine without the bulk component.
		pro := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
		got, err = b.prov.Update(b.ctx, pro.ID, provisioning.UpdateAccountPackageInput{BulkQuantity: ptr(1)})
		require.NoError(t, err)
		require.Equal(t, pro.String(), got.String())
	})
}

// TestUpdateEffectiveDate holds the effective date rule (docs/billing.md 3.1): allowed
// while none of the package's charges is on a CLOSED invoice; its charges leave their
// OPEN invoices (retotaled, or deleted when billing made them and they are left empty),
// its billing position starts again from the new date, its services move with it, and
// its charged status changes are to be charged again. Refused once a charge is on a
// CLOSED invoice, writing nothing.
func TestUpdateEffectiveDate(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()

			// prepare bills Pro (and Full, which keeps its line) for January and February:
			// January on a shared invoice, February on one of Pro's own, and a pending
			// line on no invoice.
			type fixture struct {
				b              *testBundle
				ap, keep       *ent.AccountPackage
				shared, ownInv *ent.Invoice
			}
			prepare := func(t *testing.T) fixture {
				b := setupDB(t, dialect)
				ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
				keep := b.one(t, b.input(b.acme, b.full, "2024-01-01"))
				run := b.billRun(t)
				shared := b.invoice(t, b.acme, run, "27.00")
				b.charge(t, ap, shared, "2024-01-01", "10.00")
				b.charge(t, ap, shared, "2024-01-01", "5.00")
				b.charge(t, ap, shared, "2024-01-01", "2.00")
				b.charge(t, keep, shared, "2024-01-01", "10.00")
				own := b.invoice(t, b.acme, run, "17.00")
				b.charge(t, ap, own, "2024-02-01", "17.00")
				b.charge(t, ap, nil, "2024-03-01", "15.00")
				b.billed(t, ap.ID, "2024-02-01", "2024-02-29", "2024-03-01")
				require.NoError(t, b.db.Client.AccountService.Update().Where(accountservice.AccountPackageID(ap.ID)).
					SetOneTimeBilled(true).Exec(b.ctx))
				line := b.services(t, ap.ID)[0]
				require.NoError(t, b.db.Client.StatusChange.Create().SetAccountServiceID(line.ID).SetAccountID(b.acme.ID).
					SetFromStatusID(b.statuses["PENDING"]).SetToStatusID(b.statuses["ACTIVE"]).SetChangedOn(d("2024-01-01")).
					SetCharged(true).Exec(b.ctx))
				return fixture{b, ap, keep, shared, own}
			}

			t.Run("with charges on OPEN invoices", func(t *testing.T) {
				t.Parallel()
				f := prepare(t)
				b := f.b
				before := b.snapshot(t)
				got, err := b.prov.Update(b.ctx, f.ap.ID, provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-01-15")})
				require.NoError(t, err)
				require.Equal(t, d("2024-01-15"), got.EffectiveDate)
				require.Equal(t, dp("2024-01-15"), got.NextBillDate, "in advance: billed again from the new date")
				require.Nil(t, got.BilledThrough)
				require.Nil(t, got.LastPeriodStart)
				for _, sv := range b.services(t, f.ap.ID) {
					require.Equal(t, d("2024-01-15"), sv.EffectiveDate)
					require.False(t, sv.OneTimeBilled, "its one-time charges are made again")
				}
				require.Zero(t, b.chargesOf(t, f.ap.ID))
				require.Equal(t, 1, b.chargesOf(t, f.keep.ID))
				require.Equal(t, "10.00", b.invoiceTotal(t, f.shared.ID), "the shared invoice keeps Full's line")
				require.False(t, b.invoiceExists(t, f.ownInv.ID), "an invoice billing made, left empty, is deleted")
				after := b.snapshot(t)
				require.Equal(t, before.counts["charges"]-5, after.counts["charges"])
				require.Equal(t, before.counts["invoices"]-1, after.counts["invoices"])
				charged, err := b.db.Client.StatusChange.Query().Where(statuschange.Charged(true)).Count(b.ctx)
				require.NoError(t, err)
				require.Zero(t, charged, "its status changes are to be charged again")
			})

			t.Run("refused once a charge is on a CLOSED invoice", func(t *testing.T) {
				t.Parallel()
				f := prepare(t)
				b := f.b
				b.closeInvoice(t, f.shared)
				before := b.snapshot(t)
				_, err := b.prov.Update(b.ctx, f.ap.ID, provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-01-15")})
				requireFault(t, err, fault.FailedPrecondition, "input.effectiveDate")
				b.requireUnchanged(t, before)

				// The same effective date is no change, and allowed.
				_, err = b.prov.Update(b.ctx, f.ap.ID, provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-01-01")})
				require.NoError(t, err)
				b.requireUnchanged(t, before)
			})
		})
	}

	t.Run("postpaid: the end of the new first period", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.post, "2024-01-01"))
		b.billed(t, ap.ID, "2024-01-01", "2024-01-31", "2024-03-01")
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-01-10")})
		require.NoError(t, err)
		require.Equal(t, dp("2024-02-01"), got.NextBillDate)
		require.Nil(t, got.BilledThrough)
	})

	t.Run("a pending bill day applies with the new start", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.post, "2024-01-01"))
		b.billed(t, ap.ID, "2024-01-01", "2024-01-31", "2024-03-01")
		_, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{NewBillDay: ptr(15)})
		require.NoError(t, err)
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-01-10")})
		require.NoError(t, err)
		require.Equal(t, ptr(15), got.OwnBillDay)
		require.Nil(t, got.NewBillDay)
		require.Equal(t, dp("2024-01-15"), got.NextBillDate)
	})

	t.Run("with an end date in the same request, checked against the new date only", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
		b.billed(t, ap.ID, "2024-02-01", "2024-02-29", "2024-03-01")
		got, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{
			EffectiveDate: dp("2024-01-05"), EndDate: dp("2024-01-20")})
		require.NoError(t, err)
		require.Equal(t, dp("2024-01-20"), got.EndDate, "inside the periods billed before: nothing is billed any more")
		require.Equal(t, dp("2024-01-21"), got.CancellationDate)

		// After the stored end date, with a new end date after it.
		got, err = b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{
			EffectiveDate: dp("2024-02-01"), EndDate: dp("2024-02-10")})
		require.NoError(t, err)
		require.Equal(t, d("2024-02-01"), got.EffectiveDate)
		require.Equal(t, dp("2024-02-11"), got.CancellationDate)
	})
}

// TestUpdateRefusals holds every refusal of updateAccountPackage with its code and
// field; a refusal writes nothing.
func TestUpdateRefusals(t *testing.T) {
	t.Parallel()
	const (
		bad = fault.Invalid
		nf  = fault.NotFound
		pre = fault.FailedPrecondition
	)
	// Every case works on ap (Pro on Acme effective 2024-01-01 unless prep says otherwise).
	tests := []struct {
		name  string
		prep  func(t *testing.T, b *testBundle, ap *ent.AccountPackage) *ent.AccountPackage
		id    func(ap *ent.AccountPackage) int
		in    provisioning.UpdateAccountPackageInput
		code  fault.Code
		field string
	}{
		{name: "unknown id", id: func(ap *ent.AccountPackage) int { return ap.ID + noSuch },
			in: provisioning.UpdateAccountPackageInput{BulkQuantity: ptr(1)}, code: nf, field: "id"},
		{name: "bulkQuantity 0", in: provisioning.UpdateAccountPackageInput{BulkQuantity: ptr(0)}, code: bad, field: "input.bulkQuantity"},
		{name: "bulkQuantity above 1,000,000", in: provisioning.UpdateAccountPackageInput{BulkQuantity: ptr(provisioning.MaxBulk + 1)},
			code: bad, field: "input.bulkQuantity"},
		{name: "newBillDay 0", in: provisioning.UpdateAccountPackageInput{NewBillDay: ptr(0)}, code: bad, field: "input.newBillDay"},
		{name: "newBillDay 32", in: provisioning.UpdateAccountPackageInput{NewBillDay: ptr(32)}, code: bad, field: "input.newBillDay"},
		{name: "endDate before an effectiveDate of the same request",
			in:   provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-02-01"), EndDate: dp("2024-01-31")},
			code: bad, field: "input.endDate"},
		{name: "endDate before the unchanged effectiveDate given again",
			in:   provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-01-01"), EndDate: dp("2023-12-31")},
			code: bad, field: "input.endDate"},
		{name: "unknown status", in: provisioning.UpdateAccountPackageInput{Status: ptr("NOPE")}, code: nf, field: "input.status"},
		{name: "unknown status after valid changes",
			in:   provisioning.UpdateAccountPackageInput{Status: ptr("NOPE"), EndDate: dp("2024-05-31"), NewBillDay: ptr(5)},
			code: nf, field: "input.status"},
		{name: "bulkQuantity 2 without the bulk component", in: provisioning.UpdateAccountPackageInput{BulkQuantity: ptr(2)},
			code: pre, field: "input.bulkQuantity"},
		{name: "endDate before the stored effectiveDate", in: provisioning.UpdateAccountPackageInput{EndDate: dp("2023-12-31")},
			code: pre, field: "input.endDate"},
		{name: "endDate inside the billed periods (in advance)",
			prep: func(t *testing.T, b *testBundle, ap *ent.AccountPackage) *ent.AccountPackage {
				b.billed(t, ap.ID, "2024-02-01", "2024-02-29", "2024-03-01")
				return ap
			},
			in: provisioning.UpdateAccountPackageInput{EndDate: dp("2024-01-30")}, code: pre, field: "input.endDate"},
		{name: "endDate whose cancellation falls on billedThrough (postpaid)",
			prep: func(t *testing.T, b *testBundle, _ *ent.AccountPackage) *ent.AccountPackage {
				ap := b.one(t, b.input(b.acme, b.post, "2024-01-01"))
				b.billed(t, ap.ID, "2024-01-01", "2024-01-31", "2024-03-01")
				return ap
			},
			in: provisioning.UpdateAccountPackageInput{EndDate: dp("2024-01-30")}, code: pre, field: "input.endDate"},
		{name: "endDate once the final period was billed up to the cancellation",
			prep: func(t *testing.T, b *testBundle, ap *ent.AccountPackage) *ent.AccountPackage {
				_, err := b.prov.Cancel(b.ctx, ap.ID, provisioning.CancelAccountPackageInput{CancellationDate: d("2024-01-21"),
					BillingOption: accountpackage.CancelBillingOptionPRORATED})
				require.NoError(t, err)
				b.billed(t, ap.ID, "2024-01-01", "2024-01-20", "2024-02-01")
				return ap
			},
			in: provisioning.UpdateAccountPackageInput{EndDate: dp("2024-01-25")}, code: pre, field: "input.endDate"},
		{name: "effectiveDate after the stored end date",
			prep: func(t *testing.T, b *testBundle, ap *ent.AccountPackage) *ent.AccountPackage {
				_, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{EndDate: dp("2024-03-31")})
				require.NoError(t, err)
				return ap
			},
			in: provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-04-01")}, code: pre, field: "input.effectiveDate"},
		{name: "effectiveDate before the package's startDate",
			prep: func(t *testing.T, b *testBundle, _ *ent.AccountPackage) *ent.AccountPackage {
				return b.one(t, b.input(b.acme, b.dated, "2024-02-01"))
			},
			in: provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2023-12-01")}, code: pre, field: "input.effectiveDate"},
		{name: "effectiveDate on the package's expiryDate",
			prep: func(t *testing.T, b *testBundle, _ *ent.AccountPackage) *ent.AccountPackage {
				return b.one(t, b.input(b.acme, b.dated, "2024-02-01"))
			},
			in: provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2025-01-01")}, code: pre, field: "input.effectiveDate"},
		{name: "read-only package changes its bulk quantity",
			prep: func(t *testing.T, b *testBundle, _ *ent.AccountPackage) *ent.AccountPackage {
				ap := b.one(t, b.input(b.acme, b.bulk, "2024-01-01"))
				b.setCanceled(t, ap.ID)
				return ap
			},
			in: provisioning.UpdateAccountPackageInput{BulkQuantity: ptr(5)}, code: pre},
		{name: "read-only package changes its end date", prep: readOnly,
			in: provisioning.UpdateAccountPackageInput{EndDate: dp("2024-03-31")}, code: pre},
		{name: "read-only package changes its status and bill day", prep: readOnly,
			in: provisioning.UpdateAccountPackageInput{Status: ptr("ACTIVE"), NewBillDay: ptr(10)}, code: pre},
		{name: "read-only package changes its effective date", prep: readOnly,
			in: provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-01-05")}, code: pre},
		{name: "status change of a package canceled by billing", prep: byBilling,
			in: provisioning.UpdateAccountPackageInput{Status: ptr("ACTIVE")}, code: pre},
		{name: "effective date of a package canceled by billing", prep: byBilling,
			in: provisioning.UpdateAccountPackageInput{EffectiveDate: dp("2024-01-05")}, code: pre},
	}
	shared := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := shared.fork(t)
			ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
			if tt.prep != nil {
				ap = tt.prep(t, b, ap)
			}
			id := ap.ID
			if tt.id != nil {
				id = tt.id(ap)
			}
			before := b.snapshot(t)
			got, err := b.prov.Update(b.ctx, id, tt.in)
			requireFault(t, err, tt.code, tt.field)
			require.Nil(t, got)
			b.requireUnchanged(t, before)
		})
	}
}

func readOnly(t *testing.T, b *testBundle, ap *ent.AccountPackage) *ent.AccountPackage {
	b.setCanceled(t, ap.ID)
	return ap
}

func byBilling(t *testing.T, b *testBundle, ap *ent.AccountPackage) *ent.AccountPackage {
	b.canceledByBilling(t, ap.ID)
	return ap
}

// TestCancel holds the cancellation date rule (docs/billing.md 4.4): C (the first day
// out of service) is not before the effective date, not before the start of the latest
// billed period in advance, not on or before billedThrough postpaid, and cannot change
// once the final period was billed up to it. An accepted cancellation records C, the
// option and the end date C − 1 and ends later-ending services with the package.
func TestCancel(t *testing.T) {
	t.Parallel()
	const pre = fault.FailedPrecondition
	type prep func(t *testing.T, b *testBundle) *ent.AccountPackage
	inAdvance := func(t *testing.T, b *testBundle) *ent.AccountPackage {
		return b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
	}
	// Billed for January and February: the latest billed period starts on 2024-02-01.
	billedTwo := func(t *testing.T, b *testBundle) *ent.AccountPackage {
		ap := inAdvance(t, b)
		b.billed(t, ap.ID, "2024-02-01", "2024-02-29", "2024-03-01")
		return ap
	}
	// Canceled on 2024-01-21 and its final period billed up to it, before a run reached
	// the cancellation: billed through 2024-01-20, next bill date 2024-02-01.
	finalBilled := func(t *testing.T, b *testBundle) *ent.AccountPackage {
		ap := inAdvance(t, b)
		_, err := b.prov.Cancel(b.ctx, ap.ID, provisioning.CancelAccountPackageInput{CancellationDate: d("2024-01-21"),
			BillingOption: accountpackage.CancelBillingOptionPRORATED})
		require.NoError(t, err)
		b.billed(t, ap.ID, "2024-01-01", "2024-01-20", "2024-02-01")
		return ap
	}
	postpaid := func(t *testing.T, b *testBundle) *ent.AccountPackage {
		return b.one(t, b.input(b.acme, b.post, "2024-01-10"))
	}
	// Postpaid billed for January (a run over February billed the period that ended).
	postBilled := func(t *testing.T, b *testBundle) *ent.AccountPackage {
		ap := b.one(t, b.input(b.acme, b.post, "2024-01-01"))
		b.billed(t, ap.ID, "2024-01-01", "2024-01-31", "2024-03-01")
		return ap
	}
	tests := []struct {
		name   string
		prep   prep
		date   string
		option accountpackage.CancelBillingOption
		code   fault.Code // "" when accepted
		field  string
	}{
		{"in advance, nothing billed: a later date", inAdvance, "2024-03-15", accountpackage.CancelBillingOptionFULL_PERIOD, "", ""},
		{"in advance, nothing billed: on the effective date", inAdvance, "2024-01-01", accountpackage.CancelBillingOptionNONE, "", ""},
		{"in advance: before the effective date", inAdvance, "2023-12-31", accountpackage.CancelBillingOptionPRORATED, pre, "input.cancellationDate"},
		{"in advance, billed: on the start of the latest billed period", billedTwo, "2024-02-01", accountpackage.CancelBillingOptionNONE, "", ""},
		{"in advance, billed: inside the latest billed period", billedTwo, "2024-02-15", accountpackage.CancelBillingOptionPRORATED, "", ""},
		{"in advance, billed: after the billed periods", billedTwo, "2024-03-20", accountpackage.CancelBillingOptionPRORATED, "", ""},
		{"in advance, billed: the day before the latest billed period", billedTwo, "2024-01-31", accountpackage.CancelBillingOptionPRORATED, pre, "input.cancellationDate"},
		{"in advance, billed: inside an earlier billed period", billedTwo, "2024-01-15", accountpackage.CancelBillingOptionFULL_PERIOD, pre, "input.cancellationDate"},
		{"in advance: the final period billed up to the cancellation, a later date", finalBilled, "2024-01-25", accountpackage.CancelBillingOptionPRORATED, pre, "input.cancellationDate"},
		{"in advance: the final period billed up to the cancellation, the same date", finalBilled, "2024-01-21", accountpackage.CancelBillingOptionNONE, pre, "input.cancellationDate"},
		{"postpaid, nothing billed: on the effective date", postpaid, "2024-01-10", accountpackage.CancelBillingOptionPRORATED, "", ""},
		{"postpaid, nothing billed: inside the first period", postpaid, "2024-01-20", accountpackage.CancelBillingOptionFULL_PERIOD, "", ""},
		{"postpaid: before the effective date", postpaid, "2024-01-09", accountpackage.CancelBillingOptionPRORATED, pre, "input.cancellationDate"},
		{"postpaid, billed: the day after billedThrough", postBilled, "2024-02-01", accountpackage.CancelBillingOptionPRORATED, "", ""},
		{"postpaid, billed: on billedThrough", postBilled, "2024-01-31", accountpackage.CancelBillingOptionNONE, pre, "input.cancellationDate"},
		{"postpaid, billed: before billedThrough", postBilled, "2024-01-10", accountpackage.CancelBillingOptionFULL_PERIOD, pre, "input.cancellationDate"},
		{"unknown billing option", inAdvance, "2024-02-01", accountpackage.CancelBillingOption("SOMETIMES"), fault.Invalid, "input.billingOption"},
		{"in status CANCELED", func(t *testing.T, b *testBundle) *ent.AccountPackage {
			ap := inAdvance(t, b)
			b.setCanceled(t, ap.ID)
			return ap
		}, "2024-02-01", accountpackage.CancelBillingOptionPRORATED, pre, ""},
		{"canceled by billing", func(t *testing.T, b *testBundle) *ent.AccountPackage {
			ap := inAdvance(t, b)
			b.canceledByBilling(t, ap.ID)
			return ap
		}, "2024-01-20", accountpackage.CancelBillingOptionPRORATED, pre, ""},
	}
	shared := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := shared.fork(t)
			ap := tt.prep(t, b)
			ap = b.ap(t, ap.ID)
			before := b.snapshot(t)
			got, err := b.prov.Cancel(b.ctx, ap.ID, provisioning.CancelAccountPackageInput{CancellationDate: d(tt.date), BillingOption: tt.option})
			if tt.code != "" {
				requireFault(t, err, tt.code, tt.field)
				require.Nil(t, got)
				b.requireUnchanged(t, before)
				return
			}
			require.NoError(t, err)
			want := *ap
			want.CancellationDate, want.CancelBillingOption, want.EndDate = dp(tt.date), ptr(tt.option), ptr(d(tt.date).AddDays(-1))
			require.Equal(t, want.String(), got.String(), "only the cancellation fields change")
			require.Equal(t, got.String(), b.ap(t, ap.ID).String())
		})
	}

	t.Run("unknown id", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := inAdvance(t, b)
		before := b.snapshot(t)
		_, err := b.prov.Cancel(b.ctx, ap.ID+noSuch, provisioning.CancelAccountPackageInput{CancellationDate: d("2024-02-01"),
			BillingOption: accountpackage.CancelBillingOptionNONE})
		requireFault(t, err, fault.NotFound, "id")
		b.requireUnchanged(t, before)
	})

	t.Run("services ending later end with the package", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		in := b.input(b.acme, b.pro, "2024-01-01")
		in.EndDate = dp("2024-06-30")
		ap := b.one(t, in)
		got, err := b.prov.Cancel(b.ctx, ap.ID, provisioning.CancelAccountPackageInput{CancellationDate: d("2024-03-01"),
			BillingOption: accountpackage.CancelBillingOptionNONE})
		require.NoError(t, err)
		require.Equal(t, dp("2024-02-29"), got.EndDate)
		for _, sv := range b.services(t, ap.ID) {
			require.Equal(t, dp("2024-02-29"), sv.EndDate)
		}
		// Rescheduled later: services already ending earlier keep their end.
		_, err = b.prov.Cancel(b.ctx, ap.ID, provisioning.CancelAccountPackageInput{CancellationDate: d("2024-04-01"),
			BillingOption: accountpackage.CancelBillingOptionNONE})
		require.NoError(t, err)
		for _, sv := range b.services(t, ap.ID) {
			require.Equal(t, dp("2024-02-29"), sv.EndDate)
		}
	})
}

// TestDelete holds the delete rule (docs/billing.md 3.1): allowed while none of the
// package's charges is on a CLOSED invoice; its charges leave their OPEN invoices, an
// invoice billing created left with no lines is deleted, and its services, overrides
// and status changes go with it. Refused, writing nothing, with a charge on a CLOSED
// invoice. On both databases, whose foreign keys act on these deletes.
func TestDelete(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()

			t.Run("never billed: with its services, overrides and status changes", func(t *testing.T) {
				t.Parallel()
				b := setupDB(t, dialect)
				in := b.input(b.acme, b.pro, "2024-01-01")
				in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.line,
					PriceOverrides: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m("7.00")}}}}
				ap := b.one(t, in)
				_, err := b.prov.Update(b.ctx, ap.ID, provisioning.UpdateAccountPackageInput{Status: ptr("SUSPENDED")})
				require.NoError(t, err)
				other := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
				before := b.snapshot(t)

				id, err := b.prov.Delete(b.ctx, ap.ID)
				require.NoError(t, err)
				require.Equal(t, ap.ID, id)
				after := b.snapshot(t)
				require.Equal(t, before.counts["account_packages"]-1, after.counts["account_packages"])
				require.Equal(t, before.counts["account_services"]-3, after.counts["account_services"])
				require.Equal(t, before.counts["status_prices"]-1, after.counts["status_prices"])
				require.Equal(t, before.counts["status_changes"]-3, after.counts["status_changes"])
				_, err = b.db.Client.AccountPackage.Get(b.ctx, ap.ID)
				require.True(t, ent.IsNotFound(err))
				require.Len(t, b.services(t, other.ID), 3, "other account-packages keep theirs")
			})

			t.Run("charges on OPEN invoices leave them", func(t *testing.T) {
				t.Parallel()
				b := setupDB(t, dialect)
				ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
				keep := b.one(t, b.input(b.acme, b.full, "2024-01-01"))
				run := b.billRun(t)
				shared := b.invoice(t, b.acme, run, "20.65")
				b.charge(t, ap, shared, "2024-01-01", "10.65")
				b.charge(t, keep, shared, "2024-01-01", "10.00")
				own := b.invoice(t, b.acme, run, "3.55")
				b.charge(t, ap, own, "2024-02-01", "10.65")
				b.charge(t, ap, own, "2024-02-01", "-7.10")
				manual := b.invoice(t, b.acme, nil, "1.00")
				b.charge(t, ap, manual, "2024-02-01", "1.00")
				b.charge(t, ap, nil, "2024-03-01", "15.00")
				before := b.snapshot(t)

				_, err := b.prov.Delete(b.ctx, ap.ID)
				require.NoError(t, err)
				require.Zero(t, b.chargesOf(t, ap.ID))
				require.Equal(t, "10.00", b.invoiceTotal(t, shared.ID))
				require.False(t, b.invoiceExists(t, own.ID), "billing's invoice left empty is deleted")
				require.Equal(t, "0.00", b.invoiceTotal(t, manual.ID), "an invoice billing did not create stays, empty")
				after := b.snapshot(t)
				require.Equal(t, before.counts["charges"]-5, after.counts["charges"])
				require.Equal(t, before.counts["invoices"]-1, after.counts["invoices"])
				require.Equal(t, before.counts["account_packages"]-1, after.counts["account_packages"])
			})

			t.Run("refused with a charge on a CLOSED invoice", func(t *testing.T) {
				t.Parallel()
				b := setupDB(t, dialect)
				ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
				run := b.billRun(t)
				open := b.invoice(t, b.acme, run, "10.00")
				b.charge(t, ap, open, "2024-02-01", "10.00")
				closed := b.invoice(t, b.acme, run, "10.00")
				b.charge(t, ap, closed, "2024-01-01", "10.00")
				b.closeInvoice(t, closed)
				before := b.snapshot(t)
				_, err := b.prov.Delete(b.ctx, ap.ID)
				requireFault(t, err, fault.FailedPrecondition, "")
				b.requireUnchanged(t, before)
			})

			t.Run("unknown id", func(t *testing.T) {
				t.Parallel()
				b := setupDB(t, dialect)
				ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
				before := b.snapshot(t)
				_, err := b.prov.Delete(b.ctx, ap.ID+noSuch)
				requireFault(t, err, fault.NotFound, "id")
				b.requireUnchanged(t, before)
			})
		})
	}
}

// TestAddService holds addAccountService (docs/billing.md 3.1): instances of one of the
// package's services within its maxInstances, counted over all its account-services,
// billed from the start of the next unbilled period, ending with the package, in
// ACTIVE unless a status is given, with overrides other than the catalog price.
func TestAddService(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		prep    func(t *testing.T, b *testBundle) *ent.AccountPackage
		in      func(b *testBundle) provisioning.AccountServiceInput
		from    string // the new account-service's effective date
		status  string
		ovs     []string
		endDate *calendar.Date
	}{
		{name: "in advance, nothing billed: from the effective date",
			prep: func(t *testing.T, b *testBundle) *ent.AccountPackage {
				return b.one(t, b.input(b.acme, b.pro, "2024-01-10"))
			},
			in: func(b *testBundle) provisioning.AccountServiceInput {
				return provisioning.AccountServiceInput{ServiceID: b.addon}
			},
			from: "2024-01-10", status: "ACTIVE"},
		{name: "in advance, billed: from the next bill date",
			prep: func(t *testing.T, b *testBundle) *ent.AccountPackage {
				ap := b.one(t, b.input(b.acme, b.pro, "2024-01-10"))
				b.billed(t, ap.ID, "2024-02-01", "2024-02-29", "2024-03-01")
				return ap
			},
			in: func(b *testBundle) provisioning.AccountServiceInput {
				return provisioning.AccountServiceInput{ServiceID: b.addon, Quantity: ptr(2)}
			},
			from: "2024-03-01", status: "ACTIVE"},
		{name: "postpaid, nothing billed: from the effective date",
			prep: func(t *testing.T, b *testBundle) *ent.AccountPackage {
				return b.one(t, b.input(b.acme, b.post, "2024-01-10"))
			},
			in: func(b *testBundle) provisioning.AccountServiceInput {
				return provisioning.AccountServiceInput{ServiceID: b.line}
			},
			from: "2024-01-10", status: "ACTIVE"},
		{name: "postpaid, billed: from the day after billedThrough",
			prep: func(t *testing.T, b *testBundle) *ent.AccountPackage {
				ap := b.one(t, b.input(b.acme, b.post, "2024-01-10"))
				b.billed(t, ap.ID, "2024-01-10", "2024-01-31", "2024-03-01")
				return ap
			},
			in: func(b *testBundle) provisioning.AccountServiceInput {
				return provisioning.AccountServiceInput{ServiceID: b.line}
			},
			from: "2024-02-01", status: "ACTIVE"},
		{name: "an optional service, with a status and overrides; the catalog price is dropped",
			prep: func(t *testing.T, b *testBundle) *ent.AccountPackage {
				return b.one(t, b.input(b.acme, b.pro, "2024-01-10"))
			},
			in: func(b *testBundle) provisioning.AccountServiceInput {
				return provisioning.AccountServiceInput{ServiceID: b.extra, Quantity: ptr(2), Status: ptr("SUSPENDED"),
					PriceOverrides: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m("3.00")}, {Status: "SUSPENDED", Amount: m("0.75")}}}
			},
			from: "2024-01-10", status: "SUSPENDED", ovs: []string{"SUSPENDED 0.75"}},
		{name: "ends with the package",
			prep: func(t *testing.T, b *testBundle) *ent.AccountPackage {
				in := b.input(b.acme, b.pro, "2024-01-10")
				in.EndDate = dp("2024-06-30")
				return b.one(t, in)
			},
			in: func(b *testBundle) provisioning.AccountServiceInput {
				return provisioning.AccountServiceInput{ServiceID: b.multi, Quantity: ptr(2)}
			},
			from: "2024-01-10", status: "ACTIVE", endDate: dp("2024-06-30")},
	}
	shared := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := shared.fork(t)
			ap := tt.prep(t, b)
			in := tt.in(b)
			had := b.instances(t, ap.ID, in.ServiceID)
			before := b.snapshot(t)
			sv, err := b.prov.AddService(b.ctx, ap.ID, in)
			require.NoError(t, err)
			q := 1
			if in.Quantity != nil {
				q = *in.Quantity
			}
			require.Equal(t, ap.ID, sv.AccountPackageID)
			require.Equal(t, in.ServiceID, sv.ServiceID)
			require.Equal(t, q, sv.Quantity)
			require.Equal(t, b.statuses[tt.status], sv.StatusID)
			require.Equal(t, d(tt.from), sv.EffectiveDate)
			require.Equal(t, tt.endDate, sv.EndDate)
			ovs := tt.ovs
			if ovs == nil {
				ovs = []string{}
			}
			require.ElementsMatch(t, ovs, b.overrides(t, sv.ID))
			require.Equal(t, had+q, b.instances(t, ap.ID, in.ServiceID))
			after := b.snapshot(t)
			require.Equal(t, before.counts["account_services"]+1, after.counts["account_services"])
			require.Equal(t, before.rows["account_packages"], after.rows["account_packages"], "the account-package does not change")
		})
	}

	t.Run("up to maxInstances, one at a time", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-10")) // one Addon of at most 3
		for range 2 {
			_, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.addon})
			require.NoError(t, err)
		}
		require.Equal(t, 3, b.instances(t, ap.ID, b.addon))
		before := b.snapshot(t)
		_, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.addon})
		requireFault(t, err, fault.FailedPrecondition, "input.quantity")
		b.requireUnchanged(t, before)
	})
}

// TestServiceRefusals holds every refusal of addAccountService, updateAccountService
// and removeAccountService with its code and field; a refusal writes nothing.
func TestServiceRefusals(t *testing.T) {
	t.Parallel()
	const (
		bad = fault.Invalid
		nf  = fault.NotFound
		pre = fault.FailedPrecondition
	)
	// fixture: Pro on Acme effective 2024-01-01 with defaults; target is its Line
	// account-service unless the case picks another.
	type fixture struct {
		ap     *ent.AccountPackage
		target *ent.AccountService
	}
	ov := func(st, amount string) *catalog.StatusPriceInput {
		return &catalog.StatusPriceInput{Status: st, Amount: m(amount)}
	}
	of := func(service func(b *testBundle) int) func(t *testing.T, b *testBundle, f *fixture) {
		return func(t *testing.T, b *testBundle, f *fixture) { f.target = b.servicesOf(t, f.ap.ID, service(b))[0] }
	}
	setRO := func(t *testing.T, b *testBundle, f *fixture) { b.setCanceled(t, f.ap.ID) }
	setBB := func(t *testing.T, b *testBundle, f *fixture) { b.canceledByBilling(t, f.ap.ID) }
	add := func(in func(b *testBundle) provisioning.AccountServiceInput) func(b *testBundle, f *fixture) error {
		return func(b *testBundle, f *fixture) error {
			_, err := b.prov.AddService(b.ctx, f.ap.ID, in(b))
			return err
		}
	}
	svcIn := func(service func(b *testBundle) int, q *int, st *string, ovs ...*catalog.StatusPriceInput) func(b *testBundle) provisioning.AccountServiceInput {
		return func(b *testBundle) provisioning.AccountServiceInput {
			return provisioning.AccountServiceInput{ServiceID: service(b), Quantity: q, Status: st, PriceOverrides: ovs}
		}
	}
	update := func(in provisioning.UpdateAccountServiceInput) func(b *testBundle, f *fixture) error {
		return func(b *testBundle, f *fixture) error {
			_, err := b.prov.UpdateService(b.ctx, f.target.ID, in)
			return err
		}
	}
	remove := func(b *testBundle, f *fixture) error {
		_, err := b.prov.RemoveService(b.ctx, f.target.ID)
		return err
	}
	line := func(b *testBundle) int { return b.line }
	addon := func(b *testBundle) int { return b.addon }
	multi := func(b *testBundle) int { return b.multi }
	extra := func(b *testBundle) int { return b.extra }
	spare := func(b *testBundle) int { return b.spare }

	tests := []struct {
		name  string
		prep  func(t *testing.T, b *testBundle, f *fixture)
		call  func(b *testBundle, f *fixture) error
		code  fault.Code
		field string
	}{
		{name: "add: quantity 0", call: add(svcIn(extra, ptr(0), nil)), code: bad, field: "input.quantity"},
		{name: "add: negative price override", call: add(svcIn(extra, nil, nil, ov("ACTIVE", "-0.01"))), code: bad, field: "input.priceOverrides[0].amount"},
		{name: "add: a status overridden twice", call: add(svcIn(extra, nil, nil, ov("ACTIVE", "1"), ov("ACTIVE", "2"))), code: bad, field: "input.priceOverrides[1].status"},
		{name: "add: unknown account-package", call: func(b *testBundle, f *fixture) error {
			_, err := b.prov.AddService(b.ctx, f.ap.ID+noSuch, provisioning.AccountServiceInput{ServiceID: b.extra})
			return err
		}, code: nf, field: "accountPackageId"},
		{name: "add: unknown status", call: add(svcIn(extra, nil, ptr("NOPE"))), code: nf, field: "input.status"},
		{name: "add: price override of an unknown status", call: add(svcIn(extra, nil, nil, ov("NOPE", "1.00"))), code: nf, field: "input.priceOverrides[0].status"},
		{name: "add: beyond maxInstances", call: add(svcIn(addon, ptr(3), nil)), code: pre, field: "input.quantity"},
		{name: "add: an optional service beyond maxInstances", call: add(svcIn(extra, ptr(3), nil)), code: pre, field: "input.quantity"},
		{name: "add: a service not in the package", call: add(svcIn(spare, nil, nil)), code: pre, field: "input.serviceId"},
		{name: "add: on a read-only package", prep: setRO, call: add(svcIn(extra, nil, nil)), code: pre},
		{name: "add: on a package canceled by billing", prep: setBB, call: add(svcIn(extra, nil, nil)), code: pre},

		{name: "update: quantity 0", call: update(provisioning.UpdateAccountServiceInput{Quantity: ptr(0)}), code: bad, field: "input.quantity"},
		{name: "update: negative price override", call: update(provisioning.UpdateAccountServiceInput{
			PriceOverrides: []*catalog.StatusPriceInput{ov("ACTIVE", "-5")}}), code: bad, field: "input.priceOverrides[0].amount"},
		{name: "update: unknown id", call: func(b *testBundle, f *fixture) error {
			_, err := b.prov.UpdateService(b.ctx, f.target.ID+noSuch, provisioning.UpdateAccountServiceInput{Quantity: ptr(1)})
			return err
		}, code: nf, field: "id"},
		{name: "update: unknown status", call: update(provisioning.UpdateAccountServiceInput{Status: ptr("NOPE")}), code: nf, field: "input.status"},
		{name: "update: unknown status after a quantity change", prep: of(addon),
			call: update(provisioning.UpdateAccountServiceInput{Quantity: ptr(2), Status: ptr("NOPE")}), code: nf, field: "input.status"},
		{name: "update: price override of an unknown status", call: update(provisioning.UpdateAccountServiceInput{
			PriceOverrides: []*catalog.StatusPriceInput{ov("ACTIVE", "12.00"), ov("NOPE", "1.00")}}), code: nf, field: "input.priceOverrides[1].status"},
		{name: "update: quantity beyond maxInstances", prep: of(addon), call: update(provisioning.UpdateAccountServiceInput{Quantity: ptr(4)}), code: pre, field: "input.quantity"},
		{name: "update: quantity below minInstances", prep: of(multi), call: update(provisioning.UpdateAccountServiceInput{Quantity: ptr(1)}), code: pre, field: "input.quantity"},
		{name: "update: on a read-only package", prep: setRO, call: update(provisioning.UpdateAccountServiceInput{Status: ptr("SUSPENDED")}), code: pre},
		{name: "update: on a package canceled by billing", prep: setBB, call: update(provisioning.UpdateAccountServiceInput{Quantity: ptr(2)}), code: pre},

		{name: "remove: unknown id", call: func(b *testBundle, f *fixture) error {
			_, err := b.prov.RemoveService(b.ctx, f.target.ID+noSuch)
			return err
		}, code: nf, field: "id"},
		{name: "remove: the last instance of a service with minInstances 1", prep: of(line), call: remove, code: pre},
		{name: "remove: the instances of a service with minInstances 2", prep: of(multi), call: remove, code: pre},
		{name: "remove: on a read-only package", prep: func(t *testing.T, b *testBundle, f *fixture) {
			sv, err := b.prov.AddService(b.ctx, f.ap.ID, provisioning.AccountServiceInput{ServiceID: b.extra})
			require.NoError(t, err)
			f.target = sv
			b.setCanceled(t, f.ap.ID)
		}, call: remove, code: pre},
	}
	shared := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := shared.fork(t)
			f := &fixture{ap: b.one(t, b.input(b.acme, b.pro, "2024-01-01"))}
			f.target = b.servicesOf(t, f.ap.ID, b.line)[0]
			if tt.prep != nil {
				tt.prep(t, b, f)
			}
			before := b.snapshot(t)
			requireFault(t, tt.call(b, f), tt.code, tt.field)
			b.requireUnchanged(t, before)
		})
	}
}

// TestUpdateService holds updateAccountService (docs/billing.md 3.1): instances change
// within the limits counted over the service's account-services; a status change
// records one status change to charge and leaves the package's status; overrides are
// replaced as a whole, the catalog price dropped, an empty list back to catalog pricing.
func TestUpdateService(t *testing.T) {
	t.Parallel()

	t.Run("instances within the limits", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
		multi := b.servicesOf(t, ap.ID, b.multi)[0]
		for _, q := range []int{4, 3, 2} {
			sv, err := b.prov.UpdateService(b.ctx, multi.ID, provisioning.UpdateAccountServiceInput{Quantity: ptr(q)})
			require.NoError(t, err)
			require.Equal(t, q, sv.Quantity)
		}
		// With another account-service of Multi, the limits count both.
		other, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.multi, Quantity: ptr(2)})
		require.NoError(t, err)
		before := b.snapshot(t)
		_, err = b.prov.UpdateService(b.ctx, multi.ID, provisioning.UpdateAccountServiceInput{Quantity: ptr(3)})
		requireFault(t, err, fault.FailedPrecondition, "input.quantity")
		b.requireUnchanged(t, before)
		sv, err := b.prov.UpdateService(b.ctx, multi.ID, provisioning.UpdateAccountServiceInput{Quantity: ptr(1)})
		require.NoError(t, err, "1 + 2 is within 2..4")
		require.Equal(t, 1, sv.Quantity)
		require.Equal(t, 3, b.instances(t, ap.ID, b.multi))
		_, err = b.prov.UpdateService(b.ctx, other.ID, provisioning.UpdateAccountServiceInput{Quantity: ptr(3)})
		require.NoError(t, err)
		require.Equal(t, 4, b.instances(t, ap.ID, b.multi))
	})

	t.Run("status change of one service", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
		line := b.servicesOf(t, ap.ID, b.line)[0]
		sv, err := b.prov.UpdateService(b.ctx, line.ID, provisioning.UpdateAccountServiceInput{Status: ptr("SUSPENDED")})
		require.NoError(t, err)
		require.Equal(t, b.statuses["SUSPENDED"], sv.StatusID)
		require.Equal(t, b.statuses["ACTIVE"], b.ap(t, ap.ID).StatusID, "the package keeps its status")
		changes, err := b.db.Client.StatusChange.Query().All(b.ctx)
		require.NoError(t, err)
		require.Len(t, changes, 1)
		c := changes[0]
		require.Equal(t, []any{line.ID, b.acme.ID, b.statuses["ACTIVE"], b.statuses["SUSPENDED"], d("2024-03-05"), false},
			[]any{c.AccountServiceID, c.AccountID, c.FromStatusID, c.ToStatusID, c.ChangedOn, c.Charged})
		// The same status again records nothing.
		_, err = b.prov.UpdateService(b.ctx, line.ID, provisioning.UpdateAccountServiceInput{Status: ptr("SUSPENDED")})
		require.NoError(t, err)
		n, err := b.db.Client.StatusChange.Query().Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})

	t.Run("overrides replaced as a whole", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
		line := b.servicesOf(t, ap.ID, b.line)[0]
		set := func(ovs ...*catalog.StatusPriceInput) []string {
			t.Helper()
			if ovs == nil {
				ovs = []*catalog.StatusPriceInput{}
			}
			_, err := b.prov.UpdateService(b.ctx, line.ID, provisioning.UpdateAccountServiceInput{PriceOverrides: ovs})
			require.NoError(t, err)
			return b.overrides(t, line.ID)
		}
		require.ElementsMatch(t, []string{"ACTIVE 12.00", "SUSPENDED 1.50"},
			set(&catalog.StatusPriceInput{Status: "ACTIVE", Amount: m("12.00")}, &catalog.StatusPriceInput{Status: "SUSPENDED", Amount: m("1.50")}))
		require.ElementsMatch(t, []string{"SUSPENDED 1.50"},
			set(&catalog.StatusPriceInput{Status: "ACTIVE", Amount: m("10.00")}, &catalog.StatusPriceInput{Status: "SUSPENDED", Amount: m("1.50")}),
			"back to the catalog price for ACTIVE")
		require.Empty(t, set(), "an empty list returns to catalog pricing")
		// No list leaves them as they are.
		set(&catalog.StatusPriceInput{Status: "ACTIVE", Amount: m("11")})
		_, err := b.prov.UpdateService(b.ctx, line.ID, provisioning.UpdateAccountServiceInput{Quantity: ptr(2)})
		require.NoError(t, err)
		require.Equal(t, []string{"ACTIVE 11"}, b.overrides(t, line.ID))
	})
}

// TestRemoveService holds removeAccountService (docs/billing.md 3.1): allowed while the
// service keeps its minInstances over its other account-services; its charges stay on
// their invoices, no longer pointing at it.
func TestRemoveService(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := setupDB(t, dialect)
			in := b.input(b.acme, b.pro, "2024-01-01")
			in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.extra,
				PriceOverrides: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m("2.00")}}}}
			ap := b.one(t, in)
			extra := b.servicesOf(t, ap.ID, b.extra)[0]
			_, err := b.prov.UpdateService(b.ctx, extra.ID, provisioning.UpdateAccountServiceInput{Status: ptr("SUSPENDED")})
			require.NoError(t, err)
			// A charge of Extra on a CLOSED invoice.
			inv := b.invoice(t, b.acme, b.billRun(t), "3.00")
			ch, err := b.db.Client.Charge.Create().SetKind(charge.KindRECURRING).SetDescription("Extra").SetAccountID(b.acme.ID).
				SetAccountPackageID(ap.ID).SetAccountServiceID(extra.ID).SetServiceID(b.extra).SetInvoiceID(inv.ID).
				SetPeriodStart(d("2024-01-01")).SetPeriodEnd(d("2024-01-31")).SetQuantity(1).SetUnitAmount(m("3.00")).
				SetAmount(m("3.00")).SetGuard("TEST:extra").Save(b.ctx)
			require.NoError(t, err)
			b.closeInvoice(t, inv)
			before := b.snapshot(t)

			// An optional service: down to none.
			id, err := b.prov.RemoveService(b.ctx, extra.ID)
			require.NoError(t, err)
			require.Equal(t, extra.ID, id)
			after := b.snapshot(t)
			require.Equal(t, before.counts["account_services"]-1, after.counts["account_services"])
			require.Equal(t, before.counts["status_prices"]-1, after.counts["status_prices"], "its override")
			require.Equal(t, before.counts["status_changes"]-1, after.counts["status_changes"], "its status change")
			require.Equal(t, before.counts["charges"], after.counts["charges"])
			kept, err := b.db.Client.Charge.Get(b.ctx, ch.ID)
			require.NoError(t, err)
			require.Nil(t, kept.AccountServiceID, "the charge stays, no longer pointing at it")
			require.Equal(t, &inv.ID, kept.InvoiceID)
			require.Equal(t, "3.00", b.invoiceTotal(t, inv.ID))

			// Multi (min 2): an extra account-service can go, the last two instances cannot.
			more, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.multi})
			require.NoError(t, err)
			_, err = b.prov.RemoveService(b.ctx, more.ID)
			require.NoError(t, err)
			require.Equal(t, 2, b.instances(t, ap.ID, b.multi))
			// Addon (min 1) with two account-services: either can go, not both.
			addon2, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.addon})
			require.NoError(t, err)
			addon1 := b.servicesOf(t, ap.ID, b.addon)[0]
			_, err = b.prov.RemoveService(b.ctx, addon1.ID)
			require.NoError(t, err)
			before = b.snapshot(t)
			_, err = b.prov.RemoveService(b.ctx, addon2.ID)
			requireFault(t, err, fault.FailedPrecondition, "")
			b.requireUnchanged(t, before)
		})
	}
}

// TestConcurrentInstances races changes of one service's instances on an
// account-package: the account-package's row lock (PostgreSQL) or the write lock
// (SQLite) makes the limits hold whatever the timing. Adds beyond maxInstances fit
// exactly up to it, removes stop exactly at minInstances, and every loser gets the
// limit's FAILED_PRECONDITION.
func TestConcurrentInstances(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()

			t.Run("adds: exactly maxInstances fit", func(t *testing.T) {
				t.Parallel()
				b := setupDB(t, dialect)
				for round := range 3 {
					ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01")) // 1 Addon of at most 3
					errs := race(8, func(int) error {
						_, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.addon})
						return err
					})
					won := 0
					for _, err := range errs {
						if err == nil {
							won++
							continue
						}
						requireFault(t, err, fault.FailedPrecondition, "input.quantity")
					}
					require.Equal(t, 2, won, "round %d", round)
					require.Equal(t, 3, b.instances(t, ap.ID, b.addon), "round %d", round)
					require.Len(t, b.servicesOf(t, ap.ID, b.addon), 3, "round %d", round)
				}
			})

			t.Run("adds and quantity changes: never beyond maxInstances", func(t *testing.T) {
				t.Parallel()
				b := setupDB(t, dialect)
				for round := range 3 {
					ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
					addon := b.servicesOf(t, ap.ID, b.addon)[0]
					errs := race(8, func(i int) error {
						if i%2 == 0 {
							_, err := b.prov.UpdateService(b.ctx, addon.ID, provisioning.UpdateAccountServiceInput{Quantity: ptr(2 + i%4/2)})
							return err
						}
						_, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.addon})
						return err
					})
					for _, err := range errs {
						if err != nil {
							requireFault(t, err, fault.FailedPrecondition, "input.quantity")
						}
					}
					n := b.instances(t, ap.ID, b.addon)
					require.LessOrEqual(t, n, 3, "round %d", round)
					require.GreaterOrEqual(t, n, 2, "round %d: some change won", round)
				}
			})

			t.Run("removes: exactly down to minInstances", func(t *testing.T) {
				t.Parallel()
				b := setupDB(t, dialect)
				for round := range 3 {
					in := b.input(b.acme, b.pro, "2024-01-01")
					in.Services = []*provisioning.AccountServiceInput{{ServiceID: b.multi}, {ServiceID: b.multi}}
					ap := b.one(t, in)
					for range 2 {
						_, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.multi})
						require.NoError(t, err)
					}
					svcs := b.servicesOf(t, ap.ID, b.multi)
					require.Len(t, svcs, 4) // four of one instance, at least 2 to keep
					errs := race(len(svcs), func(i int) error {
						_, err := b.prov.RemoveService(b.ctx, svcs[i].ID)
						return err
					})
					won := 0
					for _, err := range errs {
						if err == nil {
							won++
							continue
						}
						requireFault(t, err, fault.FailedPrecondition, "")
					}
					require.Equal(t, 2, won, "round %d", round)
					require.Equal(t, 2, b.instances(t, ap.ID, b.multi), "round %d", round)
				}
			})
		})
	}
}

// TestConcurrentDelete races deletes of an account-package against removals of its
// account-services: they serialize on the account-package's row, so exactly one delete
// wins, each removal either runs before it or finds the service gone (NOT_FOUND on id,
// never an internal error), and nothing of the package is left.
func TestConcurrentDelete(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := setupDB(t, dialect)
			for round := range 5 {
				ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
				var removable []int // beyond minInstances: each can go on its own
				for _, svc := range []int{b.addon, b.multi, b.line} {
					sv, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: svc})
					require.NoError(t, err)
					removable = append(removable, sv.ID)
				}
				errs := race(2+len(removable), func(i int) error {
					if i < 2 {
						_, err := b.prov.Delete(b.ctx, ap.ID)
						return err
					}
					_, err := b.prov.RemoveService(b.ctx, removable[i-2])
					return err
				})
				deleted := 0
				for i, err := range errs {
					if err == nil {
						if i < 2 {
							deleted++
						}
						continue
					}
					requireFault(t, err, fault.NotFound, "id")
				}
				require.Equal(t, 1, deleted, "round %d: exactly one delete", round)
				_, err := b.db.Client.AccountPackage.Get(b.ctx, ap.ID)
				require.True(t, ent.IsNotFound(err), "round %d", round)
				require.Empty(t, b.services(t, ap.ID), "round %d", round)
			}
		})
	}
}

// TestChangesRaceDelete races each change of an account-package or its services
// against the package's delete: a change either commits before the delete and answers
// with what it wrote, or finds the package gone (NOT_FOUND on id); it never fails
// after committing because the delete landed before it read its answer back.
func TestChangesRaceDelete(t *testing.T) {
	t.Parallel()
	changes := []struct {
		name   string
		field  string // of the NOT_FOUND when the delete comes first
		change func(b *testBundle, apID, svID int) (int, error)
	}{
		{"update", "id", func(b *testBundle, apID, _ int) (int, error) {
			ap, err := b.prov.Update(b.ctx, apID, provisioning.UpdateAccountPackageInput{EndDate: dp("2024-06-30")})
			if err != nil {
				return 0, err
			}
			return ap.ID, nil
		}},
		{"cancel", "id", func(b *testBundle, apID, _ int) (int, error) {
			ap, err := b.prov.Cancel(b.ctx, apID, provisioning.CancelAccountPackageInput{
				CancellationDate: d("2024-03-01"), BillingOption: accountpackage.CancelBillingOptionPRORATED})
			if err != nil {
				return 0, err
			}
			return ap.ID, nil
		}},
		{"add service", "accountPackageId", func(b *testBundle, apID, _ int) (int, error) {
			sv, err := b.prov.AddService(b.ctx, apID, provisioning.AccountServiceInput{ServiceID: b.addon})
			if err != nil {
				return 0, err
			}
			return sv.AccountPackageID, nil
		}},
		{"update service", "id", func(b *testBundle, _, svID int) (int, error) {
			sv, err := b.prov.UpdateService(b.ctx, svID, provisioning.UpdateAccountServiceInput{Status: ptr("SUSPENDED")})
			if err != nil {
				return 0, err
			}
			return sv.AccountPackageID, nil
		}},
	}
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := setupDB(t, dialect)
			for _, tc := range changes {
				for round := range 40 {
					ap := b.one(t, b.input(b.acme, b.pro, "2024-01-01"))
					sv, err := b.prov.AddService(b.ctx, ap.ID, provisioning.AccountServiceInput{ServiceID: b.multi})
					require.NoError(t, err)
					var got int
					errs := race(2, func(i int) error {
						if i == 0 {
							_, err := b.prov.Delete(b.ctx, ap.ID)
							return err
						}
						var err error
						got, err = tc.change(b, ap.ID, sv.ID)
						return err
					})
					require.NoError(t, errs[0], "%s round %d: the delete wins either way", tc.name, round)
					if errs[1] != nil {
						requireFault(t, errs[1], fault.NotFound, tc.field)
					} else {
						require.Equal(t, ap.ID, got, "%s round %d: the answer is the changed package's", tc.name, round)
					}
					_, err = b.db.Client.AccountPackage.Get(b.ctx, ap.ID)
					require.True(t, ent.IsNotFound(err), "%s round %d", tc.name, round)
				}
			}
		})
	}
}
