package job

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"
)

// TestConfigDefaults holds Config's defaults as its documentation gives them: zero or
// negative values take them (FetchCooldown 5 ms, FetchPollInterval 1 s, JobTimeout
// 30 s, RescueAfter JobTimeout, MaxAttempts 5, RetryDelay 1 s), values set are kept,
// a poll interval is never shorter than the cooldown, and the node's identity and
// queues are left as given. It reads the
// configuration New keeps, as no behaviour shows these cheaply.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	queues := map[string]Queue{QueueBilling: {Workers: 3, PollInterval: time.Millisecond}}
	defaults := Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: time.Second,
		JobTimeout: 30 * time.Second, RescueAfter: 30 * time.Second, MaxAttempts: 5, RetryDelay: time.Second}
	for _, tc := range []struct {
		name      string
		cfg, want Config
	}{
		{"zero", Config{}, defaults},
		{"negative", Config{FetchCooldown: -1, FetchPollInterval: -1, JobTimeout: -1, RescueAfter: -1,
			MaxAttempts: -1, RetryDelay: -1}, defaults},
		{"set values kept", Config{ClientID: "n1", Queues: queues, FetchCooldown: time.Millisecond,
			FetchPollInterval: 2 * time.Second, JobTimeout: time.Minute, RescueAfter: time.Hour, MaxAttempts: 2,
			RetryDelay: 3 * time.Second},
			Config{ClientID: "n1", Queues: queues, FetchCooldown: time.Millisecond,
				FetchPollInterval: 2 * time.Second, JobTimeout: time.Minute, RescueAfter: time.Hour, MaxAttempts: 2,
				RetryDelay: 3 * time.Second}},
		{"poll interval raised to the cooldown", Config{FetchCooldown: 50 * time.Millisecond,
			FetchPollInterval: 10 * time.Millisecond},
			Config{FetchCooldown: 50 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
				JobTimeout: 30 * time.Second, RescueAfter: 30 * time.Second, MaxAttempts: 5, RetryDelay: time.Second}},
		{"default poll interval raised to a long cooldown", Config{FetchCooldown: 2 * time.Second},
			Config{FetchCooldown: 2 * time.Second, FetchPollInterval: 2 * time.Second,
				JobTimeout: 30 * time.Second, RescueAfter: 30 * time.Second, MaxAttempts: 5, RetryDelay: time.Second}},
		{"RescueAfter defaults to JobTimeout", Config{JobTimeout: 2 * time.Minute},
			Config{FetchCooldown: 5 * time.Millisecond, FetchPollInterval: time.Second,
				JobTimeout: 2 * time.Minute, RescueAfter: 2 * time.Minute, MaxAttempts: 5, RetryDelay: time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := New(nil, tc.cfg, nil)
			require.NoError(t, err)
			require.Equal(t, tc.want, r.cfg)
		})
	}
}

// TestValidate holds what validate refuses: a RescueAfter below JobTimeout (running
// jobs would be taken from live nodes) and a queue without workers. (New fills in
// defaults first, which raise RescueAfter to JobTimeout: see TestConfigDefaults.)
func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{"valid", Config{JobTimeout: time.Second, RescueAfter: time.Second,
			Queues: map[string]Queue{QueueDefault: {Workers: 1}}}, ""},
		{"RescueAfter below JobTimeout", Config{JobTimeout: time.Minute, RescueAfter: time.Second},
			"job: RescueAfter must not be shorter than JobTimeout: running jobs would be taken from live nodes"},
		{"queue without workers", Config{Queues: map[string]Queue{QueueBilling: {PollInterval: time.Second}}},
			"job: queue billing needs at least one worker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.err)
		})
	}
}

// TestLinearRetry holds the retry policy: after its n-th failure a job waits
// n × RetryDelay (a job row with no attempt recorded counts as its first).
func TestLinearRetry(t *testing.T) {
	t.Parallel()
	const delay = 3 * time.Second
	p := linearRetry{delay: delay}
	for _, tc := range []struct {
		attempt int
		wait    time.Duration
	}{
		{0, delay},
		{1, delay},
		{2, 2 * delay},
		{5, 5 * delay},
	} {
		before := time.Now()
		got := p.NextRetry(&rivertype.JobRow{Attempt: tc.attempt})
		after := time.Now()
		require.False(t, got.Before(before.Add(tc.wait)), "attempt %d", tc.attempt)
		require.False(t, got.After(after.Add(tc.wait)), "attempt %d", tc.attempt)
	}
}
