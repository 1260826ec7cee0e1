package graph_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// listEnv is an instance whose plain lists answer at most five rows, with a weekly
// 7.00 package billed for January and February 2024 on one account (nine weekly
// periods: Jan 1, 8, 15, 22, 29, Feb 5, 12, 19, 26, so nine lines, 63.00) and a
// monthly 10.00 package on another (two lines, 20.00).
type listEnv struct {
	*bxEnv
	Weekly, Monthly     string // account-packages
	WeeklyInv, MonthInv string // their invoices
}

func newListEnv(t *testing.T, dialect string, limits access.Limits) *listEnv {
	t.Helper()
	limits.MaxListRows = 5
	url := testenv.DatabaseURL(t, dialect)
	e := &bxEnv{t: t, b: testenv.StartWith(t, dialect, server.Config{DatabaseURL: url, Limits: access.Limits{MaxListRows: 5}})}
	week := e.service("Weekly line", "RECURRING")
	month := e.service("Monthly line", "RECURRING")
	pw := e.pkg("Weekly", nil, []string{week}, "WEEK", bxPrice(week, "ACTIVE", "7.00"))
	pm := e.pkg("Monthly", nil, []string{month}, "MONTH", bxPrice(month, "ACTIVE", "10.00"))
	aw, am := e.account("Weekly customer", 1), e.account("Monthly customer", 1)
	le := &listEnv{bxEnv: e, Weekly: e.provision(pw, aw, "2024-01-01", nil)[0], Monthly: e.provision(pm, am, "2024-01-01", nil)[0]}
	run := e.run("2024-01-01", "2024-02-29", nil)
	require.Equal(t, "COMPLETED", run.Status)
	require.Equal(t, 11, run.ChargesCreated)
	var invs struct {
		Invoices struct {
			Edges []struct {
				Node struct {
					ID      string
					Account struct{ ID string }
				}
			}
		}
	}
	e.b.MustQuery(`{ invoices { edges { node { id account { id } } } } }`, nil, &invs)
	for _, ed := range invs.Invoices.Edges {
		switch ed.Node.Account.ID {
		case aw:
			le.WeeklyInv = ed.Node.ID
		case am:
			le.MonthInv = ed.Node.ID
		}
	}
	require.NotEmpty(t, le.WeeklyInv)
	require.NotEmpty(t, le.MonthInv)
	// The instance under test, on the same database, has the limits asked for.
	le.b = testenv.StartWith(t, dialect, server.Config{DatabaseURL: url, Limits: limits, NoWorkers: true})
	return le
}

