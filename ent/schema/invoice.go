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

// Invoice groups an account's charges; a CLOSED invoice never changes again.
type Invoice struct{ ent.Schema }

// Fields of the Invoice.
func (Invoice) Fields() []ent.Field {
	return []ent.Field{
		field.String("number").Unique().Immutable(),
		field.Int("account_id").Immutable(),
		field.Int("currency_id").Immutable(),
		field.Int("bill_run_id").Optional().Nillable().Immutable(),
		field.Enum("status").Values("OPEN", "CLOSED").Default("OPEN"),
		field.Other("issue_date", calendar.Date{}).SchemaType(dateColumn),
		field.Other("posting_date", calendar.Date{}).SchemaType(dateColumn),
		field.Other("total", money.Decimal{}).SchemaType(decimalColumn),
	}
}

// Edges of the Invoice.
func (Invoice) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account", Account.Type).Ref("invoices").Field("account_id").Unique().Required().Immutable(),
		edge.To("currency", Currency.Type).Field("currency_id").Unique().Required().Immutable(),
		edge.From("bill_run", BillRun.Type).Ref("invoices").Field("bill_run_id").Unique().Immutable(),
		edge.To("lines", Charge.Type).
			// A bounded row list resolved by graph (graph/list.go), not eager-loaded.
			Annotations(entgql.Skip()),
	}
}

// Indexes of the Invoice.
func (Invoice) Indexes() []ent.Index {
	// An account's invoices in id order (pages of Account.invoices, its balance), and
	// a run's invoices by account (what a batch billed).
	return []ent.Index{index.Fields("account_id", "id"), index.Fields("bill_run_id", "account_id")}
}

// Annotations of the Invoice.
func (Invoice) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
