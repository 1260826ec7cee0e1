package job_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/job"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// eachDialect runs fn as a parallel subtest per database testenv offers.
func eachDialect(t *testing.T, fn func(t *testing.T, dia string)) {
	t.Helper()
	for _, dia := range testenv.Dialects() {
		t.Run(dia, func(t *testing.T) {
			t.Parallel()
			fn(t, dia)
		})
	}
}

// env is one fresh database with the table the tests' workers write to.
type env struct {
	t   *testing.T
	dia string
	db  *store.DB
}

// setup opens a fresh, migrated database of the dialect (River's tables included)
// and creates job_work, one row per run of a worker's transaction that committed.
func setup(t *testing.T, dia string) *env {
	t.Helper()
	db := testenv.OpenDB(t, dia)
	_, err := db.SQL.ExecContext(t.Context(),
		`CREATE TABLE job_work (job_id BIGINT NOT NULL, n INTEGER NOT NULL, attempt INTEGER NOT NULL, node TEXT NOT NULL)`)
	require.NoError(t, err)
	return &env{t: t, dia: dia, db: db}
}

// testArgs is the job the tests insert; N tells jobs apart.
type testArgs struct {
	N int `json:"n"`
}

func (testArgs) Kind() string { return "job_test" }

// fnWorker works testArgs jobs with a function.
type fnWorker struct {
	river.WorkerDefaults[testArgs]
	work func(ctx context.Context, j *river.Job[testArgs]) error
}

func (w *fnWorker) Work(ctx context.Context, j *river.Job[testArgs]) error { return w.work(ctx, j) }

// work registers fn as the runner's worker of testArgs.
func work(fn func(ctx context.Context, j *river.Job[testArgs]) error) func(r *job.Runner) {
	return func(r *job.Runner) { job.Register(r, &fnWorker{work: fn}) }
}

// fast is a configuration for tests: the default and billing queues worked, jobs
// looked for every 20 ms, failed jobs tried again after n × 10 ms, and RescueAfter
// long enough that River's rescuer never takes a test's running job.
func fast() job.Config {
	return job.Config{
		Queues:            map[string]job.Queue{job.QueueDefault: {Workers: 2}, job.QueueBilling: {Workers: 2}},
		FetchPollInterval: 20 * time.Millisecond,
		RetryDelay:        10 * time.Millisecond,
		JobTimeout:        20 * time.Second,
		RescueAfter:       time.Hour,
	}
}

// insertOnly is fast() for a node that works no queue. (It still registers the
// workers of the kinds it inserts: River refuses to insert a kind it has no worker
// for.)
func insertOnly() job.Config {
	cfg := fast()
	cfg.Queues = nil
	return cfg
}

// logger is River's log: discarded unless BILLD_TEST_LOG is set.
func logger() *slog.Logger {
	if os.Getenv("BILLD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return nil
}

// runner starts a runner on the database with cfg and the workers register adds, and
// stops it when the test ends.
func (e *env) runner(cfg job.Config, register func(r *job.Runner)) *job.Runner {
	e.t.Helper()
	r, err := job.New(e.db, cfg, logger())
	require.NoError(e.t, err)
	if register != nil {
		register(r)
	}
	require.NoError(e.t, r.Start(context.Background()))
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return r
}

// stop stops r, letting its running jobs finish: once it returns, what r's jobs did
// is in the database.
func (e *env) stop(r *job.Runner) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(e.t, r.Stop(ctx))
}

// insert inserts jobs testArgs{n} for each n in one committed transaction, with r.
func (e *env) insert(r *job.Runner, opts *river.InsertOpts, ns ...int) {
	e.t.Helper()
	require.NoError(e.t, store.InTx(e.t.Context(), e.db.Client, func(ctx context.Context) error {
		for _, n := range ns {
			if err := r.Insert(ctx, testArgs{N: n}, opts); err != nil {
				return err
			}
		}
		return nil
	}))
}

// write records a run of job j by node in the transaction ctx carries, through ent.
func (e *env) write(ctx context.Context, j *river.Job[testArgs], node string) error {
	_, err := store.Client(ctx, e.db.Client).ExecContext(ctx, fmt.Sprintf(
		"INSERT INTO job_work (job_id, n, attempt, node) VALUES (%d, %d, %d, '%s')", j.ID, j.Args.N, j.Attempt, node))
	return err
}

// workRow is one row of job_work.
type workRow struct {
	JobID   int64
	N       int
	Attempt int
	Node    string
}

