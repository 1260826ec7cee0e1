package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Service is the line item charges are configured on; packages group services.
type Service struct{ ent.Schema }

// Fields of the Service.
func (Service) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200),
		field.String("description").Optional().Nillable(),
		field.Enum("kind").Values("RECURRING", "ONE_TIME", "USAGE").Immutable(),
		// unit is what a USAGE service measures (MB, minute); unit_decimals the decimal
		// places its quantities may have (docs/billing.md 6.1).
		field.String("unit").Optional().Nillable().MaxRuneLen(20).Immutable(),
		field.Int("unit_decimals").Default(0).Min(0).Max(6).Immutable(),
	}
}

// Annotations of the Service.
func (Service) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
