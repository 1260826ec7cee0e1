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

// PriceBookPrice is a price book's recurring price of one service of a frequency, in
// one currency and status.
type PriceBookPrice struct{ ent.Schema }

// Fields of the PriceBookPrice.
func (PriceBookPrice) Fields() []ent.Field {
	return []ent.Field{
		field.Int("price_book_id").Immutable(),
		field.Int("frequency_id").Immutable(),
		field.Int("service_id").Immutable(),
		field.Int("currency_id").Immutable(),
		field.Int("status_id").Immutable(),
		field.Other("amount", money.Decimal{}).SchemaType(decimalColumn).Immutable(),
	}
}

// Edges of the PriceBookPrice.
func (PriceBookPrice) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("price_book", PriceBook.Type).Ref("prices").Field("price_book_id").Unique().Required().Immutable(),
		edge.To("frequency", PackageFrequency.Type).Field("frequency_id").Unique().Required().Immutable(),
		edge.To("service", Service.Type).Field("service_id").Unique().Required().Immutable(),
		edge.To("currency", Currency.Type).Field("currency_id").Unique().Required().Immutable(),
		edge.To("status", Status.Type).Field("status_id").Unique().Required().Immutable(),
	}
}

// Indexes of the PriceBookPrice.
func (PriceBookPrice) Indexes() []ent.Index {
	return []ent.Index{index.Fields("price_book_id", "frequency_id", "service_id", "currency_id", "status_id").Unique(),
		index.Fields("frequency_id")}
}

// Annotations of the PriceBookPrice.
func (PriceBookPrice) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipAll)}
}