// work returns job_work's rows, in the order of their job's n and attempt.
func (e *env) work() []workRow {
	e.t.Helper()
	rows, err := e.db.SQL.QueryContext(e.t.Context(), "SELECT job_id, n, attempt, node FROM job_work ORDER BY n, attempt")
	require.NoError(e.t, err)
	defer rows.Close()
	var out []workRow
	for rows.Next() {
		var w workRow
		require.NoError(e.t, rows.Scan(&w.JobID, &w.N, &w.Attempt, &w.Node))
		out = append(out, w)
	}
	require.NoError(e.t, rows.Err())
	return out
}

// jobRow is what the tests read of a river_job row.
type jobRow struct {
	ID          int64
	N           int
	State       string
	Attempt     int
	MaxAttempts int
	Queue       string
	Errors      int // attempt errors recorded
}

// jobs returns the rows of river_job, by id.
func (e *env) jobs() []jobRow {
	e.t.Helper()
	q := `SELECT id, CAST(json_extract(json(args), '$.n') AS INTEGER), state, attempt, max_attempts, queue,
		coalesce(json_array_length(json(errors)), 0) FROM river_job ORDER BY id`
	if e.dia == "postgres" {
		q = `SELECT id, (args->>'n')::int, state, attempt, max_attempts, queue,
		coalesce(array_length(errors, 1), 0) FROM river_job ORDER BY id`
	}
	rows, err := e.db.SQL.QueryContext(e.t.Context(), q)
	require.NoError(e.t, err)
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var j jobRow
		require.NoError(e.t, rows.Scan(&j.ID, &j.N, &j.State, &j.Attempt, &j.MaxAttempts, &j.Queue, &j.Errors))
		out = append(out, j)
	}
	require.NoError(e.t, rows.Err())
	return out
}

// states returns the state of every job, by id.
func (e *env) states() []string {
	e.t.Helper()
	var out []string
	for _, j := range e.jobs() {
		out = append(out, j.State)
	}
	return out
}

// eventually waits, at most 10 s, until cond holds.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting until %s; jobs: %+v", what, e.jobs())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// allIn waits until every job is in state.
func (e *env) allIn(state string, n int) {
	e.t.Helper()
	e.eventually(fmt.Sprintf("%d jobs are %s", n, state), func() bool {
		s := e.states()
		if len(s) != n {
			return false
		}
		for _, st := range s {
			if st != state {
				return false
			}
		}
		return true
	})
}

// commitWork is a worker that writes and completes its job in one transaction.
func (e *env) commitWork(node string) func(ctx context.Context, j *river.Job[testArgs]) error {
	return func(ctx context.Context, j *river.Job[testArgs]) error {
		return store.InTx(ctx, e.db.Client, func(ctx context.Context) error {
			if err := e.write(ctx, j, node); err != nil {
				return err
			}
			return job.Complete(ctx, j)
		})
	}
}

// settle gives the runners ten poll intervals of fast() to pick up the jobs they
// would work: tests call it before asserting that some job was left alone.
func settle() { time.Sleep(10 * fast().FetchPollInterval) }

// insertMany inserts jobs testArgs{n} for each n with one InsertMany, in one committed
// transaction.
func (e *env) insertMany(r *job.Runner, ns ...int) {
	e.t.Helper()
	require.NoError(e.t, store.InTx(e.t.Context(), e.db.Client, func(ctx context.Context) error {
		return r.InsertMany(ctx, params(ns...))
	}))
}

func params(ns ...int) []river.InsertManyParams {
	var ps []river.InsertManyParams
	for _, n := range ns {
		ps = append(ps, river.InsertManyParams{Args: testArgs{N: n}})
	}
	return ps
}

var errBoom = errors.New("boom")

