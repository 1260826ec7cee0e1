package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// Discount is a temporary reduction of an account-service's recurring charges: a
// percentage or an amount per full period and unit, from a start date, optionally to
// an end date (docs/billing.md 7.2).
type Discount struct{ ent.Schema }

// Fields of the Discount.
func (Discount) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_service_id").Immutable(),
		field.Other("percent", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable().Immutable(),
		field.Other("amount", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable().Immutable(),
		field.Other("start_date", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		field.Other("end_date", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable().Immutable(),
	}
}

// Edges of the Discount.
func (Discount) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account_service", AccountService.Type).Ref("discounts").Field("account_service_id").
			Unique().Required().Immutable(),
	}
}

// Annotations of the Discount.
func (Discount) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}
