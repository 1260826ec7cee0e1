package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/usage"
)

// Operations is the permission each root field of the schema requires (see
// access.Role.Allows for which roles hold which). A root field missing here is
// refused for every role, and TestRoleTable fails until it has an entry.
var Operations = map[string]access.Permission{
	"Query.node":       access.Read,
	"Query.nodes":      access.Read,
	"Query.currencies": access.Read,
	"Query.statuses":   access.Read,
	"Query.currency":   access.Read,
	"Query.status":     access.Read,
	"Query.services":   access.Read,
	"Query.packages":   access.Read,
	"Query.accounts":   access.Read,
	"Query.invoices":   access.Read,
	"Query.partners":   access.Read,
	"Query.viewer":     access.Read,
	"Query.billRuns":   access.Read,
	"Query.ratePlans":  access.Read,
	"Query.priceBooks": access.Read,
	"Query.pricePlans": access.Read,
	"Query.apiKeys":    access.Administer,
	"Query.auditLog":   access.Administer,

	"Mutation.createCurrency":      access.Operate,
	"Mutation.createStatus":        access.Operate,
	"Mutation.createService":       access.Operate,
	"Mutation.updateService":       access.Operate,
	"Mutation.createPackage":       access.Operate,
	"Mutation.updatePackage":       access.Operate,
	"Mutation.deletePackage":       access.Operate,
	"Mutation.addPackageFrequency": access.Operate,
	"Mutation.addPackageService":   access.Operate,
	"Mutation.createRatePlan":      access.Operate,
	"Mutation.createPriceBook":     access.Operate,
	"Mutation.setPriceBookPrices":  access.Operate,
	"Mutation.createPricePlan":     access.Operate,
	"Mutation.createPartner":       access.Operate,
	"Mutation.updatePartner":       access.Operate,
	"Mutation.startBillRun":        access.Operate,
	"Mutation.cancelBillRun":       access.Operate,

	"Mutation.createAccount":        access.WriteAccounts,
	"Mutation.updateAccount":        access.WriteAccounts,
	"Mutation.provisionPackage":     access.WriteAccounts,
	"Mutation.updateAccountPackage": access.WriteAccounts,
	"Mutation.cancelAccountPackage": access.WriteAccounts,
	"Mutation.deleteAccountPackage": access.WriteAccounts,
	"Mutation.addAccountService":    access.WriteAccounts,
	"Mutation.updateAccountService": access.WriteAccounts,
	"Mutation.removeAccountService": access.WriteAccounts,
	"Mutation.closeInvoice":         access.WriteAccounts,
	"Mutation.recordUsage":          access.WriteAccounts,
	"Mutation.addDiscount":          access.WriteAccounts,
	"Mutation.removeDiscount":       access.WriteAccounts,
	"Mutation.createContract":       access.WriteAccounts,

	"Mutation.createApiKey": access.Administer,
	"Mutation.revokeApiKey": access.Administer,

	"Subscription.billRunProgress": access.Read,
	"Subscription.billRunsChanged": access.Read,
}

// Access is what the API needs to authenticate, authorize, limit and audit requests.
type Access struct {
	Keys    *access.Keys
	Limiter *access.Limiter
	Audit   *access.Audit
	// CORSOrigins are the browser origins allowed to call the API from another
	// origin ("*" for any). Empty: same-origin only.
	CORSOrigins []string
	// Revalidate is how often an open websocket re-checks its key, to close it when
	// the key was revoked on another node or expired. Zero means 10 s.
	Revalidate time.Duration
	// ClientIPHeader names the header a trusted reverse proxy puts the client's
	// address in (X-Forwarded-For, X-Real-IP); its last entry is the one the proxy
	// added. Empty: the address of the TCP peer. Failed authentications are limited
	// per address.
	ClientIPHeader string
	// BodyTimeout bounds the time a request's body may take to arrive once its
	// headers are in (REQUEST_TIMEOUT, 408); zero means no bound.
	BodyTimeout time.Duration
	// WriteTimeout bounds the time a plain request may take to be answered; zero
	// means no bound. Websockets are not bound by it.
	WriteTimeout time.Duration
	// WSWriteTimeout is how long a websocket message may take to reach its client
	// before the client is dropped; zero means DefaultWSWriteTimeout.
	WSWriteTimeout time.Duration
}

