package billing

import (
	"context"
	"sort"
	"time"

	"github.com/riverqueue/river"

	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/catalogpackage"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/job"
	"github.com/billd/billd/internal/store"
)

// ActivationArgs is the daily job that activates account-packages whose time-based
// activation day has come (docs/billing.md 6.5), as bill runs reaching the day do:
// a package waiting for effectiveDate + afterDays activates on that day once today
// reaches it, unless a usage threshold activated it earlier.
type ActivationArgs struct{}

// Kind names the job in the job system.
func (ActivationArgs) Kind() string { return "usage_activation" }

// ActivationEvery is how often the activation job runs.
const ActivationEvery = 24 * time.Hour

// RegisterWorkers gives the job system the activation job, inserted daily by the
// nodes' leader.
func (s *Service) RegisterWorkers(r *job.Runner) {
	job.Register(r, &activationWorker{s: s})
	r.Periodic(ActivationEvery, func() river.JobArgs { return ActivationArgs{} })
}

type activationWorker struct {
	river.WorkerDefaults[ActivationArgs]
	s *Service
}

// Work activates what is due today, in the transaction that completes the job.
func (w *activationWorker) Work(ctx context.Context, j *river.Job[ActivationArgs]) error {
	return store.InTx(ctx, w.s.db.Client, func(ctx context.Context) error {
		if _, err := w.s.Activate(ctx, calendar.Of(w.s.clock.Now())); err != nil {
			return err
		}
		return job.Complete(ctx, j)
	})
}

// Activate sets the activation day of every account-package waiting for a
// time-based activation that today reaches, in the transaction ctx carries, and
// returns how many it activated. The day never moves once set.
func (s *Service) Activate(ctx context.Context, today calendar.Date) (int, error) {
	c := store.Client(ctx, s.db.Client)
	pkgs, err := c.CatalogPackage.Query().Where(catalogpackage.ActivationAfterDaysNotNil()).All(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pkg := range pkgs {
		days := *pkg.ActivationAfterDays
		aps, err := c.AccountPackage.Query().Where(accountpackage.PackageID(pkg.ID), accountpackage.ActivatedOnIsNil(),
			accountpackage.EffectiveDateLTE(today.AddDays(-days))).All(ctx)
		if err != nil {
			return n, err
		}
		byDay := map[calendar.Date][]int{}
		for _, ap := range aps {
			on := ap.EffectiveDate.AddDays(days)
			byDay[on] = append(byDay[on], ap.ID)
		}
		ons := make([]calendar.Date, 0, len(byDay))
		for on := range byDay {
			ons = append(ons, on)
		}
		sort.Slice(ons, func(i, j int) bool { return ons[i].Before(ons[j]) })
		for _, on := range ons {
			k, err := c.AccountPackage.Update().Where(accountpackage.IDIn(byDay[on]...), accountpackage.ActivatedOnIsNil()).
				SetActivatedOn(on).Save(ctx)
			if err != nil {
				return n, err
			}
			n += k
		}
	}
	return n, nil
}