// TestNewRefusesInvalidConfig holds that New refuses a queue without workers, naming
// the queue, and takes any other configuration, the zero one included (zero values
// take defaults; an empty Queues makes an insert-only node). New does not touch the
// database, so this test needs none.
func TestNewRefusesInvalidConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  job.Config
		err  string // "" when New accepts cfg
	}{
		{"zero config", job.Config{}, ""},
		{"negative durations and attempts take defaults", job.Config{FetchCooldown: -1, FetchPollInterval: -1,
			JobTimeout: -1, RescueAfter: -1, MaxAttempts: -1, RetryDelay: -1}, ""},
		{"working queues", fast(), ""},
		{"insert only", insertOnly(), ""},
		{"RescueAfter below JobTimeout", job.Config{JobTimeout: time.Minute, RescueAfter: time.Second},
			"job: RescueAfter must not be shorter than JobTimeout: running jobs would be taken from live nodes"},
		{"RescueAfter below the default JobTimeout", job.Config{RescueAfter: time.Second},
			"job: RescueAfter must not be shorter than JobTimeout: running jobs would be taken from live nodes"},
		{"queue with zero workers", job.Config{Queues: map[string]job.Queue{job.QueueDefault: {Workers: 1}, job.QueueBilling: {}}},
			"job: queue billing needs at least one worker"},
		{"queue with negative workers", job.Config{Queues: map[string]job.Queue{job.QueueDefault: {Workers: -2}}},
			"job: queue default needs at least one worker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := job.New(nil, tc.cfg, nil)
			if tc.err == "" {
				require.NoError(t, err)
				require.NotNil(t, r)
				return
			}
			require.EqualError(t, err, tc.err)
			require.Nil(t, r)
		})
	}
}

// TestInsertExistsOnlyIfCommitted holds that a job inserted with Insert or InsertMany
// in store.InTx exists only if that transaction commits: rolled back, it is not in
// river_job and never runs; committed, it runs exactly once.
func TestInsertExistsOnlyIfCommitted(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		insert func(ctx context.Context, r *job.Runner, ns ...int) error
	}{
		{"Insert", func(ctx context.Context, r *job.Runner, ns ...int) error {
			for _, n := range ns {
				if err := r.Insert(ctx, testArgs{N: n}, nil); err != nil {
					return err
				}
			}
			return nil
		}},
		{"InsertMany", func(ctx context.Context, r *job.Runner, ns ...int) error {
			return r.InsertMany(ctx, params(ns...))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				e := setup(t, dia)
				r := e.runner(fast(), work(e.commitWork("w")))

				err := store.InTx(t.Context(), e.db.Client, func(ctx context.Context) error {
					if err := tc.insert(ctx, r, 1, 2); err != nil {
						return err
					}
					return errBoom
				})
				require.ErrorIs(t, err, errBoom)
				require.Empty(t, e.jobs(), "jobs of a rolled-back transaction")

				require.NoError(t, store.InTx(t.Context(), e.db.Client, func(ctx context.Context) error {
					return tc.insert(ctx, r, 3, 4)
				}))
				e.allIn("completed", 2)
				e.stop(r)

				jobs := e.jobs()
				require.Len(t, jobs, 2)
				for i, j := range jobs {
					require.Equal(t, 3+i, j.N)
					require.Equal(t, 1, j.Attempt)
				}
				require.Equal(t, []workRow{{jobs[0].ID, 3, 1, "w"}, {jobs[1].ID, 4, 1, "w"}}, e.work(),
					"the committed jobs ran once each, the rolled-back ones never")
			})
		})
	}
}

// TestInsertRefused holds that Insert and InsertMany insert nothing and say why
// outside a transaction (a job must commit with the work that asked for it) and on a
// runner that is not started.
func TestInsertRefused(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		e := setup(t, dia)
		started := e.runner(insertOnly(), work(e.commitWork("w")))
		unstarted, err := job.New(e.db, insertOnly(), nil)
		require.NoError(t, err)
		job.Register(unstarted, &fnWorker{work: e.commitWork("w")})

		inTx := func(fn func(ctx context.Context) error) func(ctx context.Context) error {
			return func(ctx context.Context) error { return store.InTx(ctx, e.db.Client, fn) }
		}
		for _, tc := range []struct {
			name string
			call func(ctx context.Context) error
			err  string
		}{
			{"Insert outside a transaction", func(ctx context.Context) error {
				return started.Insert(ctx, testArgs{N: 1}, nil)
			}, "job: jobs are inserted in a transaction (store.InTx)"},
			{"InsertMany outside a transaction", func(ctx context.Context) error {
				return started.InsertMany(ctx, params(1, 2))
			}, "job: jobs are inserted in a transaction (store.InTx)"},
			{"Insert before Start", inTx(func(ctx context.Context) error {
				return unstarted.Insert(ctx, testArgs{N: 1}, nil)
			}), "job: the runner is not started"},
			{"InsertMany before Start", inTx(func(ctx context.Context) error {
				return unstarted.InsertMany(ctx, params(1, 2))
			}), "job: the runner is not started"},
		} {
			require.EqualError(t, tc.call(t.Context()), tc.err, tc.name)
		}
		require.Empty(t, e.jobs())
	})
}

