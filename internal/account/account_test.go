package account_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	entaccount "github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/partner"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// now is the time of the fixed clock every test runs at.
var now = time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)

// testBundle is what an account test works with: the service under test over a
// fresh, seeded database of its own, and the clock it reads.
type testBundle struct {
	svc   *account.Service
	db    *store.DB
	ctx   context.Context
	clock *clock.Fixed
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
	clk := clock.NewFixed(now)
	return &testBundle{svc: account.New(db, clk), db: db, ctx: t.Context(), clock: clk}
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
func ptr[T any](v T) *T          { return &v }
func dec(s string) money.Decimal { return money.MustParse(s) }
func accents(n int) string       { return strings.Repeat("é", n) }

// rows counts the rows of the tables account changes could touch, with ent queries.
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
	put("accounts")(c.Account.Query().Count(ctx))
	put("accounts with a partner")(c.Account.Query().Where(entaccount.PartnerIDNotNil()).Count(ctx))
	put("partners")(c.Partner.Query().Count(ctx))
	put("currencies")(c.Currency.Query().Count(ctx))
	put("account-packages")(c.AccountPackage.Query().Count(ctx))
	put("invoices")(c.Invoice.Query().Count(ctx))
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

// currencyID returns the id of the currency with the code.
func (b *testBundle) currencyID(t *testing.T, code string) int {
	t.Helper()
	id, err := b.db.Client.Currency.Query().Where(currency.Code(code)).OnlyID(b.ctx)
	require.NoError(t, err)
	return id
}

// createAccount opens an account that must be accepted.
func (b *testBundle) createAccount(t *testing.T, name, cur string, billDay int) *ent.Account {
	t.Helper()
	acc, err := b.svc.Create(b.ctx, account.CreateAccountInput{Name: name, Currency: cur, BillDay: billDay})
	require.NoError(t, err)
	return acc
}

// createPartner creates a partner that must be accepted.
func (b *testBundle) createPartner(t *testing.T, name string) *ent.Partner {
	t.Helper()
	p, err := b.svc.CreatePartner(b.ctx, account.CreatePartnerInput{Name: name})
	require.NoError(t, err)
	return p
}

// accountState is what Update may change of an account, comparable in assertions.
type accountState struct {
	Name       string
	CurrencyID int
	BillDay    int
	PartnerID  *int
}

// accountState reads the account's state from the database.
func (b *testBundle) accountState(t *testing.T, id int) accountState {
	t.Helper()
	a, err := b.db.Client.Account.Get(b.ctx, id)
	require.NoError(t, err)
	return accountState{a.Name, a.CurrencyID, a.BillDay, a.PartnerID}
}

// TestCreateAccount holds the rules of a new account: a trimmed name of 1..200
// characters without control characters, a currency that exists (NOT_FOUND on
// input.currency otherwise), a bill day in 1..31, and a partner that exists when one
// is named (NOT_FOUND on input.partnerId). A refusal writes nothing.
func TestCreateAccount(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      account.CreateAccountInput
		partner string // "known": a partner that exists; "unknown": an id that names none
		want    accountState
		code    fault.Code
		field   string
	}{
		{name: "plain", in: account.CreateAccountInput{Name: "Acme Corp", Currency: "USD", BillDay: 1},
			want: accountState{Name: "Acme Corp", BillDay: 1}},
		{name: "trimmed name", in: account.CreateAccountInput{Name: "  Acme Corp \t", Currency: "USD", BillDay: 15},
			want: accountState{Name: "Acme Corp", BillDay: 15}},
		{name: "bill day 31", in: account.CreateAccountInput{Name: "Month end", Currency: "EUR", BillDay: 31},
			want: accountState{Name: "Month end", BillDay: 31}},
		{name: "yen", in: account.CreateAccountInput{Name: "Tokyo", Currency: "JPY", BillDay: 28},
			want: accountState{Name: "Tokyo", BillDay: 28}},
		{name: "200 accented letters", in: account.CreateAccountInput{Name: accents(200), Currency: "USD", BillDay: 1},
			want: accountState{Name: accents(200), BillDay: 1}},
		{name: "with a partner", in: account.CreateAccountInput{Name: "Resold", Currency: "USD", BillDay: 1}, partner: "known",
			want: accountState{Name: "Resold", BillDay: 1}},

		{name: "unknown currency", in: account.CreateAccountInput{Name: "New", Currency: "XYZ", BillDay: 1},
			code: fault.NotFound, field: "input.currency"},
		{name: "currency code in lower case", in: account.CreateAccountInput{Name: "New", Currency: "usd", BillDay: 1},
			code: fault.NotFound, field: "input.currency"},
		{name: "bill day 0", in: account.CreateAccountInput{Name: "New", Currency: "USD", BillDay: 0},
			code: fault.Invalid, field: "input.billDay"},
		{name: "bill day 32", in: account.CreateAccountInput{Name: "New", Currency: "USD", BillDay: 32},
			code: fault.Invalid, field: "input.billDay"},
		{name: "bill day -1", in: account.CreateAccountInput{Name: "New", Currency: "USD", BillDay: -1},
			code: fault.Invalid, field: "input.billDay"},
		{name: "empty name", in: account.CreateAccountInput{Name: "   ", Currency: "USD", BillDay: 1},
			code: fault.Invalid, field: "input.name"},
		{name: "name of 201 characters", in: account.CreateAccountInput{Name: accents(201), Currency: "USD", BillDay: 1},
			code: fault.Invalid, field: "input.name"},
		{name: "name with NUL", in: account.CreateAccountInput{Name: "Ac\x00me", Currency: "USD", BillDay: 1},
			code: fault.Invalid, field: "input.name"},
		{name: "partner that does not exist", in: account.CreateAccountInput{Name: "New", Currency: "USD", BillDay: 1}, partner: "unknown",
			code: fault.NotFound, field: "input.partnerId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			known := b.createPartner(t, "Reseller")
			switch tc.partner {
			case "known":
				tc.in.PartnerID, tc.want.PartnerID = ptr(known.ID), ptr(known.ID)
			case "unknown":
				tc.in.PartnerID = ptr(known.ID + 1000)
			}
			before := b.rows(t)
			got, err := b.svc.Create(b.ctx, tc.in)
			if tc.code != "" {
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, before, b.rows(t), "a refusal writes nothing")
				return
			}
			require.NoError(t, err)
			tc.want.CurrencyID = b.currencyID(t, tc.in.Currency)
			require.Equal(t, tc.want, b.accountState(t, got.ID))
			want := before
			want["accounts"]++
			if tc.partner == "known" {
				want["accounts with a partner"]++
			}
			require.Equal(t, want, b.rows(t))
		})
	}
}

