package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// CatalogPackage is a package of the catalog ("Package" on the API; Package is a Go
// keyword, so the Ent type carries another name).
type CatalogPackage struct{ ent.Schema }

// Fields of the CatalogPackage.
func (CatalogPackage) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200),
		// name_key is the lower-cased name: its unique index makes package names unique
		// in any letter case, whatever the database's collation.
		field.String("name_key").Unique().Annotations(entgql.Skip()),
		field.String("description").Optional().Nillable(),
		field.Other("start_date", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable(),
		field.Other("expiry_date", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable(),
		field.Int("default_status_id").Annotations(entgql.Skip()),
		field.Bool("one_time_billing").Default(false).Immutable(),
		field.Bool("charge_full_period").Default(false),
		field.Bool("postpaid").Default(false),
		field.Bool("bulk_quantity").Default(false),
		// charge_recurring_only_if_usage charges a recurring period only if usage is
		// recorded in it (docs/billing.md 6.4); the activation_* fields start billing
		// after some days or at a usage threshold of one service (6.5).
		field.Bool("charge_recurring_only_if_usage").Default(false),
		field.Int("activation_after_days").Optional().Nillable().Min(0),
		field.Other("activation_usage_threshold", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable(),
		field.Int("activation_service_id").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Edges of the CatalogPackage.
func (CatalogPackage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("default_status", Status.Type).Field("default_status_id").Unique().Required(),
		edge.To("currencies", Currency.Type),
		edge.To("services", PackageService.Type),
		edge.To("frequencies", PackageFrequency.Type),
		edge.To("account_packages", AccountPackage.Type).Annotations(entgql.Skip()),
		edge.To("activation_service", Service.Type).Field("activation_service_id").Unique().Annotations(entgql.Skip()),
	}
}

// Annotations of the CatalogPackage.
func (CatalogPackage) Annotations() []schema.Annotation {
	return []schema.Annotation{
		entsql.Table("packages"),
		entgql.Type("Package"),
		entgql.RelayConnection(),
		entgql.QueryField("packages"),
	}
}
