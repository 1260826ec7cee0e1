package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
)

// UsageRecord is one quantity an account-service used on a day (docs/billing.md 6.2).
// Its key, unique per account, makes recording it again harmless.
type UsageRecord struct{ ent.Schema }

// Fields of the UsageRecord.
func (UsageRecord) Fields() []ent.Field {
	return []ent.Field{
		field.String("key").NotEmpty().MaxRuneLen(200).Immutable(),
		field.Int("account_id").Immutable().Annotations(entgql.Skip()),
		field.Int("account_service_id").Immutable().Annotations(entgql.Skip()),
		field.Other("quantity", money.Decimal{}).SchemaType(decimalColumn).Immutable(),
		field.Other("date", calendar.Date{}).SchemaType(dateColumn).Immutable(),
		field.Time("created_at").Default(time.Now).Immutable().Annotations(entgql.Skip()),
	}
}

// Edges of the UsageRecord.
func (UsageRecord) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("account", Account.Type).Field("account_id").Unique().Required().Immutable().Annotations(entgql.Skip()),
		edge.To("account_service", AccountService.Type).Field("account_service_id").Unique().Required().Immutable(),
	}
}

// Indexes of the UsageRecord.
func (UsageRecord) Indexes() []ent.Index {
	return []ent.Index{
		// Key first: a batch looks its keys up with key IN (...), one probe each
		// (with account_id IN (...) as well, SQLite would probe every pair).
		index.Fields("key", "account_id").Unique(),
		index.Fields("account_service_id", "date"),
	}
}

// Annotations of the UsageRecord.
func (UsageRecord) Annotations() []schema.Annotation {
	return []schema.Annotation{entgql.Skip(entgql.SkipWhereInput)}
}