// TestBoundedLists proves that a plain list answers its rows up to the list bound,
// refuses a parent holding more with RESULT_TOO_LARGE naming the connection beside
// the list, and that the connection pages through all of them.
func TestBoundedLists(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := newListEnv(t, dialect, access.Limits{})
			b := e.b

			// One query over both invoices: the monthly one's two lines come back,
			// the weekly one's nine are refused, and only that field fails.
			r := b.Query(`{ invoices { edges { node { id total lines { amount } } } } }`, nil)
			require.Len(t, r.Errors, 1, "errors %+v", r.Errors)
			tooMany := r.Errors[0]
			require.Equal(t, "RESULT_TOO_LARGE", tooMany.Code())
			require.Equal(t, "lines", tooMany.Field())
			require.Equal(t, "linesConnection", tooMany.Extensions["connection"])
			require.Contains(t, tooMany.Message, "has 9 lines, more than the 5 a list returns")
			var got struct {
				Invoices struct {
					Edges []struct {
						Node *struct {
							ID, Total string
							Lines     []struct{ Amount string }
						}
					}
				}
			}
			require.NoError(t, json.Unmarshal(r.Data, &got))
			require.Len(t, got.Invoices.Edges, 2)
			seen := 0
			for _, ed := range got.Invoices.Edges {
				if ed.Node == nil { // lines is non-null: the weekly invoice's node is null
					continue
				}
				seen++
				require.Equal(t, e.MonthInv, ed.Node.ID)
				require.Equal(t, "20.00", ed.Node.Total)
				require.Equal(t, []struct{ Amount string }{{"10.00"}, {"10.00"}}, ed.Node.Lines)
			}
			require.Equal(t, 1, seen)

			// The connection reads the nine lines five at a time.
			var amounts []string
			var after any
			for page := 0; ; page++ {
				require.Less(t, page, 3)
				var out struct {
					Node struct {
						LinesConnection struct {
							TotalCount int
							Edges      []struct {
								Node struct{ Amount, PeriodStart string }
							}
							PageInfo struct {
								HasNextPage bool
								EndCursor   string
							}
						}
					}
				}
				b.MustQuery(`query($id: ID!, $after: Cursor) { node(id: $id) { ... on Invoice {
					linesConnection(first: 5, after: $after) { totalCount edges { node { amount periodStart } }
					pageInfo { hasNextPage endCursor } } } } }`, map[string]any{"id": e.WeeklyInv, "after": after}, &out)
				c := out.Node.LinesConnection
				require.Equal(t, 9, c.TotalCount)
				for _, ed := range c.Edges {
					amounts = append(amounts, ed.Node.Amount)
				}
				if !c.PageInfo.HasNextPage {
					break
				}
				after = c.PageInfo.EndCursor
			}
			require.Equal(t, strings.Split(strings.Repeat("7.00,", 9), ",")[:9], amounts)

			// The same for an account-package's charges.
			e2 := b.MustFail(`query($id: ID!) { node(id: $id) { ... on AccountPackage { charges { amount } } } }`,
				map[string]any{"id": e.Weekly}, "RESULT_TOO_LARGE")
			require.Equal(t, "charges", e2.Field())
			require.Equal(t, "chargesConnection", e2.Extensions["connection"])
			var charges struct {
				Node struct {
					Charges           []struct{ Amount string }
					ChargesConnection struct{ TotalCount int }
				}
			}
			b.MustQuery(`query($id: ID!) { node(id: $id) { ... on AccountPackage { charges { amount }
				chargesConnection(first: 1) { totalCount } } } }`, map[string]any{"id": e.Monthly}, &charges)
			require.Len(t, charges.Node.Charges, 2)
			require.Equal(t, 2, charges.Node.ChargesConnection.TotalCount)
			b.MustQuery(`query($id: ID!) { node(id: $id) { ... on AccountPackage { chargesConnection(first: 1) { totalCount } } } }`,
				map[string]any{"id": e.Weekly}, &charges)
			require.Equal(t, 9, charges.Node.ChargesConnection.TotalCount)

			// Ten aliases of the refused list: ten refusals, no rows read for any.
			var aliases []string
			for i := range 10 {
				aliases = append(aliases, fmt.Sprintf("l%d: lines { id amount }", i))
			}
			r = b.Query(`query($id: ID!) { node(id: $id) { ... on Invoice { `+strings.Join(aliases, " ")+` } } }`,
				map[string]any{"id": e.WeeklyInv})
			require.Len(t, r.Errors, 10)
			for _, err := range r.Errors {
				require.Equal(t, "RESULT_TOO_LARGE", err.Code())
				require.Equal(t, "linesConnection", err.Extensions["connection"])
			}
		})
	}
}

// TestBoundedServicesList adds services to an account-package until its services
// list holds more than the bound.
func TestBoundedServicesList(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			e := &bxEnv{t: t, b: testenv.StartWith(t, dialect, server.Config{Limits: access.Limits{MaxListRows: 5}})}
			seat := e.service("Seat", "RECURRING")
			p := e.pkg("Seats", nil, []string{seat}, "MONTH", bxPrice(seat, "ACTIVE", "3.00"))
			ap := e.provision(p, e.account("Office", 1), "2024-01-01", nil)[0]
			read := func() testenv.Response {
				return e.b.Query(`query($id: ID!) { node(id: $id) { ... on AccountPackage { services { quantity }
					servicesConnection(first: 2) { totalCount } } } }`, map[string]any{"id": ap})
			}
			for n := 1; n <= 6; n++ {
				if n > 1 {
					e.b.MustQuery(`mutation($id: ID!) { addAccountService(accountPackageId: $id, input: {serviceId: "`+seat+`"}) { id } }`,
						map[string]any{"id": ap}, nil)
				}
				r := read()
				if n <= 5 {
					require.Empty(t, r.Errors, "%d services", n)
					var out struct {
						Node struct {
							Services           []struct{ Quantity int }
							ServicesConnection struct{ TotalCount int }
						}
					}
					require.NoError(t, json.Unmarshal(r.Data, &out))
					require.Len(t, out.Node.Services, n)
					require.Equal(t, n, out.Node.ServicesConnection.TotalCount)
					continue
				}
				require.Len(t, r.Errors, 1)
				require.Equal(t, "RESULT_TOO_LARGE", r.Errors[0].Code())
				require.Equal(t, "servicesConnection", r.Errors[0].Extensions["connection"])
				require.Contains(t, r.Errors[0].Message, "has 6 services, more than the 5")
			}
		})
	}
}

