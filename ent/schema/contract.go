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

// Contract is a commitment of an account (a minimum monthly amount) or of one
// account-package (an early termination fee) for a term of months, renewed, expired
// or ending in a cancellation at its end (docs/billing.md 7.3).
type Contract struct{ ent.Schema }

// Fields of the Contract.
func (Contract) Fields() []ent.Field {
	return []ent.Field{
		field.Int("account_id").Immutable(),
		field.Int("account_package_id").Optional().Nillable(),
		field.Other("start_date", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		field.Int("term_months").Min(1).Immutable(),
		field.Enum("renewal").Values("AUTO_RENEW", "EXPIRE", "CANCEL").Immutable().Annotations(entgql.Type("RenewalPolicy")),
		field.Other("minimum_invoice_amount", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable().Immutable(),
		field.Other("early_termination_fee", money.Decimal{}).SchemaType(decimalColumn).Optional().Nillable().Immutable(),
		// terms counts the terms so far (1, then one more per renewal); end_date is the
		// current term's end, the first day out of contract.
		field.Int("terms").Default(1).Annotations(entgql.Skip()),
		field.Other("end_date", calendar.Date{}).SchemaType(dateColumn),
		// ended says the term reached its end without a renewal (expired, canceled, or
		// its account-package canceled before).
		field.Bool("ended").Default(false),
		// top_up_next is the start of the first contract month not topped up yet.
		field.Other("top_up_next", calendar.Date{}).SchemaType(dateColumn).Annotations(entgql.Skip()),
		// fee_charged says the early termination fee was charged (or waived).
		field.Bool("fee_charged").Default(false).Annotations(entgql.Skip()),
	}
}

// Edges of the Contract.
func (Contract) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("account", Account.Type).Ref("contracts").Field("account_id").Unique().Required().Immutable(),
		edge.From("account_package", AccountPackage.Type).Ref("contracts").Field("account_package_id").Unique(),
	}
}

// Indexes of the Contract.
func (Contract) Indexes() []ent.Index {
	return []ent.Index{
		index.Fields("account_id"),
		index.Fields("account_package_id"),
		// The daily job's and the runs' search for terms that reached their end.
		index.Fields("ended", "end_date"),
	}
}

// Annotations of the Contract.
func (Contract) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}
