package job

import (
	"errors"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// Config configures a node's job runner. Zero values take defaults.
type Config struct {
	// ClientID names this node's River client; unique per process. Empty: River
	// makes one up.
	ClientID string
	// Queues are the queues this node works. Empty: the node only inserts jobs,
	// others work them.
	Queues map[string]Queue
	// FetchCooldown is the least time between two fetches of jobs (default 5 ms:
	// a batch of bills takes far longer, so workers are never starved by it).
	FetchCooldown time.Duration
	// FetchPollInterval is how often a node looks for jobs without being told of
	// them, unless its queue says otherwise (default 1 s; on PostgreSQL new jobs are
	// announced at once, and a node that inserts jobs looks for them at once).
	FetchPollInterval time.Duration
	// JobTimeout bounds a job's run: its context is then canceled (its transaction
	// rolls back; it is tried again), and a job running this long is taken for one of
	// a node that died (default 30 s).
	JobTimeout time.Duration
	// RescueAfter is how long a job may be running before it is run again elsewhere,
	// at least JobTimeout (the default; New refuses less). River's rescuer looks every
	// 30 s, so a dead node's job runs again within RescueAfter + 30 s. A job a slow
	// node still runs when it is rescued cannot complete (Complete answers
	// ErrNotRunning), so its work never lands twice.
	RescueAfter time.Duration
	// MaxAttempts is how often a job is tried before it is given up (default 5).
	MaxAttempts int
	// RetryDelay is how long after its n-th failure a job is tried again: n times
	// this (default 1 s).
	RetryDelay time.Duration
}

func (c *Config) defaults() {
	if c.FetchCooldown <= 0 {
		c.FetchCooldown = 5 * time.Millisecond
	}
	if c.FetchPollInterval <= 0 {
		c.FetchPollInterval = time.Second
	}
	if c.FetchPollInterval < c.FetchCooldown {
		c.FetchPollInterval = c.FetchCooldown
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = 30 * time.Second
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = c.JobTimeout
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
}

func (c *Config) validate() error {
	if c.RescueAfter < c.JobTimeout {
		return errors.New("job: RescueAfter must not be shorter than JobTimeout: running jobs would be taken from live nodes")
	}
	for name, q := range c.Queues {
		if q.Workers <= 0 {
			return errors.New("job: queue " + name + " needs at least one worker")
		}
	}
	return nil
}

// Queue is how a node works one queue.
type Queue struct {
	Workers int // jobs of the queue worked at once
	// PollInterval overrides Config.FetchPollInterval for the queue.
	PollInterval time.Duration
}

// linearRetry tries a failed job again after attempt × delay.
type linearRetry struct{ delay time.Duration }

func (p linearRetry) NextRetry(j *rivertype.JobRow) time.Time {
	return time.Now().Add(time.Duration(max(j.Attempt, 1)) * p.delay)
}
