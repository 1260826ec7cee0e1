package graph_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/testenv"
)

// Documents the refusal cases send. Inputs travel as variables so that each case
// changes one thing of a valid input; a few cases write literals into the document
// to check that inline values are refused the same way.
const (
	qCreatePackage   = `mutation($in: CreatePackageInput!) { createPackage(input: $in) { id } }`
	qUpdatePackage   = `mutation($id: ID!, $in: UpdatePackageInput!) { updatePackage(id: $id, input: $in) { id } }`
	qDeletePackage   = `mutation($id: ID!) { deletePackage(id: $id) }`
	qAddFrequency    = `mutation($id: ID!, $in: PackageFrequencyInput!) { addPackageFrequency(packageId: $id, input: $in) { id } }`
	qAddService      = `mutation($id: ID!, $in: PackageServiceInput!) { addPackageService(packageId: $id, input: $in) { minInstances } }`
	qCreateService   = `mutation($in: CreateServiceInput!) { createService(input: $in) { id } }`
	qUpdateService   = `mutation($id: ID!, $in: UpdateServiceInput!) { updateService(id: $id, input: $in) { id } }`
	qCreateAccount   = `mutation($in: CreateAccountInput!) { createAccount(input: $in) { id } }`
	qUpdateAccount   = `mutation($id: ID!, $in: UpdateAccountInput!) { updateAccount(id: $id, input: $in) { id } }`
	qCreateCurrency  = `mutation($in: CreateCurrencyInput!) { createCurrency(input: $in) { code } }`
	qCreateStatus    = `mutation($in: CreateStatusInput!) { createStatus(input: $in) { code } }`
	qNode            = `query($id: ID!) { node(id: $id) { id __typename } }`
	qServicesFirst   = `query($n: Int) { services(first: $n) { totalCount } }`
	qPackagesLast    = `query($n: Int) { packages(last: $n) { totalCount } }`
	qInlineStartDate = `mutation($svc: ID!) { createPackage(input: {name: "Inline", startDate: "yesterday",
		currencies: ["USD"], services: [{serviceId: $svc}], frequencies: []}) { id } }`
	qInlineFloat = `mutation($svc: ID!) { createPackage(input: {name: "Inline", currencies: ["USD"],
		services: [{serviceId: $svc}], frequencies: [{name: "Monthly", interval: MONTH,
		prices: [{serviceId: $svc, currency: "USD", recurring: [{status: "ACTIVE", amount: 1.5}]}]}]}) { id } }`
	qInlineMalformedID = `mutation { updatePackage(id: "abc", input: {postpaid: true}) { id } }`
)

// refusalFixture is the catalog every refusal case starts from, built through the API
// on an instance of the case's own:
//   - services Line (RECURRING), Extra (RECURRING), Setup (ONE_TIME), Spare (RECURRING,
//     in no package);
//   - package "Basic" in USD and EUR with Line (required) and Extra (optional), and a
//     Monthly frequency pricing Line at 10.00 USD when ACTIVE;
//   - package "Bulk Line" with the bulk component, in USD, with Line only;
//   - package "Once", a one-time billing package in USD with Line;
//   - package "Dated", available from 2024-01-01 until 2025-01-01, with Line;
//   - account "Acme" in USD, bill day 1.
type refusalFixture struct {
	Line, Extra, Setup, Spare      string
	Basic, Bulk, Once, Dated       string
	BasicMonthly                   string
	Account                        string
	NoSuchService                  string // an id in the services' range that no row has
	LineID, BasicID, BasicMonthlyN int
	BulkID, BulkMonthlyN           int
	AccountID                      int
}

