package access

import (
	"context"
	"fmt"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/internal/clock"
)

// Audit writes the audit log: one entry per mutation.
type Audit struct {
	client *ent.Client
	clock  clock.Clock
}

// NewAudit returns the audit log writer.
func NewAudit(client *ent.Client, clk clock.Clock) *Audit { return &Audit{client: client, clock: clk} }

// Entry is one mutation's record, minus who and when, which Record takes from the
// context and the clock.
type Entry struct {
	Operation string // the mutation field, e.g. "createAccount"
	IDs       []int  // global ids of what it named or returned
	Success   bool
	ErrorCode string // the error code when it failed
}

// Record writes e for ctx's principal. It runs outside the mutation's transaction:
// refused and failed mutations are recorded too. (A document that does not parse or
// validate, or that a depth or complexity limit refuses, never becomes an operation
// and is not recorded: nothing was called.)
func (a *Audit) Record(ctx context.Context, e Entry) error {
	ctx = context.WithoutCancel(ctx)
	c := a.client.AuditEntry.Create().SetAt(a.clock.Now()).SetOperation(e.Operation).
		SetIds(append([]int{}, e.IDs...)).SetSuccess(e.Success)
	if p, ok := FromContext(ctx); ok {
		c.SetKeyID(p.KeyID).SetKeyName(p.KeyName).SetRole(string(p.Role))
		if p.PartnerID != 0 {
			c.SetPartnerID(p.PartnerID)
		}
	} else {
		c.SetKeyName("").SetRole("")
	}
	if e.ErrorCode != "" {
		c.SetErrorCode(e.ErrorCode)
	}
	if err := c.Exec(ctx); err != nil {
		return fmt.Errorf("audit entry for %s: %w", e.Operation, err)
	}
	return nil
}
