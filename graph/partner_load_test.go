package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// partnerSetup makes a partner with two of an instance's five accounts and a PARTNER
// key for it; the instance has no workers of its own.
func partnerSetup(t *testing.T, b *testenv.Billd) (e *bxEnv, partnerView *testenv.Billd, p bxPkg) {
	t.Helper()
	e = &bxEnv{t: t, b: b}
	p, accs, _ := bxSimple(e, "50.00", "A1", "House1", "A2", "House2", "House3")
	reseller := acxCreatePartner(t, b, "Reseller")
	for _, acc := range []string{accs[0], accs[2]} {
		b.MustQuery(`mutation($id: ID!, $p: ID!) { updateAccount(id: $id, input: {partnerId: $p}) { id } }`,
			map[string]any{"id": acc, "p": reseller}, nil)
	}
	key := acxCreateKey(t, b, "portal", "PARTNER", map[string]any{"partnerId": reseller})
	return e, b.As(key.Key), p
}

// TestPartnerFiguresOncePerResponse proves a PARTNER key's run figures are computed
// once per response, whatever the number of runs and aliases: the statements a
// partner's query costs beyond the same query by an admin are the same for one alias
// and for twenty. (Not parallel: it counts the process's statements.)
func TestPartnerFiguresOncePerResponse(t *testing.T) {
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			b := testenv.StartWith(t, dialect, server.Config{NoWorkers: true})
			e, partner, _ := partnerSetup(t, b)
			ctx, stop := context.WithCancel(context.Background())
			require.NoError(t, b.StartWorkers(ctx))
			for _, m := range []string{"01", "02", "03"} {
				r := e.run("2024-"+m+"-01", "2024-"+m+"-"+map[string]string{"01": "31", "02": "29", "03": "31"}[m], nil)
				require.Equal(t, "COMPLETED", r.Status)
			}
			stop()
			time.Sleep(300 * time.Millisecond) // the workers' last polls

			query := func(aliases int) string {
				var q strings.Builder
				q.WriteString("{ ")
				for i := range aliases {
					fmt.Fprintf(&q, `a%d: billRuns { edges { node { id accountsTotal accountsProcessed accountsFailed
						invoicesCreated chargesCreated totals { currency { code } amount } } } } `, i)
				}
				q.WriteString("}")
				return q.String()
			}
			cost := func(v *testenv.Billd, aliases int) int64 {
				q := query(aliases)
				v.MustQuery(q, nil, nil) // warms what is cached between requests
				before := store.Statements()
				var out map[string]struct {
					Edges []struct{ Node liveRun }
				}
				v.MustQuery(q, nil, &out)
				n := store.Statements() - before
				require.Len(t, out, aliases)
				for _, runs := range out {
					require.Len(t, runs.Edges, 3)
					for _, ed := range runs.Edges {
						if v == partner {
							require.Equal(t, 2, ed.Node.AccountsTotal)
							require.Equal(t, 2, ed.Node.InvoicesCreated)
							require.Equal(t, "100.00", ed.Node.Totals[0].Amount)
						} else {
							require.Equal(t, 5, ed.Node.AccountsTotal)
							require.Equal(t, "250.00", ed.Node.Totals[0].Amount)
						}
					}
				}
				return n
			}
			// A partner's figures cost six statements (its accounts, the runs' batches,
			// failures, invoices, the currencies and the charges) per batch of runs the
			// loader gathers. Runs are cached for the response, so whatever the aliases
			// there are at most as many batches as runs: 3 × 6.
			for _, aliases := range []int{1, 20, 200} {
				p, a := cost(partner, aliases), cost(b, aliases)
				extra := p - a
				require.Positive(t, extra, "%d aliases", aliases)
				require.Zero(t, extra%6, "%d aliases: partner %d, admin %d statements", aliases, p, a)
				require.LessOrEqual(t, extra, int64(18), "%d aliases: partner %d, admin %d statements", aliases, p, a)
			}
		})
	}
}

// TestPartnerProgressOnlyWhenFiguresMove follows a run of many accounts of which one
// is the partner's: the operator sees PROGRESS as the run goes, the partner only when
// its own figures moved.
func TestPartnerProgressOnlyWhenFiguresMove(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := testenv.StartWith(t, dialect, server.Config{NoWorkers: true,
				Billing: billrun.Config{BatchSize: 1, Pause: 40 * time.Millisecond, ProgressEvery: 20 * time.Millisecond}})
			e, partner, p := partnerSetup(t, b)
			for i := range 10 { // fifteen accounts in all, billed one per batch
				e.provision(p, e.account(fmt.Sprintf("House %d", i+4), 1), "2024-01-01", nil)
			}
			id := startRun(t, b)
			admin, mine := followRun(t, b, id), followRun(t, partner, id)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			require.NoError(t, b.StartWorkers(ctx))
			adminEvents, partnerEvents := readRun(t, admin), readRun(t, mine)

			progress := func(evs []liveEvent) int {
				n := 0
				for _, ev := range evs {
					if ev.Kind == "PROGRESS" {
						n++
					}
				}
				return n
			}
			require.GreaterOrEqual(t, progress(adminEvents), 2, "the operator follows the run batch by batch")
			// Each of the partner's two accounts moves its figures at most twice: when
			// its invoice is written, and when its batch is counted done.
			require.LessOrEqual(t, progress(partnerEvents), 4)
			for i := 1; i < len(partnerEvents); i++ {
				if partnerEvents[i].Kind != "PROGRESS" {
					continue
				}
				prev, now := partnerEvents[i-1].BillRun, partnerEvents[i].BillRun
				require.NotEqual(t, prev, now, "PROGRESS %d repeats the partner's figures", i)
			}
			last := partnerEvents[len(partnerEvents)-1].BillRun
			require.Equal(t, "COMPLETED", last.Status)
			require.Equal(t, 2, last.AccountsProcessed)
			require.Equal(t, 2, last.InvoicesCreated)
		})
	}
}
