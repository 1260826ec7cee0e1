package main

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"github.com/jackc/pgx/v5"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/store"
)

// Usage ingestion: recordUsage through the API in batches of 1,000 from several
// clients, against the plain insert rate of the same rows.
const (
	usageServices = 1000 // USAGE account-services the records go to
	usageBatches  = 200  // of usageBatch records each
	usageBatch    = 1000
	usageClients  = 8
)

// ingestion holds the figures of the usage ingestion.
type ingestion struct {
	Records             int
	Time, LimitTime     time.Duration
	Accepted, Duplicate int
}

func (g ingestion) perSec() float64      { return float64(g.Records) / g.Time.Seconds() }
func (g ingestion) limitPerSec() float64 { return float64(g.Records) / g.LimitTime.Seconds() }

// measureIngestion gives usageServices accounts a USAGE account-service and sends
// usageBatches batches through the API of the child server at base.
func measureIngestion(ctx context.Context, base string, srv *server.Server, dbURL string) (ingestion, error) {
	ids, err := usageTargets(ctx, srv)
	if err != nil {
		return ingestion{}, err
	}
	jobs := make(chan int)
	var mu sync.Mutex
	var firstErr error
	g := ingestion{Records: usageBatches * usageBatch}
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := 0; c < usageClients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range jobs {
				recs := make([]any, usageBatch)
				for i := range recs {
					recs[i] = map[string]any{"key": fmt.Sprintf("u-%d-%d", b, i), "accountServiceId": ids[(b*usageBatch+i)%len(ids)],
						"quantity": strconv.Itoa(i%50 + 1), "date": fmt.Sprintf("2024-01-%02d", i%28+1)}
				}
				var out struct {
					Data struct {
						RecordUsage struct{ Accepted, Duplicates int }
					}
					Errors []struct{ Message string }
				}
				err := post(base, `mutation($r: [UsageRecordInput!]!) { recordUsage(records: $r) { accepted duplicates } }`,
					map[string]any{"r": recs}, &out)
				mu.Lock()
				if err == nil && len(out.Errors) > 0 {
					err = fmt.Errorf("recordUsage: %s", out.Errors[0].Message)
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				g.Accepted += out.Data.RecordUsage.Accepted
				g.Duplicate += out.Data.RecordUsage.Duplicates
				mu.Unlock()
			}
		}()
	}
	for b := 0; b < usageBatches; b++ {
		jobs <- b
	}
	close(jobs)
	wg.Wait()
	g.Time = time.Since(t0)
	if firstErr != nil {
		return g, firstErr
	}
	if g.Accepted != g.Records {
		return g, fmt.Errorf("recordUsage accepted %d of %d records", g.Accepted, g.Records)
	}
	g.LimitTime, err = usageLimit(ctx, srv.DB, dbURL, g.Records)
	return g, err
}

// usageTargets writes a Data (USAGE, MB) account-service on a package of its own for
// the first usageServices accounts, straight into the database, and returns their ids.
func usageTargets(ctx context.Context, srv *server.Server) ([]string, error) {
	svc, err := srv.Catalog.CreateService(ctx, catalog.CreateServiceInput{Name: "Bench data", Kind: service.KindUSAGE, Unit: strp("MB")})
	if err != nil {
		return nil, err
	}
	pkg, err := srv.Catalog.CreatePackage(ctx, catalog.CreatePackageInput{Name: "Bench data", Currencies: []string{"USD"},
		Services:    []*catalog.PackageServiceInput{{ServiceID: svc.ID}},
		Frequencies: []*catalog.PackageFrequencyInput{{Name: "Monthly", Interval: packagefrequency.IntervalMONTH}}})
	if err != nil {
		return nil, err
	}
	c := srv.DB.Client
	freq, err := c.PackageFrequency.Query().Where(packagefrequency.PackageID(pkg.ID)).Only(ctx)
	if err != nil {
		return nil, err
	}
	active, err := c.Status.Query().Where(status.Code("ACTIVE")).OnlyID(ctx)
	if err != nil {
		return nil, err
	}
	accs, err := c.Account.Query().Limit(usageServices).IDs(ctx)
	if err != nil {
		return nil, err
	}
	start := calendar.MustParse("2024-01-01")
	aps := make([]*ent.AccountPackageCreate, len(accs))
	for i, a := range accs {
		aps[i] = c.AccountPackage.Create().SetAccountID(a).SetPackageID(pkg.ID).SetFrequencyID(freq.ID).SetStatusID(active).
			SetBulkQuantity(1).SetEffectiveDate(start).SetNextBillDate(start).SetChargeFullPeriod(false).SetPostpaid(false)
	}
	var out []string
	for i := 0; i < len(aps); i += 500 {
		made, err := c.AccountPackage.CreateBulk(aps[i:min(i+500, len(aps))]...).Save(ctx)
		if err != nil {
			return nil, err
		}
		svcs := make([]*ent.AccountServiceCreate, len(made))
		for j, ap := range made {
			svcs[j] = c.AccountService.Create().SetAccountPackageID(ap.ID).SetServiceID(svc.ID).SetStatusID(active).
				SetQuantity(1).SetEffectiveDate(start)
		}
		rows, err := c.AccountService.CreateBulk(svcs...).Save(ctx)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, strconv.Itoa(r.ID))
		}
	}
	log.Printf("  %d USAGE account-services to record usage for", len(out))
	return out, nil
}

func strp(s string) *string { return &s }

// usageLimitTable is shaped like usage_records, with its unique key index.
const usageLimitTable = `CREATE TABLE bench_usage_limit (id BIGINT PRIMARY KEY, key TEXT NOT NULL, account_id BIGINT NOT NULL,
	account_service_id BIGINT NOT NULL, quantity %[2]s NOT NULL, date %[1]s NOT NULL)`

// usageLimit writes rows usage-record-shaped rows the fastest plain way.
func usageLimit(ctx context.Context, db *store.DB, dbURL string, rows int) (time.Duration, error) {
	date, num := "TEXT", "TEXT"
	if db.Dialect == dialect.Postgres {
		date, num = "DATE", "NUMERIC"
	}
	if _, err := db.SQL.ExecContext(ctx, fmt.Sprintf(usageLimitTable, date, num)); err != nil {
		return 0, err
	}
	if _, err := db.SQL.ExecContext(ctx, "CREATE UNIQUE INDEX bench_usage_limit_key ON bench_usage_limit (account_id, key)"); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if db.Dialect == dialect.Postgres {
		raw, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return 0, err
		}
		defer raw.Close(context.Background())
		day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		src := pgx.CopyFromSlice(rows, func(i int) ([]any, error) {
			return []any{int64(i + 1), fmt.Sprintf("u-%d", i), int64(i%usageServices + 1), int64(i%usageServices + 1), "1", day}, nil
		})
		_, err = raw.CopyFrom(ctx, pgx.Identifier{"bench_usage_limit"},
			[]string{"id", "key", "account_id", "account_service_id", "quantity", "date"}, src)
		return time.Since(t0), err
	}
	tx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	st, err := tx.PrepareContext(ctx, "INSERT INTO bench_usage_limit VALUES (?, ?, ?, ?, ?, ?)")
	if err != nil {
		return 0, err
	}
	for i := 0; i < rows; i++ {
		if _, err := st.ExecContext(ctx, i+1, fmt.Sprintf("u-%d", i), i%usageServices+1, i%usageServices+1,
			money.FromInt(1).String(), "2024-01-01"); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), tx.Commit()
}
