package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/billd/billd/internal/calendar"
)

// StatusChange records that an account-service changed status, so the next bill run
// over its account charges the transition price (rules 4.5) exactly once.
type StatusChange struct{ ent.Schema }

// Fields of the StatusChange.
func (StatusChange) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_service_id").Immutable(),
		field.Int("account_id").Immutable(),
		field.Int("from_status_id").Immutable(),
		field.Int("to_status_id").Immutable(),
		field.Other("changed_on", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		// charged turns true when a bill run has charged (or found no price for) it.
		field.Bool("charged").Default(false),
	}
}

// Edges of the StatusChange.
func (StatusChange) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account_service", AccountService.Type).Ref("status_changes").Field("account_service_id").Unique().Required().Immutable(),
		edge.To("from", Status.Type).Field("from_status_id").Unique().Required().Immutable(),
		edge.To("to", Status.Type).Field("to_status_id").Unique().Required().Immutable(),
	}
}

// Indexes of the StatusChange.
func (StatusChange) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_id", "charged"), index.Fields("account_service_id")}
}

// Annotations of the StatusChange.
func (StatusChange) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
