package catalog_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/packageservice"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// testBundle is what a catalog test works with: the service under test over a fresh,
// seeded database of its own.
type testBundle struct {
	svc *catalog.Service
	db  *store.DB
	ctx context.Context
}

// setup opens a fresh SQLite database for t.
func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupOn(t, "sqlite")
}

// setupOn opens a fresh database of the given kind for t.
func setupOn(t *testing.T, dialect string) *testBundle {
	t.Helper()
	db := testenv.OpenDB(t, dialect)
	return &testBundle{svc: catalog.New(db.Client), db: db, ctx: t.Context()}
}

// eachDialect runs fn as a parallel subtest per database testenv offers.
func eachDialect(t *testing.T, fn func(t *testing.T, dialect string)) {
	t.Helper()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			fn(t, dialect)
		})
	}
}

// Small constructors for inputs.
func ptr[T any](v T) *T            { return &v }
func dec(s string) money.Decimal   { return money.MustParse(s) }
func date(s string) *calendar.Date { d := calendar.MustParse(s); return &d }
func decp(s string) *money.Decimal { d := dec(s); return &d }
func accents(n int) string         { return strings.Repeat("é", n) }
func letters(n int) string         { return strings.Repeat("m", n) }

// rows counts the rows of every table the catalog writes (and account-packages,
// which it must never write), with ent queries.
func (b *testBundle) rows(t *testing.T) map[string]int {
	t.Helper()
	c, ctx := b.db.Client, b.ctx
	out := map[string]int{}
	put := func(name string) func(int, error) {
		return func(n int, err error) {
			require.NoError(t, err)
			out[name] = n
		}
	}
	put("currencies")(c.Currency.Query().Count(ctx))
	put("statuses")(c.Status.Query().Count(ctx))
	put("services")(c.Service.Query().Count(ctx))
	put("packages")(c.CatalogPackage.Query().Count(ctx))
	put("package services")(c.PackageService.Query().Count(ctx))
	put("frequencies")(c.PackageFrequency.Query().Count(ctx))
	put("service prices")(c.ServicePrice.Query().Count(ctx))
	put("status prices")(c.StatusPrice.Query().Count(ctx))
	put("transition prices")(c.TransitionPrice.Query().Count(ctx))
	put("account-packages")(c.AccountPackage.Query().Count(ctx))
	pkgs, err := c.CatalogPackage.Query().WithCurrencies().All(ctx)
	require.NoError(t, err)
	links := 0
	for _, p := range pkgs {
		links += len(p.Edges.Currencies)
	}
	out["package currencies"] = links
	return out
}

// requireFault asserts that err is a *fault.Error with the code and field.
func requireFault(t *testing.T, err error, code fault.Code, field string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, fault.CodeOf(err), "code of %q", err)
	fe, ok := fault.As(err)
	require.True(t, ok)
	require.Equal(t, field, fe.Field, "field of %q", err)
}

// fixture holds the services package tests put in packages.
type fixture struct {
	line  *ent.Service // RECURRING: the main line item
	extra *ent.Service // RECURRING: an add-on
	setup *ent.Service // ONE_TIME: an installation fee
	spare *ent.Service // RECURRING: in no package
}

// service creates a service through the service under test.
func (b *testBundle) service(t *testing.T, name string, kind service.Kind) *ent.Service {
	t.Helper()
	sv, err := b.svc.CreateService(b.ctx, catalog.CreateServiceInput{Name: name, Kind: kind})
	require.NoError(t, err)
	return sv
}

// fixture creates the four services of a fixture.
func (b *testBundle) fixture(t *testing.T) fixture {
	t.Helper()
	return fixture{
		line:  b.service(t, "Line", service.KindRECURRING),
		extra: b.service(t, "Extra", service.KindRECURRING),
		setup: b.service(t, "Setup", service.KindONE_TIME),
		spare: b.service(t, "Spare", service.KindRECURRING),
	}
}

// monthly is a Monthly frequency pricing one service when ACTIVE.
func monthly(serviceID int, cur, amount string) *catalog.PackageFrequencyInput {
	return &catalog.PackageFrequencyInput{
		Name: "Monthly", Interval: packagefrequency.IntervalMONTH,
		Prices: []*catalog.ServicePriceInput{{
			ServiceID: serviceID, Currency: cur,
			Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec(amount)}},
		}},
	}
}

// basicInput is a valid package: Line, priced in USD at 50.00 a month when ACTIVE.
func basicInput(f fixture, name string) catalog.CreatePackageInput {
	return catalog.CreatePackageInput{
		Name:        name,
		Currencies:  []string{"USD"},
		Services:    []*catalog.PackageServiceInput{{ServiceID: f.line.ID}},
		Frequencies: []*catalog.PackageFrequencyInput{monthly(f.line.ID, "USD", "50.00")},
	}
}

// createPackage creates a package that must be accepted.
func (b *testBundle) createPackage(t *testing.T, in catalog.CreatePackageInput) *ent.CatalogPackage {
	t.Helper()
	pkg, err := b.svc.CreatePackage(b.ctx, in)
	require.NoError(t, err)
	return pkg
}

// statusID returns the id of the status with the code.
func (b *testBundle) statusID(t *testing.T, code string) int {
	t.Helper()
	id, err := b.db.Client.Status.Query().Where(status.Code(code)).OnlyID(b.ctx)
	require.NoError(t, err)
	return id
}

// accountPackage writes an account-package of the package straight through ent, on
// its first frequency, for an account of its own.
func (b *testBundle) accountPackage(t *testing.T, pkgID, bulk int) *ent.AccountPackage {
	t.Helper()
	c := b.db.Client
	usd, err := c.Currency.Query().Where(currency.Code("USD")).OnlyID(b.ctx)
	require.NoError(t, err)
	acc, err := c.Account.Create().SetName("Customer").SetCurrencyID(usd).SetBillDay(1).Save(b.ctx)
	require.NoError(t, err)
	freq, err := c.PackageFrequency.Query().Where(packagefrequency.PackageID(pkgID)).First(b.ctx)
	require.NoError(t, err)
	ap, err := c.AccountPackage.Create().
		SetAccountID(acc.ID).SetPackageID(pkgID).SetFrequencyID(freq.ID).
		SetStatusID(b.statusID(t, "ACTIVE")).SetBulkQuantity(bulk).
		SetEffectiveDate(calendar.MustParse("2024-01-01")).SetNextBillDate(calendar.MustParse("2024-01-01")).
		SetChargeFullPeriod(false).SetPostpaid(false).Save(b.ctx)
	require.NoError(t, err)
	return ap
}

// packageServices returns the package's services in their listed order.
func (b *testBundle) packageServices(t *testing.T, pkgID int) []*ent.PackageService {
	t.Helper()
	out, err := b.db.Client.PackageService.Query().Where(packageservice.PackageID(pkgID)).
		Order(ent.Asc(packageservice.FieldPosition)).All(b.ctx)
	require.NoError(t, err)
	return out
}

// limits is a package service's instance limits, comparable in assertions.
type limits struct {
	ServiceID, Min, Default int
	Max                     *int
	Optional                bool
	Position                int
}

// limitsOf returns the limits of a stored package service.
func limitsOf(ps *ent.PackageService) limits {
	return limits{ps.ServiceID, ps.MinInstances, ps.DefaultInstances, ps.MaxInstances, ps.Optional, ps.Position}
}

// prices returns every price of the package's frequencies as
// "frequency service currency what" → amount, what being a status code, "oneTime",
// or "FROM->TO" for a transition.
func (b *testBundle) prices(t *testing.T, pkgID int) map[string]string {
	t.Helper()
	freqs, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(pkgID)).
		WithPrices(func(q *ent.ServicePriceQuery) {
			q.WithService().WithCurrency().
				WithRecurring(func(q *ent.StatusPriceQuery) { q.WithStatus() }).
				WithTransitions(func(q *ent.TransitionPriceQuery) { q.WithFrom().WithTo() })
		}).All(b.ctx)
	require.NoError(t, err)
	out := map[string]string{}
	for _, f := range freqs {
		for _, sp := range f.Edges.Prices {
			key := f.Name + " " + sp.Edges.Service.Name + " " + sp.Edges.Currency.Code + " "
			if sp.OneTime != nil {
				out[key+"oneTime"] = sp.OneTime.String()
			}
			for _, r := range sp.Edges.Recurring {
				out[key+r.Edges.Status.Code] = r.Amount.String()
			}
			for _, tr := range sp.Edges.Transitions {
				out[key+tr.Edges.From.Code+"->"+tr.Edges.To.Code] = tr.Amount.String()
			}
		}
	}
	return out
}

// concurrently runs fn n times at once (each call told its index) and returns the
// errors in index order.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins asserts that exactly one of errs is nil and every other is a refusal with
// the code and field.
func oneWins(t *testing.T, errs []error, code fault.Code, field string) {
	t.Helper()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
			continue
		}
		requireFault(t, err, code, field)
	}
	require.Equal(t, 1, wins, "exactly one concurrent call succeeds: %v", errs)
}

// TestSeed holds that the builtin currencies and statuses exist with the README's
// precisions and flags, that Seed is idempotent, adds only what is missing, leaves
// existing codes as they are, and is safe to run concurrently.
func TestSeed(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect) // OpenDB has seeded once already
		type cur struct {
			Code      string
			Precision int
		}
		type st struct {
			Code               string
			Billable, ReadOnly bool
			Builtin            bool
		}
		wantCurrencies := []cur{{"CAD", 2}, {"EUR", 2}, {"GBP", 2}, {"JPY", 0}, {"USD", 2}}
		wantStatuses := []st{{"ACTIVE", true, false, true}, {"SUSPENDED", true, false, true},
			{"PENDING", false, false, true}, {"CANCELED", false, true, true}}
		check := func(t *testing.T) {
			t.Helper()
			curs, err := b.svc.Currencies(b.ctx)
			require.NoError(t, err)
			var gotC []cur
			for _, c := range curs {
				gotC = append(gotC, cur{c.Code, c.Precision})
			}
			require.Equal(t, wantCurrencies, gotC, "currencies by code")
			sts, err := b.svc.Statuses(b.ctx)
			require.NoError(t, err)
			var gotS []st
			for _, s := range sts {
				gotS = append(gotS, st{s.Code, s.Billable, s.ReadOnly, s.Builtin})
			}
			require.ElementsMatch(t, wantStatuses, gotS)
		}
		check(t)
		before := b.rows(t)

		require.NoError(t, b.svc.Seed(b.ctx))
		require.NoError(t, b.svc.Seed(b.ctx))
		check(t)
		require.Equal(t, before, b.rows(t), "seeding a seeded database writes nothing")

		// An existing code is left as it is: an operator's renaming survives.
		c := b.db.Client
		require.NoError(t, c.Status.Update().Where(status.Code("ACTIVE")).SetName("Live").Exec(b.ctx))
		require.NoError(t, c.Currency.Update().Where(currency.Code("USD")).SetName("Dollar").Exec(b.ctx))
		require.NoError(t, b.svc.Seed(b.ctx))
		active, err := c.Status.Query().Where(status.Code("ACTIVE")).Only(b.ctx)
		require.NoError(t, err)
		require.Equal(t, "Live", active.Name)
		usd, err := c.Currency.Query().Where(currency.Code("USD")).Only(b.ctx)
		require.NoError(t, err)
		require.Equal(t, "Dollar", usd.Name)

		// What is missing comes back, once, however many seeds run at once.
		_, err = c.Currency.Delete().Where(currency.Code("JPY")).Exec(b.ctx)
		require.NoError(t, err)
		_, err = c.Status.Delete().Where(status.Code("PENDING")).Exec(b.ctx)
		require.NoError(t, err)
		for _, err := range concurrently(4, func(int) error { return b.svc.Seed(b.ctx) }) {
			require.NoError(t, err)
		}
		check(t)
		require.Equal(t, before, b.rows(t))
		jpy, err := c.Currency.Query().Where(currency.Code("JPY")).Only(b.ctx)
		require.NoError(t, err)
		require.Equal(t, "Yen", jpy.Name)
	})
}

