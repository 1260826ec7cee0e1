package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/internal/testenv"
)

// Fragments selecting every field of the catalog types. A document must use each
// fragment it defines, hence the two sets.
const (
	fragsFrequency = `
fragment Svc on Service { id name description kind }
fragment St on Status { code name billable readOnly }
fragment Cur on Currency { code name precision }
fragment Freq on PackageFrequency {
  id package { id name } name interval intervalCount
  prices {
    service { ...Svc } currency { ...Cur }
    recurring { status { ...St } amount }
    oneTime
    transitions { from { ...St } to { ...St } amount }
  }
}`
	fragsPackage = fragsFrequency + `
fragment Pkg on Package {
  id name description startDate expiryDate defaultStatus { ...St }
  oneTimeBilling chargeFullPeriod postpaid bulkQuantity inUse
  currencies { ...Cur }
  services { service { ...Svc } minInstances defaultInstances maxInstances optional }
  frequencies { ...Freq }
}`
)

type flowStatus struct {
	Code     string
	Name     string
	Billable bool
	ReadOnly bool
}

type flowCurrency struct {
	Code      string
	Name      string
	Precision int
}

type flowService struct {
	ID          string
	Name        string
	Description *string
	Kind        string
}

type flowPackageService struct {
	Service          flowService
	MinInstances     int
	DefaultInstances int
	MaxInstances     *int
	Optional         bool
}

type flowStatusPrice struct {
	Status flowStatus
	Amount string
}

type flowTransitionPrice struct {
	From   flowStatus
	To     flowStatus
	Amount string
}

type flowServicePrice struct {
	Service     flowService
	Currency    flowCurrency
	Recurring   []flowStatusPrice
	OneTime     *string
	Transitions []flowTransitionPrice
}

type flowFrequency struct {
	ID      string
	Package struct {
		ID   string
		Name string
	}
	Name          string
	Interval      string
	IntervalCount int
	Prices        []flowServicePrice
}

type flowPackage struct {
	ID               string
	Name             string
	Description      *string
	StartDate        *string
	ExpiryDate       *string
	DefaultStatus    flowStatus
	OneTimeBilling   bool
	ChargeFullPeriod bool
	Postpaid         bool
	BulkQuantity     bool
	InUse            bool
	Currencies       []flowCurrency
	Services         []flowPackageService
	Frequencies      []flowFrequency
}

// The builtin statuses and currencies (rules §2), with the names the catalog seeds
// them with (ISO 4217's for currencies).
var (
	stActive    = flowStatus{"ACTIVE", "Active", true, false}
	stSuspended = flowStatus{"SUSPENDED", "Suspended", true, false}
	stPending   = flowStatus{"PENDING", "Pending", false, false}
	stCanceled  = flowStatus{"CANCELED", "Canceled", false, true}
	curUSD      = flowCurrency{"USD", "US Dollar", 2}
	curJPY      = flowCurrency{"JPY", "Yen", 0}
)

func flowPtr[T any](v T) *T { return &v }

// sortPackage puts every list of a package in a fixed order so that packages compare
// whatever order the API lists them in.
func sortPackage(p *flowPackage) {
	sort.Slice(p.Currencies, func(i, j int) bool { return p.Currencies[i].Code < p.Currencies[j].Code })
	sort.Slice(p.Services, func(i, j int) bool { return p.Services[i].Service.Name < p.Services[j].Service.Name })
	sort.Slice(p.Frequencies, func(i, j int) bool { return p.Frequencies[i].Name < p.Frequencies[j].Name })
	for i := range p.Frequencies {
		sortFrequency(&p.Frequencies[i])
	}
}

func sortFrequency(f *flowFrequency) {
	sort.Slice(f.Prices, func(i, j int) bool {
		a, b := f.Prices[i], f.Prices[j]
		if a.Service.Name != b.Service.Name {
			return a.Service.Name < b.Service.Name
		}
		return a.Currency.Code < b.Currency.Code
	})
	for i := range f.Prices {
		p := &f.Prices[i]
		sort.Slice(p.Recurring, func(i, j int) bool { return p.Recurring[i].Status.Code < p.Recurring[j].Status.Code })
		sort.Slice(p.Transitions, func(i, j int) bool {
			a, b := p.Transitions[i], p.Transitions[j]
			return a.From.Code+">"+a.To.Code < b.From.Code+">"+b.To.Code
		})
	}
}

