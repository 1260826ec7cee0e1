package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/rating"
)

// ServicePrice holds the prices of one service of a frequency in one currency.
type ServicePrice struct{ ent.Schema }

// Fields of the ServicePrice.
func (ServicePrice) Fields() []ent.Field {
	return []ent.Field{
		field.Int("frequency_id").Immutable(),
		field.Int("service_id").Immutable(),
		field.Int("currency_id").Immutable(),
		field.Other("one_time", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable(),
		// rate_plan_id prices a USAGE service's usage in this frequency and currency.
		field.Int("rate_plan_id").Optional().Nillable().Immutable(),
		// counting_rule replaces the recurring price of one status from tiers by count.
		field.JSON("counting_rule", &rating.CountingRule{}).Optional().Immutable().Annotations(entgql.Skip()),
	}
}

// Edges of the ServicePrice.
func (ServicePrice) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("frequency", PackageFrequency.Type).Ref("prices").Field("frequency_id").Unique().Required().Immutable(),
		edge.To("service", Service.Type).Field("service_id").Unique().Required().Immutable(),
		edge.To("currency", Currency.Type).Field("currency_id").Unique().Required().Immutable(),
		edge.To("recurring", StatusPrice.Type),
		edge.To("transitions", TransitionPrice.Type),
		edge.To("rate_plan", RatePlan.Type).Field("rate_plan_id").Unique().Immutable(),
	}
}

// Indexes of the ServicePrice.
func (ServicePrice) Indexes() []ent.Index {
	return []ent.Index{index.Fields("frequency_id", "service_id", "currency_id").Unique()}
}

// Annotations of the ServicePrice.
func (ServicePrice) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}