// TestCreateCurrency holds that a currency needs a three-capital-letter code, a name
// and a precision in 0..4, that a code already present is a CONFLICT, and that a
// refusal writes nothing.
func TestCreateCurrency(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		in    catalog.CreateCurrencyInput
		code  fault.Code // empty: accepted
		field string
	}{
		{name: "three letters, precision 3", in: catalog.CreateCurrencyInput{Code: "BHD", Name: "  Bahraini Dinar  ", Precision: 3}},
		{name: "precision 0", in: catalog.CreateCurrencyInput{Code: "KRW", Name: "Won", Precision: 0}},
		{name: "precision 4", in: catalog.CreateCurrencyInput{Code: "CLF", Name: "Unidad de Fomento", Precision: 4}},
		{name: "code already present", in: catalog.CreateCurrencyInput{Code: "USD", Name: "Dollar again", Precision: 2},
			code: fault.Conflict, field: "input.code"},
		{name: "lower-case code", in: catalog.CreateCurrencyInput{Code: "bhd", Name: "Dinar", Precision: 3},
			code: fault.Invalid, field: "input.code"},
		{name: "two letters", in: catalog.CreateCurrencyInput{Code: "US", Name: "Short", Precision: 2},
			code: fault.Invalid, field: "input.code"},
		{name: "four letters", in: catalog.CreateCurrencyInput{Code: "USDX", Name: "Long", Precision: 2},
			code: fault.Invalid, field: "input.code"},
		{name: "a digit", in: catalog.CreateCurrencyInput{Code: "U5D", Name: "Digit", Precision: 2},
			code: fault.Invalid, field: "input.code"},
		{name: "precision -1", in: catalog.CreateCurrencyInput{Code: "XAA", Name: "Negative", Precision: -1},
			code: fault.Invalid, field: "input.precision"},
		{name: "precision 5", in: catalog.CreateCurrencyInput{Code: "XAB", Name: "Too fine", Precision: 5},
			code: fault.Invalid, field: "input.precision"},
		{name: "empty name", in: catalog.CreateCurrencyInput{Code: "XAC", Name: "   ", Precision: 2},
			code: fault.Invalid, field: "input.name"},
		{name: "name with a control character", in: catalog.CreateCurrencyInput{Code: "XAD", Name: "Bad\x1bName", Precision: 2},
			code: fault.Invalid, field: "input.name"},
		{name: "name of 201 characters", in: catalog.CreateCurrencyInput{Code: "XAE", Name: accents(201), Precision: 2},
			code: fault.Invalid, field: "input.name"},
	}
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		// The cases share the database and run one after the other, so that each
		// counts exactly the rows it writes.
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := b.rows(t)
				got, err := b.svc.CreateCurrency(b.ctx, tc.in)
				if tc.code != "" {
					requireFault(t, err, tc.code, tc.field)
					require.Equal(t, before, b.rows(t), "a refusal writes nothing")
					return
				}
				require.NoError(t, err)
				require.Equal(t, tc.in.Code, got.Code)
				require.Equal(t, tc.in.Precision, got.Precision)
				stored, err := b.db.Client.Currency.Query().Where(currency.Code(tc.in.Code)).Only(b.ctx)
				require.NoError(t, err)
				require.Equal(t, strings.TrimSpace(tc.in.Name), stored.Name, "the name is trimmed")
				require.Equal(t, tc.in.Precision, stored.Precision)
				want := before
				want["currencies"]++
				require.Equal(t, want, b.rows(t))
			})
		}
	})
}

// TestCreateStatus holds that a status code is capital letters, digits and
// underscores starting with a letter (at most 32), that a code already present is a
// CONFLICT, that created statuses are not builtin and keep their flags, and that a
// refusal writes nothing.
func TestCreateStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		in    catalog.CreateStatusInput
		code  fault.Code
		field string
	}{
		{name: "billable", in: catalog.CreateStatusInput{Code: "ON_HOLD", Name: "On hold", Billable: true}},
		{name: "read-only, not billable", in: catalog.CreateStatusInput{Code: "ARCHIVED2", Name: "Archived", ReadOnly: true}},
		{name: "32 characters", in: catalog.CreateStatusInput{Code: "S" + strings.Repeat("X", 31), Name: "Long code"}},
		{name: "code already present", in: catalog.CreateStatusInput{Code: "ACTIVE", Name: "Active again", Billable: true},
			code: fault.Conflict, field: "input.code"},
		{name: "33 characters", in: catalog.CreateStatusInput{Code: "S" + strings.Repeat("X", 32), Name: "Too long"},
			code: fault.Invalid, field: "input.code"},
		{name: "lower case", in: catalog.CreateStatusInput{Code: "on_hold", Name: "On hold"},
			code: fault.Invalid, field: "input.code"},
		{name: "starts with a digit", in: catalog.CreateStatusInput{Code: "1HOLD", Name: "On hold"},
			code: fault.Invalid, field: "input.code"},
		{name: "starts with an underscore", in: catalog.CreateStatusInput{Code: "_HOLD", Name: "On hold"},
			code: fault.Invalid, field: "input.code"},
		{name: "empty code", in: catalog.CreateStatusInput{Code: "", Name: "Nothing"},
			code: fault.Invalid, field: "input.code"},
		{name: "empty name", in: catalog.CreateStatusInput{Code: "ON_HOLD", Name: " "},
			code: fault.Invalid, field: "input.name"},
		{name: "name with NUL", in: catalog.CreateStatusInput{Code: "ON_HOLD", Name: "On\x00hold"},
			code: fault.Invalid, field: "input.name"},
	}
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		// The cases share the database and run one after the other, so that each
		// counts exactly the rows it writes.
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := b.rows(t)
				got, err := b.svc.CreateStatus(b.ctx, tc.in)
				if tc.code != "" {
					requireFault(t, err, tc.code, tc.field)
					require.Equal(t, before, b.rows(t), "a refusal writes nothing")
					return
				}
				require.NoError(t, err)
				stored, err := b.db.Client.Status.Get(b.ctx, got.ID)
				require.NoError(t, err)
				require.Equal(t, tc.in.Code, stored.Code)
				require.Equal(t, strings.TrimSpace(tc.in.Name), stored.Name)
				require.Equal(t, tc.in.Billable, stored.Billable)
				require.Equal(t, tc.in.ReadOnly, stored.ReadOnly)
				require.False(t, stored.Builtin, "only the seeded statuses are builtin")
				want := before
				want["statuses"]++
				require.Equal(t, want, b.rows(t))

				// Statuses lists the builtins first; the newest comes last.
				sts, err := b.svc.Statuses(b.ctx)
				require.NoError(t, err)
				var codes []string
				for _, s := range sts {
					codes = append(codes, s.Code)
				}
				require.Equal(t, []string{"ACTIVE", "SUSPENDED", "PENDING", "CANCELED"}, codes[:4])
				require.Equal(t, tc.in.Code, codes[len(codes)-1])
			})
		}
	})
}

// TestCreateCodesConcurrently holds that codes are unique when several clients
// create the same currency or status at once: one wins, the others get CONFLICT on
// input.code, and one row exists.
func TestCreateCodesConcurrently(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		errs := concurrently(4, func(i int) error {
			_, err := b.svc.CreateCurrency(b.ctx, catalog.CreateCurrencyInput{Code: "XTS", Name: fmt.Sprintf("Test %d", i), Precision: 2})
			return err
		})
		oneWins(t, errs, fault.Conflict, "input.code")
		n, err := b.db.Client.Currency.Query().Where(currency.Code("XTS")).Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)

		errs = concurrently(4, func(i int) error {
			_, err := b.svc.CreateStatus(b.ctx, catalog.CreateStatusInput{Code: "TRIAL", Name: fmt.Sprintf("Trial %d", i)})
			return err
		})
		oneWins(t, errs, fault.Conflict, "input.code")
		n, err = b.db.Client.Status.Query().Where(status.Code("TRIAL")).Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