// TestInsertManyChunks holds that InsertMany inserts more jobs than fit one of its
// statements (5000) all in the one transaction: all commit, or none.
func TestInsertManyChunks(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		e := setup(t, dia)
		r := e.runner(insertOnly(), work(e.commitWork("w")))
		const n = 5001
		ns := make([]int, n)
		for i := range ns {
			ns[i] = i + 1
		}
		count := func() int {
			var c int
			require.NoError(t, e.db.SQL.QueryRowContext(t.Context(),
				"SELECT COUNT(*) FROM river_job WHERE state = 'available'").Scan(&c))
			return c
		}

		err := store.InTx(t.Context(), e.db.Client, func(ctx context.Context) error {
			if err := r.InsertMany(ctx, params(ns...)); err != nil {
				return err
			}
			return errBoom
		})
		require.ErrorIs(t, err, errBoom)
		require.Equal(t, 0, count(), "rolled back")

		e.insertMany(r, ns...)
		require.Equal(t, n, count(), "committed")
	})
}

// TestCompleteCommitsWithWork holds that a worker's write and its job's completion
// (Complete, in the same store.InTx or InConnTx) commit together: when the
// transaction fails after Complete, neither lands and the job is tried again, so the
// write happens exactly once overall; once the transaction committed, the job is done
// whatever its worker returns afterwards.
func TestCompleteCommitsWithWork(t *testing.T) {
	t.Parallel()
	inTx := func(e *env, ctx context.Context, fn func(ctx context.Context) error) error {
		return store.InTx(ctx, e.db.Client, fn)
	}
	inConnTx := func(e *env, ctx context.Context, fn func(ctx context.Context) error) error {
		return e.db.InConnTx(ctx, func(ctx context.Context, _ *sql.Conn) error { return fn(ctx) })
	}
	for _, tc := range []struct {
		name string
		tx   func(e *env, ctx context.Context, fn func(ctx context.Context) error) error
		// failTx: attempts whose transaction fails after Complete; failAfter: attempts
		// whose worker fails after its transaction committed.
		failTx, failAfter map[int]bool
		wantAttempt       int // the attempt that committed, the job's last
		wantErrors        int // attempt errors recorded on the job
	}{
		{name: "InTx commits", tx: inTx, wantAttempt: 1},
		{name: "InConnTx commits", tx: inConnTx, wantAttempt: 1},
		{name: "InTx fails after Complete", tx: inTx, failTx: map[int]bool{1: true}, wantAttempt: 2, wantErrors: 1},
		{name: "InConnTx fails after Complete twice", tx: inConnTx, failTx: map[int]bool{1: true, 2: true},
			wantAttempt: 3, wantErrors: 2},
		{name: "worker fails after its transaction committed", tx: inTx, failAfter: map[int]bool{1: true},
			wantAttempt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				e := setup(t, dia)
				r := e.runner(fast(), work(func(ctx context.Context, j *river.Job[testArgs]) error {
					err := tc.tx(e, ctx, func(ctx context.Context) error {
						if err := e.write(ctx, j, "w"); err != nil {
							return err
						}
						if err := job.Complete(ctx, j); err != nil {
							return err
						}
						if tc.failTx[j.Attempt] {
							return errBoom
						}
						return nil
					})
					if err == nil && tc.failAfter[j.Attempt] {
						return errBoom
					}
					return err
				}))
				e.insert(r, nil, 7)
				e.allIn("completed", 1)
				e.stop(r) // the worker's result is recorded

				j := e.jobs()[0]
				require.Equal(t, jobRow{ID: j.ID, N: 7, State: "completed", Attempt: tc.wantAttempt, MaxAttempts: 5,
					Queue: job.QueueDefault, Errors: tc.wantErrors}, j)
				require.Equal(t, []workRow{{j.ID, 7, tc.wantAttempt, "w"}}, e.work(), "the write landed once")
			})
		})
	}
}

