package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/billd/billd/internal/money"
)

// PackageService is a service inside a package with its instance limits.
type PackageService struct{ ent.Schema }

// Fields of the PackageService.
func (PackageService) Fields() []ent.Field {
	return []ent.Field{
		field.Int("package_id").Immutable(),
		field.Int("service_id").Immutable(),
		field.Int("min_instances").Min(0),
		field.Int("default_instances").Min(0),
		field.Int("max_instances").Optional().Nillable(),
		field.Bool("optional").Default(false),
		// included is a USAGE service's bucket per usage period and instance; shared
		// puts what is left of it in the package's pool (docs/billing.md 6.1).
		field.Other("included", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable(),
		field.Bool("shared").Default(false),
		// position keeps the services in the order the operator listed them.
		field.Int("position").Default(0).Annotations(entgql.Skip()),
	}
}

// Edges of the PackageService.
func (PackageService) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("package", CatalogPackage.Type).Ref("services").Field("package_id").Unique().Required().Immutable(),
		edge.To("service", Service.Type).Field("service_id").Unique().Required().Immutable(),
	}
}

// Indexes of the PackageService.
func (PackageService) Indexes() []ent.Index {
	return []ent.Index{index.Fields("package_id", "service_id").Unique()}
}

// Annotations of the PackageService.
func (PackageService) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}