// TestCreateService holds the name rules of services on both databases: trimmed,
// 1..200 characters counted as characters (200 accented letters are accepted, 201
// are not), no control characters; descriptions up to 2000 characters with line
// breaks but no other control character; a kind of RECURRING or ONE_TIME. A refusal
// writes nothing.
func TestCreateService(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		in       catalog.CreateServiceInput
		wantName string
		field    string // empty: accepted
	}{
		{name: "plain", in: catalog.CreateServiceInput{Name: "Voice", Kind: service.KindRECURRING}, wantName: "Voice"},
		{name: "trimmed", in: catalog.CreateServiceInput{Name: "  Voice \t", Kind: service.KindONE_TIME}, wantName: "Voice"},
		{name: "200 accented letters", in: catalog.CreateServiceInput{Name: accents(200), Kind: service.KindRECURRING}, wantName: accents(200)},
		{name: "200 mixed characters", in: catalog.CreateServiceInput{Name: strings.Repeat("Ünï", 66) + "çö", Kind: service.KindRECURRING},
			wantName: strings.Repeat("Ünï", 66) + "çö"},
		{name: "description of 2000 characters with line breaks",
			in:       catalog.CreateServiceInput{Name: "Described", Description: ptr("line one\nline two\t" + accents(1981)), Kind: service.KindRECURRING},
			wantName: "Described"},
		{name: "201 accented letters", in: catalog.CreateServiceInput{Name: accents(201), Kind: service.KindRECURRING}, field: "input.name"},
		{name: "empty", in: catalog.CreateServiceInput{Name: "   ", Kind: service.KindRECURRING}, field: "input.name"},
		{name: "NUL", in: catalog.CreateServiceInput{Name: "Voi\x00ce", Kind: service.KindRECURRING}, field: "input.name"},
		{name: "escape", in: catalog.CreateServiceInput{Name: "\x1b[1mVoice", Kind: service.KindRECURRING}, field: "input.name"},
		{name: "line break inside a name", in: catalog.CreateServiceInput{Name: "Voi\nce", Kind: service.KindRECURRING}, field: "input.name"},
		{name: "C1 control character", in: catalog.CreateServiceInput{Name: "Voi\u0085ce", Kind: service.KindRECURRING}, field: "input.name"},
		{name: "description of 2001 characters", in: catalog.CreateServiceInput{Name: "Voice", Description: ptr(accents(2001)), Kind: service.KindRECURRING},
			field: "input.description"},
		{name: "description with NUL", in: catalog.CreateServiceInput{Name: "Voice", Description: ptr("a\x00b"), Kind: service.KindRECURRING},
			field: "input.description"},
		{name: "unknown kind", in: catalog.CreateServiceInput{Name: "Voice", Kind: service.Kind("MONTHLY")}, field: "input.kind"},
	}
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		// The cases share the database and run one after the other, so that each
		// counts exactly the rows it writes.
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := b.rows(t)
				got, err := b.svc.CreateService(b.ctx, tc.in)
				if tc.field != "" {
					requireFault(t, err, fault.Invalid, tc.field)
					require.Equal(t, before, b.rows(t), "a refusal writes nothing")
					return
				}
				require.NoError(t, err)
				stored, err := b.db.Client.Service.Get(b.ctx, got.ID)
				require.NoError(t, err)
				require.Equal(t, tc.wantName, stored.Name)
				require.Equal(t, tc.in.Kind, stored.Kind)
				if tc.in.Description != nil {
					require.NotNil(t, stored.Description)
					require.Equal(t, strings.TrimSpace(*tc.in.Description), *stored.Description)
				}
				want := before
				want["services"]++
				require.Equal(t, want, b.rows(t))
			})
		}
	})
}

// TestUpdateService holds that a service can be renamed and described, that an
// omitted field stays, that the name rules of creation apply, that an unknown id is
// NOT_FOUND on id, and that a refusal changes nothing.
func TestUpdateService(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		in        catalog.UpdateServiceInput
		unknownID bool
		wantName  string
		wantDesc  *string
		code      fault.Code
		field     string
	}{
		{name: "rename", in: catalog.UpdateServiceInput{Name: ptr("  Voice Pro ")}, wantName: "Voice Pro", wantDesc: ptr("Calls")},
		{name: "rename to 200 accented letters", in: catalog.UpdateServiceInput{Name: ptr(accents(200))}, wantName: accents(200), wantDesc: ptr("Calls")},
		{name: "describe only", in: catalog.UpdateServiceInput{Description: ptr("Calls and texts")}, wantName: "Voice", wantDesc: ptr("Calls and texts")},
		{name: "nothing given", in: catalog.UpdateServiceInput{}, wantName: "Voice", wantDesc: ptr("Calls")},
		{name: "201 characters", in: catalog.UpdateServiceInput{Name: ptr(accents(201))}, code: fault.Invalid, field: "input.name"},
		{name: "empty name", in: catalog.UpdateServiceInput{Name: ptr("  ")}, code: fault.Invalid, field: "input.name"},
		{name: "control character in the name", in: catalog.UpdateServiceInput{Name: ptr("Voice\x07")}, code: fault.Invalid, field: "input.name"},
		{name: "control character in the description", in: catalog.UpdateServiceInput{Name: ptr("Fine"), Description: ptr("bad\x00")},
			code: fault.Invalid, field: "input.description"},
		{name: "unknown id", in: catalog.UpdateServiceInput{Name: ptr("Renamed")}, unknownID: true, code: fault.NotFound, field: "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			sv, err := b.svc.CreateService(b.ctx, catalog.CreateServiceInput{Name: "Voice", Description: ptr("Calls"), Kind: service.KindRECURRING})
			require.NoError(t, err)
			id := sv.ID
			if tc.unknownID {
				id = sv.ID + 1000
			}
			before := b.rows(t)
			_, err = b.svc.UpdateService(b.ctx, id, tc.in)
			stored, gerr := b.db.Client.Service.Get(b.ctx, sv.ID)
			require.NoError(t, gerr)
			require.Equal(t, before, b.rows(t))
			if tc.code != "" {
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, "Voice", stored.Name, "a refusal changes nothing")
				require.Equal(t, ptr("Calls"), stored.Description)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantName, stored.Name)
			require.Equal(t, tc.wantDesc, stored.Description)
			require.Equal(t, service.KindRECURRING, stored.Kind)
		})
	}
}

// TestCreatePackage holds what a package definition writes: its flags, its
// currencies, its services with the default instance limits (an optional service min
// 0, others min 1, default = min) in the listed order, and its frequencies with
// prices padded to the currency's precision but never rounded.
func TestCreatePackage(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		f := b.fixture(t)
		before := b.rows(t)
		pkg, err := b.svc.CreatePackage(b.ctx, catalog.CreatePackageInput{
			Name:        "  Fiber Home  ",
			Description: ptr("Fiber to the home"),
			StartDate:   date("2024-01-01"),
			ExpiryDate:  date("2025-01-01"),
			Currencies:  []string{"USD", "JPY"},
			Services: []*catalog.PackageServiceInput{
				{ServiceID: f.line.ID},
				{ServiceID: f.extra.ID, Optional: ptr(true), MaxInstances: ptr(3)},
				{ServiceID: f.setup.ID},
				{ServiceID: f.spare.ID, MinInstances: ptr(2), DefaultInstances: ptr(4)},
			},
			Frequencies: []*catalog.PackageFrequencyInput{
				{
					Name: "Monthly", Interval: packagefrequency.IntervalMONTH,
					Prices: []*catalog.ServicePriceInput{
						{ServiceID: f.line.ID, Currency: "USD",
							Recurring: []*catalog.StatusPriceInput{
								{Status: "ACTIVE", Amount: dec("50")},
								{Status: "SUSPENDED", Amount: dec("10.5")},
							},
							Transitions: []*catalog.TransitionPriceInput{{From: "ACTIVE", To: "CANCELED", Amount: dec("15")}}},
						{ServiceID: f.line.ID, Currency: "JPY",
							Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec("5000")}}},
						{ServiceID: f.setup.ID, Currency: "USD", OneTime: decp("25")},
						{ServiceID: f.extra.ID, Currency: "USD",
							Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec("0.0125")}}},
					},
				},
				{
					Name: "Quarterly", Interval: packagefrequency.IntervalMONTH, IntervalCount: ptr(3),
					Prices: []*catalog.ServicePriceInput{{ServiceID: f.line.ID, Currency: "USD",
						Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec("140")}}}},
				},
			},
		})
		require.NoError(t, err)

		got, err := b.db.Client.CatalogPackage.Get(b.ctx, pkg.ID)
		require.NoError(t, err)
		require.Equal(t, "Fiber Home", got.Name, "the name is trimmed")
		require.Equal(t, "fiber home", got.NameKey)
		require.Equal(t, ptr("Fiber to the home"), got.Description)
		require.Equal(t, "2024-01-01", got.StartDate.String())
		require.Equal(t, "2025-01-01", got.ExpiryDate.String())
		require.Equal(t, b.statusID(t, "ACTIVE"), got.DefaultStatusID, "the default status is ACTIVE")
		require.False(t, got.OneTimeBilling)
		require.False(t, got.ChargeFullPeriod)
		require.False(t, got.Postpaid)
		require.False(t, got.BulkQuantity)

		curs, err := b.db.Client.CatalogPackage.QueryCurrencies(got).Order(ent.Asc(currency.FieldCode)).All(b.ctx)
		require.NoError(t, err)
		require.Len(t, curs, 2)
		require.Equal(t, []string{"JPY", "USD"}, []string{curs[0].Code, curs[1].Code})

		var gotLimits []limits
		for _, ps := range b.packageServices(t, pkg.ID) {
			gotLimits = append(gotLimits, limitsOf(ps))
		}
		require.Equal(t, []limits{
			{ServiceID: f.line.ID, Min: 1, Default: 1, Position: 0},
			{ServiceID: f.extra.ID, Min: 0, Default: 0, Max: ptr(3), Optional: true, Position: 1},
			{ServiceID: f.setup.ID, Min: 1, Default: 1, Position: 2},
			{ServiceID: f.spare.ID, Min: 2, Default: 4, Position: 3},
		}, gotLimits)

		freqs, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).
			Order(ent.Asc(packagefrequency.FieldName)).All(b.ctx)
		require.NoError(t, err)
		require.Len(t, freqs, 2)
		require.Equal(t, "Monthly", freqs[0].Name)
		require.Equal(t, packagefrequency.IntervalMONTH, freqs[0].Interval)
		require.Equal(t, 1, freqs[0].IntervalCount, "intervalCount defaults to 1")
		require.Equal(t, "Quarterly", freqs[1].Name)
		require.Equal(t, 3, freqs[1].IntervalCount)

		require.Equal(t, map[string]string{
			"Monthly Line USD ACTIVE":           "50.00",
			"Monthly Line USD SUSPENDED":        "10.50",
			"Monthly Line USD ACTIVE->CANCELED": "15.00",
			"Monthly Line JPY ACTIVE":           "5000",
			"Monthly Setup USD oneTime":         "25.00",
			"Monthly Extra USD ACTIVE":          "0.0125",
			"Quarterly Line USD ACTIVE":         "140.00",
		}, b.prices(t, pkg.ID))

		want := before
		want["packages"]++
		want["package currencies"] += 2
		want["package services"] += 4
		want["frequencies"] += 2
		want["service prices"] += 5 // Line USD, Line JPY, Setup USD, Extra USD monthly; Line USD quarterly
		want["status prices"] += 5
		want["transition prices"]++
		require.Equal(t, want, b.rows(t))
	})
}