func newRefusalFixture(t *testing.T, b *testenv.Billd) *refusalFixture {
	t.Helper()
	f := &refusalFixture{}
	svc := func(name, kind string) string {
		var out struct{ CreateService struct{ ID string } }
		b.MustQuery(qCreateService, map[string]any{"in": map[string]any{"name": name, "kind": kind}}, &out)
		return out.CreateService.ID
	}
	f.Line = svc("Line", "RECURRING")
	f.Extra = svc("Extra", "RECURRING")
	f.Setup = svc("Setup", "ONE_TIME")
	f.Spare = svc("Spare", "RECURRING")

	pkg := func(in map[string]any) (id string, freqs []string) {
		var out struct {
			CreatePackage struct {
				ID          string
				Frequencies []struct{ ID string }
			}
		}
		b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { id frequencies { id } } }`,
			map[string]any{"in": in}, &out)
		for _, fr := range out.CreatePackage.Frequencies {
			freqs = append(freqs, fr.ID)
		}
		return out.CreatePackage.ID, freqs
	}
	var freqs []string
	f.Basic, freqs = pkg(map[string]any{
		"name":       "Basic",
		"currencies": []any{"USD", "EUR"},
		"services": []any{
			map[string]any{"serviceId": f.Line},
			map[string]any{"serviceId": f.Extra, "optional": true},
		},
		"frequencies": []any{monthlyPriceInput(f.Line, "USD", "10.00")},
	})
	require.Len(t, freqs, 1)
	f.BasicMonthly = freqs[0]
	f.Bulk, freqs = pkg(map[string]any{
		"name": "Bulk Line", "bulkQuantity": true, "currencies": []any{"USD"},
		"services":    []any{map[string]any{"serviceId": f.Line}},
		"frequencies": []any{monthlyPriceInput(f.Line, "USD", "1.00")},
	})
	require.Len(t, freqs, 1)
	f.BulkMonthlyN = idInt(t, freqs[0])
	f.Once, _ = pkg(map[string]any{
		"name": "Once", "oneTimeBilling": true, "currencies": []any{"USD"},
		"services":    []any{map[string]any{"serviceId": f.Line}},
		"frequencies": []any{monthlyPriceInput(f.Line, "USD", "5.00")},
	})
	f.Dated, _ = pkg(map[string]any{
		"name": "Dated", "startDate": "2024-01-01", "expiryDate": "2025-01-01", "currencies": []any{"USD"},
		"services":    []any{map[string]any{"serviceId": f.Line}},
		"frequencies": []any{monthlyPriceInput(f.Line, "USD", "5.00")},
	})
	var acc struct{ CreateAccount struct{ ID string } }
	b.MustQuery(qCreateAccount, map[string]any{"in": map[string]any{"name": "Acme", "currency": "USD", "billDay": 1}}, &acc)
	f.Account = acc.CreateAccount.ID

	f.LineID = idInt(t, f.Line)
	f.BasicID = idInt(t, f.Basic)
	f.BasicMonthlyN = idInt(t, f.BasicMonthly)
	f.BulkID = idInt(t, f.Bulk)
	f.AccountID = idInt(t, f.Account)
	f.NoSuchService = strconv.Itoa(f.LineID + 100000)
	return f
}

// allTableCounts counts the rows of every table of b's database, read from the database's
// own catalog so that no table is left out. (testenv's Snapshot names a table
// "package_currencies" that does not exist: the join table is
// "catalog_package_currencies", and it leaves out bill_run_errors.)
func allTableCounts(t *testing.T, b *testenv.Billd) map[string]int {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if b.Dialect == "postgres" {
		q = `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	rows, err := b.DB.SQL.Query(q)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Contains(t, tables, "catalog_package_currencies")
	out := make(map[string]int, len(tables))
	for _, tbl := range tables {
		if tbl == "audit_entries" {
			continue // the audit log records refused mutations by design
		}
		if tbl == "river_leader" || tbl == "river_client" || tbl == "river_client_queue" || tbl == "river_queue" {
			continue // the job system's own bookkeeping (leader election, queues), written as it runs
		}
		out[tbl] = b.Count(`"` + tbl + `"`)
	}
	return out
}

// insertAccountPackage writes an account-package straight into the database (there is
// no provisioning yet): ACTIVE, effective 2024-01-01, following the account's bill day.
func insertAccountPackage(t *testing.T, b *testenv.Billd, accountID, packageID, frequencyID, bulkQuantity int) {
	t.Helper()
	ctx := context.Background()
	active, err := b.DB.Client.Status.Query().Where(status.Code("ACTIVE")).OnlyID(ctx)
	require.NoError(t, err)
	_, err = b.DB.Client.AccountPackage.Create().
		SetAccountID(accountID).SetPackageID(packageID).SetFrequencyID(frequencyID).
		SetStatusID(active).SetBulkQuantity(bulkQuantity).SetEffectiveDate(calendar.MustParse("2024-01-01")).
		SetChargeFullPeriod(false).SetPostpaid(false).Save(ctx)
	require.NoError(t, err)
}

func idInt(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "id %q", s)
	return n
}

// monthlyPriceInput is a Monthly frequency input pricing one service when ACTIVE.
func monthlyPriceInput(serviceID, currency, amount string) map[string]any {
	return map[string]any{
		"name": "Monthly", "interval": "MONTH",
		"prices": []any{map[string]any{
			"serviceId": serviceID, "currency": currency,
			"recurring": []any{map[string]any{"status": "ACTIVE", "amount": amount}},
		}},
	}
}

// newPackageInput is a valid createPackage input over the fixture (the control case
// proves it is accepted); each case breaks one thing of it with setInputPath.
func newPackageInput(f *refusalFixture) map[string]any {
	return map[string]any{
		"name":       "Fresh",
		"currencies": []any{"USD"},
		"services":   []any{map[string]any{"serviceId": f.Line}},
		"frequencies": []any{map[string]any{
			"name": "Monthly", "interval": "MONTH",
			"prices": []any{map[string]any{
				"serviceId":   f.Line,
				"currency":    "USD",
				"recurring":   []any{map[string]any{"status": "ACTIVE", "amount": "10.00"}},
				"transitions": []any{map[string]any{"from": "ACTIVE", "to": "CANCELED", "amount": "15.00"}},
			}},
		}},
	}
}

// newFrequencyInput is a valid addPackageFrequency input for package Basic.
func newFrequencyInput(f *refusalFixture) map[string]any {
	return map[string]any{
		"name": "Quarterly", "interval": "MONTH", "intervalCount": 3,
		"prices": []any{map[string]any{
			"serviceId": f.Line, "currency": "EUR",
			"recurring": []any{map[string]any{"status": "ACTIVE", "amount": "27.00"}},
		}},
	}
}

// setInputPath sets the value at a dotted path of nested maps and slices ("services.0.optional")
// and returns the root, for one-line variations of a valid input.
func setInputPath(root map[string]any, path string, v any) map[string]any {
	parts := strings.Split(path, ".")
	var cur any = root
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[p] = v
				return root
			}
			cur = c[p]
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil {
				panic("setInputPath: " + path + ": " + p + " is not an index")
			}
			if last {
				c[n] = v
				return root
			}
			cur = c[n]
		default:
			panic("setInputPath: " + path + ": cannot descend into " + p)
		}
	}
	return root
}

