package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/billd/billd/internal/rating"
)

// PricePlan is a named set of prices for one package (a staff plan, a promotion): an
// account-package whose product code is the plan's code is priced by its entries
// (docs/billing.md 7.1). A plan never changes once created.
type PricePlan struct{ ent.Schema }

// Fields of the PricePlan.
func (PricePlan) Fields() []ent.Field {
	return []ent.Field{
		field.String("code").NotEmpty().MaxRuneLen(100).Unique().Immutable(),
		field.Int("package_id").Immutable(),
		field.JSON("entries", []rating.PlanEntry{}).Immutable().Annotations(entgql.Skip()),
	}
}

// Edges of the PricePlan.
func (PricePlan) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("package", CatalogPackage.Type).Field("package_id").Unique().Required().Immutable(),
	}
}

// Annotations of the PricePlan.
func (PricePlan) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField(), entgql.Skip(entgql.SkipWhereInput)}
}