// TestCreatePackageFlags holds the package flags: all off by default, oneTimeBilling
// turning chargeFullPeriod on by itself, and a default status other than ACTIVE when
// asked for.
func TestCreatePackageFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                                string
		change                              func(in *catalog.CreatePackageInput)
		oneTime, fullPeriod, postpaid, bulk bool
		defaultStatus                       string
	}{
		{name: "defaults", change: func(*catalog.CreatePackageInput) {}, defaultStatus: "ACTIVE"},
		{name: "oneTimeBilling implies chargeFullPeriod",
			change:  func(in *catalog.CreatePackageInput) { in.OneTimeBilling = ptr(true) },
			oneTime: true, fullPeriod: true, defaultStatus: "ACTIVE"},
		{name: "oneTimeBilling with chargeFullPeriod asked on",
			change:  func(in *catalog.CreatePackageInput) { in.OneTimeBilling, in.ChargeFullPeriod = ptr(true), ptr(true) },
			oneTime: true, fullPeriod: true, defaultStatus: "ACTIVE"},
		{name: "oneTimeBilling false leaves chargeFullPeriod off",
			change:        func(in *catalog.CreatePackageInput) { in.OneTimeBilling = ptr(false) },
			defaultStatus: "ACTIVE"},
		{name: "chargeFullPeriod alone",
			change:     func(in *catalog.CreatePackageInput) { in.ChargeFullPeriod = ptr(true) },
			fullPeriod: true, defaultStatus: "ACTIVE"},
		{name: "postpaid",
			change:   func(in *catalog.CreatePackageInput) { in.Postpaid = ptr(true) },
			postpaid: true, defaultStatus: "ACTIVE"},
		{name: "bulk component",
			change: func(in *catalog.CreatePackageInput) { in.BulkQuantity = ptr(true) },
			bulk:   true, defaultStatus: "ACTIVE"},
		{name: "default status PENDING",
			change:        func(in *catalog.CreatePackageInput) { in.DefaultStatus = ptr("PENDING") },
			defaultStatus: "PENDING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := b.fixture(t)
			in := basicInput(f, "Basic")
			tc.change(&in)
			pkg := b.createPackage(t, in)
			got, err := b.db.Client.CatalogPackage.Get(b.ctx, pkg.ID)
			require.NoError(t, err)
			require.Equal(t, tc.oneTime, got.OneTimeBilling, "oneTimeBilling")
			require.Equal(t, tc.fullPeriod, got.ChargeFullPeriod, "chargeFullPeriod")
			require.Equal(t, tc.postpaid, got.Postpaid, "postpaid")
			require.Equal(t, tc.bulk, got.BulkQuantity, "bulkQuantity")
			require.Equal(t, b.statusID(t, tc.defaultStatus), got.DefaultStatusID)
		})
	}
}

// TestCreatePackageRefusals holds every refusal of a package definition: its code,
// the input field it names, and that nothing at all is written, including the
// refusals found after the package and some of its frequencies were written in the
// transaction.
func TestCreatePackageRefusals(t *testing.T) {
	t.Parallel()
	const priceField = "input.frequencies[0].prices[0]"
	price := func(in *catalog.CreatePackageInput) *catalog.ServicePriceInput { return in.Frequencies[0].Prices[0] }
	withTransition := func(in *catalog.CreatePackageInput, from, to, amount string) {
		p := price(in)
		p.Transitions = append(p.Transitions, &catalog.TransitionPriceInput{From: from, To: to, Amount: dec(amount)})
	}
	cases := []struct {
		name   string
		change func(f fixture, in *catalog.CreatePackageInput)
		code   fault.Code
		field  string
	}{
		// Names.
		{name: "empty name", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Name = "  " },
			code: fault.Invalid, field: "input.name"},
		{name: "name of 201 characters", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Name = accents(201) },
			code: fault.Invalid, field: "input.name"},
		{name: "name with a control character", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Name = "Basic\x00" },
			code: fault.Invalid, field: "input.name"},
		{name: "description with a control character", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Description = ptr("a\x1bb") },
			code: fault.Invalid, field: "input.description"},
		{name: "name taken in another letter case",
			change: func(_ fixture, in *catalog.CreatePackageInput) { in.Name = "bASIC" },
			code:   fault.Conflict, field: "input.name"},
		{name: "name taken once trimmed",
			change: func(_ fixture, in *catalog.CreatePackageInput) { in.Name = "  Basic  " },
			code:   fault.Conflict, field: "input.name"},

		// Currencies.
		{name: "no currency", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Currencies = nil },
			code: fault.Invalid, field: "input.currencies"},
		{name: "currency listed twice", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Currencies = []string{"USD", "USD"} },
			code: fault.Invalid, field: "input.currencies[1]"},
		{name: "unknown currency", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Currencies = []string{"USD", "XYZ"} },
			code: fault.NotFound, field: "input.currencies[1]"},

		// Services and their instance limits.
		{name: "no service", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Services, in.Frequencies = nil, nil },
			code: fault.Invalid, field: "input.services"},
		{name: "service listed twice", change: func(f fixture, in *catalog.CreatePackageInput) {
			in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: f.line.ID, Optional: ptr(true)})
		}, code: fault.Invalid, field: "input.services[1].serviceId"},
		{name: "unknown service", change: func(f fixture, in *catalog.CreatePackageInput) {
			in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: f.spare.ID + 1000})
		}, code: fault.NotFound, field: "input.services[1].serviceId"},
		{name: "minInstances above defaultInstances", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.Services[0].MinInstances, in.Services[0].DefaultInstances = ptr(2), ptr(1)
		}, code: fault.Invalid, field: "input.services[0].defaultInstances"},
		{name: "defaultInstances above maxInstances", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.Services[0].DefaultInstances, in.Services[0].MaxInstances = ptr(3), ptr(2)
		}, code: fault.Invalid, field: "input.services[0].defaultInstances"},
		{name: "minInstances above maxInstances", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.Services[0].MinInstances, in.Services[0].MaxInstances = ptr(3), ptr(2)
		}, code: fault.Invalid, field: "input.services[0].minInstances"},
		{name: "negative minInstances", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.Services[0].MinInstances, in.Services[0].Optional = ptr(-1), ptr(true)
		}, code: fault.Invalid, field: "input.services[0].minInstances"},
		{name: "negative maxInstances", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.Services[0].MaxInstances = ptr(-1)
		}, code: fault.Invalid, field: "input.services[0].maxInstances"},
		{name: "maxInstances 0 on an optional service", change: func(f fixture, in *catalog.CreatePackageInput) {
			in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: f.extra.ID, Optional: ptr(true), MaxInstances: ptr(0)})
		}, code: fault.Invalid, field: "input.services[1].maxInstances"},
		{name: "a service that is not optional with no instance by default", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.Services[0].MinInstances = ptr(0)
		}, code: fault.Invalid, field: "input.services[0].defaultInstances"},
		{name: "bulk component with an optional service", change: func(f fixture, in *catalog.CreatePackageInput) {
			in.BulkQuantity = ptr(true)
			in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: f.extra.ID, Optional: ptr(true)})
		}, code: fault.Invalid, field: "input.services[1].optional"},

		// Flags, dates and the default status.
		{name: "oneTimeBilling with chargeFullPeriod off", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.OneTimeBilling, in.ChargeFullPeriod = ptr(true), ptr(false)
		}, code: fault.Invalid, field: "input.chargeFullPeriod"},
		{name: "expiryDate on the startDate", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.StartDate, in.ExpiryDate = date("2024-03-01"), date("2024-03-01")
		}, code: fault.Invalid, field: "input.expiryDate"},
		{name: "expiryDate before the startDate", change: func(_ fixture, in *catalog.CreatePackageInput) {
			in.StartDate, in.ExpiryDate = date("2024-03-01"), date("2024-02-29")
		}, code: fault.Invalid, field: "input.expiryDate"},
		{name: "unknown default status", change: func(_ fixture, in *catalog.CreatePackageInput) { in.DefaultStatus = ptr("NOPE") },
			code: fault.NotFound, field: "input.defaultStatus"},
		{name: "read-only default status", change: func(_ fixture, in *catalog.CreatePackageInput) { in.DefaultStatus = ptr("CANCELED") },
			code: fault.FailedPrecondition, field: "input.defaultStatus"},

		// Frequencies.
		{name: "frequency with an empty name", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Frequencies[0].Name = "" },
			code: fault.Invalid, field: "input.frequencies[0].name"},
		{name: "frequency name of 101 characters", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Frequencies[0].Name = accents(101) },
			code: fault.Invalid, field: "input.frequencies[0].name"},
		{name: "unknown interval", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Frequencies[0].Interval = "HOUR" },
			code: fault.Invalid, field: "input.frequencies[0].interval"},
		{name: "intervalCount 0", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Frequencies[0].IntervalCount = ptr(0) },
			code: fault.Invalid, field: "input.frequencies[0].intervalCount"},
		{name: "intervalCount 1201", change: func(_ fixture, in *catalog.CreatePackageInput) { in.Frequencies[0].IntervalCount = ptr(1201) },
			code: fault.Invalid, field: "input.frequencies[0].intervalCount"},
		{name: "frequency name used twice in another letter case", change: func(f fixture, in *catalog.CreatePackageInput) {
			second := monthly(f.line.ID, "USD", "9.00")
			second.Name = "MONTHLY"
			in.Frequencies = append(in.Frequencies, second)
		}, code: fault.Invalid, field: "input.frequencies[1].name"},

		// Prices.
		{name: "price in a currency the package does not list", change: func(_ fixture, in *catalog.CreatePackageInput) { price(in).Currency = "EUR" },
			code: fault.Invalid, field: priceField + ".currency"},
		{name: "price in an unknown currency", change: func(_ fixture, in *catalog.CreatePackageInput) { price(in).Currency = "XYZ" },
			code: fault.NotFound, field: priceField + ".currency"},
		{name: "price in an unlisted currency on the second frequency", change: func(f fixture, in *catalog.CreatePackageInput) {
			yearly := monthly(f.line.ID, "GBP", "500")
			yearly.Name, yearly.Interval = "Yearly", packagefrequency.IntervalYEAR
			in.Frequencies = append(in.Frequencies, yearly)
		}, code: fault.Invalid, field: "input.frequencies[1].prices[0].currency"},
		{name: "price for a service not in the package", change: func(f fixture, in *catalog.CreatePackageInput) { price(in).ServiceID = f.spare.ID },
			code: fault.Invalid, field: priceField + ".serviceId"},
		{name: "service priced twice in a currency", change: func(f fixture, in *catalog.CreatePackageInput) {
			in.Frequencies[0].Prices = append(in.Frequencies[0].Prices, &catalog.ServicePriceInput{ServiceID: f.line.ID, Currency: "USD", OneTime: decp("1")})
		}, code: fault.Invalid, field: "input.frequencies[0].prices[1]"},
		{name: "negative recurring price", change: func(_ fixture, in *catalog.CreatePackageInput) { price(in).Recurring[0].Amount = dec("-1.00") },
			code: fault.Invalid, field: priceField + ".recurring[0].amount"},
		{name: "negative one-time price", change: func(_ fixture, in *catalog.CreatePackageInput) { price(in).OneTime = decp("-25") },
			code: fault.Invalid, field: priceField + ".oneTime"},
		{name: "negative transition price", change: func(_ fixture, in *catalog.CreatePackageInput) { withTransition(in, "ACTIVE", "CANCELED", "-0.01") },
			code: fault.Invalid, field: priceField + ".transitions[0].amount"},
		{name: "transition to the same status", change: func(_ fixture, in *catalog.CreatePackageInput) { withTransition(in, "ACTIVE", "ACTIVE", "1") },
			code: fault.Invalid, field: priceField + ".transitions[0].to"},
		{name: "recurring price for an unknown status", change: func(_ fixture, in *catalog.CreatePackageInput) { price(in).Recurring[0].Status = "NOPE" },
			code: fault.NotFound, field: priceField + ".recurring[0].status"},
		{name: "status priced twice", change: func(_ fixture, in *catalog.CreatePackageInput) {
			price(in).Recurring = append(price(in).Recurring, &catalog.StatusPriceInput{Status: "ACTIVE", Amount: dec("12.00")})
		}, code: fault.Invalid, field: priceField + ".recurring[1].status"},
		{name: "transition from an unknown status", change: func(_ fixture, in *catalog.CreatePackageInput) { withTransition(in, "NOPE", "CANCELED", "1") },
			code: fault.NotFound, field: priceField + ".transitions[0].from"},
		{name: "transition to an unknown status", change: func(_ fixture, in *catalog.CreatePackageInput) { withTransition(in, "ACTIVE", "NOPE", "1") },
			code: fault.NotFound, field: priceField + ".transitions[0].to"},
		{name: "transition priced twice", change: func(_ fixture, in *catalog.CreatePackageInput) {
			withTransition(in, "ACTIVE", "CANCELED", "1")
			withTransition(in, "ACTIVE", "CANCELED", "2")
		}, code: fault.Invalid, field: priceField + ".transitions[1]"},
		{name: "recurring price on a ONE_TIME service", change: func(f fixture, in *catalog.CreatePackageInput) {
			in.Services[0].ServiceID = f.setup.ID
			price(in).ServiceID = f.setup.ID
		}, code: fault.FailedPrecondition, field: priceField + ".recurring"},
	}
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		f := b.fixture(t)
		// Control: the definition each case breaks is accepted as it is. It also
		// holds the name the CONFLICT cases take.
		b.createPackage(t, basicInput(f, "Basic"))
		// The cases share the database and run one after the other, so that each
		// counts exactly the rows it writes.
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in := basicInput(f, "Fresh")
				tc.change(f, &in)
				before := b.rows(t)
				_, err := b.svc.CreatePackage(b.ctx, in)
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, before, b.rows(t), "a refusal writes nothing")
			})
		}
	})
}

