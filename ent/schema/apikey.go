package schema

import (
	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// APIKey is a credential. Only the SHA-256 of its secret is stored; the key itself is
// shown once, when it is created. Keys are revoked, never deleted, so the audit log
// keeps naming them.
type APIKey struct{ ent.Schema }

// Fields of the APIKey.
func (APIKey) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").NotEmpty().MaxRuneLen(200),
		// prefix is the key's public part, by which it is looked up.
		field.String("prefix").Unique().Immutable(),
		field.Bytes("secret_hash").Sensitive().Immutable().Annotations(entgql.Skip()),
		field.Enum("role").Values("ADMIN", "OPERATOR", "READ_ONLY", "PARTNER").Immutable(),
		field.Int("partner_id").Optional().Nillable().Immutable().Annotations(entgql.Skip()),
		field.Time("created_at").Immutable(),
		field.Time("expires_at").Optional().Nillable(),
		field.Time("revoked_at").Optional().Nillable(),
	}
}

// Edges of the APIKey.
func (APIKey) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("partner", Partner.Type).Ref("api_keys").Field("partner_id").Unique().Immutable(),
	}
}

// Annotations of the APIKey.
func (APIKey) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("api_keys"), entgql.Type("ApiKey"), entgql.RelayConnection(),
		entgql.QueryField("apiKeys")}
}
