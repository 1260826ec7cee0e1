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
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
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
	db       *store.DB
	cfg      Config
	log      *slog.Logger
	workers  *river.Workers
	periodic []*river.PeriodicJob

	mu      sync.Mutex
	client  *river.Client[*sql.Tx]
	working bool // client works queues: Stop has something to stop
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

// Register adds the worker of one kind of job. Call it before Start. A node inserts
// only the kinds of job registered with it, also when it works no queue.
func Register[T river.JobArgs](r *Runner, w river.Worker[T]) {
	river.AddWorker(r.workers, w)
}

// Periodic adds a job inserted every interval (and once when the node starts) by the
// elected leader of the nodes sharing the database, so one node inserts it whatever
// their number. Its kind must be registered. Call it before Start.
func (r *Runner) Periodic(interval time.Duration, args func() river.JobArgs) {
	r.periodic = append(r.periodic, river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return args(), nil }, &river.PeriodicJobOpts{RunOnStart: true}))
}

// Start builds the River client and, when the node works queues, starts working
// them. It works no queue when Config.Queues is empty: the node then only inserts.
// Starting a started runner does nothing; a stopped one starts afresh.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil && (r.working || len(r.cfg.Queues) == 0) {
		return nil
	}
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
		PeriodicJobs:         r.periodic,
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
	if len(r.cfg.Queues) > 0 {
		if err := client.Start(ctx); err != nil {
			return err
		}
		r.working = true
	}
	r.client = client
	return nil
}

// stopGrace bounds how long Stop waits, once its context ended, for canceled jobs to
// return.
const stopGrace = 5 * time.Second

// Stop stops working jobs, letting running ones finish until ctx ends; those still
// running then are canceled (their transactions roll back, and they run again on
// another node or at the next start), and Stop returns at most stopGrace later.
// Stopping a runner that is not working does nothing.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	c, working := r.client, r.working
	r.working = false
	r.mu.Unlock()
	if c == nil || !working {
		return nil
	}
	if err := c.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	if ctx.Err() != nil {
		grace, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
		defer cancel()
		if err := c.StopAndCancel(grace); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
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

// InsertMany inserts jobs in the transaction ctx carries, in one multi-row statement
// per few thousand.
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

// ErrNotRunning says a job's completion found it no longer running as this attempt:
// it was rescued (taken for one of a dead node) and is done, or being done, by
// another attempt. Complete's transaction must roll back so its work does not land
// twice.
var ErrNotRunning = errors.New("job: the job is no longer running as this attempt")

// Complete marks a job its worker is running as completed, in the transaction ctx
// carries: the job is done exactly when the work that transaction holds commits. A
// worker that completed its job this way returns nil. ErrNotRunning when another
// attempt has the job: the caller returns it, and its transaction rolls back.
func Complete[T river.JobArgs](ctx context.Context, j *river.Job[T]) error {
	tx, ok := store.SQLTx(ctx)
	if !ok {
		return errNoTx
	}
	client := river.ClientFromContext[*sql.Tx](ctx)
	var done *river.Job[T]
	var err error
	switch client.Driver().(type) {
	case *riversqlite.Driver:
		done, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx, j)
	case *riverdatabasesql.Driver:
		done, err = river.JobCompleteTx[*riverdatabasesql.Driver](ctx, tx, j)
	default:
		err = fmt.Errorf("job: no completion for River driver %T", client.Driver())
	}
	if err != nil {
		return err
	}
	// River completes a job that is running, whichever attempt runs it, and answers
	// with the row as it is: completed by us only if it is completed at our attempt.
	if done.State != rivertype.JobStateCompleted || done.Attempt != j.Attempt {
		return fmt.Errorf("%w (job %d, attempt %d: %s at attempt %d)", ErrNotRunning, j.ID, j.Attempt, done.State, done.Attempt)
	}
	return nil
}