// TestPackageNamesUniqueInAnyCase holds that package names are unique in any letter
// case, accented letters included, on both databases: a second package, a rename to
// a taken name, and concurrent creations that differ only in case are refused with
// CONFLICT on input.name; a package may take its own name in another case.
func TestPackageNamesUniqueInAnyCase(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		f := b.fixture(t)
		first := b.createPackage(t, basicInput(f, "Fibre Été"))
		other := b.createPackage(t, basicInput(f, "Fibre Ete"))

		for _, name := range []string{"fibre été", "FIBRE ÉTÉ", "  Fibre Été  ", "fIBRE éTÉ"} {
			before := b.rows(t)
			_, err := b.svc.CreatePackage(b.ctx, basicInput(f, name))
			requireFault(t, err, fault.Conflict, "input.name")
			require.Equal(t, before, b.rows(t), "%q: a refusal writes nothing", name)

			_, err = b.svc.UpdatePackage(b.ctx, other.ID, catalog.UpdatePackageInput{Name: ptr(name)})
			requireFault(t, err, fault.Conflict, "input.name")
			require.Equal(t, before, b.rows(t))
			got, err := b.db.Client.CatalogPackage.Get(b.ctx, other.ID)
			require.NoError(t, err)
			require.Equal(t, "Fibre Ete", got.Name, "%q: a refused rename changes nothing", name)
		}

		renamed, err := b.svc.UpdatePackage(b.ctx, first.ID, catalog.UpdatePackageInput{Name: ptr("FIBRE ÉTÉ")})
		require.NoError(t, err, "a package may take its own name in another case")
		require.Equal(t, "FIBRE ÉTÉ", renamed.Name)

		// Concurrent creations that differ only in case: one wins.
		names := []string{"Race", "RACE", "race", "rAcE"}
		errs := concurrently(len(names), func(i int) error {
			_, err := b.svc.CreatePackage(b.ctx, basicInput(f, names[i]))
			return err
		})
		oneWins(t, errs, fault.Conflict, "input.name")
		pkgs, err := b.db.Client.CatalogPackage.Query().All(b.ctx)
		require.NoError(t, err)
		var keys []string
		for _, p := range pkgs {
			keys = append(keys, strings.ToLower(p.Name))
		}
		sort.Strings(keys)
		require.Equal(t, []string{"fibre ete", "fibre été", "race"}, keys)
		freqs, err := b.db.Client.PackageFrequency.Query().Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 3, freqs, "the losers left no frequency behind")
	})
}

// pkgState is what UpdatePackage may change of a package, comparable in assertions.
type pkgState struct {
	Name, NameKey       string
	Description         *string
	Start, Expiry       string
	DefaultStatusID     int
	OneTime, FullPeriod bool
	Postpaid, Bulk      bool
}

// dateString prints an optional date, "" for none.
func dateString(d *calendar.Date) string {
	if d == nil {
		return ""
	}
	return d.String()
}

// pkgState reads the package's state from the database.
func (b *testBundle) pkgState(t *testing.T, id int) pkgState {
	t.Helper()
	p, err := b.db.Client.CatalogPackage.Get(b.ctx, id)
	require.NoError(t, err)
	return pkgState{p.Name, p.NameKey, p.Description, dateString(p.StartDate), dateString(p.ExpiryDate),
		p.DefaultStatusID, p.OneTimeBilling, p.ChargeFullPeriod, p.Postpaid, p.BulkQuantity}
}

// TestUpdatePackage holds the rules of a package change: omitted fields stay; names
// follow the creation rules and stay unique; dates stay in order against what the
// package already has, the field naming the date that was changed; the default
// status must exist and not be read-only; a one-time billing package keeps
// chargeFullPeriod. A refusal changes nothing, not even the valid parts of the input.
func TestUpdatePackage(t *testing.T) {
	t.Parallel()
	type pkgs struct{ basic, dated, once, other int }
	for _, tc := range []struct {
		name  string
		pkg   func(p pkgs) int
		in    catalog.UpdatePackageInput
		want  func(t *testing.T, b *testBundle, s pkgState) pkgState // for accepted changes: the state expected from the state before
		code  fault.Code
		field string
	}{
		{name: "rename, trimmed", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{Name: ptr("  Premium ")},
			want: func(_ *testing.T, _ *testBundle, s pkgState) pkgState {
				s.Name, s.NameKey = "Premium", "premium"
				return s
			}},
		{name: "own name in another case", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{Name: ptr("BASIC")},
			want: func(_ *testing.T, _ *testBundle, s pkgState) pkgState { s.Name = "BASIC"; return s }},
		{name: "description", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{Description: ptr("Entry level")},
			want: func(_ *testing.T, _ *testBundle, s pkgState) pkgState { s.Description = ptr("Entry level"); return s }},
		{name: "default status SUSPENDED", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{DefaultStatus: ptr("SUSPENDED")},
			want: func(t *testing.T, b *testBundle, s pkgState) pkgState {
				s.DefaultStatusID = b.statusID(t, "SUSPENDED")
				return s
			}},
		{name: "postpaid", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{Postpaid: ptr(true)},
			want: func(_ *testing.T, _ *testBundle, s pkgState) pkgState { s.Postpaid = true; return s }},
		{name: "chargeFullPeriod on", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{ChargeFullPeriod: ptr(true)},
			want: func(_ *testing.T, _ *testBundle, s pkgState) pkgState { s.FullPeriod = true; return s }},
		{name: "chargeFullPeriod on for a one-time billing package", pkg: func(p pkgs) int { return p.once },
			in:   catalog.UpdatePackageInput{ChargeFullPeriod: ptr(true)},
			want: func(_ *testing.T, _ *testBundle, s pkgState) pkgState { return s }},
		{name: "expiryDate after the startDate it has", pkg: func(p pkgs) int { return p.dated },
			in:   catalog.UpdatePackageInput{ExpiryDate: date("2024-06-30")},
			want: func(_ *testing.T, _ *testBundle, s pkgState) pkgState { s.Expiry = "2024-06-30"; return s }},
		{name: "startDate before the expiryDate it has", pkg: func(p pkgs) int { return p.dated },
			in:   catalog.UpdatePackageInput{StartDate: date("2024-12-31")},
			want: func(_ *testing.T, _ *testBundle, s pkgState) pkgState { s.Start = "2024-12-31"; return s }},

		{name: "unknown id", pkg: func(p pkgs) int { return p.other + 1000 }, in: catalog.UpdatePackageInput{Postpaid: ptr(true)},
			code: fault.NotFound, field: "id"},
		{name: "empty name", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{Name: ptr(" ")},
			code: fault.Invalid, field: "input.name"},
		{name: "name of 201 characters", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{Name: ptr(accents(201))},
			code: fault.Invalid, field: "input.name"},
		{name: "name taken in another case", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{Name: ptr("oTHER"), Postpaid: ptr(true)},
			code: fault.Conflict, field: "input.name"},
		{name: "expiryDate before the startDate it has", pkg: func(p pkgs) int { return p.dated },
			in:   catalog.UpdatePackageInput{ExpiryDate: date("2023-12-31")},
			code: fault.Invalid, field: "input.expiryDate"},
		{name: "startDate on the expiryDate it has", pkg: func(p pkgs) int { return p.dated },
			in:   catalog.UpdatePackageInput{StartDate: date("2025-01-01")},
			code: fault.Invalid, field: "input.startDate"},
		{name: "both dates out of order", pkg: func(p pkgs) int { return p.basic },
			in:   catalog.UpdatePackageInput{StartDate: date("2024-05-01"), ExpiryDate: date("2024-04-01")},
			code: fault.Invalid, field: "input.expiryDate"},
		{name: "rename with an unknown default status", pkg: func(p pkgs) int { return p.basic },
			in:   catalog.UpdatePackageInput{Name: ptr("Renamed"), DefaultStatus: ptr("NOPE")},
			code: fault.NotFound, field: "input.defaultStatus"},
		{name: "read-only default status", pkg: func(p pkgs) int { return p.basic }, in: catalog.UpdatePackageInput{DefaultStatus: ptr("CANCELED")},
			code: fault.FailedPrecondition, field: "input.defaultStatus"},
		{name: "chargeFullPeriod off for a one-time billing package", pkg: func(p pkgs) int { return p.once },
			in:   catalog.UpdatePackageInput{Postpaid: ptr(true), ChargeFullPeriod: ptr(false)},
			code: fault.FailedPrecondition, field: "input.chargeFullPeriod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := b.fixture(t)
			p := pkgs{basic: b.createPackage(t, basicInput(f, "Basic")).ID}
			dated := basicInput(f, "Dated")
			dated.StartDate, dated.ExpiryDate = date("2024-01-01"), date("2025-01-01")
			p.dated = b.createPackage(t, dated).ID
			once := basicInput(f, "Once")
			once.OneTimeBilling = ptr(true)
			p.once = b.createPackage(t, once).ID
			p.other = b.createPackage(t, basicInput(f, "Other")).ID

			id := tc.pkg(p)
			before := b.rows(t)
			// The state of every package, so that a refusal is seen to change none.
			all := func() map[int]pkgState {
				out := map[int]pkgState{}
				for _, pid := range []int{p.basic, p.dated, p.once, p.other} {
					out[pid] = b.pkgState(t, pid)
				}
				return out
			}
			stateBefore := all()
			_, err := b.svc.UpdatePackage(b.ctx, id, tc.in)
			require.Equal(t, before, b.rows(t))
			if tc.code != "" {
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, stateBefore, all(), "a refusal changes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want(t, b, stateBefore[id]), b.pkgState(t, id))
		})
	}
}

