// Package job runs billd's background work: River (github.com/riverqueue/river) on
// billd's own database, on every node. Domain packages register workers for their
// kinds of job and insert jobs in their transactions; a job's work and its completion
// commit together (Complete), so a killed node neither loses nor repeats work: its
// running jobs are rescued and run again elsewhere.
package job

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"riverqueue.com/riverui"

	"github.com/billd/billd/internal/store"
)

// The queues billd works.
const (
	// QueueBilling holds bill-run batches.
	QueueBilling = "billing"
	// QueueDefault holds everything else that runs in the background.
	QueueDefault = river.QueueDefault
)

// Runner is this node's River client and the workers registered with it.
type Runner struct {
	db      *store.DB
	cfg     Config
	log     *slog.Logger
	workers *river.Workers

	mu      sync.Mutex
	client  *river.Client[*sql.Tx]
	stopped bool
}

// New returns a runner for db. Register workers, then Start it.
func New(db *store.DB, cfg Config, log *slog.Logger) (*Runner, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{db: db, cfg: cfg, log: log, workers: river.NewWorkers()}, nil
}

// Register adds the worker of one kind of job. Call it before Start.
func Register[T river.JobArgs](r *Runner, w river.Worker[T]) {
	river.AddWorker(r.workers, w)
}

// Start builds the River client and, when the node works queues, starts working
// them. It works no queue when Config.Queues is empty: the node then only inserts.
func (r *Runner) Start(ctx context.Context) error {
	drv, err := r.db.RiverDriver(ctx)
	if err != nil {
		return err
	}
	rc := &river.Config{
		ID:                   r.cfg.ClientID,
		Logger:               r.log.With("component", "river"),
		Workers:              r.workers,
		FetchCooldown:        r.cfg.FetchCooldown,
		FetchPollInterval:    r.cfg.FetchPollInterval,
		JobTimeout:           r.cfg.JobTimeout,
		RescueStuckJobsAfter: r.cfg.RescueAfter,
		MaxAttempts:          r.cfg.MaxAttempts,
		RetryPolicy:          linearRetry{delay: r.cfg.RetryDelay},
	}
	if len(r.cfg.Queues) > 0 {
		rc.Queues = map[string]river.QueueConfig{}
		for name, q := range r.cfg.Queues {
			qc := river.QueueConfig{MaxWorkers: q.Workers}
			if q.PollInterval > 0 {
				qc.FetchPollInterval = max(q.PollInterval, r.cfg.FetchCooldown)
			}
			rc.Queues[name] = qc
		}
	}
	client, err := river.NewClient(drv, rc)
	if err != nil {
		return fmt.Errorf("starting the job system: %w", err)
	}
	r.mu.Lock()
	r.client = client
	r.mu.Unlock()
	if len(r.cfg.Queues) == 0 {
		return nil
	}
	return client.Start(ctx)
}

// Stop stops working jobs, letting running ones finish until ctx ends; those still
// running then are canceled (their transactions roll back, and they run again on
// another node or at the next start).
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	c, stopped := r.client, r.stopped
	r.stopped = true
	r.mu.Unlock()
	if c == nil || stopped || len(r.cfg.Queues) == 0 {
		return nil
	}
	if err := c.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	if ctx.Err() != nil {
		return c.StopAndCancel(context.WithoutCancel(ctx))
	}
	return nil
}

// UI returns the handler of River's web UI for this node's client, mounted under
// prefix, or an error when the runner is not started. It shows the jobs, queues and
// their errors of every node: the caller guards who may see it.
func (r *Runner) UI(ctx context.Context, prefix string) (http.Handler, error) {
	c := r.current()
	if c == nil {
		return nil, errors.New("job: the runner is not started")
	}
	h, err := riverui.NewHandler(&riverui.HandlerOpts{Endpoints: riverui.NewEndpoints(c, nil),
		Logger: r.log.With("component", "riverui"), Prefix: prefix})
	if err != nil {
		return nil, err
	}
	return h, h.Start(ctx)
}

func (r *Runner) current() *river.Client[*sql.Tx] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.client
}

// errNoTx says a job was inserted outside a transaction.
var errNoTx = errors.New("job: jobs are inserted in a transaction (store.InTx)")

// Insert inserts a job in the transaction ctx carries: it exists only if that
// transaction commits.
func (r *Runner) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	tx, ok := store.SQLTx(ctx)
	if !ok {
		return errNoTx
	}
	c := r.current()
	if c == nil {
		return errors.New("job: the runner is not started")
	}
	_, err := c.InsertTx(ctx, tx, args, opts)
	return err
}

// InsertMany inserts jobs in the transaction ctx carries, in one statement per few
// thousand (COPY on PostgreSQL).
func (r *Runner) InsertMany(ctx context.Context, params []river.InsertManyParams) error {
	tx, ok := store.SQLTx(ctx)
	if !ok {
		return errNoTx
	}
	c := r.current()
	if c == nil {
		return errors.New("job: the runner is not started")
	}
	const chunk = 5000
	for i := 0; i < len(params); i += chunk {
		if _, err := c.InsertManyFastTx(ctx, tx, params[i:min(i+chunk, len(params))]); err != nil {
			return err
		}
	}
	return nil
}

// Complete marks a job its worker is running as completed, in the transaction ctx
// carries: the job is done exactly when the work that transaction holds commits. A
// worker that completed its job this way returns nil.
func Complete[T river.JobArgs](ctx context.Context, j *river.Job[T]) error {
	tx, ok := store.SQLTx(ctx)
	if !ok {
		return errNoTx
	}
	client := river.ClientFromContext[*sql.Tx](ctx)
	var err error
	switch client.Driver().(type) {
	case *riversqlite.Driver:
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx, j)
	case *riverdatabasesql.Driver:
		_, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, j)
	default:
		err = fmt.Errorf("job: no completion for River driver %T", client.Driver())
	}
	return err
}
