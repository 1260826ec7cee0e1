package billrun_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/seed"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// BenchmarkBillRun bills 5,000 seeded accounts (mixed plans) per iteration on each
// database, through the service (no HTTP), for profiling: go test -bench BillRun
// -cpuprofile cpu.out ./internal/billrun/
func BenchmarkBillRun(b *testing.B) {
	for _, dialect := range testenv.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ctx := context.Background()
				srv, err := server.Open(ctx, server.Config{DatabaseURL: testenv.DatabaseURL(b, dialect),
					Workers: 2, Billing: billrun.Config{BatchSize: 200}})
				require.NoError(b, err)
				plans, err := seed.MixedCatalog(ctx, srv.Catalog)
				require.NoError(b, err)
				pkgs, err := seed.MixedAccounts(ctx, srv.DB.Client, plans, 5000, nil)
				require.NoError(b, err)
				wait := true
				b.StartTimer()
				run, err := srv.BillRuns.Start(ctx, billrun.StartInput{PeriodStart: calendar.MustParse("2024-01-01"),
					PeriodEnd: calendar.MustParse("2024-02-01"), Wait: &wait})
				require.NoError(b, err)
				b.StopTimer()
				require.Equal(b, "COMPLETED", string(run.Status))
				b.ReportMetric(float64(pkgs), "packages/op")
				_ = srv.Close()
			}
		})
	}
}
