package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// UsageDay is the total of an account-service's usage records of one day, kept as
// records arrive (in the transaction that stores them), so that billing and portals
// read sums, never every record.
type UsageDay struct{ ent.Schema }

// Fields of the UsageDay.
func (UsageDay) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_id").Immutable(),
		field.Int("account_service_id").Immutable(),
		field.Other("day", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		field.Other("quantity", money.Decimal{}).SchemaType(decimalColumn),
		field.Int("records").Min(0),
	}
}

// Edges of the UsageDay.
func (UsageDay) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("account", Account.Type).Field("account_id").Unique().Required().Immutable(),
		edge.To("account_service", AccountService.Type).Field("account_service_id").Unique().Required().Immutable(),
	}
}

// Indexes of the UsageDay.
func (UsageDay) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_service_id", "day").Unique()}
}

// Annotations of the UsageDay.
func (UsageDay) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
