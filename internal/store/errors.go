package store

import (
	"errors"
	"strings"

	"entgo.io/ent/dialect/sql/sqlgraph"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/internal/fault"
)

// Translate turns the storage errors a client can cause into coded errors: a row that
// is missing becomes NOT_FOUND (what says which), a unique or foreign-key violation
// CONFLICT, and a value the database cannot store (a NUL byte in text on PostgreSQL,
// a number out of its column's range) BAD_USER_INPUT. Coded errors and other errors
// pass through unchanged. It is the one place storage errors get their code; the API's
// error presenter calls it last for any error a service did not translate.
func Translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if _, ok := fault.As(err); ok {
		return err
	}
	var nf *ent.NotFoundError
	if errors.As(err, &nf) && what != "" {
		return fault.NotFoundf("", "%s not found", what)
	}
	if IsConstraint(err) {
		if what == "" {
			what = "the change"
		}
		return &fault.Error{Code: fault.Conflict, Message: what + " conflicts with a concurrent change or an existing record"}
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "22021", "22P05": // character_not_in_repertoire, untranslatable_character
			return fault.Invalidf("", "a text holds a character that cannot be stored (a NUL byte?)")
		case "22001": // string_data_right_truncation
			return fault.Invalidf("", "a text is longer than its field allows")
		case "22003", "22008": // numeric_value_out_of_range, datetime_field_overflow
			return fault.Invalidf("", "a value is out of the range its field allows")
		}
	}
	return err
}

// IsConstraint reports a write the database refused for a constraint: a unique index
// (the guards of charges, names) or a foreign key. It knows ent's errors and those of
// statements run outside ent (COPY on PostgreSQL, SQLite's prepared statements).
func IsConstraint(err error) bool {
	if err == nil {
		return false
	}
	if ent.IsConstraintError(err) || sqlgraph.IsConstraintError(err) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "23") // integrity_constraint_violation
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		return lite.Code()&0xff == sqliteConstraint
	}
	return false
}

// sqliteConstraint is SQLite's primary result code SQLITE_CONSTRAINT.
const sqliteConstraint = 19

// IsConflict reports a transaction that lost to a concurrent one and is worth running
// again as a whole: a unique index met (IsConstraint), or, on PostgreSQL, a deadlock
// or a serialization failure.
func IsConflict(err error) bool {
	if IsConstraint(err) {
		return true
	}
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}