func flowCreateService(t *testing.T, b *testenv.Billd, name string, description *string, kind string) flowService {
	t.Helper()
	in := map[string]any{"name": name, "kind": kind}
	if description != nil {
		in["description"] = *description
	}
	var out struct{ CreateService flowService }
	b.MustQuery(`mutation($in: CreateServiceInput!) { createService(input: $in) { id name description kind } }`,
		map[string]any{"in": in}, &out)
	require.NotEmpty(t, out.CreateService.ID)
	require.Equal(t, flowService{out.CreateService.ID, name, description, kind}, out.CreateService)
	return out.CreateService
}

func readPackage(t *testing.T, b *testenv.Billd, id string) flowPackage {
	t.Helper()
	var out struct{ Node flowPackage }
	b.MustQuery(`query($id: ID!) { node(id: $id) { ...Pkg } }`+fragsPackage, map[string]any{"id": id}, &out)
	sortPackage(&out.Node)
	return out.Node
}

// TestCatalogFlow defines a package with every kind of price, reads it back field by
// field, changes it, extends it, and deletes an unused package without a trace.
func TestCatalogFlow(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		internet := flowCreateService(t, b, "Internet", flowPtr("Fibre line"), "RECURRING")
		staticIP := flowCreateService(t, b, "Static IP", nil, "RECURRING")
		install := flowCreateService(t, b, "Installation", flowPtr("On-site installation"), "ONE_TIME")

		// ---- createPackage: two currencies, explicit and default instance limits, two
		// frequencies with per-status, one-time and transition prices.
		var created struct{ CreatePackage flowPackage }
		b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { ...Pkg } }`+fragsPackage,
			map[string]any{"in": map[string]any{
				"name": "Home Fibre", "description": "Fibre at home",
				"startDate": "2024-01-01", "expiryDate": "2025-01-01",
				"defaultStatus": "PENDING", "postpaid": true,
				"currencies": []any{"USD", "JPY"},
				"services": []any{
					map[string]any{"serviceId": internet.ID, "minInstances": 1, "defaultInstances": 2, "maxInstances": 5},
					map[string]any{"serviceId": staticIP.ID, "optional": true},
					map[string]any{"serviceId": install.ID},
				},
				"frequencies": []any{
					map[string]any{"name": "Monthly", "interval": "MONTH", "prices": []any{
						map[string]any{"serviceId": internet.ID, "currency": "USD",
							"recurring": []any{
								map[string]any{"status": "ACTIVE", "amount": "50"},
								map[string]any{"status": "SUSPENDED", "amount": "10"},
							},
							"transitions": []any{map[string]any{"from": "ACTIVE", "to": "CANCELED", "amount": "15"}}},
						map[string]any{"serviceId": internet.ID, "currency": "JPY",
							"recurring": []any{
								map[string]any{"status": "ACTIVE", "amount": "1200"},
								map[string]any{"status": "SUSPENDED", "amount": "300"},
							}},
						map[string]any{"serviceId": staticIP.ID, "currency": "USD",
							"recurring": []any{map[string]any{"status": "ACTIVE", "amount": "0.0125"}}},
						map[string]any{"serviceId": install.ID, "currency": "USD", "oneTime": "25"},
						map[string]any{"serviceId": install.ID, "currency": "JPY", "oneTime": "3000"},
					}},
					map[string]any{"name": "Quarterly", "interval": "MONTH", "intervalCount": 3, "prices": []any{
						map[string]any{"serviceId": internet.ID, "currency": "USD",
							"recurring": []any{map[string]any{"status": "ACTIVE", "amount": "135.5"}}},
						map[string]any{"serviceId": install.ID, "currency": "USD", "oneTime": "20.5"},
					}},
				},
			}}, &created)
		pkg := created.CreatePackage
		sortPackage(&pkg)
		require.NotEmpty(t, pkg.ID)
		require.Len(t, pkg.Frequencies, 2)

		// What the rules make of that input: amounts print with at least the currency's
		// places ("50" is "50.00" in USD, "1200" stays "1200" in JPY, "0.0125" keeps its
		// four), optional services default to 0..0, others to min 1 and default = min,
		// intervalCount defaults to 1, oneTimeBilling and the other flags to false.
		owner := func(f *flowFrequency) {
			f.Package.ID, f.Package.Name = pkg.ID, "Home Fibre"
		}
		monthlyFreq := flowFrequency{ID: pkg.Frequencies[0].ID, Name: "Monthly", Interval: "MONTH", IntervalCount: 1,
			Prices: []flowServicePrice{
				{Service: install, Currency: curJPY, Recurring: []flowStatusPrice{}, OneTime: flowPtr("3000"), Transitions: []flowTransitionPrice{}},
				{Service: install, Currency: curUSD, Recurring: []flowStatusPrice{}, OneTime: flowPtr("25.00"), Transitions: []flowTransitionPrice{}},
				{Service: internet, Currency: curJPY,
					Recurring:   []flowStatusPrice{{stActive, "1200"}, {stSuspended, "300"}},
					Transitions: []flowTransitionPrice{}},
				{Service: internet, Currency: curUSD,
					Recurring:   []flowStatusPrice{{stActive, "50.00"}, {stSuspended, "10.00"}},
					Transitions: []flowTransitionPrice{{stActive, stCanceled, "15.00"}}},
				{Service: staticIP, Currency: curUSD,
					Recurring:   []flowStatusPrice{{stActive, "0.0125"}},
					Transitions: []flowTransitionPrice{}},
			}}
		owner(&monthlyFreq)
		quarterly := flowFrequency{ID: pkg.Frequencies[1].ID, Name: "Quarterly", Interval: "MONTH", IntervalCount: 3,
			Prices: []flowServicePrice{
				{Service: install, Currency: curUSD, Recurring: []flowStatusPrice{}, OneTime: flowPtr("20.50"), Transitions: []flowTransitionPrice{}},
				{Service: internet, Currency: curUSD,
					Recurring:   []flowStatusPrice{{stActive, "135.50"}},
					Transitions: []flowTransitionPrice{}},
			}}
		owner(&quarterly)
		want := flowPackage{
			ID: pkg.ID, Name: "Home Fibre", Description: flowPtr("Fibre at home"),
			StartDate: flowPtr("2024-01-01"), ExpiryDate: flowPtr("2025-01-01"),
			DefaultStatus:  stPending,
			OneTimeBilling: false, ChargeFullPeriod: false, Postpaid: true, BulkQuantity: false, InUse: false,
			Currencies: []flowCurrency{curJPY, curUSD},
			Services: []flowPackageService{
				{Service: install, MinInstances: 1, DefaultInstances: 1, MaxInstances: nil, Optional: false},
				{Service: internet, MinInstances: 1, DefaultInstances: 2, MaxInstances: flowPtr(5), Optional: false},
				{Service: staticIP, MinInstances: 0, DefaultInstances: 0, MaxInstances: nil, Optional: true},
			},
			Frequencies: []flowFrequency{monthlyFreq, quarterly},
		}
		require.Equal(t, want, pkg, "createPackage result")
		require.Equal(t, want, readPackage(t, b, pkg.ID), "package read back")

		// The frequency is a node of its own with the same prices.
		var fq struct{ Node flowFrequency }
		b.MustQuery(`query($id: ID!) { node(id: $id) { ...Freq } }`+fragsFrequency, map[string]any{"id": quarterly.ID}, &fq)
		sortFrequency(&fq.Node)
		require.Equal(t, quarterly, fq.Node)

		// A one-time billing package always charges the full period, and a package
		// with no defaultStatus gets ACTIVE.
		var once struct{ CreatePackage flowPackage }
		b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { ...Pkg } }`+fragsPackage,
			map[string]any{"in": map[string]any{
				"name": "Pay Once", "oneTimeBilling": true, "bulkQuantity": true, "currencies": []any{"USD"},
				"services":    []any{map[string]any{"serviceId": internet.ID}},
				"frequencies": []any{monthlyPriceInput(internet.ID, "USD", "99.99")},
			}}, &once)
		po := once.CreatePackage
		require.Equal(t, "Pay Once", po.Name)
		require.Nil(t, po.Description)
		require.Nil(t, po.StartDate)
		require.Nil(t, po.ExpiryDate)
		require.Equal(t, stActive, po.DefaultStatus)
		require.True(t, po.OneTimeBilling)
		require.True(t, po.ChargeFullPeriod, "oneTimeBilling implies chargeFullPeriod")
		require.False(t, po.Postpaid)
		require.True(t, po.BulkQuantity)
		require.Equal(t, []flowCurrency{curUSD}, po.Currencies)
		require.Equal(t, []flowPackageService{{Service: internet, MinInstances: 1, DefaultInstances: 1}}, po.Services)

		// ---- updatePackage: the fields given change, the others stay.
		var upd struct{ UpdatePackage flowPackage }
		b.MustQuery(`mutation($id: ID!, $in: UpdatePackageInput!) { updatePackage(id: $id, input: $in) { ...Pkg } }`+fragsPackage,
			map[string]any{"id": pkg.ID, "in": map[string]any{
				"name": "Home Fibre Plus", "description": "Faster fibre", "expiryDate": "2026-01-01",
				"defaultStatus": "ACTIVE", "chargeFullPeriod": true, "postpaid": false,
			}}, &upd)
		sortPackage(&upd.UpdatePackage)
		want.Name, want.Description, want.ExpiryDate = "Home Fibre Plus", flowPtr("Faster fibre"), flowPtr("2026-01-01")
		want.DefaultStatus, want.ChargeFullPeriod, want.Postpaid = stActive, true, false
		for i := range want.Frequencies {
			want.Frequencies[i].Package.Name = "Home Fibre Plus"
		}
		require.Equal(t, want, upd.UpdatePackage)
		require.Equal(t, want, readPackage(t, b, pkg.ID))

		// A package may take its own name in another letter case.
		b.MustQuery(`mutation($id: ID!) { updatePackage(id: $id, input: {name: "HOME FIBRE PLUS"}) { id } }`,
			map[string]any{"id": pkg.ID}, nil)
		want.Name = "HOME FIBRE PLUS"
		for i := range want.Frequencies {
			want.Frequencies[i].Package.Name = "HOME FIBRE PLUS"
		}
		require.Equal(t, want, readPackage(t, b, pkg.ID))

		// The bulk component comes off and back on a package without optional services.
		for _, bulk := range []bool{false, true} {
			var out struct{ UpdatePackage struct{ BulkQuantity bool } }
			b.MustQuery(`mutation($id: ID!, $bulk: Boolean) { updatePackage(id: $id, input: {bulkQuantity: $bulk}) { bulkQuantity } }`,
				map[string]any{"id": po.ID, "bulk": bulk}, &out)
			require.Equal(t, bulk, out.UpdatePackage.BulkQuantity)
		}

		// ---- addPackageFrequency.
		var added struct{ AddPackageFrequency flowFrequency }
		b.MustQuery(`mutation($id: ID!, $in: PackageFrequencyInput!) { addPackageFrequency(packageId: $id, input: $in) { ...Freq } }`+fragsFrequency,
			map[string]any{"id": pkg.ID, "in": map[string]any{
				"name": "Yearly", "interval": "YEAR", "intervalCount": 1,
				"prices": []any{
					map[string]any{"serviceId": internet.ID, "currency": "USD",
						"recurring": []any{map[string]any{"status": "ACTIVE", "amount": "500"}}},
					map[string]any{"serviceId": internet.ID, "currency": "JPY",
						"recurring": []any{map[string]any{"status": "ACTIVE", "amount": "60000"}}},
					map[string]any{"serviceId": install.ID, "currency": "JPY", "oneTime": "0"},
				},
			}}, &added)
		yearly := added.AddPackageFrequency
		sortFrequency(&yearly)
		require.NotEmpty(t, yearly.ID)
		wantYearly := flowFrequency{ID: yearly.ID, Name: "Yearly", Interval: "YEAR", IntervalCount: 1,
			Prices: []flowServicePrice{
				{Service: install, Currency: curJPY, Recurring: []flowStatusPrice{}, OneTime: flowPtr("0"), Transitions: []flowTransitionPrice{}},
				{Service: internet, Currency: curJPY, Recurring: []flowStatusPrice{{stActive, "60000"}}, Transitions: []flowTransitionPrice{}},
				{Service: internet, Currency: curUSD, Recurring: []flowStatusPrice{{stActive, "500.00"}}, Transitions: []flowTransitionPrice{}},
			}}
		wantYearly.Package.ID, wantYearly.Package.Name = pkg.ID, "HOME FIBRE PLUS"
		require.Equal(t, wantYearly, yearly)
		want.Frequencies = append(want.Frequencies, wantYearly)
		require.Equal(t, want, readPackage(t, b, pkg.ID))

		// ---- addPackageService: defaults as in createPackage.
		support := flowCreateService(t, b, "Support", nil, "RECURRING")
		router := flowCreateService(t, b, "Router", flowPtr("Wi-Fi router"), "RECURRING")
		addSvc := func(pkgID string, in map[string]any) flowPackageService {
			var out struct{ AddPackageService flowPackageService }
			b.MustQuery(`mutation($id: ID!, $in: PackageServiceInput!) { addPackageService(packageId: $id, input: $in) {
				service { id name description kind } minInstances defaultInstances maxInstances optional } }`,
				map[string]any{"id": pkgID, "in": in}, &out)
			return out.AddPackageService
		}
		supportPS := flowPackageService{Service: support, MinInstances: 1, DefaultInstances: 1}
		routerPS := flowPackageService{Service: router, MinInstances: 0, DefaultInstances: 0, MaxInstances: flowPtr(3), Optional: true}
		require.Equal(t, supportPS, addSvc(pkg.ID, map[string]any{"serviceId": support.ID}))
		require.Equal(t, routerPS, addSvc(pkg.ID, map[string]any{"serviceId": router.ID, "optional": true, "maxInstances": 3}))
		want.Services = append(want.Services, routerPS, supportPS)
		sortPackage(&want)
		require.Equal(t, want, readPackage(t, b, pkg.ID))
		// A required service joins a bulk package.
		require.Equal(t, flowPackageService{Service: support, MinInstances: 2, DefaultInstances: 4, MaxInstances: flowPtr(4)},
			addSvc(po.ID, map[string]any{"serviceId": support.ID, "minInstances": 2, "defaultInstances": 4, "maxInstances": 4}))

		// ---- deletePackage of an unused package removes it and all its rows.
		before := allTableCounts(t, b)
		var tmp struct{ CreatePackage flowPackage }
		b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { ...Pkg } }`+fragsPackage,
			map[string]any{"in": map[string]any{
				"name": "Temporary", "currencies": []any{"USD", "JPY"},
				"services": []any{
					map[string]any{"serviceId": internet.ID},
					map[string]any{"serviceId": install.ID},
				},
				"frequencies": []any{
					map[string]any{"name": "Monthly", "interval": "MONTH", "prices": []any{
						map[string]any{"serviceId": internet.ID, "currency": "USD",
							"recurring": []any{
								map[string]any{"status": "ACTIVE", "amount": "50"},
								map[string]any{"status": "SUSPENDED", "amount": "10"},
							},
							"transitions": []any{map[string]any{"from": "ACTIVE", "to": "CANCELED", "amount": "15"}}},
						map[string]any{"serviceId": install.ID, "currency": "JPY", "oneTime": "3000"},
					}},
					map[string]any{"name": "Weekly", "interval": "WEEK", "prices": []any{
						map[string]any{"serviceId": internet.ID, "currency": "JPY",
							"recurring": []any{map[string]any{"status": "ACTIVE", "amount": "300"}}},
					}},
				},
			}}, &tmp)
		// The rows that input makes: one package, two currencies, two package services,
		// two frequencies, three service prices, three status prices, one transition.
		grown := allTableCounts(t, b)
		for tbl, n := range map[string]int{"packages": 1, "catalog_package_currencies": 2, "package_services": 2,
			"package_frequencies": 2, "service_prices": 3, "status_prices": 3, "transition_prices": 1} {
			require.Equal(t, before[tbl]+n, grown[tbl], "rows of %s after createPackage", tbl)
		}
		var del struct{ DeletePackage string }
		b.MustQuery(`mutation($id: ID!) { deletePackage(id: $id) }`, map[string]any{"id": tmp.CreatePackage.ID}, &del)
		require.Equal(t, tmp.CreatePackage.ID, del.DeletePackage)
		require.Equal(t, before, allTableCounts(t, b), "deletePackage left rows behind")
		b.MustBeGone(tmp.CreatePackage.ID)
		b.MustBeGone(tmp.CreatePackage.Frequencies[0].ID)

		var list struct {
			Packages struct {
				TotalCount int
				Edges      []struct{ Node struct{ Name string } }
			}
		}
		b.MustQuery(`{ packages { totalCount edges { node { name } } } }`, nil, &list)
		require.Equal(t, 2, list.Packages.TotalCount)
		require.Equal(t, "HOME FIBRE PLUS", list.Packages.Edges[0].Node.Name)
		require.Equal(t, "Pay Once", list.Packages.Edges[1].Node.Name)
	})
}

type flowAccount struct {
	ID       string
	Name     string
	Currency flowCurrency
	BillDay  int
	Balance  string
}

const accountFields = `id name currency { code name precision } billDay balance`

// TestAccountFlow opens accounts, changes them, and reads their zero balances in their
// currency's precision.
func TestAccountFlow(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		create := func(name, cur string, day int) flowAccount {
			var out struct{ CreateAccount flowAccount }
			b.MustQuery(`mutation($in: CreateAccountInput!) { createAccount(input: $in) { `+accountFields+` } }`,
				map[string]any{"in": map[string]any{"name": name, "currency": cur, "billDay": day}}, &out)
			require.NotEmpty(t, out.CreateAccount.ID)
			return out.CreateAccount
		}
		acme := create("Acme", "USD", 31)
		require.Equal(t, flowAccount{acme.ID, "Acme", curUSD, 31, "0.00"}, acme)
		tokyo := create("Tokyo Trading", "JPY", 1)
		require.Equal(t, flowAccount{tokyo.ID, "Tokyo Trading", curJPY, 1, "0"}, tokyo)

		update := func(id string, in map[string]any) flowAccount {
			var out struct{ UpdateAccount flowAccount }
			b.MustQuery(`mutation($id: ID!, $in: UpdateAccountInput!) { updateAccount(id: $id, input: $in) { `+accountFields+` } }`,
				map[string]any{"id": id, "in": in}, &out)
			return out.UpdateAccount
		}
		require.Equal(t, flowAccount{acme.ID, "Acme Ltd", curUSD, 31, "0.00"}, update(acme.ID, map[string]any{"name": "Acme Ltd"}))
		require.Equal(t, flowAccount{acme.ID, "Acme Ltd", curUSD, 15, "0.00"}, update(acme.ID, map[string]any{"billDay": 15}))

		var read struct {
			Node struct {
				flowAccount
				AccountPackages struct{ TotalCount int }
				Invoices        struct{ TotalCount int }
			}
		}
		b.MustQuery(`query($id: ID!) { node(id: $id) { ... on Account { `+accountFields+`
			accountPackages { totalCount } invoices { totalCount } } } }`, map[string]any{"id": acme.ID}, &read)
		require.Equal(t, flowAccount{acme.ID, "Acme Ltd", curUSD, 15, "0.00"}, read.Node.flowAccount)
		require.Zero(t, read.Node.AccountPackages.TotalCount)
		require.Zero(t, read.Node.Invoices.TotalCount)

		var list struct {
			Accounts struct {
				TotalCount int
				Edges      []struct{ Node flowAccount }
			}
		}
		b.MustQuery(`{ accounts { totalCount edges { node { `+accountFields+` } } } }`, nil, &list)
		require.Equal(t, 2, list.Accounts.TotalCount)
		require.Equal(t, []flowAccount{
			{acme.ID, "Acme Ltd", curUSD, 15, "0.00"},
			{tokyo.ID, "Tokyo Trading", curJPY, 1, "0"},
		}, []flowAccount{list.Accounts.Edges[0].Node, list.Accounts.Edges[1].Node})
	})
}

// TestNodes resolves every catalog and account type by id, alone and in a batch, and
// refuses an id that is not a node.
func TestNodes(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		svc := flowCreateService(t, b, "Voice", nil, "RECURRING")
		var p struct {
			CreatePackage struct {
				ID          string
				Frequencies []struct{ ID string }
			}
		}
		b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { id frequencies { id } } }`,
			map[string]any{"in": map[string]any{
				"name": "Voice Plan", "currencies": []any{"EUR"},
				"services":    []any{map[string]any{"serviceId": svc.ID}},
				"frequencies": []any{monthlyPriceInput(svc.ID, "EUR", "9.90")},
			}}, &p)
		require.Len(t, p.CreatePackage.Frequencies, 1)
		freqID := p.CreatePackage.Frequencies[0].ID
		var a struct{ CreateAccount struct{ ID string } }
		b.MustQuery(`mutation { createAccount(input: {name: "Berlin GmbH", currency: "EUR", billDay: 10}) { id } }`, nil, &a)

		type node struct {
			ID       string
			Typename string `json:"__typename"`
			Name     string
		}
		const sel = `id __typename
			... on Service { name } ... on Package { name } ... on PackageFrequency { name } ... on Account { name }`
		want := []node{
			{svc.ID, "Service", "Voice"},
			{p.CreatePackage.ID, "Package", "Voice Plan"},
			{freqID, "PackageFrequency", "Monthly"},
			{a.CreateAccount.ID, "Account", "Berlin GmbH"},
		}
		ids := make([]string, len(want))
		for i, w := range want {
			ids[i] = w.ID
			var out struct{ Node node }
			b.MustQuery(`query($id: ID!) { node(id: $id) { `+sel+` } }`, map[string]any{"id": w.ID}, &out)
			require.Equal(t, w, out.Node)
		}
		var many struct{ Nodes []node }
		b.MustQuery(`query($ids: [ID!]!) { nodes(ids: $ids) { `+sel+` } }`, map[string]any{"ids": ids}, &many)
		require.Equal(t, want, many.Nodes)

		// A currency has an id inside the database but is no node of the API.
		curID, err := b.DB.Client.Currency.Query().Where(currency.Code("EUR")).OnlyID(context.Background())
		require.NoError(t, err)
		cur := strconv.Itoa(curID)
		b.MustBeGone(cur)
		r := b.Query(`query($ids: [ID!]!) { nodes(ids: $ids) { `+sel+` } }`, map[string]any{"ids": []string{svc.ID, cur}})
		require.Empty(t, r.Errors)
		var partial struct{ Nodes []*node }
		require.NoError(t, json.Unmarshal(r.Data, &partial))
		require.Equal(t, []*node{{svc.ID, "Service", "Voice"}, nil}, partial.Nodes)
	})
}