// TestUpdateAccount holds the rules of an account change with no account-packages in
// the way: omitted fields stay; the name and bill day rules of creation apply; the
// bill day may change; the account may move to a partner that exists or leave its
// partner, but not both at once; an unknown id is NOT_FOUND on id. A refusal changes
// nothing, not even the valid parts of the input.
func TestUpdateAccount(t *testing.T) {
	t.Parallel()
	type fixture struct {
		acc        *ent.Account // "Acme", USD, bill day 1, with partner one
		one, other *ent.Partner
	}
	for _, tc := range []struct {
		name  string
		id    func(f fixture) int // default: the account
		in    func(f fixture) account.UpdateAccountInput
		want  func(f fixture, s accountState) accountState
		code  fault.Code
		field string
	}{
		{name: "rename, trimmed", in: func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{Name: ptr("  Acme Ltd ")} },
			want: func(_ fixture, s accountState) accountState { s.Name = "Acme Ltd"; return s }},
		{name: "bill day 31", in: func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{BillDay: ptr(31)} },
			want: func(_ fixture, s accountState) accountState { s.BillDay = 31; return s }},
		{name: "the same bill day", in: func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{BillDay: ptr(1)} },
			want: func(_ fixture, s accountState) accountState { return s }},
		{name: "nothing given", in: func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{} },
			want: func(_ fixture, s accountState) accountState { return s }},
		{name: "move to another partner", in: func(f fixture) account.UpdateAccountInput {
			return account.UpdateAccountInput{PartnerID: ptr(f.other.ID)}
		}, want: func(f fixture, s accountState) accountState { s.PartnerID = ptr(f.other.ID); return s }},
		{name: "leave the partner", in: func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{ClearPartner: ptr(true)} },
			want: func(_ fixture, s accountState) accountState { s.PartnerID = nil; return s }},
		{name: "clearPartner false changes nothing", in: func(fixture) account.UpdateAccountInput {
			return account.UpdateAccountInput{ClearPartner: ptr(false)}
		}, want: func(_ fixture, s accountState) accountState { return s }},

		{name: "unknown id", id: func(f fixture) int { return f.acc.ID + 1000 },
			in:   func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{Name: ptr("X")} },
			code: fault.NotFound, field: "id"},
		{name: "a partner's id", id: func(f fixture) int { return f.one.ID },
			in:   func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{Name: ptr("X")} },
			code: fault.NotFound, field: "id"},
		{name: "empty name", in: func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{Name: ptr("")} },
			code: fault.Invalid, field: "input.name"},
		{name: "name of 201 characters", in: func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{Name: ptr(accents(201))} },
			code: fault.Invalid, field: "input.name"},
		{name: "bill day 0", in: func(fixture) account.UpdateAccountInput {
			return account.UpdateAccountInput{Name: ptr("Renamed"), BillDay: ptr(0)}
		},
			code: fault.Invalid, field: "input.billDay"},
		{name: "bill day 32", in: func(fixture) account.UpdateAccountInput { return account.UpdateAccountInput{BillDay: ptr(32)} },
			code: fault.Invalid, field: "input.billDay"},
		{name: "partner and clearPartner together", in: func(f fixture) account.UpdateAccountInput {
			return account.UpdateAccountInput{PartnerID: ptr(f.other.ID), ClearPartner: ptr(true)}
		}, code: fault.Invalid, field: "input.clearPartner"},
		{name: "partner that does not exist", in: func(f fixture) account.UpdateAccountInput {
			return account.UpdateAccountInput{Name: ptr("Renamed"), PartnerID: ptr(f.other.ID + 1000)}
		}, code: fault.NotFound, field: "input.partnerId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			f := fixture{one: b.createPartner(t, "One"), other: b.createPartner(t, "Other")}
			var err error
			f.acc, err = b.svc.Create(b.ctx, account.CreateAccountInput{Name: "Acme", Currency: "USD", BillDay: 1, PartnerID: ptr(f.one.ID)})
			require.NoError(t, err)
			id := f.acc.ID
			if tc.id != nil {
				id = tc.id(f)
			}
			stateBefore, before := b.accountState(t, f.acc.ID), b.rows(t)
			got, err := b.svc.Update(b.ctx, id, tc.in(f))
			if tc.code != "" {
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, stateBefore, b.accountState(t, f.acc.ID), "a refusal changes nothing")
				require.Equal(t, before, b.rows(t))
				return
			}
			require.NoError(t, err)
			want := tc.want(f, stateBefore)
			require.Equal(t, want, b.accountState(t, f.acc.ID))
			require.Equal(t, want.Name, got.Name)
			require.Equal(t, want.BillDay, got.BillDay)
		})
	}
}

