package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// PackageFrequency is a billing cadence of a package; prices live on it.
type PackageFrequency struct{ ent.Schema }

// Fields of the PackageFrequency.
func (PackageFrequency) Fields() []ent.Field {
	return []ent.Field{
		field.Int("package_id").Immutable(),
		field.String("name").NotEmpty().MaxRuneLen(100),
		field.Enum("interval").Values("DAY", "WEEK", "MONTH", "YEAR").Immutable(),
		field.Int("interval_count").Min(1).Immutable(),
		// rate_plan_id prices the usage of the frequency's USAGE services that have no
		// plan of their own (docs/billing.md 6.1).
		field.Int("rate_plan_id").Optional().Nillable(),
	}
}

// Edges of the PackageFrequency.
func (PackageFrequency) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("package", CatalogPackage.Type).Ref("frequencies").Field("package_id").Unique().Required().Immutable(),
		edge.To("prices", ServicePrice.Type),
		edge.To("rate_plan", RatePlan.Type).Field("rate_plan_id").Unique(),
	}
}

// Indexes of the PackageFrequency.
func (PackageFrequency) Indexes() []ent.Index {
	return []ent.Index{index.Fields("package_id", "name").Unique()}
}