// TestCompleteOutsideTransaction holds that Complete refuses to complete a job
// outside a transaction: there is no work for the completion to commit with.
func TestCompleteOutsideTransaction(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		e := setup(t, dia)
		errc := make(chan error, 1)
		r := e.runner(fast(), work(func(ctx context.Context, j *river.Job[testArgs]) error {
			errc <- job.Complete(ctx, j)
			return nil
		}))
		e.insert(r, nil, 1)
		select {
		case err := <-errc:
			require.EqualError(t, err, "job: jobs are inserted in a transaction (store.InTx)")
		case <-time.After(10 * time.Second):
			t.Fatal("the job did not run")
		}
	})
}

// TestFailingJobIsDiscarded holds that a job that keeps failing is tried MaxAttempts
// times (the config's, or its InsertOpts' when set), waiting n × RetryDelay after its
// n-th failure, and then discarded with one error per attempt; the writes of its
// failed attempts roll back.
func TestFailingJobIsDiscarded(t *testing.T) {
	t.Parallel()
	const delay = 40 * time.Millisecond
	for _, tc := range []struct {
		name        string
		cfgAttempts int
		opts        *river.InsertOpts
		want        int
	}{
		{"config MaxAttempts", 3, nil, 3},
		{"InsertOpts MaxAttempts", 3, &river.InsertOpts{MaxAttempts: 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				e := setup(t, dia)
				cfg := fast()
				cfg.MaxAttempts, cfg.RetryDelay = tc.cfgAttempts, delay
				var (
					mu       sync.Mutex
					attempts []int
					starts   []time.Time
				)
				r := e.runner(cfg, work(func(ctx context.Context, j *river.Job[testArgs]) error {
					mu.Lock()
					attempts, starts = append(attempts, j.Attempt), append(starts, time.Now())
					mu.Unlock()
					return store.InTx(ctx, e.db.Client, func(ctx context.Context) error {
						if err := e.write(ctx, j, "w"); err != nil {
							return err
						}
						return fmt.Errorf("attempt %d: %w", j.Attempt, errBoom)
					})
				}))
				e.insert(r, tc.opts, 1)
				e.allIn("discarded", 1)
				e.stop(r)

				j := e.jobs()[0]
				require.Equal(t, jobRow{ID: j.ID, N: 1, State: "discarded", Attempt: tc.want, MaxAttempts: tc.want,
					Queue: job.QueueDefault, Errors: tc.want}, j)
				require.Empty(t, e.work(), "failed attempts wrote nothing")
				mu.Lock()
				defer mu.Unlock()
				want := make([]int, tc.want)
				for i := range want {
					want[i] = i + 1
				}
				require.Equal(t, want, attempts)
				for n := 1; n < len(starts); n++ {
					// A millisecond of slack: River keeps times to the millisecond on SQLite.
					require.GreaterOrEqual(t, starts[n].Sub(starts[n-1]), time.Duration(n)*delay-time.Millisecond,
						"the wait after failure %d", n)
				}
			})
		})
	}
}

// TestJobTimeout holds that a job running longer than JobTimeout is canceled (its
// context ends by its deadline, so its transaction rolls back) and tried again.
func TestJobTimeout(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		e := setup(t, dia)
		cfg := fast()
		cfg.JobTimeout = 150 * time.Millisecond
		first := make(chan error, 1)
		r := e.runner(cfg, work(func(ctx context.Context, j *river.Job[testArgs]) error {
			if j.Attempt > 1 {
				return e.commitWork("w")(ctx, j)
			}
			deadline, ok := ctx.Deadline()
			if !ok || time.Until(deadline) > cfg.JobTimeout {
				first <- fmt.Errorf("the job's context has no deadline within JobTimeout: %v %v", deadline, ok)
				return nil
			}
			err := store.InTx(ctx, e.db.Client, func(ctx context.Context) error {
				if err := e.write(ctx, j, "w"); err != nil {
					return err
				}
				<-ctx.Done() // a job that takes too long
				return ctx.Err()
			})
			first <- err
			return err
		}))
		e.insert(r, nil, 1)
		select {
		case err := <-first:
			require.ErrorIs(t, err, context.DeadlineExceeded)
		case <-time.After(10 * time.Second):
			t.Fatal("the first attempt did not end")
		}
		e.allIn("completed", 1)
		e.stop(r)
		j := e.jobs()[0]
		require.Equal(t, 2, j.Attempt)
		require.Equal(t, 1, j.Errors)
		require.Equal(t, []workRow{{j.ID, 1, 2, "w"}}, e.work(), "only the second attempt's write landed")
	})
}