// packageFixture is a catalog package to provision: Line at 30.00 a month in USD.
type packageFixture struct {
	pkgID, freqID int
	prov          *provisioning.Service
}

// packageFixture creates the package through the catalog service.
func (b *testBundle) packageFixture(t *testing.T) packageFixture {
	t.Helper()
	cat := catalog.New(b.db.Client)
	line, err := cat.CreateService(b.ctx, catalog.CreateServiceInput{Name: "Line", Kind: service.KindRECURRING})
	require.NoError(t, err)
	pkg, err := cat.CreatePackage(b.ctx, catalog.CreatePackageInput{
		Name: "Basic", Currencies: []string{"USD"},
		Services: []*catalog.PackageServiceInput{{ServiceID: line.ID}},
		Frequencies: []*catalog.PackageFrequencyInput{{Name: "Monthly", Interval: packagefrequency.IntervalMONTH,
			Prices: []*catalog.ServicePriceInput{{ServiceID: line.ID, Currency: "USD",
				Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: dec("30.00")}}}}}},
	})
	require.NoError(t, err)
	freq, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).OnlyID(b.ctx)
	require.NoError(t, err)
	return packageFixture{pkgID: pkg.ID, freqID: freq, prov: provisioning.New(b.db, b.clock)}
}

// provision adds the fixture's package to the account, with a bill day of its own
// when ownBillDay is not nil.
func (p packageFixture) provision(t *testing.T, b *testBundle, accountID int, ownBillDay *int) *ent.AccountPackage {
	t.Helper()
	aps, err := p.prov.Provision(b.ctx, provisioning.ProvisionPackageInput{
		AccountID: accountID, PackageID: p.pkgID, FrequencyID: p.freqID,
		EffectiveDate: calendar.MustParse("2024-01-10"), BillDay: ownBillDay})
	require.NoError(t, err)
	require.Len(t, aps, 1)
	return aps[0]
}

