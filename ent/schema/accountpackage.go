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

// AccountPackage is one package provisioned to an account, with its billing position
// (nextBillDate, billedThrough) and its scheduled cancellation.
type AccountPackage struct{ ent.Schema }

// Fields of the AccountPackage.
func (AccountPackage) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_id").Immutable(),
		field.Int("package_id").Immutable(),
		field.Int("frequency_id").Immutable(),
		field.Int("status_id"),
		field.Int("bulk_quantity").Min(1).Default(1),
		field.Other("effective_date", calendar.Date{}).SchemaType(dateColumn),
		field.Other("end_date", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable(),
		field.Other("cancellation_date", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable(),
		field.Enum("cancel_billing_option").Values("PRORATED", "FULL_PERIOD", "NONE").Optional().Nillable(),
		// own_bill_day is the package's own bill day; null means the account's.
		field.Int("own_bill_day").Min(1).Max(31).Optional().Nillable().Annotations(entgql.Skip()),
		field.Int("new_bill_day").Min(1).Max(31).Optional().Nillable(),
		field.Int("usage_bill_day").Min(1).Max(31).Optional().Nillable(),
		field.Int("rate_plan_id").Optional().Nillable(),
		// product_code names the price plan that prices the account-package (docs/billing.md 7.1).
		field.String("product_code").Optional().Nillable(),
		// waive_termination_fee: its cancellation waived the contract's early termination fee.
		field.Bool("waive_termination_fee").Default(false).Annotations(entgql.Skip()),
		field.Other("next_bill_date", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable(),
		field.Other("billed_through", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable(),
		// last_period_start is where the latest billed period began: a cancellation may
		// not reach before it, and its credit is worked out on that period.
		field.Other("last_period_start", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable().Annotations(entgql.Skip()),
		// The usage position (docs/billing.md 6.3): usage_next is the first day of the
		// next usage period to bill (null: the span's start), usage_due that period's
		// end, when a run reaching it bills it (null with usage_next set: no period
		// left); usage_late_from the earliest day of records that arrived for periods
		// already billed (or recurring periods passed uncharged, 6.4).
		field.Other("usage_next", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable().Annotations(entgql.Skip()),
		field.Other("usage_due", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable().Annotations(entgql.Skip()),
		field.Other("usage_late_from", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable().Annotations(entgql.Skip()),
		// activated_on is the day billing activation happened (6.5); null while a
		// package with an activation is waiting for it.
		field.Other("activated_on", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable(),
		field.Bool("charge_full_period"),
		field.Bool("postpaid"),
	}
}

// Edges of the AccountPackage.
func (AccountPackage) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account", Account.Type).Ref("account_packages").Field("account_id").Unique().Required().Immutable(),
		edge.From("package", CatalogPackage.Type).Ref("account_packages").Field("package_id").Unique().Required().Immutable(),
		edge.To("frequency", PackageFrequency.Type).Field("frequency_id").Unique().Required().Immutable(),
		edge.To("rate_plan", RatePlan.Type).Field("rate_plan_id").Unique(),
		edge.To("contracts", Contract.Type).Annotations(entgql.Skip()),
		edge.To("status", Status.Type).Field("status_id").Unique().Required(),
		edge.To("services", AccountService.Type).
			// A bounded row list resolved by graph (graph/list.go), not eager-loaded.
			Annotations(entgql.Skip()),
		edge.To("charges", Charge.Type).
			// A bounded row list resolved by graph (graph/list.go), not eager-loaded.
			Annotations(entgql.Skip()),
	}
}

// Indexes of the AccountPackage.
func (AccountPackage) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id", "next_bill_date"),
		// An account's packages in id order: the pages of Account.accountPackages.
		index.Fields("account_id", "id"),
		index.Fields("package_id"),
	}
}

// Annotations of the AccountPackage.
func (AccountPackage) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection()}
}
