package store

import (
	"errors"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/internal/fault"
)

// Translate turns the Ent errors a client can cause into coded errors: a row that is
// missing becomes NOT_FOUND (what says which), a unique or foreign-key violation
// CONFLICT. Coded errors and other errors pass through unchanged.
func Translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if _, ok := fault.As(err); ok {
		return err
	}
	var nf *ent.NotFoundError
	if errors.As(err, &nf) {
		return fault.NotFoundf("", "%s not found", what)
	}
	if ent.IsConstraintError(err) {
		return &fault.Error{Code: fault.Conflict, Message: what + " conflicts with a concurrent change or an existing record"}
	}
	return err
}
