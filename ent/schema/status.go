package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Status is a state an account-package or account-service can be in. Its flags decide
// whether recurring charges apply (billable) and whether anything but the status may
// change (readOnly).
type Status struct{ ent.Schema }

// Fields of the Status.
func (Status) Fields() []ent.Field {
	return []ent.Field{
		field.String("code").Unique().Immutable().MaxLen(32),
		field.String("name").NotEmpty(),
		field.Bool("billable"),
		field.Bool("read_only"),
		field.Bool("builtin").Default(false).Immutable(),
	}
}

// Annotations of the Status.
func (Status) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("statuses"), entgql.Skip(entgql.SkipWhereInput)}
}