type refusalCase struct {
	name string
	// prep adds state the case needs beyond the fixture, before the "before" snapshot.
	prep  func(t *testing.T, b *testenv.Billd, f *refusalFixture)
	query string
	vars  func(f *refusalFixture) map[string]any
	code  string
	field string // extensions.field; "" means none
	word  string // the message must contain it
	// check looks further at the error; after checks the state once the refusal is in
	// (the snapshot is always compared).
	check func(t *testing.T, e testenv.GQLError)
	after func(t *testing.T, b *testenv.Billd, f *refusalFixture)
}

func pkgVars(mod func(f *refusalFixture, in map[string]any)) func(f *refusalFixture) map[string]any {
	return func(f *refusalFixture) map[string]any {
		in := newPackageInput(f)
		mod(f, in)
		return map[string]any{"in": in}
	}
}

func pkgSet(path string, v any) func(f *refusalFixture) map[string]any {
	return pkgVars(func(_ *refusalFixture, in map[string]any) { setInputPath(in, path, v) })
}

func freqVars(pkg func(f *refusalFixture) string, mod func(f *refusalFixture, in map[string]any)) func(f *refusalFixture) map[string]any {
	return func(f *refusalFixture) map[string]any {
		in := newFrequencyInput(f)
		mod(f, in)
		return map[string]any{"id": pkg(f), "in": in}
	}
}

func updPkg(pkg func(f *refusalFixture) string, in map[string]any) func(f *refusalFixture) map[string]any {
	return func(f *refusalFixture) map[string]any { return map[string]any{"id": pkg(f), "in": in} }
}

func basic(f *refusalFixture) string { return f.Basic }
func bulk(f *refusalFixture) string  { return f.Bulk }

const (
	badInput     = "BAD_USER_INPUT"
	notFound     = "NOT_FOUND"
	conflict     = "CONFLICT"
	precondition = "FAILED_PRECONDITION"
	priceField   = "input.frequencies[0].prices[0]"
)

