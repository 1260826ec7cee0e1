package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/billd/billd/internal/rating"
)

// RatePlan prices usage in one currency: a model and its tiers (docs/billing.md 6.1).
// A plan never changes once created, so a usage period billed with it can be rated
// again the same way when late usage arrives.
type RatePlan struct{ ent.Schema }

// Fields of the RatePlan.
func (RatePlan) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200).Immutable(),
		field.Int("currency_id").Immutable().Annotations(entgql.Skip()),
		field.Enum("model").Values("GRADUATED", "VOLUME").Immutable().Annotations(entgql.Type("RatingModel")),
		field.JSON("tiers", []rating.Tier{}).Immutable().Annotations(entgql.Type("[RateTier!]")),
	}
}

// Edges of the RatePlan.
func (RatePlan) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("currency", Currency.Type).Field("currency_id").Unique().Required().Immutable(),
	}
}

// Annotations of the RatePlan.
func (RatePlan) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.Skip(entgql.SkipWhereInput)}
}
