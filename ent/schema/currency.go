package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// Currency is an ISO 4217 currency and the precision its amounts are rounded to.
type Currency struct{ ent.Schema }

// Fields of the Currency.
func (Currency) Fields() []ent.Field {
	return []ent.Field{
		field.String("code").Unique().Immutable().MaxLen(3),
		field.String("name").NotEmpty(),
		field.Int("precision").Min(0).Max(4).Immutable(),
	}
}

// Edges of the Currency.
func (Currency) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("packages", CatalogPackage.Type).Ref("currencies").Annotations(entgql.Skip()),
	}
}

// Annotations of the Currency.
func (Currency) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}