func refusalCases() []refusalCase {
	return []refusalCase{
		// ---- Accounts: bill day 1..31, known currency, a name.
		{name: "createAccount bill day 0", query: qCreateAccount,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"name": "New", "currency": "USD", "billDay": 0}}
			},
			code: badInput, field: "input.billDay", word: "bill day"},
		{name: "createAccount bill day 32", query: qCreateAccount,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"name": "New", "currency": "USD", "billDay": 32}}
			},
			code: badInput, field: "input.billDay", word: "1..31"},
		{name: "updateAccount bill day 0", query: qUpdateAccount,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Account, "in": map[string]any{"billDay": 0}}
			},
			code: badInput, field: "input.billDay", word: "bill day"},
		{name: "updateAccount bill day 32", query: qUpdateAccount,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Account, "in": map[string]any{"billDay": 32}}
			},
			code: badInput, field: "input.billDay", word: "1..31"},
		{name: "createAccount unknown currency", query: qCreateAccount,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"name": "New", "currency": "XYZ", "billDay": 1}}
			},
			code: notFound, field: "input.currency", word: "XYZ"},
		{name: "createAccount empty name", query: qCreateAccount,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"name": "  ", "currency": "USD", "billDay": 1}}
			},
			code: badInput, field: "input.name", word: "empty"},
		{name: "updateAccount empty name", query: qUpdateAccount,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Account, "in": map[string]any{"name": ""}}
			},
			code: badInput, field: "input.name", word: "empty"},
		{name: "updateAccount unknown id", query: qUpdateAccount,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": strconv.Itoa(f.AccountID + 100000), "in": map[string]any{"name": "X"}}
			},
			code: notFound, field: "id", word: "not found"},

		// ---- Currencies and statuses: unique codes, well-formed.
		{name: "createCurrency duplicate code", query: qCreateCurrency,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"code": "USD", "name": "Dollar again", "precision": 2}}
			},
			code: conflict, field: "input.code", word: "already exists"},
		{name: "createCurrency precision 5", query: qCreateCurrency,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"code": "BHX", "name": "Too fine", "precision": 5}}
			},
			code: badInput, field: "input.precision", word: "0..4"},
		{name: "createCurrency lower-case code", query: qCreateCurrency,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"code": "bhd", "name": "Dinar", "precision": 3}}
			},
			code: badInput, field: "input.code", word: "ISO 4217"},
		{name: "createStatus duplicate code", query: qCreateStatus,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"code": "ACTIVE", "name": "Active again", "billable": true, "readOnly": false}}
			},
			code: conflict, field: "input.code", word: "already exists"},

		// ---- Package names: unique in any letter case, not empty.
		{name: "createPackage duplicate name in another case", query: qCreatePackage,
			vars: pkgSet("name", "bASIC"),
			code: conflict, field: "input.name", word: "already exists"},
		{name: "updatePackage rename to a taken name in another case", query: qUpdatePackage,
			vars: updPkg(bulk, map[string]any{"name": "BASIC"}),
			code: conflict, field: "input.name", word: "already exists"},
		{name: "createPackage empty name", query: qCreatePackage,
			vars: pkgSet("name", " "),
			code: badInput, field: "input.name", word: "empty"},
		{name: "updatePackage empty name", query: qUpdatePackage,
			vars: updPkg(basic, map[string]any{"name": ""}),
			code: badInput, field: "input.name", word: "empty"},
		{name: "createService empty name", query: qCreateService,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"in": map[string]any{"name": "", "kind": "RECURRING"}}
			},
			code: badInput, field: "input.name", word: "empty"},
		{name: "updateService empty name", query: qUpdateService,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Line, "in": map[string]any{"name": "   "}}
			},
			code: badInput, field: "input.name", word: "empty"},
		{name: "frequency empty name", query: qCreatePackage,
			vars: pkgSet("frequencies.0.name", ""),
			code: badInput, field: "input.frequencies[0].name", word: "empty"},
		{name: "frequency name too long", query: qCreatePackage,
			vars: pkgSet("frequencies.0.name", strings.Repeat("m", 150)),
			code: badInput, field: "input.frequencies[0].name", word: "more than the 100 allowed"},

		// ---- Currency codes.
		{name: "createPackage unknown currency", query: qCreatePackage,
			vars: pkgSet("currencies", []any{"USD", "XYZ"}),
			code: notFound, field: "input.currencies[1]", word: "unknown currency"},
		{name: "createPackage currency listed twice", query: qCreatePackage,
			vars: pkgSet("currencies", []any{"USD", "USD"}),
			code: badInput, field: "input.currencies[1]", word: "twice"},
		{name: "createPackage no currency", query: qCreatePackage,
			vars: pkgSet("currencies", []any{}),
			code: badInput, field: "input.currencies", word: "currency"},
		{name: "price in an unknown currency", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.currency", "XYZ"),
			code: notFound, field: priceField + ".currency", word: "unknown currency"},
		{name: "price in a currency the package does not list", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.currency", "EUR"),
			code: badInput, field: priceField + ".currency", word: "not priced in EUR"},
		{name: "addPackageFrequency price in a currency the package does not list", query: qAddFrequency,
			vars: freqVars(basic, func(_ *refusalFixture, in map[string]any) { setInputPath(in, "prices.0.currency", "JPY") }),
			code: precondition, field: "input.prices[0].currency", word: "not priced in JPY"},

		// ---- Status codes.
		{name: "createPackage unknown defaultStatus", query: qCreatePackage,
			vars: pkgSet("defaultStatus", "NOPE"),
			code: notFound, field: "input.defaultStatus", word: "unknown status"},
		{name: "recurring price for an unknown status", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.recurring.0.status", "NOPE"),
			code: notFound, field: priceField + ".recurring[0].status", word: "unknown status"},
		{name: "transition from an unknown status", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.transitions.0.from", "NOPE"),
			code: notFound, field: priceField + ".transitions[0].from", word: "unknown status"},
		{name: "transition to an unknown status", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.transitions.0.to", "NOPE"),
			code: notFound, field: priceField + ".transitions[0].to", word: "unknown status"},
		{name: "transition to the same status", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.transitions.0.to", "ACTIVE"),
			code: badInput, field: priceField + ".transitions[0].to", word: "different"},
		{name: "updatePackage unknown defaultStatus", query: qUpdatePackage,
			vars: updPkg(basic, map[string]any{"defaultStatus": "NOPE"}),
			code: notFound, field: "input.defaultStatus", word: "unknown status"},
		{name: "status priced twice", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.recurring", []any{
				map[string]any{"status": "ACTIVE", "amount": "10.00"},
				map[string]any{"status": "ACTIVE", "amount": "12.00"},
			}),
			code: badInput, field: priceField + ".recurring[1].status", word: "twice"},

		// ---- Prices are ≥ 0.
		{name: "negative recurring price", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.recurring.0.amount", "-1.00"),
			code: badInput, field: priceField + ".recurring[0].amount", word: "negative"},
		{name: "negative one-time price", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.oneTime", "-25"),
			code: badInput, field: priceField + ".oneTime", word: "negative"},
		{name: "negative transition price", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.transitions.0.amount", "-0.01"),
			code: badInput, field: priceField + ".transitions[0].amount", word: "negative"},
		{name: "addPackageFrequency negative price", query: qAddFrequency,
			vars: freqVars(basic, func(_ *refusalFixture, in map[string]any) {
				setInputPath(in, "prices.0.recurring.0.amount", "-27.00")
			}),
			code: badInput, field: "input.prices[0].recurring[0].amount", word: "negative"},

		// ---- Malformed Decimal: the field comes from where the value sits in the input.
		{name: "Decimal 1e5", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.recurring.0.amount", "1e5"),
			code: badInput, field: priceField + ".recurring[0].amount", word: "not a decimal"},
		{name: "Decimal abc", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.transitions.0.amount", "abc"),
			code: badInput, field: priceField + ".transitions[0].amount", word: "not a decimal"},
		{name: "Decimal 1.2.3", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.oneTime", "1.2.3"),
			code: badInput, field: priceField + ".oneTime", word: "not a decimal"},
		{name: "Decimal as a JSON float variable", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.recurring.0.amount", 1.5),
			code: badInput, field: priceField + ".recurring[0].amount", word: "string"},
		{name: "Decimal as a float literal in the document", query: qInlineFloat,
			vars: func(f *refusalFixture) map[string]any { return map[string]any{"svc": f.Line} },
			code: badInput, field: priceField + ".recurring[0].amount", word: "string"},
		{name: "Decimal with 7 decimals", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.recurring.0.amount", "0.0000001"),
			code: badInput, field: priceField + ".recurring[0].amount", word: "digits after the decimal point"},
		{name: "Decimal malformed in addPackageFrequency", query: qAddFrequency,
			vars: freqVars(basic, func(_ *refusalFixture, in map[string]any) {
				setInputPath(in, "prices.0.recurring.0.amount", "12,50")
			}),
			code: badInput, field: "input.prices[0].recurring[0].amount", word: "not a decimal"},

		// ---- Malformed Date.
		{name: "Date 2024-02-30", query: qCreatePackage,
			vars: pkgSet("startDate", "2024-02-30"),
			code: badInput, field: "input.startDate", word: "2024-02-30"},
		{name: "Date 2024-1-5", query: qCreatePackage,
			vars: pkgSet("expiryDate", "2024-1-5"),
			code: badInput, field: "input.expiryDate", word: "YYYY-MM-DD"},
		{name: "Date yesterday as a literal in the document", query: qInlineStartDate,
			vars: func(f *refusalFixture) map[string]any { return map[string]any{"svc": f.Line} },
			code: badInput, field: "input.startDate", word: "yesterday"},
		{name: "updatePackage Date 2024-13-01", query: qUpdatePackage,
			vars: updPkg(basic, map[string]any{"expiryDate": "2024-13-01"}),
			code: badInput, field: "input.expiryDate", word: "not a valid date"},

		// ---- Availability dates.
		{name: "expiryDate equal to startDate", query: qCreatePackage,
			vars: pkgVars(func(_ *refusalFixture, in map[string]any) {
				in["startDate"], in["expiryDate"] = "2024-03-01", "2024-03-01"
			}),
			code: badInput, field: "input.expiryDate", word: "after"},
		{name: "expiryDate before startDate", query: qCreatePackage,
			vars: pkgVars(func(_ *refusalFixture, in map[string]any) {
				in["startDate"], in["expiryDate"] = "2024-03-01", "2024-02-29"
			}),
			code: badInput, field: "input.expiryDate", word: "after"},
		{name: "updatePackage expiryDate before the package's startDate", query: qUpdatePackage,
			vars: updPkg(func(f *refusalFixture) string { return f.Dated }, map[string]any{"expiryDate": "2023-12-31"}),
			code: badInput, field: "input.expiryDate", word: "after"},
		{name: "updatePackage startDate on the package's expiryDate", query: qUpdatePackage,
			vars: updPkg(func(f *refusalFixture) string { return f.Dated }, map[string]any{"startDate": "2025-01-01"}),
			code: badInput, field: "input.startDate", word: "after"},

		// ---- Instance limits: min ≤ default ≤ max.
		{name: "minInstances above defaultInstances", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				setInputPath(in, "services.0", map[string]any{"serviceId": f.Line, "minInstances": 2, "defaultInstances": 1})
			}),
			code: badInput, field: "input.services[0].defaultInstances", word: "below minInstances"},
		{name: "defaultInstances above maxInstances", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				setInputPath(in, "services.0", map[string]any{"serviceId": f.Line, "defaultInstances": 3, "maxInstances": 2})
			}),
			code: badInput, field: "input.services[0].defaultInstances", word: "above maxInstances"},
		{name: "minInstances above maxInstances", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				setInputPath(in, "services.0", map[string]any{"serviceId": f.Line, "minInstances": 3, "maxInstances": 2})
			}),
			code: badInput, field: "input.services[0].minInstances", word: "above maxInstances"},
		{name: "negative minInstances", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				setInputPath(in, "services.0", map[string]any{"serviceId": f.Line, "minInstances": -1, "optional": true})
			}),
			code: badInput, field: "input.services[0].minInstances", word: "negative"},
		{name: "addPackageService minInstances above defaultInstances", query: qAddService,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Basic, "in": map[string]any{"serviceId": f.Spare, "minInstances": 2, "defaultInstances": 1}}
			},
			code: badInput, field: "input.defaultInstances", word: "below minInstances"},

		// ---- The bulk component allows no optional service, whichever comes first.
		{name: "createPackage bulk with an optional service", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				in["bulkQuantity"] = true
				in["services"] = []any{
					map[string]any{"serviceId": f.Line},
					map[string]any{"serviceId": f.Extra, "optional": true},
				}
			}),
			code: badInput, field: "input.services[1].optional", word: "optional"},
		{name: "updatePackage bulk on a package with an optional service", query: qUpdatePackage,
			vars: updPkg(basic, map[string]any{"bulkQuantity": true}),
			code: precondition, field: "input.bulkQuantity", word: "optional"},
		{name: "addPackageService optional service to a bulk package", query: qAddService,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Bulk, "in": map[string]any{"serviceId": f.Extra, "optional": true}}
			},
			code: precondition, field: "input.optional", word: "optional"},

		// ---- A package in use cannot be deleted.
		{name: "deletePackage in use", query: qDeletePackage,
			prep: func(t *testing.T, b *testenv.Billd, f *refusalFixture) {
				insertAccountPackage(t, b, f.AccountID, f.BasicID, f.BasicMonthlyN, 1)
			},
			vars: func(f *refusalFixture) map[string]any { return map[string]any{"id": f.Basic} },
			code: precondition, word: "in use",
			after: func(t *testing.T, b *testenv.Billd, f *refusalFixture) {
				var out struct {
					Node struct {
						Typename string `json:"__typename"`
						Name     string
						InUse    bool
					}
				}
				b.MustQuery(`query($id: ID!) { node(id: $id) { __typename ... on Package { name inUse } } }`,
					map[string]any{"id": f.Basic}, &out)
				require.Equal(t, "Package", out.Node.Typename)
				require.Equal(t, "Basic", out.Node.Name)
				require.True(t, out.Node.InUse)
			}},

		{name: "updatePackage removes the bulk component while a bulk quantity uses it", query: qUpdatePackage,
			prep: func(t *testing.T, b *testenv.Billd, f *refusalFixture) {
				insertAccountPackage(t, b, f.AccountID, f.BulkID, f.BulkMonthlyN, 20)
			},
			vars: updPkg(bulk, map[string]any{"bulkQuantity": false}),
			code: precondition, word: "bulk quantity"},
		{name: "updateAccount bill day while account-packages follow it", query: qUpdateAccount,
			prep: func(t *testing.T, b *testenv.Billd, f *refusalFixture) {
				insertAccountPackage(t, b, f.AccountID, f.BasicID, f.BasicMonthlyN, 1)
			},
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Account, "in": map[string]any{"billDay": 15}}
			},
			code: precondition, word: "newBillDay"},

		// ---- Unknown ids.
		{name: "updatePackage unknown id", query: qUpdatePackage,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": strconv.Itoa(f.BasicID + 100000), "in": map[string]any{"postpaid": true}}
			},
			code: notFound, field: "id", word: "not found"},
		{name: "updatePackage with a service's id", query: qUpdatePackage,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Line, "in": map[string]any{"postpaid": true}}
			},
			code: notFound, field: "id", word: "not found"},
		{name: "deletePackage unknown id", query: qDeletePackage,
			vars: func(f *refusalFixture) map[string]any { return map[string]any{"id": strconv.Itoa(f.BasicID + 100000)} },
			code: notFound, field: "id", word: "not found"},
		{name: "deletePackage with an account's id", query: qDeletePackage,
			vars: func(f *refusalFixture) map[string]any { return map[string]any{"id": f.Account} },
			code: notFound, field: "id", word: "not found"},
		{name: "updateService unknown id", query: qUpdateService,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.NoSuchService, "in": map[string]any{"name": "Renamed"}}
			},
			code: notFound, field: "id", word: "not found"},
		{name: "addPackageFrequency unknown package", query: qAddFrequency,
			vars: freqVars(func(f *refusalFixture) string { return strconv.Itoa(f.BasicID + 100000) },
				func(*refusalFixture, map[string]any) {}),
			code: notFound, field: "packageId", word: "not found"},
		{name: "addPackageService unknown package", query: qAddService,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": strconv.Itoa(f.BasicID + 100000), "in": map[string]any{"serviceId": f.Spare}}
			},
			code: notFound, field: "packageId", word: "not found"},
		{name: "addPackageService unknown service", query: qAddService,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Basic, "in": map[string]any{"serviceId": f.NoSuchService}}
			},
			code: notFound, field: "input.serviceId", word: "not found"},
		{name: "createPackage unknown serviceId", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				setInputPath(in, "services.0.serviceId", f.NoSuchService)
			}),
			code: notFound, field: "input.services[0].serviceId", word: "not found"},

		// ---- Malformed IDs.
		{name: "node with id abc", query: qNode,
			vars: func(f *refusalFixture) map[string]any { return map[string]any{"id": "abc"} },
			code: badInput, field: "id", word: "not a billd ID"},
		{name: "updatePackage with id abc in the document", query: qInlineMalformedID,
			vars: func(f *refusalFixture) map[string]any { return nil },
			code: badInput, field: "id", word: "not a billd ID"},
		{name: "createPackage serviceId abc", query: qCreatePackage,
			vars: pkgSet("services.0.serviceId", "abc"),
			code: badInput, field: "input.services[0].serviceId", word: "not a billd ID"},
		{name: "price serviceId 0", query: qCreatePackage,
			vars: pkgSet("frequencies.0.prices.0.serviceId", "0"),
			code: badInput, field: priceField + ".serviceId", word: "not a billd ID"},

		// ---- Package rules.
		{name: "oneTimeBilling without chargeFullPeriod", query: qCreatePackage,
			vars: pkgVars(func(_ *refusalFixture, in map[string]any) {
				in["oneTimeBilling"], in["chargeFullPeriod"] = true, false
			}),
			code: badInput, field: "input.chargeFullPeriod", word: "full period"},
		{name: "updatePackage clears chargeFullPeriod of a one-time billing package", query: qUpdatePackage,
			vars: updPkg(func(f *refusalFixture) string { return f.Once }, map[string]any{"chargeFullPeriod": false}),
			code: precondition, field: "input.chargeFullPeriod", word: "full period"},
		{name: "createPackage no service", query: qCreatePackage,
			vars: pkgVars(func(_ *refusalFixture, in map[string]any) {
				in["services"], in["frequencies"] = []any{}, []any{}
			}),
			code: badInput, field: "input.services", word: "service"},
		{name: "duplicate service in a package", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				in["services"] = []any{
					map[string]any{"serviceId": f.Line},
					map[string]any{"serviceId": f.Line, "optional": true},
				}
			}),
			code: badInput, field: "input.services[1].serviceId", word: "twice"},
		{name: "addPackageService of a service already in the package", query: qAddService,
			vars: func(f *refusalFixture) map[string]any {
				return map[string]any{"id": f.Basic, "in": map[string]any{"serviceId": f.Extra, "optional": true}}
			},
			code: conflict, field: "input.serviceId", word: "already in package"},
		{name: "price for a service not in the package", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				setInputPath(in, "frequencies.0.prices.0.serviceId", f.Spare)
			}),
			code: badInput, field: priceField + ".serviceId", word: "not one of the package's services"},
		{name: "addPackageFrequency price for a service not in the package", query: qAddFrequency,
			vars: freqVars(basic, func(f *refusalFixture, in map[string]any) { setInputPath(in, "prices.0.serviceId", f.Setup) }),
			code: precondition, field: "input.prices[0].serviceId", word: "not one of the package's services"},
		{name: "service priced twice in a currency", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				prices := in["frequencies"].([]any)[0].(map[string]any)["prices"].([]any)
				setInputPath(in, "frequencies.0.prices", append(prices, map[string]any{"serviceId": f.Line, "currency": "USD", "oneTime": "1"}))
			}),
			code: badInput, field: "input.frequencies[0].prices[1]", word: "already has prices"},
		{name: "recurring price on a ONE_TIME service", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				setInputPath(in, "services.0.serviceId", f.Setup)
				setInputPath(in, "frequencies.0.prices.0.serviceId", f.Setup)
			}),
			code: precondition, field: priceField + ".recurring", word: "ONE_TIME"},
		{name: "frequency intervalCount 0", query: qCreatePackage,
			vars: pkgSet("frequencies.0.intervalCount", 0),
			code: badInput, field: "input.frequencies[0].intervalCount", word: "intervalCount"},
		{name: "addPackageFrequency intervalCount 0", query: qAddFrequency,
			vars: freqVars(basic, func(_ *refusalFixture, in map[string]any) { in["intervalCount"] = 0 }),
			code: badInput, field: "input.intervalCount", word: "intervalCount"},
		{name: "frequency name used twice", query: qCreatePackage,
			vars: pkgVars(func(f *refusalFixture, in map[string]any) {
				in["frequencies"] = append(in["frequencies"].([]any), monthlyPriceInput(f.Line, "USD", "9.00"))
				setInputPath(in, "frequencies.1.name", "MONTHLY")
			}),
			code: badInput, field: "input.frequencies[1].name", word: "twice"},
		{name: "addPackageFrequency name taken in another case", query: qAddFrequency,
			vars: freqVars(basic, func(_ *refusalFixture, in map[string]any) { in["name"] = "monthly" }),
			code: conflict, field: "input.name", word: "already has a frequency"},

		// ---- Connections and documents.
		{name: "services first 5000", query: qServicesFirst,
			vars: func(f *refusalFixture) map[string]any { return map[string]any{"n": 5000} },
			code: badInput, field: "first", word: "first"},
		{name: "packages last -1", query: qPackagesLast,
			vars: func(f *refusalFixture) map[string]any { return map[string]any{"n": -1} },
			code: badInput, field: "last", word: "last"},
		{name: "document with an unknown field", query: `{ services { totalCount nope } }`,
			vars: func(f *refusalFixture) map[string]any { return nil },
			code: badInput, word: "nope"},
		{name: "mutation with an unknown input field", query: `mutation { createService(input: {name: "X", kind: RECURRING, price: "1"}) { id } }`,
			vars: func(f *refusalFixture) map[string]any { return nil },
			code: badInput, word: "price"},
		{name: "variable with an unknown input field", query: qCreatePackage,
			vars: pkgSet("colour", "blue"),
			code: badInput, field: "in.colour", word: "in.colour: unknown field",
			check: func(t *testing.T, e testenv.GQLError) {
				require.Equal(t, []any{"variable", "in", "colour"}, e.Path)
			}},
	}
}

