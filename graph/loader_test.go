package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/seed"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// TestStatementsDoNotGrowWithRows holds that a response's per-row figures (balances,
// bill days, services, charges, invoice lines) are loaded for all the rows of a list
// at once: a page of 100 accounts costs the same statements as a page of 10, however
// the resolvers of its rows happen to be scheduled. (Not parallel: it counts the
// process's statements.)
func TestStatementsDoNotGrowWithRows(t *testing.T) {
	const page = `query($n: Int!) { accounts(first: $n) { totalCount edges { node { id name billDay balance
		currency { code }
		accountPackages(first: 5) { edges { node { id billDay status { code }
			services { quantity service { name } status { code } } charges { amount } } } }
		invoices(last: 2) { edges { node { number total lines { amount } } } } } } } }`
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			b := testenv.StartWith(t, dialect, server.Config{NoWorkers: true})
			work, stop := context.WithCancel(ctx)
			require.NoError(t, b.StartWorkers(work))
			plans, err := seed.MixedCatalog(ctx, b.Server.Catalog)
			require.NoError(t, err)
			_, err = seed.MixedAccounts(ctx, b.Server.DB.Client, plans, 120, nil)
			require.NoError(t, err)
			wait := true
			run, err := b.Server.BillRuns.Start(ctx, billrun.StartInput{PeriodStart: calendar.MustParse("2024-01-01"),
				PeriodEnd: calendar.MustParse("2024-02-01"), Wait: &wait})
			require.NoError(t, err)
			require.Equal(t, "COMPLETED", string(run.Status))
			stop()
			time.Sleep(300 * time.Millisecond) // the workers' last polls, not counted

			cost := func(n int) int64 {
				var out struct {
					Accounts struct {
						Edges []struct {
							Node struct {
								AccountPackages struct {
									Edges []struct {
										Node struct {
											Services []struct{ Quantity int }
										}
									}
								}
							}
						}
					}
				}
				b.MustQuery(page, map[string]any{"n": n}, &out) // warms what is cached between requests
				before := store.Statements()
				b.MustQuery(page, map[string]any{"n": n}, &out)
				spent := store.Statements() - before
				require.Len(t, out.Accounts.Edges, n)
				services := 0
				for _, a := range out.Accounts.Edges {
					for _, p := range a.Node.AccountPackages.Edges {
						services += len(p.Node.Services)
					}
				}
				require.Greater(t, services, n, "every account has a package with a service or more")
				return spent
			}
			ten, hundred := cost(10), cost(100)
			require.Equal(t, ten, hundred, "statements for 10 rows and for 100")
		})
	}
}
