package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// AuditEntry records one mutation: who (key and role), what (the operation and the
// ids it touched), when, and whether it succeeded. Entries are written outside the
// mutation's transaction, so refused and failed mutations are recorded too.
type AuditEntry struct{ ent.Schema }

// Fields of the AuditEntry.
func (AuditEntry) Fields() []ent.Field {
	return []ent.Field{
		field.Time("at").Immutable(),
		field.Int("key_id").Optional().Nillable().Immutable(),
		field.String("key_name").Immutable(),
		field.String("role").Immutable(),
		field.Int("partner_id").Optional().Nillable().Immutable(),
		field.String("operation").Immutable(),
		field.Ints("ids").Immutable(),
		field.Bool("success").Immutable(),
		field.String("error_code").Optional().Nillable().Immutable(),
		// message says why a refused mutation was refused (its error's message).
		field.String("message").Optional().Nillable().Immutable(),
		// refused_before_execution marks a mutation refused while its document was
		// checked (validation, depth, complexity): nothing was called.
		field.Bool("refused_before_execution").Default(false).Immutable(),
	}
}

// Indexes of the AuditEntry.
func (AuditEntry) Indexes() []ent.Index {
	return []ent.Index{index.Fields("key_id")}
}

// Annotations of the AuditEntry.
func (AuditEntry) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("audit_entries"), entgql.RelayConnection(), entgql.QueryField("auditLog")}
}