// TestStopLetsJobsFinishUntilContextEnds holds that Stop lets a running job finish
// while Stop's context lasts, and cancels one still running when it ends: that job's
// transaction rolls back, Stop returns once it has, and the job runs again at the next
// start, exactly once overall.
func TestStopLetsJobsFinishUntilContextEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		stopWait time.Duration // Stop's context
		finishes bool          // the job finishes within it
	}{
		{"job finishes within Stop's context", 10 * time.Second, true},
		{"job outlives Stop's context", 100 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				e := setup(t, dia)
				started, returned := make(chan struct{}), make(chan error, 1)
				r := e.runner(fast(), work(func(ctx context.Context, j *river.Job[testArgs]) error {
					err := store.InTx(ctx, e.db.Client, func(ctx context.Context) error {
						if err := e.write(ctx, j, "first"); err != nil {
							return err
						}
						close(started)
						if !tc.finishes {
							<-ctx.Done()
							return ctx.Err()
						}
						select {
						case <-ctx.Done():
							return ctx.Err()
						case <-time.After(100 * time.Millisecond):
						}
						return job.Complete(ctx, j)
					})
					returned <- err
					return err
				}))
				e.insert(r, nil, 1)
				select {
				case <-started:
				case <-time.After(10 * time.Second):
					t.Fatal("the job did not start")
				}
				ctx, cancel := context.WithTimeout(context.Background(), tc.stopWait)
				defer cancel()
				require.NoError(t, r.Stop(ctx))
				select {
				case err := <-returned:
					if tc.finishes {
						require.NoError(t, err)
					} else {
						require.ErrorIs(t, err, context.Canceled)
					}
				default:
					t.Fatal("Stop returned before the running job")
				}
				j := e.jobs()[0]
				if tc.finishes {
					require.Equal(t, "completed", j.State)
					require.Equal(t, []workRow{{j.ID, 1, 1, "first"}}, e.work())
					return
				}
				require.Equal(t, "available", j.State, "the canceled job is back in its queue")
				require.Empty(t, e.work(), "the canceled job's transaction rolled back")

				next := e.runner(fast(), work(e.commitWork("next")))
				e.allIn("completed", 1)
				e.stop(next)
				require.Len(t, e.work(), 1)
				require.Equal(t, "next", e.work()[0].Node)
			})
		})
	}
}

// TestStartStopIdempotent holds that Stop without Start and Stop after Stop do
// nothing and return nil, that Start on a started runner does nothing, that a stopped
// runner starts again, and that a stopped runner works no more jobs.
func TestStartStopIdempotent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		steps []string // "start", "stop"; the runner must work jobs after the last start
	}{
		{name: "Stop without Start", steps: []string{"stop", "stop"}},
		{name: "Stop twice", steps: []string{"start", "stop", "stop"}},
		{name: "Start twice", steps: []string{"start", "start", "stop"}},
		{name: "Start after Stop", steps: []string{"stop", "start", "stop"}},
		{name: "Start, Stop, Start, Stop", steps: []string{"start", "stop", "start", "stop"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				e := setup(t, dia)
				ins := e.runner(insertOnly(), work(e.commitWork("inserter")))
				r, err := job.New(e.db, fast(), nil)
				require.NoError(t, err)
				job.Register(r, &fnWorker{work: e.commitWork("r")})
				t.Cleanup(func() { _ = r.Stop(context.Background()) })
				var n, done int
				for i, step := range tc.steps {
					switch step {
					case "start":
						require.NoError(t, r.Start(context.Background()), "step %d", i)
						n++
						e.insert(ins, nil, n)
						e.allIn("completed", n) // the runner works
						done = n
					case "stop":
						e.stop(r)
					}
				}
				n++
				e.insert(ins, nil, n)
				settle()
				require.Equal(t, "available", e.states()[n-1], "a job inserted after Stop")
				require.Len(t, e.work(), done)
			})
		})
	}
}

