package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// TestPageBalances: a page of accounts gets its balances in bulk, and each equals the
// account's balance read on its own (15.00 per billed account; 0.00 before billing).
func TestPageBalances(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		seedAccounts(t, b, 30)
		type page struct {
			Accounts struct {
				Edges []struct {
					Node struct {
						ID      string
						Balance string
					}
				}
			}
		}
		read := func() page {
			var p page
			b.MustQuery(`{ accounts(first: 50) { edges { node { id balance } } } }`, nil, &p)
			require.Len(t, p.Accounts.Edges, 30)
			return p
		}
		for _, e := range read().Accounts.Edges {
			require.Equal(t, "0.00", e.Node.Balance)
		}
		b.MustQuery(`mutation { startBillRun(input: {periodStart: "2024-01-01", periodEnd: "2024-01-31", wait: true}) { status } }`, nil, nil)
		for _, e := range read().Accounts.Edges {
			require.Equal(t, "15.00", e.Node.Balance)
			var one struct{ Node struct{ Balance string } }
			b.MustQuery(`query($id: ID!) { node(id: $id) { ... on Account { balance } } }`, map[string]any{"id": e.Node.ID}, &one)
			require.Equal(t, e.Node.Balance, one.Node.Balance)
		}
	})
}