// TestBillDayFixedWhileAccountPackagesFollowIt holds that an account's bill day
// cannot change (FAILED_PRECONDITION, and nothing of the change is written) while
// any of its account-packages has no bill day of its own, and can when every
// account-package has its own; setting the bill day it already has is no change.
// Another account's packages do not count.
func TestBillDayFixedWhileAccountPackagesFollowIt(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		p := b.packageFixture(t)

		refuse := func(t *testing.T, acc *ent.Account) {
			t.Helper()
			state, before := b.accountState(t, acc.ID), b.rows(t)
			_, err := b.svc.Update(b.ctx, acc.ID, account.UpdateAccountInput{Name: ptr("Renamed"), BillDay: ptr(15)})
			requireFault(t, err, fault.FailedPrecondition, "")
			require.Equal(t, state, b.accountState(t, acc.ID), "neither the bill day nor the name changed")
			require.Equal(t, before, b.rows(t))
		}
		allow := func(t *testing.T, acc *ent.Account, day int) {
			t.Helper()
			got, err := b.svc.Update(b.ctx, acc.ID, account.UpdateAccountInput{BillDay: ptr(day)})
			require.NoError(t, err)
			require.Equal(t, day, got.BillDay)
			require.Equal(t, day, b.accountState(t, acc.ID).BillDay)
		}

		t.Run("an account-package follows the account's bill day", func(t *testing.T) {
			acc := b.createAccount(t, "Following", "USD", 1)
			p.provision(t, b, acc.ID, nil)
			refuse(t, acc)
			// The bill day it has already is no change: the rename goes through.
			got, err := b.svc.Update(b.ctx, acc.ID, account.UpdateAccountInput{Name: ptr("Renamed"), BillDay: ptr(1)})
			require.NoError(t, err)
			require.Equal(t, "Renamed", got.Name)
			require.Equal(t, 1, got.BillDay)
		})

		t.Run("every account-package has a bill day of its own", func(t *testing.T) {
			acc := b.createAccount(t, "Own days", "USD", 1)
			p.provision(t, b, acc.ID, ptr(10))
			p.provision(t, b, acc.ID, ptr(1))
			allow(t, acc, 15)
		})

		t.Run("one of two account-packages follows the account", func(t *testing.T) {
			acc := b.createAccount(t, "Mixed", "USD", 1)
			p.provision(t, b, acc.ID, ptr(10))
			p.provision(t, b, acc.ID, nil)
			refuse(t, acc)
		})

		t.Run("an account-package written straight through ent", func(t *testing.T) {
			acc := b.createAccount(t, "Raw", "USD", 1)
			active, err := b.db.Client.Status.Query().Where(status.Code("ACTIVE")).Only(b.ctx)
			require.NoError(t, err)
			_, err = b.db.Client.AccountPackage.Create().
				SetAccountID(acc.ID).SetPackageID(p.pkgID).SetFrequencyID(p.freqID).SetStatusID(active.ID).
				SetEffectiveDate(calendar.MustParse("2024-01-01")).SetNextBillDate(calendar.MustParse("2024-01-01")).
				SetChargeFullPeriod(false).SetPostpaid(false).Save(b.ctx)
			require.NoError(t, err)
			refuse(t, acc)
		})

		t.Run("another account's packages do not count", func(t *testing.T) {
			busy := b.createAccount(t, "Busy", "USD", 1)
			p.provision(t, b, busy.ID, nil)
			free := b.createAccount(t, "Free", "USD", 1)
			allow(t, free, 28)
			refuse(t, busy)
		})
	})
}