// TestNodesShareOneQueue holds how billd nodes share one queue: a runner with no
// queues only inserts (its jobs stay available, though it has their worker), and
// when two working runners run on the same database, each job runs exactly once.
func TestNodesShareOneQueue(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		e := setup(t, dia)
		ins := e.runner(insertOnly(), work(e.commitWork("inserter")))
		const n = 30
		ns := make([]int, n)
		for i := range ns {
			ns[i] = i + 1
		}
		e.insertMany(ins, ns...)
		settle()
		require.Equal(t, n, len(e.states()))
		for _, s := range e.states() {
			require.Equal(t, "available", s)
		}
		require.Empty(t, e.work(), "the insert-only node worked jobs")

		nodes := map[string]*job.Runner{}
		for _, name := range []string{"a", "b"} {
			cfg := fast()
			cfg.ClientID = "node-" + name
			nodes[name] = e.runner(cfg, work(e.commitWork(name)))
		}
		e.allIn("completed", n)
		for _, r := range nodes {
			e.stop(r)
		}
		rows := e.work()
		require.Len(t, rows, n, "one write per job")
		for i, w := range rows {
			require.Equal(t, i+1, w.N, "job %d ran once", i+1)
			require.Equal(t, 1, w.Attempt)
			require.Contains(t, []string{"a", "b"}, w.Node)
		}
	})
}

// TestQueues holds that a node works only the queues it is configured with: a job on
// the billing queue waits for a node working billing.
func TestQueues(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		e := setup(t, dia)
		cfg := fast()
		cfg.Queues = map[string]job.Queue{job.QueueDefault: {Workers: 1}}
		def := e.runner(cfg, work(e.commitWork("default")))
		e.insert(def, &river.InsertOpts{Queue: job.QueueBilling}, 1)
		e.insert(def, nil, 2)
		e.eventually("the default job is completed", func() bool { return e.states()[1] == "completed" })
		settle()
		jobs := e.jobs()
		require.Equal(t, job.QueueBilling, jobs[0].Queue)
		require.Equal(t, "available", jobs[0].State, "the billing job, with no node working billing")

		cfg.Queues = map[string]job.Queue{job.QueueBilling: {Workers: 1, PollInterval: 10 * time.Millisecond}}
		bill := e.runner(cfg, work(e.commitWork("billing")))
		e.allIn("completed", 2)
		e.stop(bill)
		e.stop(def)
		require.Equal(t, []workRow{{jobs[0].ID, 1, 1, "billing"}, {jobs[1].ID, 2, 1, "default"}}, e.work())
	})
}

// TestUI holds that the web UI needs a started runner and shows the jobs of every
// node on the database.
func TestUI(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		e := setup(t, dia)
		r, err := job.New(e.db, insertOnly(), nil)
		require.NoError(t, err)
		_, err = r.UI(t.Context(), "/riverui")
		require.EqualError(t, err, "job: the runner is not started")

		other := e.runner(insertOnly(), work(e.commitWork("w")))
		e.insert(other, nil, 1)
		ui := e.runner(insertOnly(), work(e.commitWork("w")))
		h, err := ui.UI(t.Context(), "/riverui")
		require.NoError(t, err)
		id := e.jobs()[0].ID
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/riverui/api/jobs/%d", id), nil))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var got struct {
			ID    int64  `json:"id"`
			Kind  string `json:"kind"`
			State string `json:"state"`
			Queue string `json:"queue"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
		require.Equal(t, struct {
			ID    int64  `json:"id"`
			Kind  string `json:"kind"`
			State string `json:"state"`
			Queue string `json:"queue"`
		}{id, "job_test", "available", job.QueueDefault}, got)
	})
}

// TestCompleteRefusesJobNoLongerRunning holds that Complete fails, rolling back the
// work it would commit with, when the job is no longer running: River's rescuer took
// it for a dead node's (it ran longer than RescueAfter) and it runs, or ran, elsewhere.
// Otherwise its work happens twice.
func TestCompleteRefusesJobNoLongerRunning(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		e := setup(t, dia)
		errs := make(chan error, 2)
		rescued := make(chan struct{})
		r := e.runner(fast(), work(func(ctx context.Context, j *river.Job[testArgs]) error {
			if j.Attempt == 1 {
				// What River's rescuer does to a job running longer than RescueAfter.
				_, err := e.db.SQL.ExecContext(ctx, fmt.Sprintf(
					"UPDATE river_job SET state = 'available' WHERE id = %d", j.ID))
				if err != nil {
					return err
				}
				<-rescued // the job runs again meanwhile (attempt 2)
			}
			err := e.commitWork(fmt.Sprint(j.Attempt))(ctx, j)
			if j.Attempt == 2 {
				close(rescued)
			}
			errs <- err
			return err
		}))
		e.insert(r, nil, 1)
		for range 2 {
			select {
			case <-errs:
			case <-time.After(10 * time.Second):
				t.Fatal("the job did not run twice")
			}
		}
		e.stop(r)
		require.Len(t, e.work(), 1, "the job's work happened once")
	})
}