// TestPackageChangesAffectNewAccountPackagesOnly holds that account-packages copy
// chargeFullPeriod and postpaid when provisioned: changing the package later leaves
// the existing ones as they were and applies to new ones.
func TestPackageChangesAffectNewAccountPackagesOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.fixture(t)
	pkg := b.createPackage(t, basicInput(f, "Basic"))
	prov := provisioning.New(b.db, clock.NewFixed(time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)))
	usd, err := b.db.Client.Currency.Query().Where(currency.Code("USD")).OnlyID(b.ctx)
	require.NoError(t, err)
	acc, err := b.db.Client.Account.Create().SetName("Customer").SetCurrencyID(usd).SetBillDay(1).Save(b.ctx)
	require.NoError(t, err)
	freq, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).Only(b.ctx)
	require.NoError(t, err)
	provision := func() *ent.AccountPackage {
		aps, err := prov.Provision(b.ctx, provisioning.ProvisionPackageInput{
			AccountID: acc.ID, PackageID: pkg.ID, FrequencyID: freq.ID, EffectiveDate: calendar.MustParse("2024-01-01")})
		require.NoError(t, err)
		require.Len(t, aps, 1)
		return aps[0]
	}
	old := provision()
	require.False(t, old.ChargeFullPeriod)
	require.False(t, old.Postpaid)

	_, err = b.svc.UpdatePackage(b.ctx, pkg.ID, catalog.UpdatePackageInput{ChargeFullPeriod: ptr(true), Postpaid: ptr(true)})
	require.NoError(t, err)
	oldNow, err := b.db.Client.AccountPackage.Get(b.ctx, old.ID)
	require.NoError(t, err)
	require.False(t, oldNow.ChargeFullPeriod, "the existing account-package keeps its flags")
	require.False(t, oldNow.Postpaid)
	fresh := provision()
	require.True(t, fresh.ChargeFullPeriod, "a new account-package copies the changed flags")
	require.True(t, fresh.Postpaid)
}

// TestBulkComponentAndOptionalServices holds that a package with the bulk component
// has no optional service, whichever comes first: turning the bulk component on for
// a package with an optional service and adding an optional service to a bulk
// package are FAILED_PRECONDITION on the field at fault, and a service that is not
// optional may still join a bulk package. The bulk component cannot be turned off
// while an account-package uses a bulk quantity above 1, and can while none does.
func TestBulkComponentAndOptionalServices(t *testing.T) {
	t.Parallel()

	t.Run("bulk component on for a package with an optional service", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := b.fixture(t)
		in := basicInput(f, "Basic")
		in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: f.extra.ID, Optional: ptr(true)})
		pkg := b.createPackage(t, in)
		before, state := b.rows(t), b.pkgState(t, pkg.ID)
		_, err := b.svc.UpdatePackage(b.ctx, pkg.ID, catalog.UpdatePackageInput{BulkQuantity: ptr(true), Postpaid: ptr(true)})
		requireFault(t, err, fault.FailedPrecondition, "input.bulkQuantity")
		require.Equal(t, before, b.rows(t))
		require.Equal(t, state, b.pkgState(t, pkg.ID), "the package is unchanged")
	})

	t.Run("optional service added to a bulk package", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := b.fixture(t)
		in := basicInput(f, "Bulk")
		in.BulkQuantity = ptr(true)
		pkg := b.createPackage(t, in)
		before := b.rows(t)
		_, err := b.svc.AddPackageService(b.ctx, pkg.ID, catalog.PackageServiceInput{ServiceID: f.extra.ID, Optional: ptr(true)})
		requireFault(t, err, fault.FailedPrecondition, "input.optional")
		require.Equal(t, before, b.rows(t))

		// A service that is not optional is fine.
		ps, err := b.svc.AddPackageService(b.ctx, pkg.ID, catalog.PackageServiceInput{ServiceID: f.extra.ID})
		require.NoError(t, err)
		require.False(t, ps.Optional)
	})

	t.Run("bulk component on for a package without optional services", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := b.fixture(t)
		pkg := b.createPackage(t, basicInput(f, "Basic"))
		got, err := b.svc.UpdatePackage(b.ctx, pkg.ID, catalog.UpdatePackageInput{BulkQuantity: ptr(true)})
		require.NoError(t, err)
		require.True(t, got.BulkQuantity)
	})

	for _, tc := range []struct {
		name string
		bulk int // the bulk quantity of the package's one account-package
		ok   bool
	}{
		{name: "bulk component off while a bulk quantity of 20 uses it", bulk: 20},
		{name: "bulk component off while a bulk quantity of 2 uses it", bulk: 2},
		{name: "bulk component off with a bulk quantity of 1", bulk: 1, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := b.fixture(t)
			in := basicInput(f, "Bulk")
			in.BulkQuantity = ptr(true)
			pkg := b.createPackage(t, in)
			b.accountPackage(t, pkg.ID, tc.bulk)
			before, state := b.rows(t), b.pkgState(t, pkg.ID)
			_, err := b.svc.UpdatePackage(b.ctx, pkg.ID, catalog.UpdatePackageInput{BulkQuantity: ptr(false), Description: ptr("x")})
			require.Equal(t, before, b.rows(t))
			if tc.ok {
				require.NoError(t, err)
				require.False(t, b.pkgState(t, pkg.ID).Bulk)
				return
			}
			requireFault(t, err, fault.FailedPrecondition, "")
			require.Equal(t, state, b.pkgState(t, pkg.ID), "the package is unchanged")
		})
	}
}

// TestBulkComponentRacesOptionalService holds the bulk rule under concurrency on both
// databases: turning the bulk component on and adding an optional service at the
// same time never both succeed, because both changes take the package's row lock.
func TestBulkComponentRacesOptionalService(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		f := b.fixture(t)
		for round := 0; round < 5; round++ {
			pkg := b.createPackage(t, basicInput(f, fmt.Sprintf("Race %d", round)))
			errs := concurrently(2, func(i int) error {
				if i == 0 {
					_, err := b.svc.UpdatePackage(b.ctx, pkg.ID, catalog.UpdatePackageInput{BulkQuantity: ptr(true)})
					return err
				}
				_, err := b.svc.AddPackageService(b.ctx, pkg.ID, catalog.PackageServiceInput{ServiceID: f.extra.ID, Optional: ptr(true)})
				return err
			})
			state := b.pkgState(t, pkg.ID)
			hasOptional, err := b.db.Client.PackageService.Query().
				Where(packageservice.PackageID(pkg.ID), packageservice.Optional(true)).Exist(b.ctx)
			require.NoError(t, err)
			switch {
			case errs[0] == nil:
				requireFault(t, errs[1], fault.FailedPrecondition, "input.optional")
				require.True(t, state.Bulk)
				require.False(t, hasOptional)
			case errs[1] == nil:
				requireFault(t, errs[0], fault.FailedPrecondition, "input.bulkQuantity")
				require.False(t, state.Bulk)
				require.True(t, hasOptional)
			default:
				t.Fatalf("round %d: both refused: %v", round, errs)
			}
		}
	})
}