// TestBillDayChangeRacesProvisioning holds on both databases that an account's bill
// day change and a package added to follow that bill day cannot both miss each
// other. Each round adds a postpaid monthly package effective 2024-01-10 to an
// account billed on the 1st while the account's bill day is changed to the 15th. The
// first bill date of a postpaid package is the end of its first period: 2024-02-01
// on bill day 1, 2024-01-15 on bill day 15 (docs/billing.md 4.1). Either the change
// comes first and the package follows the 15th, or the package comes first and the
// change is refused with FAILED_PRECONDITION; never a package dated for the 1st on
// an account billed on the 15th.
func TestBillDayChangeRacesProvisioning(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		p := b.packageFixture(t)
		cat := catalog.New(b.db.Client)
		_, err := cat.UpdatePackage(b.ctx, p.pkgID, catalog.UpdatePackageInput{Postpaid: ptr(true)})
		require.NoError(t, err)
		want := map[int]calendar.Date{1: calendar.MustParse("2024-02-01"), 15: calendar.MustParse("2024-01-15")}
		const rounds = 12
		for round := range rounds {
			acc := b.createAccount(t, fmt.Sprintf("Race %d", round), "USD", 1)
			var provErr, updErr error
			var aps []*ent.AccountPackage
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				aps, provErr = p.prov.Provision(b.ctx, provisioning.ProvisionPackageInput{
					AccountID: acc.ID, PackageID: p.pkgID, FrequencyID: p.freqID,
					EffectiveDate: calendar.MustParse("2024-01-10")})
			}()
			go func() {
				defer wg.Done()
				<-start
				_, updErr = b.svc.Update(b.ctx, acc.ID, account.UpdateAccountInput{BillDay: ptr(15)})
			}()
			close(start)
			wg.Wait()
			require.NoError(t, provErr, "round %d", round)
			require.Len(t, aps, 1)
			if updErr != nil {
				requireFault(t, updErr, fault.FailedPrecondition, "")
			}
			day := b.accountState(t, acc.ID).BillDay
			ap, err := b.db.Client.AccountPackage.Get(b.ctx, aps[0].ID)
			require.NoError(t, err)
			require.Equal(t, want[day].String(), ap.NextBillDate.String(),
				"round %d: the account bills on day %d (change refused: %v)", round, day, updErr != nil)
		}
	})
}

