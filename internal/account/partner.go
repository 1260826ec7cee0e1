package account

import (
	"context"
	"strings"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/partner"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/store"
)

// CreatePartnerInput creates a partner (a reseller).
type CreatePartnerInput struct {
	Name string
}

// Validate checks the input without touching the database.
func (in *CreatePartnerInput) Validate() error { return checkName(&in.Name) }

// UpdatePartnerInput renames a partner; an omitted name stays.
type UpdatePartnerInput struct {
	Name *string
}

// Validate checks the input without touching the database.
func (in *UpdatePartnerInput) Validate() error {
	if in.Name != nil {
		return checkName(in.Name)
	}
	return nil
}

// CreatePartner creates a partner. BAD_USER_INPUT for an empty or long name;
// CONFLICT when another partner has the name.
func (s *Service) CreatePartner(ctx context.Context, in CreatePartnerInput) (*ent.Partner, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c := store.Client(ctx, s.client)
	if err := s.nameFree(ctx, c, in.Name, 0); err != nil {
		return nil, err
	}
	p, err := c.Partner.Create().SetName(in.Name).SetCreatedAt(s.clock.Now()).Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, fault.Conflictf("input.name", "a partner named %q exists", in.Name)
	}
	return p, err
}

// UpdatePartner renames a partner. NOT_FOUND for an unknown id; CONFLICT when
// another partner has the name.
func (s *Service) UpdatePartner(ctx context.Context, id int, in UpdatePartnerInput) (*ent.Partner, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	c := store.Client(ctx, s.client)
	ok, err := c.Partner.Query().Where(partner.ID(id)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fault.NotFoundf("id", "partner %d not found", id)
	}
	if in.Name != nil {
		if err := s.nameFree(ctx, c, *in.Name, id); err != nil {
			return nil, err
		}
	}
	p, err := c.Partner.UpdateOneID(id).SetNillableName(in.Name).Save(ctx)
	if ent.IsConstraintError(err) {
		return nil, fault.Conflictf("input.name", "a partner named %q exists", *in.Name)
	}
	return p, err
}

func (s *Service) nameFree(ctx context.Context, c *ent.Client, name string, except int) error {
	taken, err := c.Partner.Query().Where(partner.NameEqualFold(strings.TrimSpace(name)), partner.IDNEQ(except)).Exist(ctx)
	if err != nil {
		return err
	}
	if taken {
		return fault.Conflictf("input.name", "a partner named %q exists", name)
	}
	return nil
}
