package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/billd/billd/internal/calendar"
)

// AccountService is one service of an account-package; quantity counts its instances.
type AccountService struct{ ent.Schema }

// Fields of the AccountService.
func (AccountService) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_package_id").Immutable(),
		field.Int("service_id").Immutable(),
		field.Int("status_id"),
		field.Int("quantity").Min(0),
		field.Other("effective_date", calendar.Date{}).SchemaType(dateColumn),
		field.Other("end_date", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable(),
		// one_time_billed records that the service's one-time charge was made.
		field.Bool("one_time_billed").Default(false).Annotations(entgql.Skip()),
		// usage_identifier names the account-service in usage records (a phone number,
		// a device id): unique among account-services not CANCELED (docs/billing.md 6.2).
		field.String("usage_identifier").Optional().Nillable().MaxRuneLen(100),
		field.Int("rate_plan_id").Optional().Nillable(),
	}
}

// Edges of the AccountService.
func (AccountService) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account_package", AccountPackage.Type).Ref("services").Field("account_package_id").Unique().Required().Immutable(),
		edge.To("service", Service.Type).Field("service_id").Unique().Required().Immutable(),
		edge.To("status", Status.Type).Field("status_id").Unique().Required(),
		edge.To("rate_plan", RatePlan.Type).Field("rate_plan_id").Unique(),
		edge.To("price_overrides", StatusPrice.Type),
		edge.To("charges", Charge.Type).Annotations(entgql.Skip()),
		edge.To("status_changes", StatusChange.Type).Annotations(entgql.Skip()),
		edge.To("discounts", Discount.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the AccountService.
func (AccountService) Indexes() []ent.Index {
	return []ent.Index{index.Fields("account_package_id"), index.Fields("usage_identifier")}
}

// Annotations of the AccountService.
func (AccountService) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput), entgql.RelayConnection()}
}
