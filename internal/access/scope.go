package access

import (
	"context"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/intercept"
	"github.com/billd/billd/internal/fault"
)

// Scope installs on client the rules that keep each principal to what is theirs,
// below every entry point (node, nodes, connections and their totalCount, edges,
// mutations):
//
//   - a PARTNER key's queries see only its own partner, its accounts and what hangs
//     off them (account-packages, services and their price overrides, status
//     changes, invoices, charges, bill-run errors); bill runs stay visible, with
//     the partner's own figures (billrun.View);
//   - only ADMIN keys see API keys and the audit log;
//   - a PARTNER key's updates and deletes reach only rows it can see, and what it
//     creates must hang off an account it can see.
//
// A row out of scope behaves as if it did not exist: NOT_FOUND, never FORBIDDEN.
// Work billd does on its own (no principal in the context) is not scoped.
func Scope(client *ent.Client) {
	client.Intercept(intercept.TraverseFunc(func(ctx context.Context, q intercept.Query) error {
		if pred := scopeOf(ctx, q.Type()); pred != nil {
			q.WhereP(pred)
		}
		return nil
	}))
	client.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if err := checkMutation(ctx, m); err != nil {
				return nil, err
			}
			return next.Mutate(ctx, m)
		})
	})
}

// scopeOf returns the predicate limiting entity type typ to what ctx's principal may
// see, or nil when it sees everything of that type.
func scopeOf(ctx context.Context, typ string) func(*entsql.Selector) {
	p, ok := FromContext(ctx)
	if !ok {
		return nil
	}
	switch typ {
	case ent.TypeAPIKey, ent.TypeAuditEntry:
		if p.Role != Admin {
			return nothing
		}
		return nil
	}
	if p.Role != Partner {
		return nil
	}
	pid := p.PartnerID
	switch typ {
	case ent.TypePartner:
		return func(s *entsql.Selector) { s.Where(entsql.EQ(s.C("id"), pid)) }
	case ent.TypeAccount:
		return func(s *entsql.Selector) { s.Where(entsql.EQ(s.C(account.FieldPartnerID), pid)) }
	case ent.TypeAccountPackage, ent.TypeInvoice, ent.TypeCharge, ent.TypeStatusChange, ent.TypeBillRunError,
		ent.TypeUsageRecord, ent.TypeUsageDay:
		return func(s *entsql.Selector) { s.Where(entsql.In(s.C("account_id"), accountsOf(pid))) }
	case ent.TypeAccountService:
		return func(s *entsql.Selector) {
			s.Where(entsql.In(s.C(accountservice.FieldAccountPackageID), packagesOf(pid)))
		}
	case ent.TypeStatusPrice:
		// Catalog prices are public; an account-service's override is its owner's.
		return func(s *entsql.Selector) {
			s.Where(entsql.Or(entsql.IsNull(s.C("account_service_id")),
				entsql.In(s.C("account_service_id"), servicesOf(pid))))
		}
	case ent.TypeBillRunBatch:
		return nothing
	}
	return nil
}

func nothing(s *entsql.Selector) { s.Where(entsql.False()) }

func accountsOf(pid int) *entsql.Selector {
	t := entsql.Table(account.Table)
	return entsql.Select(t.C(account.FieldID)).From(t).Where(entsql.EQ(t.C(account.FieldPartnerID), pid))
}

func packagesOf(pid int) *entsql.Selector {
	t := entsql.Table(accountpackage.Table)
	return entsql.Select(t.C(accountpackage.FieldID)).From(t).Where(entsql.In(t.C(accountpackage.FieldAccountID), accountsOf(pid)))
}

func servicesOf(pid int) *entsql.Selector {
	t := entsql.Table(accountservice.Table)
	return entsql.Select(t.C(accountservice.FieldID)).From(t).
		Where(entsql.In(t.C(accountservice.FieldAccountPackageID), packagesOf(pid)))
}

// checkMutation keeps a partner's writes in its scope: updates and deletes are
// limited to rows it can see (a row it cannot see is not found), and a new row must
// hang off an account, account-package or account-service it can see.
func checkMutation(ctx context.Context, m ent.Mutation) error {
	pid, ok := PartnerOf(ctx)
	if !ok {
		return nil
	}
	switch m.Type() {
	case ent.TypeAPIKey, ent.TypeAuditEntry, ent.TypeCounter, ent.TypeBillRunBatch:
		return nil // written by billd itself on a partner's behalf (numbers, audit)
	}
	if m.Op().Is(ent.OpCreate) {
		return checkCreate(ctx, m, pid)
	}
	pred := scopeOf(ctx, m.Type())
	if pred == nil {
		return nil
	}
	w, ok := m.(interface {
		WhereP(...func(*entsql.Selector))
	})
	if !ok {
		return fault.Forbiddenf("not allowed")
	}
	w.WhereP(pred)
	return nil
}

func checkCreate(ctx context.Context, m ent.Mutation, pid int) error {
	cl, ok := m.(interface{ Client() *ent.Client })
	if !ok {
		return nil
	}
	c := cl.Client()
	if m.Type() == ent.TypeAccount {
		v, ok := m.Field(account.FieldPartnerID)
		if !ok || v.(int) != pid {
			return fault.NotFoundf("input.partnerId", "partner not found")
		}
		return nil
	}
	visible := func(typ string, id int) (bool, error) {
		switch typ {
		case "account_id":
			return c.Account.Query().Where(account.ID(id)).Exist(ctx)
		case "account_package_id":
			return c.AccountPackage.Query().Where(accountpackage.ID(id)).Exist(ctx)
		case "account_service_id":
			return c.AccountService.Query().Where(accountservice.ID(id)).Exist(ctx)
		}
		return true, nil
	}
	for _, f := range []string{"account_id", "account_package_id", "account_service_id"} {
		v, ok := m.Field(f)
		if !ok {
			continue
		}
		id, ok := v.(int)
		if !ok {
			continue
		}
		seen, err := visible(f, id)
		if err != nil {
			return err
		}
		if !seen {
			return fault.NotFoundf("", "%s %d not found", f, id)
		}
	}
	return nil
}
