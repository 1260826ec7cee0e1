// Package access decides who may do what: API keys and the principals they stand
// for, the roles, partner scoping of every query and mutation, abuse limits, and
// the audit log. It knows nothing of GraphQL; the transport asks it.
package access

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// Role is what a key may do.
type Role string

// The roles. A PARTNER key is bound to one partner and sees only its accounts.
const (
	Admin    Role = "ADMIN"
	Operator Role = "OPERATOR"
	ReadOnly Role = "READ_ONLY"
	Partner  Role = "PARTNER"
)

// Roles lists every role, strongest first.
var Roles = []Role{Admin, Operator, ReadOnly, Partner}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Permission is what an operation requires of its caller.
type Permission string

// The permissions, each granted to a fixed set of roles (see Allows).
const (
	// Read is every query and subscription on data a partner may own or read: all
	// roles, partners scoped to their own accounts.
	Read Permission = "read"
	// WriteAccounts is changing accounts, provisioning and invoices: ADMIN, OPERATOR,
	// and PARTNER on its own accounts.
	WriteAccounts Permission = "write-accounts"
	// Operate is changing the catalog, partners and running bills: ADMIN, OPERATOR.
	Operate Permission = "operate"
	// Administer is keys and the audit log: ADMIN only.
	Administer Permission = "administer"
)

// Allows reports whether role r holds permission p.
func (r Role) Allows(p Permission) bool {
	switch p {
	case Read:
		return r.Valid()
	case WriteAccounts:
		return r == Admin || r == Operator || r == Partner
	case Operate:
		return r == Admin || r == Operator
	case Administer:
		return r == Admin
	}
	return false
}

// Principal is who a request acts as: the key it authenticated with.
type Principal struct {
	KeyID     int
	KeyName   string
	Role      Role
	PartnerID int // set for PARTNER keys only
}

// String names the principal for logs.
func (p *Principal) String() string {
	if p.Role == Partner {
		return fmt.Sprintf("key %d (%s, partner %d)", p.KeyID, p.Role, p.PartnerID)
	}
	return fmt.Sprintf("key %d (%s)", p.KeyID, p.Role)
}

type principalKey struct{}

// WithPrincipal returns ctx acting as p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal ctx acts as, if any. Work billd does on its own
// (bill-run workers, start-up) has none and is not scoped.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// PartnerOf returns the partner ctx is scoped to, if it acts as a PARTNER key.
func PartnerOf(ctx context.Context) (int, bool) {
	if p, ok := FromContext(ctx); ok && p.Role == Partner {
		return p.PartnerID, true
	}
	return 0, false
}

// MarshalGQL writes the role as its GraphQL enum value.
func (r Role) MarshalGQL(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(string(r))) }

// UnmarshalGQL reads a GraphQL enum value.
func (r *Role) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok || !Role(s).Valid() {
		return fmt.Errorf("%v is not a role", v)
	}
	*r = Role(s)
	return nil
}

// Unscoped returns ctx without its principal, for domain code that must read rows
// outside the caller's scope to compute something the caller may see (a partner's
// share of a bill run's batches). What it reads must not be returned as such.
func Unscoped(ctx context.Context) context.Context {
	return context.WithValue(ctx, principalKey{}, (*Principal)(nil))
}
