package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// BillRunError records why one account of a run could not be billed.
type BillRunError struct{ ent.Schema }

// Fields of the BillRunError.
func (BillRunError) Fields() []ent.Field {
	return []ent.Field{
		field.Int("bill_run_id").Immutable(),
		field.Int("account_id").Immutable(),
		field.String("message"),
		// code classifies the failure: a reason such as NO_RATE_PLAN, else the
		// error's code (FAILED_PRECONDITION, INTERNAL, ...).
		field.String("code").Optional().Nillable(),
	}
}

// Edges of the BillRunError.
func (BillRunError) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("bill_run", BillRun.Type).Ref("errors").Field("bill_run_id").Unique().Required().Immutable(),
		edge.To("account", Account.Type).Field("account_id").Unique().Required().Immutable(),
	}
}

// Indexes of the BillRunError.
func (BillRunError) Indexes() []ent.Index {
	// One error per account and run: an account retried after a crash replaces it.
	return []ent.Index{index.Fields("bill_run_id", "account_id").Unique()}
}

// Annotations of the BillRunError.
func (BillRunError) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput), entgql.RelayConnection()}
}