// TestBalance holds on both databases that an account's balance is the exact sum of
// its invoice totals rounded once, half away from zero, to its currency's precision
// (docs/billing.md 1 and 4.3), that Balances gives each account the same figure in
// one call, and that no account sees another's invoices.
func TestBalance(t *testing.T) {
	t.Parallel()
	repeat := func(s string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	cases := []struct {
		name     string
		currency string
		totals   []string
		want     string
	}{
		{"no invoices", "USD", nil, "0.00"},
		{"one invoice", "USD", []string{"75.00"}, "75.00"},
		{"tenths a float would not add", "USD", []string{"0.10", "0.20"}, "0.30"},
		{"thirty dimes", "USD", repeat("0.10", 30), "3.00"},
		{"a credit", "USD", []string{"-7.10", "3.55"}, "-3.55"},
		{"nets to zero", "USD", []string{"10.00", "-10.00"}, "0.00"},
		{"a whole total shown in cents", "USD", []string{"41"}, "41.00"},
		{"finer totals rounded half away from zero", "USD", []string{"1.004", "0.001"}, "1.01"},
		{"a negative half rounds away from zero", "USD", []string{"-1.004", "-0.001"}, "-1.01"},
		{"more digits than a float holds", "USD", []string{"12345678901234567.89", "0.01"}, "12345678901234567.90"},
		{"yen", "JPY", []string{"100", "250"}, "350"},
		{"yen with a half", "JPY", []string{"0.5"}, "1"},
		{"yen, no invoices", "JPY", nil, "0"},
		{"three places", "BHD", []string{"1.100", "2.205"}, "3.305"},
		{"three places rounded", "BHD", []string{"0.0015"}, "0.002"},
		{"four places", "CLF", []string{"1"}, "1.0000"},
	}
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		cat := catalog.New(b.db.Client)
		for _, cur := range []catalog.CreateCurrencyInput{
			{Code: "BHD", Name: "Bahraini Dinar", Precision: 3},
			{Code: "CLF", Name: "Unidad de Fomento", Precision: 4},
		} {
			_, err := cat.CreateCurrency(b.ctx, cur)
			require.NoError(t, err)
		}
		var (
			mu       sync.Mutex
			accounts []*ent.Account
			want     = map[int]string{}
			number   int
		)
		nextNumber := func() string {
			mu.Lock()
			defer mu.Unlock()
			number++
			return fmt.Sprintf("INV-%010d", number)
		}
		t.Run("each", func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					acc := b.createAccount(t, tc.name, tc.currency, 1)
					curID := b.currencyID(t, tc.currency)
					for _, total := range tc.totals {
						_, err := b.db.Client.Invoice.Create().
							SetNumber(nextNumber()).SetAccountID(acc.ID).SetCurrencyID(curID).
							SetIssueDate(calendar.MustParse("2024-01-31")).SetPostingDate(calendar.MustParse("2024-01-31")).
							SetTotal(dec(total)).Save(b.ctx)
						require.NoError(t, err)
					}
					got, err := b.svc.Balance(b.ctx, acc)
					require.NoError(t, err)
					require.Equal(t, tc.want, got.String())

					// The same with the account's currency loaded already.
					loaded, err := b.db.Client.Account.Query().Where(entaccount.ID(acc.ID)).WithCurrency().Only(b.ctx)
					require.NoError(t, err)
					got, err = b.svc.Balance(b.ctx, loaded)
					require.NoError(t, err)
					require.Equal(t, tc.want, got.String())

					mu.Lock()
					accounts = append(accounts, acc)
					want[acc.ID] = tc.want
					mu.Unlock()
				})
			}
		})

		got, err := b.svc.Balances(b.ctx, accounts)
		require.NoError(t, err)
		gotStrings := map[int]string{}
		for id, d := range got {
			gotStrings[id] = d.String()
		}
		require.Equal(t, want, gotStrings)

		none, err := b.svc.Balances(b.ctx, nil)
		require.NoError(t, err)
		require.Empty(t, none)
	})
}

// TestCreatePartner holds the rules of a new partner: a trimmed name of 1..200
// characters without control characters, not the name of another partner
// (CONFLICT on input.name), created at the clock's time. A refusal writes nothing.
func TestCreatePartner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		in       string
		wantName string
		code     fault.Code
		field    string
	}{
		{name: "plain", in: "Reseller One", wantName: "Reseller One"},
		{name: "trimmed", in: "  Reseller One  ", wantName: "Reseller One"},
		{name: "200 accented letters", in: accents(200), wantName: accents(200)},
		{name: "the name of another partner", in: "Existing", code: fault.Conflict, field: "input.name"},
		{name: "the name of another partner once trimmed", in: " Existing ", code: fault.Conflict, field: "input.name"},
		{name: "empty", in: "  ", code: fault.Invalid, field: "input.name"},
		{name: "201 characters", in: accents(201), code: fault.Invalid, field: "input.name"},
		{name: "a control character", in: "Re\x1bseller", code: fault.Invalid, field: "input.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			b.createPartner(t, "Existing")
			b.clock.Set(now.Add(time.Hour))
			before := b.rows(t)
			got, err := b.svc.CreatePartner(b.ctx, account.CreatePartnerInput{Name: tc.in})
			if tc.code != "" {
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, before, b.rows(t), "a refusal writes nothing")
				return
			}
			require.NoError(t, err)
			stored, err := b.db.Client.Partner.Get(b.ctx, got.ID)
			require.NoError(t, err)
			require.Equal(t, tc.wantName, stored.Name)
			require.True(t, now.Add(time.Hour).Equal(stored.CreatedAt), "created at the clock's time, got %s", stored.CreatedAt)
			want := before
			want["partners"]++
			require.Equal(t, want, b.rows(t))
		})
	}
}