// TestListComplexity proves that the complexity limit counts a plain list at the
// list bound. { invoices(first: N) { edges { node { lines { id amount } } } } } costs
// lines 1 + 5×2 = 11, node 1 + 11 = 12, edges 1 + 12 = 13, invoices 1 + N×13: 27 for
// N = 2 and 40 for N = 3.
func TestListComplexity(t *testing.T) {
	t.Parallel()
	e := newListEnv(t, "sqlite", access.Limits{MaxComplexity: 27})
	q := `query($n: Int!) { invoices(first: $n) { edges { node { lines { id amount } } } } }`
	r := e.b.Query(q, map[string]any{"n": 2})
	require.NotEmpty(t, r.Data)
	for _, err := range r.Errors {
		require.NotEqual(t, "COMPLEXITY_LIMIT_EXCEEDED", err.Code(), "27 is within the limit")
	}
	err := e.b.MustFail(q, map[string]any{"n": 3}, "COMPLEXITY_LIMIT_EXCEEDED")
	require.Contains(t, err.Message, "operation has complexity 40, which exceeds the limit of 27")
}

// TestCatalogListComplexity proves that catalog lists count at the longest such list
// in the database, refreshed after a catalog change: { packages(first: 1) { edges {
// node { services { optional } } } } } costs services 1 + S×1, node 1 + that, edges 1
// + that, packages 1 + 1×that: 4 + S, for S the most services any package has.
func TestCatalogListComplexity(t *testing.T) {
	t.Parallel()
	e := &bxEnv{t: t, b: testenv.StartWith(t, "sqlite", server.Config{Limits: access.Limits{MaxComplexity: 6}})}
	a, b, c := e.service("A", "RECURRING"), e.service("B", "RECURRING"), e.service("C", "RECURRING")
	e.pkg("Two", nil, []string{a, b}, "MONTH", bxPrice(a, "ACTIVE", "1.00"))
	q := `{ packages(first: 1) { edges { node { services { optional } } } } }`
	e.b.MustQuery(q, nil, nil) // 4 + 2 = 6
	e.pkg("Three", nil, []string{a, b, c}, "MONTH", bxPrice(a, "ACTIVE", "1.00"))
	err := e.b.MustFail(q, nil, "COMPLEXITY_LIMIT_EXCEEDED") // 4 + 3 = 7
	require.Contains(t, err.Message, "operation has complexity 7, which exceeds the limit of 6")
}

// TestNodesBound proves that nodes(ids) refuses more ids than the bound, and answers
// null, with no error, in the place of an id that names nothing (Relay).
func TestNodesBound(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		e := &bxEnv{t: t, b: b}
		svc := e.service("Line", "RECURRING")
		acc := e.account("Ada", 1)
		ids := []string{acc, svc, "999999999", acc}
		for len(ids) < 100 {
			ids = append(ids, svc)
		}
		var out struct {
			Nodes []*struct {
				ID       string
				Typename string `json:"__typename"`
			}
		}
		r := b.Query(`query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }`, map[string]any{"ids": ids})
		require.Empty(t, r.Errors)
		require.NoError(t, json.Unmarshal(r.Data, &out))
		require.Len(t, out.Nodes, 100)
		require.Equal(t, acc, out.Nodes[0].ID)
		require.Equal(t, "Account", out.Nodes[0].Typename)
		require.Equal(t, "Service", out.Nodes[1].Typename)
		require.Nil(t, out.Nodes[2], "an id that names nothing answers null")
		require.Equal(t, acc, out.Nodes[3].ID)
		require.Equal(t, svc, out.Nodes[99].ID)
		b.MustBeGone("999999999")

		err := b.MustFail(`query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": append(ids, svc)}, "BAD_USER_INPUT")
		require.Equal(t, "ids", err.Field())
		require.Contains(t, err.Message, "at most 100 ids, got 101")
	})
}
