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

// StatusPrice is a recurring price for one status. It belongs either to a catalog
// service price or, as an override, to one account-service.
type StatusPrice struct{ ent.Schema }

// Fields of the StatusPrice.
func (StatusPrice) Fields() []ent.Field {
	return []ent.Field{
		field.Int("service_price_id").Optional().Nillable().Immutable(),
		field.Int("account_service_id").Optional().Nillable().Immutable(),
		field.Int("status_id").Immutable(),
		field.Other("amount", money.Decimal{}).SchemaType(decimalColumn),
	}
}

// Edges of the StatusPrice.
func (StatusPrice) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("service_price", ServicePrice.Type).Ref("recurring").Field("service_price_id").Unique().Immutable(),
		edge.From("account_service", AccountService.Type).Ref("price_overrides").Field("account_service_id").Unique().Immutable(),
		edge.To("status", Status.Type).Field("status_id").Unique().Required().Immutable(),
	}
}

// Indexes of the StatusPrice.
func (StatusPrice) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("service_price_id", "status_id").Unique(),
		index.Fields("account_service_id", "status_id").Unique(),
	}
}

// Annotations of the StatusPrice.
func (StatusPrice) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}
