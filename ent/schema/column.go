// Package schema holds billd's Ent schemas, one file per entity.
package schema

import "entgo.io/ent/dialect"

// decimalColumn stores money exactly: NUMERIC on PostgreSQL and the decimal's own text
// on SQLite, where a numeric affinity would turn it into a float.
var decimalColumn = map[string]string{dialect.Postgres: "numeric", dialect.SQLite: "text"}

// dateColumn stores a calendar date with no time of day: DATE on PostgreSQL and
// YYYY-MM-DD text on SQLite (which sorts like a date).
var dateColumn = map[string]string{dialect.Postgres: "date", dialect.SQLite: "text"}