// TestRefusals sends documents the API must refuse and checks the code, the field, the
// message, and that nothing was written. Every case runs on an instance of its own,
// so a refusal that wrongly writes shows up in exactly that case's snapshot.
func TestRefusals(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		// Control: the valid inputs the cases vary are accepted as they are, so each
		// refusal below is caused by the one thing its case changes.
		f := newRefusalFixture(t, b)
		b.MustQuery(qCreatePackage, map[string]any{"in": newPackageInput(f)}, nil)
		b.MustQuery(qAddFrequency, map[string]any{"id": f.Basic, "in": newFrequencyInput(f)}, nil)

		for _, tc := range refusalCases() {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b := testenv.Start(t, b.Dialect)
				f := newRefusalFixture(t, b)
				if tc.prep != nil {
					tc.prep(t, b, f)
				}
				before := allTableCounts(t, b)
				r := b.Query(tc.query, tc.vars(f))
				require.Len(t, r.Errors, 1, "want one %s error, got data %s", tc.code, string(r.Data))
				e := r.Errors[0]
				require.Equal(t, tc.code, e.Code(), "code; message: %s", e.Message)
				require.Equal(t, tc.field, e.Field(), "extensions.field; message: %s", e.Message)
				require.Contains(t, e.Message, tc.word)
				if tc.check != nil {
					tc.check(t, e)
				}
				require.Equal(t, before, allTableCounts(t, b), "a refused request wrote rows")
				if tc.after != nil {
					tc.after(t, b, f)
				}
			})
		}
	})
}