// TestCreatePartnerConcurrently holds on both databases that partner names stay
// unique when the same name is created several times at once: one wins, the others
// get CONFLICT on input.name.
func TestCreatePartnerConcurrently(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dialect string) {
		b := setupOn(t, dialect)
		const n = 4
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = b.svc.CreatePartner(b.ctx, account.CreatePartnerInput{Name: "Reseller"})
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
				continue
			}
			requireFault(t, err, fault.Conflict, "input.name")
		}
		require.Equal(t, 1, wins, "exactly one creation succeeds: %v", errs)
		count, err := b.db.Client.Partner.Query().Where(partner.Name("Reseller")).Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, count)
	})
}

// TestUpdatePartner holds the rules of a partner's rename: an omitted name stays; the
// name rules of creation apply; another partner's name is a CONFLICT on input.name,
// its own name is not; an unknown id is NOT_FOUND on id. A refusal changes nothing.
func TestUpdatePartner(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		in        account.UpdatePartnerInput
		unknownID bool
		wantName  string
		code      fault.Code
		field     string
	}{
		{name: "rename, trimmed", in: account.UpdatePartnerInput{Name: ptr("  Renamed ")}, wantName: "Renamed"},
		{name: "its own name", in: account.UpdatePartnerInput{Name: ptr("Mine")}, wantName: "Mine"},
		{name: "nothing given", in: account.UpdatePartnerInput{}, wantName: "Mine"},
		{name: "200 accented letters", in: account.UpdatePartnerInput{Name: ptr(accents(200))}, wantName: accents(200)},
		{name: "another partner's name", in: account.UpdatePartnerInput{Name: ptr("Theirs")}, code: fault.Conflict, field: "input.name"},
		{name: "another partner's name once trimmed", in: account.UpdatePartnerInput{Name: ptr(" Theirs  ")}, code: fault.Conflict, field: "input.name"},
		{name: "empty", in: account.UpdatePartnerInput{Name: ptr("")}, code: fault.Invalid, field: "input.name"},
		{name: "201 characters", in: account.UpdatePartnerInput{Name: ptr(accents(201))}, code: fault.Invalid, field: "input.name"},
		{name: "a control character", in: account.UpdatePartnerInput{Name: ptr("Mi\x00ne")}, code: fault.Invalid, field: "input.name"},
		{name: "unknown id", in: account.UpdatePartnerInput{Name: ptr("Renamed")}, unknownID: true, code: fault.NotFound, field: "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			mine := b.createPartner(t, "Mine")
			theirs := b.createPartner(t, "Theirs")
			id := mine.ID
			if tc.unknownID {
				id = theirs.ID + 1000
			}
			before := b.rows(t)
			got, err := b.svc.UpdatePartner(b.ctx, id, tc.in)
			require.Equal(t, before, b.rows(t))
			stored, gerr := b.db.Client.Partner.Get(b.ctx, mine.ID)
			require.NoError(t, gerr)
			other, gerr := b.db.Client.Partner.Get(b.ctx, theirs.ID)
			require.NoError(t, gerr)
			require.Equal(t, "Theirs", other.Name)
			if tc.code != "" {
				requireFault(t, err, tc.code, tc.field)
				require.Equal(t, "Mine", stored.Name, "a refusal changes nothing")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantName, got.Name)
			require.Equal(t, tc.wantName, stored.Name)
			require.True(t, now.Equal(stored.CreatedAt), "a rename keeps the creation time")
		})
	}
}
