// Package graph serves billd's GraphQL API: the schema's generated executor, thin
// resolvers that decode, make one call into internal/ and map the result, and the one
// place where coded errors become GraphQL errors (errors.go).
package graph

import (
	"log/slog"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/contract"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/usage"
)

// Resolver holds what the resolvers call into.
type Resolver struct {
	Client   *ent.Client
	Catalog  *catalog.Service
	Accounts *account.Service
	// Provisioning changes account-packages and account-services.
	Provisioning *provisioning.Service
	// BillRuns starts and cancels bill runs.
	BillRuns *billrun.Service
	// Invoices closes invoices.
	Invoices *invoicing.Service
	// Usage records usage.
	Usage *usage.Service
	// Contracts creates contracts.
	Contracts *contract.Service
	// Keys creates, revokes and authenticates API keys.
	Keys *access.Keys
	Log  *slog.Logger
	// ListRows is the most rows a plain list field (Invoice.lines, ...) answers;
	// zero means access.DefaultLimits.MaxListRows.
	ListRows int
	// MaxNodes is the most ids nodes(ids) takes; zero means access.DefaultLimits.MaxNodes.
	MaxNodes int
}

// listRows is the most rows a plain list field answers (see graph/list.go).
func (r *Resolver) listRows() int {
	if r.ListRows > 0 {
		return r.ListRows
	}
	return access.DefaultLimits.MaxListRows
}

// maxNodes is the most ids nodes(ids) takes.
func (r *Resolver) maxNodes() int {
	if r.MaxNodes > 0 {
		return r.MaxNodes
	}
	return access.DefaultLimits.MaxNodes
}
