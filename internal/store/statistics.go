package store

import (
	"context"
	"strings"
	"sync"
	"time"
)

// analyzeEvery is how often a node refreshes the planner's statistics of the tables a
// bill run grows.
const analyzeEvery = 15 * time.Second

// statistics throttles RefreshStatistics.
type statistics struct {
	mu       sync.Mutex
	analyzed time.Time
}

// RefreshStatistics refreshes the query planner's statistics of tables on
// PostgreSQL, at most every analyzeEvery per process. pgx prepares each statement
// once per connection and PostgreSQL soon settles on a generic plan for it; on a
// database whose statistics still describe small tables (a first run, a fresh
// installation) those plans scan the grown tables whole until autovacuum's next
// ANALYZE, which may be a minute away. ANALYZE takes no lock writers wait on, and
// invalidates the cached plans. SQLite's planner needs none of this.
func (db *DB) RefreshStatistics(ctx context.Context, tables ...string) error {
	if !db.rowLocks || len(tables) == 0 {
		return nil
	}
	db.stats.mu.Lock()
	due := time.Since(db.stats.analyzed) >= analyzeEvery
	if due {
		db.stats.analyzed = time.Now()
	}
	db.stats.mu.Unlock()
	if !due {
		return nil
	}
	_, err := db.SQL.ExecContext(ctx, "ANALYZE "+strings.Join(tables, ", "))
	return err
}
