package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// BillRun bills a date range over all accounts or a list of them, and keeps the
// counters and totals of what it did.
type BillRun struct{ ent.Schema }

// Fields of the BillRun.
func (BillRun) Fields() []ent.Field {
	return []ent.Field{
		field.Enum("status").Values("QUEUED", "RUNNING", "COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED").Default("QUEUED"),
		field.Other("period_start", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		field.Other("period_end", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		field.Other("posting_date", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		field.JSON("account_ids", []int{}).Optional().Immutable().Annotations(entgql.Skip()),
		field.Bool("bill_charges").Default(true).Immutable().Annotations(entgql.Skip()),
		field.Bool("close_invoices").Default(false).Immutable().Annotations(entgql.Skip()),
		field.Bool("bill_usage").Default(true).Immutable(),
		// invoice_top_up tops up contract months to their minimum; run_contract_commitment
		// charges early termination fees (docs/billing.md 7.3).
		field.Bool("invoice_top_up").Default(false).Immutable(),
		field.Bool("run_contract_commitment").Default(false).Immutable(),
		field.Int("accounts_total").Default(0),
		field.Int("accounts_processed").Default(0),
		field.Int("accounts_failed").Default(0),
		field.Int("invoices_created").Default(0),
		field.Int("charges_created").Default(0),
		// totals maps a currency code to the amount billed in it; amounts are JSON
		// strings, so they stay exact.
		field.JSON("totals", map[string]money.Decimal{}).Optional().Annotations(entgql.Skip()),
		field.Bool("cancel_requested").Default(false).Annotations(entgql.Skip()),
		field.Time("created_at").Immutable(),
		field.Time("started_at").Optional().Nillable(),
		field.Time("finished_at").Optional().Nillable(),
	}
}

// Edges of the BillRun.
func (BillRun) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("invoices", Invoice.Type).Annotations(entgql.Skip()),
		edge.To("errors", BillRunError.Type).
			// A bounded row list resolved by graph (graph/list.go), not eager-loaded.
			Annotations(entgql.Skip()),
		edge.To("batches", BillRunBatch.Type).Annotations(entgql.Skip()),
	}
}

// Annotations of the BillRun.
func (BillRun) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.RelayConnection(), entgql.QueryField()}
}
