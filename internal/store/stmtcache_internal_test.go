package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCacheable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"SELECT `id` FROM `accounts` WHERE `id` IN (?, ?)", true},
		{"\n\t  select 1", true},
		{"insert into t values (?)", true},
		{"UPDATE t SET v = ?", true},
		{"DELETE FROM t", true},
		{"WITH x AS (SELECT 1) SELECT * FROM x", true},
		{"SELECT 1; SELECT 2", false}, // a script
		{"PRAGMA foreign_keys = off", false},
		{"BEGIN IMMEDIATE", false},
		{"CREATE TABLE t (id INTEGER)", false},
		{"SEL", false},
		{"", false},
	} {
		require.Equal(t, tc.want, cacheable(tc.query), tc.query)
	}
}
