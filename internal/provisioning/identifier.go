package provisioning

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/rating"
)

// MaxUsageIdentifierLen bounds a usage identifier, in characters.
const MaxUsageIdentifierLen = 100

// normalIdentifier trims a usage identifier and checks its form; "" (after
// trimming) clears it, answered as nil.
func normalIdentifier(field string, ident string) (*string, error) {
	ident = strings.TrimSpace(ident)
	switch n := utf8.RuneCountInString(ident); {
	case n == 0:
		return nil, nil
	case n > MaxUsageIdentifierLen:
		return nil, fault.Invalidf(field, "usageIdentifier has %d characters, at most %d", n, MaxUsageIdentifierLen)
	}
	for _, r := range ident {
		if unicode.IsControl(r) {
			return nil, fault.Invalidf(field, "usageIdentifier holds a control character")
		}
	}
	return &ident, nil
}

// claimIdentifier checks that a usage identifier may name an account-service of
// service svc (except: the account-service itself, 0 for a new one): only USAGE
// services have one, and no other account-service that is not CANCELED has it
// (docs/billing.md 6.2). The identifier's lock is held until the transaction ends, so
// two requests cannot both claim it. The check sees every account, whoever asks: an
// identifier (a phone number) names one line in the whole system.
func (s *Service) claimIdentifier(ctx context.Context, c *ent.Client, svc *ent.Service, ident string, except int, field string) error {
	if svc.Kind != service.KindUSAGE {
		return fault.Invalidf(field, "service %q is a %s service: only usage is recorded by identifier", svc.Name, svc.Kind)
	}
	if err := s.db.LockName(ctx, c, "usage_identifier:"+ident); err != nil {
		return err
	}
	t, st := entsql.Table(accountservice.Table), entsql.Table(status.Table)
	query, args := entsql.Dialect(string(s.db.Dialect)).Select(t.C(accountservice.FieldID)).From(t).
		Join(st).On(t.C(accountservice.FieldStatusID), st.C(status.FieldID)).
		Where(entsql.And(entsql.EQ(t.C(accountservice.FieldUsageIdentifier), ident),
			entsql.NEQ(t.C(accountservice.FieldID), except), entsql.NEQ(st.C(status.FieldCode), rating.Canceled))).
		Limit(1).Query()
	// The client's raw query: not narrowed to the caller's partner.
	rows, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if rows.Next() {
		return fault.Conflictf(field, "usage identifier %q already names another account-service", ident)
	}
	return rows.Err()
}

// claimPlanned claims the usage identifiers of the services of a new account-package:
// each names one account-service, so one request may not give the same identifier
// twice, nor one to the services of several copies.
func (s *Service) claimPlanned(ctx context.Context, c *ent.Client, plan []plannedService, copies int) error {
	seen := map[string]bool{}
	for _, p := range plan {
		if p.identifier == nil {
			continue
		}
		switch {
		case copies > 1:
			return fault.Invalidf(p.identPath, "one usage identifier cannot name the services of %d account-packages", copies)
		case seen[*p.identifier]:
			return fault.Invalidf(p.identPath, "usage identifier %q is given twice", *p.identifier)
		}
		seen[*p.identifier] = true
		svc, err := c.Service.Get(ctx, p.serviceID)
		if err != nil {
			return err
		}
		if err := s.claimIdentifier(ctx, c, svc, *p.identifier, 0, p.identPath); err != nil {
			return err
		}
	}
	return nil
}

// setIdentifier gives an existing account-service a usage identifier, or clears it
// ("").
func (s *Service) setIdentifier(ctx context.Context, c *ent.Client, sv *ent.AccountService, raw string) error {
	ident, err := normalIdentifier("input.usageIdentifier", raw)
	if err != nil {
		return err
	}
	if ident == nil {
		return c.AccountService.UpdateOneID(sv.ID).ClearUsageIdentifier().Exec(ctx)
	}
	svc, err := c.Service.Get(ctx, sv.ServiceID)
	if err != nil {
		return err
	}
	if err := s.claimIdentifier(ctx, c, svc, *ident, sv.ID, "input.usageIdentifier"); err != nil {
		return err
	}
	return c.AccountService.UpdateOneID(sv.ID).SetUsageIdentifier(*ident).Exec(ctx)
}
