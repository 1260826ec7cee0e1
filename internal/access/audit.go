package access

import (
	"context"
	"fmt"
	"unicode/utf8"

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
	IDs       []int  // global ids of what it named or returned; the first MaxAuditIDs are kept
	Success   bool
	ErrorCode string // the error code when it failed
	Message   string // why it was refused, when it was
	// RefusedBeforeExecution marks a mutation whose document was refused while it
	// was checked (validation, depth, complexity): nothing was called.
	RefusedBeforeExecution bool
}

// MaxAuditIDs is the most ids an entry keeps: a mutation naming more (a bill run of
// listed accounts) keeps the first, in ascending order.
const MaxAuditIDs = 100

// MaxAuditMessage is the most characters of a refusal's message an entry keeps.
const MaxAuditMessage = 500

// Record writes e for ctx's principal. It runs outside the mutation's transaction:
// refused and failed mutations are recorded too, and so are mutations refused before
// they ran (RefusedBeforeExecution).
func (a *Audit) Record(ctx context.Context, e Entry) error {
	ctx = context.WithoutCancel(ctx)
	ids := e.IDs
	if len(ids) > MaxAuditIDs {
		ids = ids[:MaxAuditIDs]
	}
	c := a.client.AuditEntry.Create().SetAt(a.clock.Now()).SetOperation(e.Operation).
		SetIds(append([]int{}, ids...)).SetSuccess(e.Success).SetRefusedBeforeExecution(e.RefusedBeforeExecution)
	if e.Message != "" {
		c.SetMessage(truncate(e.Message, MaxAuditMessage))
	}
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

// truncate cuts s to at most n characters.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