// postGraphQL posts a GraphQL document without a *testing.T, for goroutines; the caller
// checks the error on the test's goroutine.
func postGraphQL(url, query string, vars map[string]any) (testenv.Response, error) {
	return concPost(url, query, vars)
}

// TestConcurrentConflicts races creations that unique codes and case-insensitive
// package names allow only once: exactly one wins, every other gets a CONFLICT (never
// an INTERNAL error), and only the winner's rows exist.
func TestConcurrentConflicts(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var svc struct{ CreateService struct{ ID string } }
		b.MustQuery(qCreateService, map[string]any{"in": map[string]any{"name": "Line", "kind": "RECURRING"}}, &svc)
		line := svc.CreateService.ID

		race := func(what, query, field string, vars func(i int) map[string]any) {
			const n = 8
			var wg sync.WaitGroup
			results := make([]testenv.Response, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], errs[i] = postGraphQL(b.HTTP.URL, query, vars(i))
				}()
			}
			wg.Wait()
			won := 0
			for i := range n {
				require.NoError(t, errs[i])
				if len(results[i].Errors) == 0 {
					won++
					continue
				}
				e := results[i].Errors[0]
				require.Equal(t, conflict, e.Code(), "%s #%d: %s", what, i, e.Message)
				require.Equal(t, field, e.Field(), "%s #%d: %s", what, i, e.Message)
			}
			require.Equal(t, 1, won, "%s: exactly one may win", what)
		}
		names := []string{"Race", "RACE", "race", "rAcE", "RaCe", "raCE", "RAce", " race "}
		race("createPackage", qCreatePackage, "input.name", func(i int) map[string]any {
			return map[string]any{"in": map[string]any{
				"name": names[i], "currencies": []any{"USD"},
				"services":    []any{map[string]any{"serviceId": line}},
				"frequencies": []any{monthlyPriceInput(line, "USD", "10.00")},
			}}
		})
		require.Equal(t, 1, b.Count("packages"))
		require.Equal(t, 1, b.Count("package_frequencies"))
		require.Equal(t, 1, b.Count("service_prices"))
		require.Equal(t, 1, b.Count("catalog_package_currencies"))

		var pkgs struct {
			Packages struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
		b.MustQuery(`{ packages { edges { node { id } } } }`, nil, &pkgs)
		require.Len(t, pkgs.Packages.Edges, 1)
		pkg := pkgs.Packages.Edges[0].Node.ID

		// Frequency names are unique in a package in any letter case too.
		race("addPackageFrequency", qAddFrequency, "input.name", func(i int) map[string]any {
			in := monthlyPriceInput(line, "USD", "100.00")
			in["name"] = []string{"Yearly", "YEARLY", "yearly", "YeArLy", "yEaRlY", "YEarly", "yearlY", " Yearly "}[i]
			in["interval"] = "YEAR"
			return map[string]any{"id": pkg, "in": in}
		})
		require.Equal(t, 2, b.Count("package_frequencies"))

		var extra struct{ CreateService struct{ ID string } }
		b.MustQuery(qCreateService, map[string]any{"in": map[string]any{"name": "Extra", "kind": "RECURRING"}}, &extra)
		race("addPackageService", qAddService, "input.serviceId", func(i int) map[string]any {
			return map[string]any{"id": pkg, "in": map[string]any{"serviceId": extra.CreateService.ID, "maxInstances": i + 1}}
		})
		require.Equal(t, 2, b.Count("package_services"))

		currencies := b.Count("currencies")
		race("createCurrency", qCreateCurrency, "input.code", func(i int) map[string]any {
			return map[string]any{"in": map[string]any{"code": "BHD", "name": fmt.Sprintf("Dinar %d", i), "precision": 3}}
		})
		require.Equal(t, currencies+1, b.Count("currencies"))

		statuses := b.Count("statuses")
		race("createStatus", qCreateStatus, "input.code", func(i int) map[string]any {
			return map[string]any{"in": map[string]any{"code": "TRIAL", "name": fmt.Sprintf("Trial %d", i), "billable": false, "readOnly": false}}
		})
		require.Equal(t, statuses+1, b.Count("statuses"))
	})
}

