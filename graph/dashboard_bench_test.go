package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/seed"
	"github.com/billd/billd/internal/testenv"
)

// dashboardQuery is the bill-run dashboard's account view, the same request
// cmd/bench times: an account, its packages with services, its last invoices with lines.
const dashboardQuery = `query($id: ID!) { node(id: $id) { ... on Account { id name balance currency { code }
	accountPackages(first: 10) { totalCount edges { node { id status { code } nextBillDate billedThrough billDay
		package { name } services { service { name } quantity status { code } } } } }
	invoices(last: 3) { edges { node { number total status lines { kind description periodStart periodEnd amount } } } } } } }`

// BenchmarkDashboardQuery serves the dashboard query in process (the handler, no
// network) over 500 billed accounts, for profiling the server's work per request:
// go test -run X -bench DashboardQuery -cpuprofile cpu.out ./graph/
func BenchmarkDashboardQuery(b *testing.B) {
	for _, dialect := range testenv.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			bd := testenv.Start(b, dialect)
			plans, err := seed.MixedCatalog(ctx, bd.Server.Catalog)
			require.NoError(b, err)
			_, err = seed.MixedAccounts(ctx, bd.Server.DB.Client, plans, 500, nil)
			require.NoError(b, err)
			wait := true
			for _, p := range [][2]string{{"2024-01-01", "2024-02-01"}, {"2024-02-01", "2024-03-01"}, {"2024-03-01", "2024-04-01"}} {
				run, err := bd.Server.BillRuns.Start(ctx, billrun.StartInput{PeriodStart: calendar.MustParse(p[0]),
					PeriodEnd: calendar.MustParse(p[1]), Wait: &wait})
				require.NoError(b, err)
				require.Equal(b, "COMPLETED", string(run.Status))
			}
			ids, err := bd.Server.DB.Client.Account.Query().IDs(ctx)
			require.NoError(b, err)
			h := bd.Server.Handler()
			bodies := make([][]byte, len(ids))
			for i, id := range ids {
				bodies[i], _ = json.Marshal(map[string]any{"query": dashboardQuery, "variables": map[string]any{"id": strconv.Itoa(id)}})
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(bodies[i%len(bodies)]))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+testenv.AdminKey)
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
						b.Fatalf("dashboard query: %d %s", rec.Code, rec.Body.String())
					}
					i++
				}
			})
		})
	}
}
