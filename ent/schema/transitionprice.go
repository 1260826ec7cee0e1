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

// TransitionPrice is charged once when an account-service moves from one status to
// another (ACTIVE → CANCELED, say).
type TransitionPrice struct{ ent.Schema }

// Fields of the TransitionPrice.
func (TransitionPrice) Fields() []ent.Field {
	return []ent.Field{
		field.Int("service_price_id").Immutable(),
		field.Int("from_status_id").Immutable(),
		field.Int("to_status_id").Immutable(),
		field.Other("amount", money.Decimal{}).SchemaType(decimalColumn),
	}
}

// Edges of the TransitionPrice.
func (TransitionPrice) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("service_price", ServicePrice.Type).Ref("transitions").Field("service_price_id").Unique().Required().Immutable(),
		edge.To("from", Status.Type).Field("from_status_id").Unique().Required().Immutable(),
		edge.To("to", Status.Type).Field("to_status_id").Unique().Required().Immutable(),
	}
}

// Indexes of the TransitionPrice.
func (TransitionPrice) Indexes() []ent.Index {
	return []ent.Index{index.Fields("service_price_id", "from_status_id", "to_status_id").Unique()}
}

// Annotations of the TransitionPrice.
func (TransitionPrice) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}