// TestConcurrentBulkAndOptional races the two changes that together would give a
// package with the bulk component an optional service: setting bulkQuantity on it and
// adding an optional service to it. At most one may succeed, whatever the timing.
func TestConcurrentBulkAndOptional(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var svc struct{ CreateService struct{ ID string } }
		b.MustQuery(qCreateService, map[string]any{"in": map[string]any{"name": "Line", "kind": "RECURRING"}}, &svc)
		line := svc.CreateService.ID
		b.MustQuery(qCreateService, map[string]any{"in": map[string]any{"name": "Extra", "kind": "RECURRING"}}, &svc)
		extra := svc.CreateService.ID
		for round := range 20 {
			var p struct{ CreatePackage struct{ ID string } }
			b.MustQuery(qCreatePackage, map[string]any{"in": map[string]any{
				"name": fmt.Sprintf("Round %d", round), "currencies": []any{"USD"},
				"services":    []any{map[string]any{"serviceId": line}},
				"frequencies": []any{monthlyPriceInput(line, "USD", "1.00")},
			}}, &p)
			pkg := p.CreatePackage.ID
			var wg sync.WaitGroup
			var bulkRes, addRes testenv.Response
			var bulkErr, addErr error
			wg.Add(2)
			go func() {
				defer wg.Done()
				bulkRes, bulkErr = postGraphQL(b.HTTP.URL, qUpdatePackage, map[string]any{"id": pkg, "in": map[string]any{"bulkQuantity": true}})
			}()
			go func() {
				defer wg.Done()
				addRes, addErr = postGraphQL(b.HTTP.URL, qAddService, map[string]any{"id": pkg, "in": map[string]any{"serviceId": extra, "optional": true}})
			}()
			wg.Wait()
			require.NoError(t, bulkErr)
			require.NoError(t, addErr)
			require.False(t, len(bulkRes.Errors) == 0 && len(addRes.Errors) == 0,
				"round %d: both the bulk component and an optional service were accepted", round)
			for _, r := range []testenv.Response{bulkRes, addRes} {
				if len(r.Errors) > 0 {
					require.Equal(t, precondition, r.Errors[0].Code(), r.Errors[0].Message)
					require.Contains(t, r.Errors[0].Message, "optional")
				}
			}
		}
	})
}
