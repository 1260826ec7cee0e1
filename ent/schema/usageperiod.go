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

// UsagePeriod is what one usage period of an account-service was billed with
// (docs/billing.md 6.3): the quantities used and billed, the amount its USAGE lines
// hold together, the rate plan that applied when it was first billed, and how many
// lines it has. Late usage rates the period again against it; its unique index is
// the guard of the period's first billing, its lines count that of each later one.
type UsagePeriod struct{ ent.Schema }

// Fields of the UsagePeriod.
func (UsagePeriod) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_id").Immutable(),
		field.Int("account_package_id").Immutable(),
		field.Int("account_service_id").Immutable(),
		field.Other("period_start", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		field.Other("period_end", calendar.Date{}).SchemaType(dateColumn).Immutable(), // exclusive
		field.Other("used", money.Decimal{}).SchemaType(decimalColumn),
		field.Other("billed", money.Decimal{}).SchemaType(decimalColumn),
		field.Other("amount", money.Decimal{}).SchemaType(decimalColumn),
		field.Int("rate_plan_id").Optional().Nillable().Immutable(),
		field.Int("lines").Min(0),
	}
}

// Edges of the UsagePeriod.
func (UsagePeriod) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("account_service", AccountService.Type).Field("account_service_id").Unique().Required().Immutable(),
	}
}

// Indexes of the UsagePeriod.
func (UsagePeriod) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_service_id", "period_start").Unique(),
		index.Fields("account_package_id", "period_start"),
	}
}

// Annotations of the UsagePeriod.
func (UsagePeriod) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
