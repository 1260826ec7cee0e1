package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// Account is a customer account: it is billed in one currency on its bill day.
type Account struct{ ent.Schema }

// Fields of the Account.
func (Account) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200),
		field.Int("currency_id").Immutable().Annotations(entgql.Skip()),
		field.Int("bill_day").Min(1).Max(31),
		// usage_bill_day anchors the usage periods of the account's packages that have
		// none of their own (docs/billing.md 6.3); rate_plan_id is the widest rate
		// plan level (6.1).
		field.Int("usage_bill_day").Min(1).Max(31).Optional().Nillable(),
		field.Int("rate_plan_id").Optional().Nillable(),
		field.Int("partner_id").Optional().Nillable().Annotations(entgql.Skip()),
		// price_book_id prices the account's packages from a price book (docs/billing.md 7.1).
		field.Int("price_book_id").Optional().Nillable().Annotations(entgql.Skip()),
	}
}

// Edges of the Account.
func (Account) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("currency", Currency.Type).Field("currency_id").Unique().Required().Immutable(),
		edge.To("account_packages", AccountPackage.Type).Annotations(entgql.RelayConnection()),
		edge.To("invoices", Invoice.Type).Annotations(entgql.RelayConnection()),
		edge.From("partner", Partner.Type).Ref("accounts").Field("partner_id").Unique(),
		edge.To("rate_plan", RatePlan.Type).Field("rate_plan_id").Unique(),
		edge.To("price_book", PriceBook.Type).Field("price_book_id").Unique(),
		edge.To("contracts", Contract.Type).Annotations(entgql.Skip()),
	}
}

// Indexes of the Account.
func (Account) Indexes() []ent.Index {
	// A partner's pages of accounts.
	return []ent.Index{index.Fields("partner_id", "id")}
}

// Annotations of the Account.
func (Account) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
