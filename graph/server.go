package graph

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/99designs/gqlgen/graphql/playground"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/web"
)

// Subprotocols are the websocket subprotocols /query speaks, preferred first:
// graphql-transport-ws (graphql-ws on npm) and the legacy graphql-ws
// (subscriptions-transport-ws). A client that names none gets the legacy one.
var Subprotocols = []string{"graphql-transport-ws", "graphql-ws"}

// NewGraphQL builds the GraphQL handler with the transports billd serves: websocket
// (both subprotocols), GET and POST (graph/http.go). Built explicitly rather than
// with gqlgen's default server, so nothing is on that we did not choose.
func NewGraphQL(res *Resolver, acc *Access, log *slog.Logger) *handler.Server {
	limits := acc.Limiter.Limits()
	res.ListRows, res.MaxNodes = limits.MaxListRows, limits.MaxNodes
	bounds := &catalogBounds{client: res.Client}
	// Queries made while a response resolves record their rows as siblings, for the
	// loaders (graph/loader.go); elsewhere the interceptor does nothing.
	res.Client.Intercept(ent.InterceptFunc(recordQueries))
	cfg := Config{Resolvers: res}
	complexity(&cfg, limits.MaxListRows, bounds)
	srv := handler.New(NewExecutableSchema(cfg))
	wsWrite := acc.WSWriteTimeout
	if wsWrite <= 0 {
		wsWrite = DefaultWSWriteTimeout
	}
	srv.AddTransport(transport.Websocket{
		Implementation: dropSlowReaders{timeout: wsWrite, WebsocketImplementation: transport.CoderWebsocketImplementation{
			AcceptOptions: coderws.AcceptOptions{Subprotocols: Subprotocols, OriginPatterns: originHosts(acc.CORSOrigins)},
		}},
		KeepAlivePingInterval: 10 * time.Second,
		InitTimeout:           wsInitTimeout,
		InitFunc:              acc.initWebsocket,
	})
	srv.AddTransport(getTransport{log: log})
	srv.AddTransport(postTransport{log: log})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if limits.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		// "Did you mean ...?" would tell the schema that introspection hides.
		srv.SetDisableSuggestion(true)
	}
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	if limits.MaxDepth > 0 {
		srv.Use(depthLimit{max: limits.MaxDepth})
	}
	if limits.MaxComplexity > 0 {
		srv.Use(extension.FixedComplexityLimit(limits.MaxComplexity))
	}
	// Outermost first: the log and the audit log see refused operations too.
	srv.AroundOperations(logOperations(log))
	srv.AroundOperations(markDispatched)
	srv.AroundOperations(acc.audit(log))
	srv.AroundOperations(acc.authorize)
	srv.AroundOperations(bounds.staleAfterCatalogChanges)
	srv.AroundResponses(acc.auditRefusals(log))
	srv.AroundResponses(withLoaders)
	srv.AroundFields(capPages(limits.MaxPageSize))
	srv.AroundFields(checkPartnerArguments)
	srv.SetErrorPresenter(ErrorPresenter(log))
	srv.SetRecoverFunc(RecoverFunc(log))
	return srv
}

// logOperations logs each GraphQL operation once it has produced its (first)
// response: its name and kind, how long it took and how many errors it returned.
// Subscriptions are logged when they start.
func logOperations(log *slog.Logger) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		start := time.Now()
		h := next(ctx)
		first := true
		return func(ctx context.Context) *graphql.Response {
			resp := h(ctx)
			if first && resp != nil {
				first = false
				kind := "unknown"
				if oc.Operation != nil {
					kind = string(oc.Operation.Operation)
				}
				log.InfoContext(ctx, "graphql", "operation", oc.OperationName, "kind", kind,
					"duration_ms", time.Since(start).Milliseconds(), "errors", len(resp.Errors))
			}
			return resp
		}
	}
}

// Readiness reports whether the server can serve: the database answers.
type Readiness func(ctx context.Context) error

// NewHandler routes billd's HTTP endpoints: GraphiQL at /, the API at /query (behind
// the access gate), the bill-run dashboard at /dashboard/, /healthz (the process is
// up) and /readyz (the database answers), and the admin pages (River's web UI) behind
// adminOnly.
func NewHandler(res *Resolver, acc *Access, log *slog.Logger, ready Readiness, admin map[string]http.Handler) http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range admin {
		mux.Handle(pattern, acc.adminOnly(h, log))
	}
	mux.Handle("/query", acc.gate(front(NewGraphQL(res, acc, log)), log))
	mux.Handle("/{$}", playground.Handler("billd", "/query"))
	mux.Handle("/dashboard/", web.Dashboard())
	mux.Handle("/dashboard", http.RedirectHandler("/dashboard/", http.StatusMovedPermanently))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			log.WarnContext(ctx, "not ready", "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	return mux
}

// originHosts turns allowed origins (https://app.example.com) into the host patterns
// the websocket accept check takes.
func originHosts(origins []string) []string {
	var hosts []string
	for _, o := range origins {
		if o == "*" {
			return []string{"*"}
		}
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			hosts = append(hosts, u.Host)
		}
	}
	return hosts
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
