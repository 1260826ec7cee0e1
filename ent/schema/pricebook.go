package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// PriceBook is a named set of recurring prices (a region, a channel) that replaces the
// catalog's for the accounts on it, service by service (docs/billing.md 7.1).
type PriceBook struct{ ent.Schema }

// Fields of the PriceBook.
func (PriceBook) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200),
		// name_key is the name folded to lower case: names are unique regardless of case.
		field.String("name_key").Unique().Annotations(entgql.Skip()),
	}
}

// Edges of the PriceBook.
func (PriceBook) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("prices", PriceBookPrice.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the PriceBook.
func (PriceBook) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.Skip(entgql.SkipWhereInput)}
}