// TestDeletePackage holds that deleting an unused package removes it with its
// services, frequencies, prices and currency links in one go (and nothing of other
// packages, nor the services and currencies themselves), that a package in use is
// FAILED_PRECONDITION with nothing deleted, and that an unknown id is NOT_FOUND on id.
func TestDeletePackage(t *testing.T) {
	t.Parallel()

	fullInput := func(f fixture, name string) catalog.CreatePackageInput {
		in := basicInput(f, name)
		in.Currencies = []string{"USD", "EUR"}
		in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: f.setup.ID})
		p := in.Frequencies[0].Prices[0]
		p.Transitions = []*catalog.TransitionPriceInput{{From: "ACTIVE", To: "CANCELED", Amount: dec("15")}}
		in.Frequencies[0].Prices = append(in.Frequencies[0].Prices,
			&catalog.ServicePriceInput{ServiceID: f.setup.ID, Currency: "EUR", OneTime: decp("20")})
		return in
	}

	t.Run("unused", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := b.fixture(t)
		keep := b.createPackage(t, fullInput(f, "Keep"))
		keepPrices := b.prices(t, keep.ID)
		before := b.rows(t)
		pkg := b.createPackage(t, fullInput(f, "Doomed"))
		require.NotEqual(t, before, b.rows(t))

		id, err := b.svc.DeletePackage(b.ctx, pkg.ID)
		require.NoError(t, err)
		require.Equal(t, pkg.ID, id)
		require.Equal(t, before, b.rows(t), "every row the package brought is gone, and only those")
		require.Equal(t, keepPrices, b.prices(t, keep.ID), "the other package is untouched")
		_, err = b.db.Client.CatalogPackage.Get(b.ctx, pkg.ID)
		require.True(t, ent.IsNotFound(err))

		// Deleting it again: it is not there.
		_, err = b.svc.DeletePackage(b.ctx, pkg.ID)
		requireFault(t, err, fault.NotFound, "id")
		require.Equal(t, before, b.rows(t))
	})

	t.Run("in use", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := b.fixture(t)
		pkg := b.createPackage(t, fullInput(f, "Used"))
		b.accountPackage(t, pkg.ID, 1)
		before := b.rows(t)
		prices := b.prices(t, pkg.ID)
		_, err := b.svc.DeletePackage(b.ctx, pkg.ID)
		requireFault(t, err, fault.FailedPrecondition, "")
		require.Equal(t, before, b.rows(t), "nothing is deleted")
		require.Equal(t, prices, b.prices(t, pkg.ID))
		inUse, err := b.svc.InUse(b.ctx, pkg.ID)
		require.NoError(t, err)
		require.True(t, inUse)
	})

	t.Run("unknown id", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := b.fixture(t)
		pkg := b.createPackage(t, basicInput(f, "Basic"))
		before := b.rows(t)
		for _, id := range []int{pkg.ID + 1000, f.line.ID} { // no package, and a service's id
			_, err := b.svc.DeletePackage(b.ctx, id)
			requireFault(t, err, fault.NotFound, "id")
		}
		require.Equal(t, before, b.rows(t))
	})
}

// TestDeleteRacesProvisioning holds the in-use rule under concurrency on both
// databases: deleting a package while an account-package of it is being provisioned
// either deletes it (and provisioning finds no package) or refuses (and the
// account-package exists), never both.
func TestDeleteRacesProvisioning(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		f := b.fixture(t)
		prov := provisioning.New(b.db, clock.NewFixed(time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)))
		usd, err := b.db.Client.Currency.Query().Where(currency.Code("USD")).OnlyID(b.ctx)
		require.NoError(t, err)
		acc, err := b.db.Client.Account.Create().SetName("Customer").SetCurrencyID(usd).SetBillDay(1).Save(b.ctx)
		require.NoError(t, err)
		for round := 0; round < 5; round++ {
			pkg := b.createPackage(t, basicInput(f, fmt.Sprintf("Race %d", round)))
			freq, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).OnlyID(b.ctx)
			require.NoError(t, err)
			errs := concurrently(2, func(i int) error {
				if i == 0 {
					_, err := b.svc.DeletePackage(b.ctx, pkg.ID)
					return err
				}
				_, err := prov.Provision(b.ctx, provisioning.ProvisionPackageInput{
					AccountID: acc.ID, PackageID: pkg.ID, FrequencyID: freq, EffectiveDate: calendar.MustParse("2024-01-01")})
				return err
			})
			inUse, err := b.svc.InUse(b.ctx, pkg.ID)
			require.NoError(t, err)
			switch {
			case errs[0] == nil:
				requireFault(t, errs[1], fault.NotFound, "input.packageId")
				require.False(t, inUse)
				_, err := b.db.Client.CatalogPackage.Get(b.ctx, pkg.ID)
				require.True(t, ent.IsNotFound(err), "the package is gone")
			case errs[1] == nil:
				requireFault(t, errs[0], fault.FailedPrecondition, "")
				require.True(t, inUse)
			default:
				t.Fatalf("round %d: both refused: %v", round, errs)
			}
		}
	})
}

// TestInUse holds that InUse and InUseOf report exactly the packages some
// account-package uses: InUseOf answers true for those and leaves the others out.
func TestInUse(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := b.fixture(t)
	a := b.createPackage(t, basicInput(f, "A"))
	used := b.createPackage(t, basicInput(f, "Used"))
	c := b.createPackage(t, basicInput(f, "C"))
	twice := b.createPackage(t, basicInput(f, "Twice"))
	b.accountPackage(t, used.ID, 1)
	b.accountPackage(t, twice.ID, 1)
	b.accountPackage(t, twice.ID, 1)

	for _, tc := range []struct {
		id   int
		want bool
	}{{a.ID, false}, {used.ID, true}, {c.ID, false}, {twice.ID, true}, {twice.ID + 1000, false}} {
		got, err := b.svc.InUse(b.ctx, tc.id)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, "InUse(%d)", tc.id)
	}

	got, err := b.svc.InUseOf(b.ctx, []int{a.ID, used.ID, c.ID, twice.ID, twice.ID + 1000})
	require.NoError(t, err)
	require.Equal(t, map[int]bool{used.ID: true, twice.ID: true}, got)

	got, err = b.svc.InUseOf(b.ctx, []int{a.ID, c.ID})
	require.NoError(t, err)
	require.Empty(t, got)

	got, err = b.svc.InUseOf(b.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestPricesKeepTheirDigits holds on both databases that prices are stored padded to
// at least the currency's precision and never rounded, the same whether they come
// with the package or with a frequency added later, for recurring, one-time and
// transition prices alike.
func TestPricesKeepTheirDigits(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		_, err := b.svc.CreateCurrency(b.ctx, catalog.CreateCurrencyInput{Code: "BHD", Name: "Bahraini Dinar", Precision: 3})
		require.NoError(t, err)
		line := b.service(t, "Line", service.KindRECURRING)
		for i, tc := range []struct{ cur, amount, want string }{
			{"USD", "50", "50.00"},
			{"USD", "7.5", "7.50"},
			{"USD", "19.99", "19.99"},
			{"USD", "0", "0.00"},
			{"USD", "0.0125", "0.0125"},
			{"USD", "0.123456", "0.123456"},
			{"USD", "12.500", "12.500"},
			{"JPY", "1000", "1000"},
			{"JPY", "0.5", "0.5"},
			{"BHD", "1.5", "1.500"},
			{"BHD", "2.0005", "2.0005"},
		} {
			t.Run(tc.cur+" "+tc.amount, func(t *testing.T) {
				t.Parallel()
				price := func() []*catalog.ServicePriceInput {
					return []*catalog.ServicePriceInput{{
						ServiceID: line.ID, Currency: tc.cur, OneTime: decp(tc.amount),
						Recurring:   []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec(tc.amount)}},
						Transitions: []*catalog.TransitionPriceInput{{From: "ACTIVE", To: "SUSPENDED", Amount: dec(tc.amount)}},
					}}
				}
				pkg := b.createPackage(t, catalog.CreatePackageInput{
					Name: fmt.Sprintf("Priced %d", i), Currencies: []string{tc.cur},
					Services:    []*catalog.PackageServiceInput{{ServiceID: line.ID}},
					Frequencies: []*catalog.PackageFrequencyInput{{Name: "Monthly", Interval: packagefrequency.IntervalMONTH, Prices: price()}},
				})
				_, err := b.svc.AddPackageFrequency(b.ctx, pkg.ID, catalog.PackageFrequencyInput{
					Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: price()})
				require.NoError(t, err)
				want := map[string]string{}
				for _, fr := range []string{"Monthly", "Yearly"} {
					key := fr + " Line " + tc.cur + " "
					want[key+"ACTIVE"], want[key+"oneTime"], want[key+"ACTIVE->SUSPENDED"] = tc.want, tc.want, tc.want
				}
				require.Equal(t, want, b.prices(t, pkg.ID))
			})
		}
	})
}