type (
	wsKey      struct{}
	addrKey    struct{} // the client address of a websocket's upgrade request
	pendingKey struct{} // releases the websocket's place among those not yet initialized
)

// clientAddr is the address failed authentications of r are counted against.
func (a *Access) clientAddr(r *http.Request) string {
	if a.ClientIPHeader != "" {
		if v := r.Header.Values(a.ClientIPHeader); len(v) > 0 {
			last := v[len(v)-1]
			if i := strings.LastIndex(last, ","); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate checks a presented key, refusing at once (RATE_LIMITED, with how
// long to wait) an address whose recent failures spent its allowance, and counting a
// key that fails against it. A missing key is refused without counting: it guesses
// nothing and costs no lookup.
func (a *Access) authenticate(ctx context.Context, addr, header string) (*access.Principal, time.Duration, error) {
	if ok, wait := a.Limiter.AuthAllowed(addr); !ok {
		return nil, wait, &fault.Error{Code: fault.RateLimited, Message: fmt.Sprintf(
			"too many failed authentications from this address: retry in %s", wait.Round(time.Millisecond))}
	}
	p, err := a.Keys.Authenticate(ctx, header)
	if fe, ok := fault.As(err); ok && fe.Code == fault.Unauthenticated && header != "" {
		a.Limiter.AuthFailed(addr)
	}
	return p, 0, err
}

// refusal builds a response that refuses an operation before it runs.
func refusal(code fault.Code, format string, args ...any) *graphql.Response {
	return &graphql.Response{Errors: gqlerror.List{{Message: fmt.Sprintf(format, args...),
		Extensions: map[string]any{"code": string(code)}}}}
}

// authorize refuses an operation whose root fields the principal's role may not
// call (FORBIDDEN), counts websocket operations against the key's rate, and a
// subscription against its subscription cap. Nothing runs when it refuses.
func (a *Access) authorize(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	p, ok := access.FromContext(ctx)
	if !ok {
		return graphql.OneShot(refusal(fault.Unauthenticated, "an API key is required: send Authorization: Bearer <key>"))
	}
	if oc.Operation == nil {
		return next(ctx)
	}
	root := rootType(oc.Operation.Operation)
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{root}) {
		if strings.HasPrefix(f.Name, "__") {
			continue // introspection: on or off for everyone (BILLD_INTROSPECTION)
		}
		perm, known := Operations[root+"."+f.Name]
		if !known || !p.Role.Allows(perm) {
			return graphql.OneShot(refusal(fault.Forbidden, "a %s key may not call %s.%s", p.Role, root, f.Name))
		}
	}
	if ctx.Value(wsKey{}) != nil {
		if ok, wait := a.Limiter.Allow(p.KeyID); !ok {
			return graphql.OneShot(refusal(fault.RateLimited, "rate limit exceeded: retry in %s", wait.Round(time.Millisecond)))
		}
	}
	if oc.Operation.Operation == ast.Subscription {
		release, ok := a.Limiter.Subscribe(p.KeyID)
		if !ok {
			return graphql.OneShot(refusal(fault.TooManyConnections, "this key has %d subscriptions running, the most allowed",
				a.Limiter.Limits().Subscriptions))
		}
		go func() {
			<-ctx.Done()
			release()
		}()
	}
	return next(ctx)
}

// partnerArguments is what a PARTNER key may ask of a mutation beyond its role: the
// arguments that name a partner. Rows out of the partner's scope are refused below,
// by the scoped client (access.Scope); these are the arguments that are not rows.
var partnerArguments = map[string]func(partner int, args map[string]any) error{
	// A partner's accounts are always its own.
	"createAccount": func(partner int, args map[string]any) error {
		in, ok := args["input"].(account.CreateAccountInput)
		if !ok {
			return nil
		}
		if in.PartnerID != nil && *in.PartnerID != partner {
			return fault.NotFoundf("input.partnerId", "partner %d not found", *in.PartnerID)
		}
		in.PartnerID = &partner
		args["input"] = in
		return nil
	},
	// Only operators move accounts between partners.
	"updateAccount": func(partner int, args map[string]any) error {
		if in, ok := args["input"].(account.UpdateAccountInput); ok && (in.PartnerID != nil || (in.ClearPartner != nil && *in.ClearPartner)) {
			return fault.Forbiddenf("a partner key cannot move accounts between partners")
		}
		return nil
	},
}

// checkPartnerArguments applies partnerArguments to the mutations of PARTNER keys,
// before their resolvers run.
func checkPartnerArguments(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "Mutation" {
		return next(ctx)
	}
	if check, ok := partnerArguments[fc.Field.Name]; ok {
		if partner, ok := access.PartnerOf(ctx); ok {
			if err := check(partner, fc.Args); err != nil {
				return nil, err
			}
		}
	}
	return next(ctx)
}

func rootType(op ast.Operation) string {
	switch op {
	case ast.Mutation:
		return "Mutation"
	case ast.Subscription:
		return "Subscription"
	}
	return "Query"
}

// capPages refuses a connection page larger than the limit, on every connection
// field (root or edge): BAD_USER_INPUT naming first or last.
func capPages(max int) graphql.FieldMiddleware {
	return func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc != nil && len(fc.Args) > 0 {
			for _, name := range []string{"first", "last"} {
				if n, ok := fc.Args[name].(*int); ok && n != nil && *n > max {
					return nil, fault.Invalidf(name, "%s must be between 0 and %d", name, max)
				}
			}
		}
		return next(ctx)
	}
}

// depthLimit refuses operations whose selections nest deeper than max
// (QUERY_TOO_DEEP). Introspection fields are not counted.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                          { return "DepthLimit" }
func (depthLimit) Validate(schema graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if n := depth(oc.Doc, oc.Operation.SelectionSet, 0); n > d.max {
		return &gqlerror.Error{Message: fmt.Sprintf("the query nests %d levels deep, more than the %d allowed", n, d.max),
			Extensions: map[string]any{"code": string(fault.TooDeep)}}
	}
	return nil
}

func depth(doc *ast.QueryDocument, set ast.SelectionSet, seen int) int {
	if seen > 100 { // fragments cannot cycle after validation; this is a backstop
		return seen
	}
	deepest := 0
	for _, s := range set {
		var n int
		switch s := s.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") {
				continue
			}
			n = 1 + depth(doc, s.SelectionSet, seen+1)
		case *ast.InlineFragment:
			n = depth(doc, s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if f := doc.Fragments.ForName(s.Name); f != nil {
				n = depth(doc, f.SelectionSet, seen+1)
			}
		}
		deepest = max(deepest, n)
	}
	return deepest
}

// complexity counts every list at the most rows it can answer, so the complexity
// limit bounds the rows (and the work) a query can cause:
//   - a connection at its page size (first/last, else DefaultPageSize);
//   - a row list (Invoice.lines, AccountPackage.charges and services, BillRun.errors)
//     at listRows, which it never exceeds (RESULT_TOO_LARGE);
//   - a catalog list at the longest such list in the database (catalogBounds);
//   - nodes(ids) at its ids, provisionPackage at the account-packages it creates.
func complexity(cfg *Config, listRows int, bounds *catalogBounds) {
	page := func(child int, first, last *int) int {
		n := DefaultPageSize
		if first != nil {
			n = *first
		} else if last != nil {
			n = *last
		}
		return 1 + max(n, 1)*child
	}
	edge := func(child int, after *entgql.Cursor[int], first *int, before *entgql.Cursor[int], last *int) int {
		return page(child, first, last)
	}
	conn := func(child int, first *int, after *entgql.Cursor[int], last *int, before *entgql.Cursor[int]) int {
		return page(child, first, last)
	}
	rows := func(child int) int { return 1 + listRows*child }
	catalog := func(of func(catalogSizes) int) func(child int) int {
		return func(child int) int { return 1 + of(bounds.get())*child }
	}
	c := &cfg.Complexity
	c.Account.AccountPackages = edge
	c.Account.Invoices = edge
	c.Partner.Accounts = edge
	c.Query.Accounts = conn
	c.Query.APIKeys = conn
	c.Query.AuditLog = conn
	c.Query.BillRuns = conn
	c.Query.Invoices = conn
	c.Query.Packages = conn
	c.Query.Partners = conn
	c.Query.Services = conn
	c.Query.RatePlans = conn
	c.Query.PriceBooks = conn
	c.Query.PricePlans = conn
	c.Invoice.LinesConnection = conn
	c.AccountPackage.ChargesConnection = conn
	c.AccountPackage.ServicesConnection = conn
	c.BillRun.ErrorsConnection = conn

	c.Invoice.Lines = rows
	c.AccountPackage.Charges = rows
	c.AccountPackage.Services = rows
	c.BillRun.Errors = rows
	c.AccountService.Discounts = rows
	c.Account.Contracts = rows
	c.PackageFrequency.PriceBookPrices = rows

	c.Query.Currencies = catalog(func(s catalogSizes) int { return s.Currencies })
	c.Query.Statuses = catalog(func(s catalogSizes) int { return s.Statuses })
	c.BillRun.Totals = catalog(func(s catalogSizes) int { return s.Currencies })
	c.Package.Currencies = catalog(func(s catalogSizes) int { return s.PackageCurrencies })
	c.Package.Services = catalog(func(s catalogSizes) int { return s.PackageServices })
	c.Package.Frequencies = catalog(func(s catalogSizes) int { return s.PackageFrequencies })
	c.PackageFrequency.Prices = catalog(func(s catalogSizes) int { return s.FrequencyPrices })
	c.ServicePrice.Recurring = catalog(func(s catalogSizes) int { return s.PriceStatuses })
	c.ServicePrice.Transitions = catalog(func(s catalogSizes) int { return s.PriceTransitions })
	// One override per status at most.
	c.AccountService.PriceOverrides = catalog(func(s catalogSizes) int { return s.Statuses })
	c.AuditEntry.Ids = func(child int) int { return 1 + access.MaxAuditIDs }
	c.RatePlan.Tiers = func(child int) int { return 1 + catalogMaxTiers*child }
	c.PricePlan.Entries = func(child int) int { return 1 + catalogMaxPlanEntries*child }
	c.CountingRule.Tiers = func(child int) int { return 1 + catalogMaxCountingTiers*child }
	c.Mutation.RecordUsage = func(child int, records []*usage.RecordInput) int { return 1 + max(len(records), 1) }

	c.Query.Nodes = func(child int, ids []int) int { return 1 + max(len(ids), 1)*child }
	c.Mutation.ProvisionPackage = func(child int, in provisioning.ProvisionPackageInput) int {
		n := 1
		if in.Quantity != nil {
			n = max(*in.Quantity, 1)
		}
		return 1 + n*child
	}
}

// gate is the HTTP front of /query: CORS, authentication (Authorization: Bearer on
// every request; websockets may instead send it in connection_init), the per-key rate
// limit, and only then the body, read within BodyTimeout and up to the size limit. A
// client that sends its body slowly, or no key, is refused before it costs more than
// its headers. A websocket upgrade counts against its address's cap of connections
// that have not sent connection_init, and loses the deadlines of plain requests.
func (a *Access) gate(next http.Handler, log *slog.Logger) http.Handler {
	limits := a.Limiter.Limits()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && a.allowOrigin(origin) {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Max-Age", "600")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		upgrade := isUpgrade(r)
		header := r.Header.Get("Authorization")
		addr := a.clientAddr(r)
		ctx := r.Context()
		rc := http.NewResponseController(w)
		if header != "" || !upgrade {
			p, wait, err := a.authenticate(ctx, addr, header)
			if err != nil {
				unread(rc, w)
				a.refuseAuthentication(w, r, log, wait, err)
				return
			}
			ctx = access.WithPrincipal(ctx, p)
			if !upgrade {
				if ok, wait := a.Limiter.Allow(p.KeyID); !ok {
					unread(rc, w)
					w.Header().Set("Retry-After", retryAfter(wait))
					writeRefusal(w, http.StatusTooManyRequests, fault.RateLimited,
						"rate limit exceeded: retry in %s", wait.Round(time.Millisecond))
					return
				}
			}
		}
		if upgrade {
			release, ok := a.Limiter.PendingWebsocket(addr)
			if !ok {
				writeRefusal(w, http.StatusTooManyRequests, fault.TooManyConnections,
					"this address has %d websocket connections that have not sent connection_init, the most allowed",
					limits.PendingWebsockets)
				return
			}
			defer release()
			// A websocket lives long: no deadline of a plain request applies to it.
			_ = rc.SetReadDeadline(time.Time{})
			_ = rc.SetWriteDeadline(time.Time{})
			ctx = context.WithValue(context.WithValue(ctx, addrKey{}, addr), pendingKey{}, release)
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		if a.WriteTimeout > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(a.WriteTimeout))
		}
		if r.Body != nil && limits.MaxBodyBytes > 0 {
			if a.BodyTimeout > 0 {
				_ = rc.SetReadDeadline(time.Now().Add(a.BodyTimeout))
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, limits.MaxBodyBytes+1))
			var ne net.Error
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				w.Header().Set("Connection", "close")
				writeRefusal(w, http.StatusRequestTimeout, fault.RequestTimeout,
					"the request body did not arrive within %s", a.BodyTimeout)
				return
			case err != nil:
				writeRefusal(w, http.StatusBadRequest, fault.Invalid, "reading the request body failed")
				return
			case int64(len(body)) > limits.MaxBodyBytes:
				writeRefusal(w, http.StatusRequestEntityTooLarge, fault.TooLarge,
					"the request body is larger than %d bytes", limits.MaxBodyBytes)
				return
			}
			_ = rc.SetReadDeadline(time.Time{})
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// unread prepares the answer to a request whose body is left unread: Go's server
// would otherwise read the body before sending the answer (a client trickling it
// would hold the connection all the while), and the connection is not reused.
func unread(rc *http.ResponseController, w http.ResponseWriter) {
	_ = rc.EnableFullDuplex()
	w.Header().Set("Connection", "close")
}

// refuseAuthentication answers a request whose key was refused: 429 with
// Retry-After for an address that spent its failures, else 401.
func (a *Access) refuseAuthentication(w http.ResponseWriter, r *http.Request, log *slog.Logger, wait time.Duration, err error) {
	fe, ok := fault.As(err)
	switch {
	case !ok:
		log.ErrorContext(r.Context(), "authenticating", "error", err)
		writeRefusal(w, http.StatusInternalServerError, fault.Internal, "internal error")
	case fe.Code == fault.RateLimited:
		w.Header().Set("Retry-After", retryAfter(wait))
		writeRefusal(w, http.StatusTooManyRequests, fe.Code, "%s", fe.Message)
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="billd"`)
		writeRefusal(w, http.StatusUnauthorized, fe.Code, "%s", fe.Message)
	}
}

func (a *Access) allowOrigin(origin string) bool {
	for _, o := range a.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// writeRefusal answers a request refused before GraphQL ran, in GraphQL's error
// shape.
func writeRefusal(w http.ResponseWriter, status int, code fault.Code, format string, args ...any) {
	writeJSON(w, status, map[string]any{"errors": []map[string]any{{
		"message": fmt.Sprintf(format, args...), "extensions": map[string]any{"code": string(code)}}}})
}

// initWebsocket authenticates a websocket from its connection_init payload
// ({"Authorization": "Bearer <key>"}) unless the upgrade request carried the header,
// counts it against the key's connection cap, and closes it when the key is revoked
// or expires.
func (a *Access) initWebsocket(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	// A refused connection is closed with 4403 (graphql-transport-ws's Forbidden)
	// and the reason, so clients of either protocol learn why.
	refuse := func(code fault.Code, format string, args ...any) (context.Context, *transport.InitPayload, error) {
		msg := fmt.Sprintf("%s: %s", code, fmt.Sprintf(format, args...))
		ctx := transport.WithWebsocketCloseCode(transport.AppendCloseReason(ctx, msg), 4403)
		return ctx, nil, errors.New(msg)
	}
	// connection_init arrived: the socket no longer counts as pending.
	if release, ok := ctx.Value(pendingKey{}).(func()); ok {
		release()
	}
	p, ok := access.FromContext(ctx)
	if h := payload.Authorization(); h != "" {
		var err error
		addr, _ := ctx.Value(addrKey{}).(string)
		p, _, err = a.authenticate(ctx, addr, h)
		if err != nil {
			if fe, ok := fault.As(err); ok {
				return refuse(fe.Code, "%s", fe.Message)
			}
			return refuse(fault.Internal, "internal error")
		}
	} else if !ok {
		return refuse(fault.Unauthenticated, "send {\"Authorization\": \"Bearer <key>\"} in connection_init")
	}
	release, ok := a.Limiter.Connect(p.KeyID)
	if !ok {
		return refuse(fault.TooManyConnections, "this key has %d websocket connections open, the most allowed",
			a.Limiter.Limits().Connections)
	}
	conn, cancel := context.WithCancel(ctx)
	conn = transport.AppendCloseReason(conn, "API key revoked or expired")
	unregister := a.Keys.Session(p.KeyID, cancel)
	every := a.Revalidate
	if every <= 0 {
		every = 10 * time.Second
	}
	go func() {
		defer release()
		defer unregister()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-conn.Done():
				return
			case <-t.C:
				if valid, err := a.Keys.Valid(conn, p.KeyID); err == nil && !valid {
					cancel()
				}
			}
		}
	}()
	return context.WithValue(access.WithPrincipal(conn, p), wsKey{}, true), nil, nil
}

// retryAfter is a Retry-After header value for wait: whole seconds, rounded up.
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int((wait+time.Second-1)/time.Second)))
}

// adminOnly lets ADMIN keys through to an operator's page (River's web UI), which a
// browser opens by itself: besides Authorization: Bearer, it takes the key as the
// password of HTTP Basic authentication, so the browser asks for it once and sends it
// with the page's own requests. Other keys get 403, no key 401 with the Basic
// challenge.
func (a *Access) adminOnly(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if _, key, ok := r.BasicAuth(); ok {
			header = "Bearer " + key
		}
		if header == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="billd admin (user: anything, password: an ADMIN API key)"`)
			writeRefusal(w, http.StatusUnauthorized, fault.Unauthenticated, "an ADMIN API key is required")
			return
		}
		p, wait, err := a.authenticate(r.Context(), a.clientAddr(r), header)
		if err != nil {
			if fe, ok := fault.As(err); ok && fe.Code == fault.Unauthenticated {
				w.Header().Set("WWW-Authenticate", `Basic realm="billd admin (user: anything, password: an ADMIN API key)"`)
			}
			a.refuseAuthentication(w, r, log, wait, err)
			return
		}
		if p.Role != access.Admin {
			writeRefusal(w, http.StatusForbidden, fault.Forbidden, "a %s key may not open this page: it needs an ADMIN key", p.Role)
			return
		}
		next.ServeHTTP(w, r)
	})
}