type servicePage struct {
	Services struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage     bool
			HasPreviousPage bool
			StartCursor     *string
			EndCursor       *string
		}
		Edges []struct {
			Cursor string
			Node   struct{ Name string }
		}
	}
}

func (p servicePage) names() []string {
	out := make([]string, len(p.Services.Edges))
	for i, e := range p.Services.Edges {
		out[i] = e.Node.Name
	}
	return out
}

func serviceNames(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("Svc %02d", i))
	}
	return out
}

// TestServiceConnection pages through services forwards and backwards, and checks that
// a cursor keeps its place while rows are added.
func TestServiceConnection(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		for i := 1; i <= 25; i++ {
			flowCreateService(t, b, fmt.Sprintf("Svc %02d", i), nil, "RECURRING")
		}
		const qServicePage = `query($first: Int, $after: Cursor, $last: Int, $before: Cursor) {
				services(first: $first, after: $after, last: $last, before: $before) {
					totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
					edges { cursor node { name } } } }`
		page := func(vars map[string]any) servicePage {
			var out servicePage
			b.MustQuery(qServicePage, vars, &out)
			s := out.Services
			if n := len(s.Edges); n > 0 {
				require.Equal(t, s.Edges[0].Cursor, *s.PageInfo.StartCursor)
				require.Equal(t, s.Edges[n-1].Cursor, *s.PageInfo.EndCursor)
			}
			return out
		}

		// Forwards, ten at a time, until there is no next page.
		var got []string
		var cursors []string
		after := any(nil)
		for n := 0; ; n++ {
			require.Less(t, n, 3, "more pages than 25 services make")
			p := page(map[string]any{"first": 10, "after": after})
			require.Equal(t, 25, p.Services.TotalCount)
			got = append(got, p.names()...)
			for _, e := range p.Services.Edges {
				cursors = append(cursors, e.Cursor)
			}
			if !p.Services.PageInfo.HasNextPage {
				require.Equal(t, 2, n, "hasNextPage false on the third page")
				require.Len(t, p.Services.Edges, 5)
				break
			}
			require.Len(t, p.Services.Edges, 10)
			after = *p.Services.PageInfo.EndCursor
		}
		require.Equal(t, serviceNames(1, 25), got)

		// A cursor keeps its place while rows are added.
		first := page(map[string]any{"first": 10})
		require.False(t, first.Services.PageInfo.HasPreviousPage)
		require.True(t, first.Services.PageInfo.HasNextPage)
		for i := 26; i <= 28; i++ {
			flowCreateService(t, b, fmt.Sprintf("Svc %02d", i), nil, "RECURRING")
		}
		second := page(map[string]any{"first": 10, "after": *first.Services.PageInfo.EndCursor})
		require.Equal(t, 28, second.Services.TotalCount)
		require.Equal(t, serviceNames(11, 20), second.names())
		require.True(t, second.Services.PageInfo.HasPreviousPage)
		require.True(t, second.Services.PageInfo.HasNextPage)
		// Cursors of edges name the same rows as before.
		for i, e := range second.Services.Edges {
			require.Equal(t, cursors[10+i], e.Cursor)
		}

		// The last five.
		last := page(map[string]any{"last": 5})
		require.Equal(t, 28, last.Services.TotalCount)
		require.Equal(t, serviceNames(24, 28), last.names())
		require.True(t, last.Services.PageInfo.HasPreviousPage)
		require.False(t, last.Services.PageInfo.HasNextPage)

		// Backwards from the 11th: the five before it, then the rest.
		before := page(map[string]any{"last": 5, "before": cursors[10]})
		require.Equal(t, serviceNames(6, 10), before.names())
		require.True(t, before.Services.PageInfo.HasPreviousPage)
		require.True(t, before.Services.PageInfo.HasNextPage)
		rest := page(map[string]any{"last": 10, "before": *before.Services.PageInfo.StartCursor})
		require.Equal(t, serviceNames(1, 5), rest.names())
		require.False(t, rest.Services.PageInfo.HasPreviousPage)
		// Windows that mix directions (first with before, last with after) are
		// refused with the argument at fault, not answered with a wrong window.
		for _, tc := range []struct {
			vars  map[string]any
			field string
		}{
			{map[string]any{"first": 3, "before": cursors[10]}, "before"},
			{map[string]any{"last": 3, "after": cursors[19]}, "after"},
			{map[string]any{"first": 100, "after": cursors[4], "before": cursors[9]}, "before"},
			{map[string]any{"first": 1, "last": 1}, "last"},
		} {
			e := b.MustFail(qServicePage, tc.vars, "BAD_USER_INPUT")
			require.Equal(t, tc.field, e.Field())
		}
		// Past the end there is nothing.
		end := page(map[string]any{"first": 10, "after": *last.Services.PageInfo.EndCursor})
		require.Empty(t, end.Services.Edges)
		require.False(t, end.Services.PageInfo.HasNextPage)
		require.Nil(t, end.Services.PageInfo.EndCursor)
	})
}