// TestAddPackageFrequency holds the rules of a frequency added to a package: its name
// is trimmed, 1..100 characters and unique within the package in any letter case
// (CONFLICT); intervalCount is 1..1200 (default 1); its prices name the package's own
// services and currencies, which the package as it stands decides
// (FAILED_PRECONDITION); an unknown package is NOT_FOUND on packageId. A refusal
// writes nothing.
func TestAddPackageFrequency(t *testing.T) {
	t.Parallel()
	type freq struct {
		Name     string
		Interval packagefrequency.Interval
		Count    int
	}
	recurring := func(serviceID int, cur, amount string) []*catalog.ServicePriceInput {
		return []*catalog.ServicePriceInput{{ServiceID: serviceID, Currency: cur,
			Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec(amount)}}}}
	}
	for _, tc := range []struct {
		name       string
		in         func(f fixture) catalog.PackageFrequencyInput
		unknownPkg bool
		want       freq
		wantPrices map[string]string // the prices of the new frequency
		code       fault.Code
		field      string
	}{
		{name: "yearly with a price",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: recurring(f.line.ID, "USD", "500")}
			},
			want: freq{"Yearly", packagefrequency.IntervalYEAR, 1}, wantPrices: map[string]string{"Yearly Line USD ACTIVE": "500.00"}},
		{name: "quarterly without prices",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Quarterly", Interval: packagefrequency.IntervalMONTH, IntervalCount: ptr(3)}
			},
			want: freq{"Quarterly", packagefrequency.IntervalMONTH, 3}, wantPrices: map[string]string{}},
		{name: "intervalCount 1200",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Century", Interval: packagefrequency.IntervalMONTH, IntervalCount: ptr(1200)}
			},
			want: freq{"Century", packagefrequency.IntervalMONTH, 1200}, wantPrices: map[string]string{}},
		{name: "trimmed name",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "  Weekly ", Interval: packagefrequency.IntervalWEEK}
			},
			want: freq{"Weekly", packagefrequency.IntervalWEEK, 1}, wantPrices: map[string]string{}},
		{name: "name of 100 accented letters",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: accents(100), Interval: packagefrequency.IntervalDAY}
			},
			want: freq{accents(100), packagefrequency.IntervalDAY, 1}, wantPrices: map[string]string{}},
		{name: "one-time price of a ONE_TIME service",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR,
					Prices: []*catalog.ServicePriceInput{{ServiceID: f.setup.ID, Currency: "USD", OneTime: decp("25")}}}
			},
			want: freq{"Yearly", packagefrequency.IntervalYEAR, 1}, wantPrices: map[string]string{"Yearly Setup USD oneTime": "25.00"}},

		{name: "unknown package", unknownPkg: true,
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR}
			},
			code: fault.NotFound, field: "packageId"},
		{name: "name taken in another letter case",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "mONTHLY", Interval: packagefrequency.IntervalYEAR}
			},
			code: fault.Conflict, field: "input.name"},
		{name: "empty name",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: " ", Interval: packagefrequency.IntervalYEAR}
			},
			code: fault.Invalid, field: "input.name"},
		{name: "name of 101 characters",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: letters(101), Interval: packagefrequency.IntervalYEAR}
			},
			code: fault.Invalid, field: "input.name"},
		{name: "unknown interval",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Hourly", Interval: "HOUR"}
			},
			code: fault.Invalid, field: "input.interval"},
		{name: "intervalCount 0",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Never", Interval: packagefrequency.IntervalMONTH, IntervalCount: ptr(0)}
			},
			code: fault.Invalid, field: "input.intervalCount"},
		{name: "intervalCount 1201",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Rarely", Interval: packagefrequency.IntervalMONTH, IntervalCount: ptr(1201)}
			},
			code: fault.Invalid, field: "input.intervalCount"},
		{name: "price for a service not in the package",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: recurring(f.spare.ID, "USD", "1")}
			},
			code: fault.FailedPrecondition, field: "input.prices[0].serviceId"},
		{name: "price in a currency the package does not list",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: recurring(f.line.ID, "EUR", "1")}
			},
			code: fault.FailedPrecondition, field: "input.prices[0].currency"},
		{name: "price in an unknown currency",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: recurring(f.line.ID, "XYZ", "1")}
			},
			code: fault.NotFound, field: "input.prices[0].currency"},
		{name: "negative price",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: recurring(f.line.ID, "USD", "-27.00")}
			},
			code: fault.Invalid, field: "input.prices[0].recurring[0].amount"},
		{name: "recurring price of a ONE_TIME service",
			in: func(f fixture) catalog.PackageFrequencyInput {
				return catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: recurring(f.setup.ID, "USD", "5")}
			},
			code: fault.FailedPrecondition, field: "input.prices[0].recurring"},
		{name: "price for an unknown status",
			in: func(f fixture) catalog.PackageFrequencyInput {
				in := catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: recurring(f.line.ID, "USD", "5")}
				in.Prices[0].Recurring[0].Status = "NOPE"
				return in
			},
			code: fault.NotFound, field: "input.prices[0].recurring[0].status"},
		{name: "service priced twice in a currency",
			in: func(f fixture) catalog.PackageFrequencyInput {
				in := catalog.PackageFrequencyInput{Name: "Yearly", Interval: packagefrequency.IntervalYEAR, Prices: recurring(f.line.ID, "USD", "5")}
				in.Prices = append(in.Prices, recurring(f.line.ID, "USD", "6")...)
				return in
			},
			code: fault.Invalid, field: "input.prices[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := b.fixture(t)
			in := basicInput(f, "Basic")
			in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: f.setup.ID})
			pkg := b.createPackage(t, in)
			id := pkg.ID
			if tc.unknownPkg {
				id += 1000
			}
			pricesBefore := b.prices(t, pkg.ID)
			before := b.rows(t)
			got, err := b.svc.AddPackageFrequency(b.ctx, id, tc.in(f))
			if tc.code != "" {
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, before, b.rows(t), "a refusal writes nothing")
				return
			}
			require.NoError(t, err)
			stored, err := b.db.Client.PackageFrequency.Get(b.ctx, got.ID)
			require.NoError(t, err)
			require.Equal(t, pkg.ID, stored.PackageID)
			require.Equal(t, tc.want, freq{stored.Name, stored.Interval, stored.IntervalCount})
			want := map[string]string{}
			for k, v := range pricesBefore {
				want[k] = v
			}
			for k, v := range tc.wantPrices {
				want[k] = v
			}
			require.Equal(t, want, b.prices(t, pkg.ID))
		})
	}
}

// TestAddPackageFrequencyConcurrently holds on both databases that frequency names
// stay unique within a package in any letter case when several are added at once:
// one wins, the others get CONFLICT on input.name.
func TestAddPackageFrequencyConcurrently(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		f := b.fixture(t)
		pkg := b.createPackage(t, basicInput(f, "Basic"))
		names := []string{"Yearly", "YEARLY", "yearly", "yEARLY"}
		errs := concurrently(len(names), func(i int) error {
			_, err := b.svc.AddPackageFrequency(b.ctx, pkg.ID, catalog.PackageFrequencyInput{
				Name: names[i], Interval: packagefrequency.IntervalYEAR,
				Prices: []*catalog.ServicePriceInput{{ServiceID: f.line.ID, Currency: "USD",
					Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec("500")}}}},
			})
			return err
		})
		oneWins(t, errs, fault.Conflict, "input.name")
		n, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n, "Monthly and one yearly frequency")
		n, err = b.db.Client.ServicePrice.Query().Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n, "the losers left no price behind")
	})
}

// TestAddPackageService holds the rules of a service added to a package: the default
// limits (min 1, or 0 when optional; default = min), its place after the services
// already listed, the instance limit rules, CONFLICT for a service the package has
// already, NOT_FOUND for an unknown package (packageId) or service
// (input.serviceId). A refusal writes nothing.
func TestAddPackageService(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		in         func(f fixture) catalog.PackageServiceInput
		unknownPkg bool
		want       func(f fixture) limits
		code       fault.Code
		field      string
	}{
		{name: "defaults", in: func(f fixture) catalog.PackageServiceInput { return catalog.PackageServiceInput{ServiceID: f.extra.ID} },
			want: func(f fixture) limits { return limits{ServiceID: f.extra.ID, Min: 1, Default: 1, Position: 1} }},
		{name: "optional defaults", in: func(f fixture) catalog.PackageServiceInput {
			return catalog.PackageServiceInput{ServiceID: f.extra.ID, Optional: ptr(true)}
		}, want: func(f fixture) limits { return limits{ServiceID: f.extra.ID, Optional: true, Position: 1} }},
		{name: "optional with a default instance", in: func(f fixture) catalog.PackageServiceInput {
			return catalog.PackageServiceInput{ServiceID: f.extra.ID, Optional: ptr(true), DefaultInstances: ptr(1), MaxInstances: ptr(1)}
		}, want: func(f fixture) limits {
			return limits{ServiceID: f.extra.ID, Min: 0, Default: 1, Max: ptr(1), Optional: true, Position: 1}
		}},
		{name: "explicit limits", in: func(f fixture) catalog.PackageServiceInput {
			return catalog.PackageServiceInput{ServiceID: f.extra.ID, MinInstances: ptr(2), DefaultInstances: ptr(3), MaxInstances: ptr(5)}
		}, want: func(f fixture) limits {
			return limits{ServiceID: f.extra.ID, Min: 2, Default: 3, Max: ptr(5), Position: 1}
		}},
		{name: "a ONE_TIME service", in: func(f fixture) catalog.PackageServiceInput { return catalog.PackageServiceInput{ServiceID: f.setup.ID} },
			want: func(f fixture) limits { return limits{ServiceID: f.setup.ID, Min: 1, Default: 1, Position: 1} }},

		{name: "unknown package", unknownPkg: true,
			in:   func(f fixture) catalog.PackageServiceInput { return catalog.PackageServiceInput{ServiceID: f.extra.ID} },
			code: fault.NotFound, field: "packageId"},
		{name: "unknown service",
			in: func(f fixture) catalog.PackageServiceInput {
				return catalog.PackageServiceInput{ServiceID: f.spare.ID + 1000}
			},
			code: fault.NotFound, field: "input.serviceId"},
		{name: "service already in the package",
			in: func(f fixture) catalog.PackageServiceInput {
				return catalog.PackageServiceInput{ServiceID: f.line.ID, Optional: ptr(true)}
			},
			code: fault.Conflict, field: "input.serviceId"},
		{name: "minInstances above defaultInstances",
			in: func(f fixture) catalog.PackageServiceInput {
				return catalog.PackageServiceInput{ServiceID: f.extra.ID, MinInstances: ptr(2), DefaultInstances: ptr(1)}
			},
			code: fault.Invalid, field: "input.defaultInstances"},
		{name: "defaultInstances above maxInstances",
			in: func(f fixture) catalog.PackageServiceInput {
				return catalog.PackageServiceInput{ServiceID: f.extra.ID, DefaultInstances: ptr(4), MaxInstances: ptr(3)}
			},
			code: fault.Invalid, field: "input.defaultInstances"},
		{name: "maxInstances 0",
			in: func(f fixture) catalog.PackageServiceInput {
				return catalog.PackageServiceInput{ServiceID: f.extra.ID, Optional: ptr(true), MaxInstances: ptr(0)}
			},
			code: fault.Invalid, field: "input.maxInstances"},
		{name: "not optional with no instance by default",
			in: func(f fixture) catalog.PackageServiceInput {
				return catalog.PackageServiceInput{ServiceID: f.extra.ID, MinInstances: ptr(0), DefaultInstances: ptr(0)}
			},
			code: fault.Invalid, field: "input.defaultInstances"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := b.fixture(t)
			pkg := b.createPackage(t, basicInput(f, "Basic"))
			id := pkg.ID
			if tc.unknownPkg {
				id += 1000
			}
			before := b.rows(t)
			got, err := b.svc.AddPackageService(b.ctx, id, tc.in(f))
			if tc.code != "" {
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, before, b.rows(t), "a refusal writes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, pkg.ID, got.PackageID)
			services := b.packageServices(t, pkg.ID)
			require.Len(t, services, 2)
			require.Equal(t, limits{ServiceID: f.line.ID, Min: 1, Default: 1, Position: 0}, limitsOf(services[0]))
			require.Equal(t, tc.want(f), limitsOf(services[1]))
		})
	}

	t.Run("each added service goes last", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		f := b.fixture(t)
		pkg := b.createPackage(t, basicInput(f, "Basic"))
		for _, sv := range []*ent.Service{f.setup, f.extra, f.spare} {
			_, err := b.svc.AddPackageService(b.ctx, pkg.ID, catalog.PackageServiceInput{ServiceID: sv.ID})
			require.NoError(t, err)
		}
		var order []int
		for _, ps := range b.packageServices(t, pkg.ID) {
			order = append(order, ps.ServiceID)
		}
		require.Equal(t, []int{f.line.ID, f.setup.ID, f.extra.ID, f.spare.ID}, order)
	})
}

// TestAddPackageServiceConcurrently holds on both databases that a service is in a
// package at most once when it is added several times at once: one wins, the others
// get CONFLICT on input.serviceId.
func TestAddPackageServiceConcurrently(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		f := b.fixture(t)
		pkg := b.createPackage(t, basicInput(f, "Basic"))
		errs := concurrently(4, func(int) error {
			_, err := b.svc.AddPackageService(b.ctx, pkg.ID, catalog.PackageServiceInput{ServiceID: f.extra.ID})
			return err
		})
		oneWins(t, errs, fault.Conflict, "input.serviceId")
		n, err := b.db.Client.PackageService.Query().Where(packageservice.PackageID(pkg.ID)).Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
	})
}
