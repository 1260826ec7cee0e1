package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// Charge is one invoice line: a recurring, one-time, transition, credit or usage amount.
type Charge struct{ ent.Schema }

// Fields of the Charge.
func (Charge) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("kind").Values("RECURRING", "ONE_TIME", "TRANSITION", "CREDIT", "USAGE", "DISCOUNT", "TOP_UP", "FEE").Immutable(),
		field.String("description"),
		field.Int("account_id").Immutable().Annotations(entgql.Skip()),
		field.Int("account_package_id").Optional().Nillable(),
		field.Int("account_service_id").Optional().Nillable(),
		field.Int("service_id").Optional().Nillable().Immutable(),
		field.Int("invoice_id").Optional().Nillable(),
		field.Other("period_start", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable().Immutable(),
		field.Other("period_end", calendar.Date{}).SchemaType(dateColumn).Optional().Nillable().Immutable(),
		field.Int("quantity").Immutable(),
		field.Other("unit_amount", money.Decimal{}).SchemaType(decimalColumn).Immutable(),
		field.Other("amount", money.Decimal{}).SchemaType(decimalColumn).Immutable(),
		// used_quantity and billed_quantity are a USAGE line's units used in its period
		// and those left to rate after buckets (for a late-usage line, the differences).
		field.Other("used_quantity", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable().Immutable(),
		field.Other("billed_quantity", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable().Immutable(),
		// rate_plan_id is the plan that rated a USAGE line's period when it was first
		// billed: late usage rates the period again with it.
		field.Int("rate_plan_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		// price_source says where a RECURRING line's price came from (docs/billing.md 7.1).
		field.Enum("price_source").Values("OVERRIDE", "PRICE_PLAN", "COUNTING_RULE", "PRICE_BOOK", "CATALOG").
			Optional().Nillable().Immutable(),
		// guard names what was charged (account-service, kind, period or event). Its
		// unique index is what makes charging exactly-once, whatever the code does.
		field.String("guard").Unique().Immutable().Annotations(entgql.Skip()),
	}
}

// Edges of the Charge.
func (Charge) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account_package", AccountPackage.Type).Ref("charges").Field("account_package_id").Unique(),
		edge.From("account_service", AccountService.Type).Ref("charges").Field("account_service_id").Unique(),
		edge.To("service", Service.Type).Field("service_id").Unique().Immutable(),
		edge.From("invoice", Invoice.Type).Ref("lines").Field("invoice_id").Unique(),
	}
}

// Indexes of the Charge.
func (Charge) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_package_id"),
		index.Fields("invoice_id"),
		index.Fields("account_service_id", "kind", "period_start"),
	}
}

// Annotations of the Charge.
func (Charge) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput), entgql.RelayConnection()}
}
