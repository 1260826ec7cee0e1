package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/billd/billd/internal/money"
)

// BillRunBatch is a slice of a bill run's accounts, billed by one job of the job
// system. Batches are planned, with their jobs, when the run starts. A batch is
// PENDING until the transaction that bills it marks it DONE and completes its job, or
// CANCELED with its run; CLAIMED while its job bills its accounts one transaction
// each (after the batch failed as a whole), which a cancellation lets finish.
type BillRunBatch struct{ ent.Schema }

// Fields of the BillRunBatch.
func (BillRunBatch) Fields() []ent.Field {
	return []ent.Field{
		field.Int("bill_run_id").Immutable(),
		field.Int("seq").Immutable(),
		// The batch's accounts: ids first_account_id..last_account_id, or exactly
		// account_ids when the run lists its accounts.
		field.Int("first_account_id").Immutable(),
		field.Int("last_account_id").Immutable(),
		field.JSON("account_ids", []int{}).Optional().Immutable(),
		field.Int("accounts").Immutable(),
		field.Enum("state").Values("PENDING", "CLAIMED", "DONE", "CANCELED").Default("PENDING"),
		// What the batch produced, counted from the database when it is done, so a
		// batch redone after a crash counts exactly what exists.
		field.Int("failed").Default(0),
		field.Int("invoices").Default(0),
		field.Int("charges").Default(0),
		field.JSON("totals", map[string]money.Decimal{}).Optional(),
	}
}

// Edges of the BillRunBatch.
func (BillRunBatch) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("bill_run", BillRun.Type).Ref("batches").Field("bill_run_id").Unique().Required().Immutable(),
	}
}

// Indexes of the BillRunBatch.
func (BillRunBatch) Indexes() []ent.Index {
	return []ent.Index{index.Fields("bill_run_id", "seq").Unique()}
}

// Annotations of the BillRunBatch.
func (BillRunBatch) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
