package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/billd/billd/internal/fault"
)

// billd serves GraphQL over HTTP as the GraphQL-over-HTTP specification says, with
// transports of its own rather than gqlgen's, so that every refusal carries a code
// and no answer echoes the request:
//
//   - POST with Content-Type application/json (charset utf-8 if named); any other
//     content type is 415 UNSUPPORTED_MEDIA_TYPE. GET with the parameters in the URL,
//     for queries only: a mutation over GET is 405 METHOD_NOT_ALLOWED with
//     "Allow: POST". Subscriptions are served over a websocket.
//   - The answer is application/graphql-response+json when the client accepts it
//     (preferred), else application/json; a client accepting neither gets 406.
//   - A request that is not a GraphQL request (a body that is not JSON, a JSON
//     array: batches are not supported, a missing or mistyped parameter, JSON nested
//     deeper than maxJSONDepth) is 400 BAD_USER_INPUT.
//   - A request error (the document does not parse or validate, its variables do
//     not fit, a limit refuses it) has no "data" entry; its status is 400 under
//     application/graphql-response+json and 200 under application/json.

// Media types of GraphQL responses.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// maxJSONDepth is how deep a request's JSON may nest (variables included): far more
// than any input of the schema needs, and far less than what costs a decoder dearly.
const maxJSONDepth = 32

// requestError is a request refused before it became an operation: no data entry.
type requestError struct {
	Errors     gqlerror.List  `json:"errors"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// postTransport serves POST /query.
type postTransport struct{ log *slog.Logger }

func (postTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("Upgrade") == ""
}

func (t postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		writeRefusal(w, http.StatusNotAcceptable, fault.NotAcceptable,
			"this endpoint answers %s or %s: accept one of them", mediaGraphQLResponse, mediaJSON)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeRefusal(w, http.StatusBadRequest, fault.Invalid, "reading the request body failed")
		return
	}
	params, ferr := decodeRequest(body)
	if ferr != nil {
		t.log.DebugContext(r.Context(), "refused a request that is not GraphQL", "reason", ferr.Message)
		writeRefusal(w, http.StatusBadRequest, ferr.Code, "%s", ferr.Message)
		return
	}
	params.Headers = r.Header
	execute(w, r.Context(), exec, params, media, false)
}

// getTransport serves GET /query (queries only).
type getTransport struct{ log *slog.Logger }

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (t getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		writeRefusal(w, http.StatusNotAcceptable, fault.NotAcceptable,
			"this endpoint answers %s or %s: accept one of them", mediaGraphQLResponse, mediaJSON)
		return
	}
	params, ferr := decodeQueryString(r.URL.Query())
	if ferr != nil {
		t.log.DebugContext(r.Context(), "refused a request that is not GraphQL", "reason", ferr.Message)
		writeRefusal(w, http.StatusBadRequest, ferr.Code, "%s", ferr.Message)
		return
	}
	params.Headers = r.Header
	execute(w, r.Context(), exec, params, media, true)
}

// execute runs a decoded request and writes its answer.
func execute(w http.ResponseWriter, ctx context.Context, exec graphql.GraphExecutor, params *graphql.RawParams,
	media string, get bool) {
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	rc, errs := exec.CreateOperationContext(ctx, params)
	if errs == nil && rc.Operation != nil {
		switch op := rc.Operation.Operation; {
		case get && op != ast.Query:
			w.Header().Set("Allow", http.MethodPost)
			writeRefusal(w, http.StatusMethodNotAllowed, fault.MethodNotAllowed,
				"a %s cannot be sent with GET: POST it", op)
			return
		case op == ast.Subscription:
			err := fault.Invalidf("", "subscriptions are served over a websocket at this address "+
				"(graphql-transport-ws or graphql-ws), not over HTTP")
			errs = gqlerror.List{{Message: err.Message, Err: err}}
		}
	}
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, rc), errs)
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		writeJSONStatus(w, status, requestError{Errors: resp.Errors, Extensions: resp.Extensions})
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, rc)
	writeJSONStatus(w, http.StatusOK, responses(ctx))
}

// negotiate picks the media type of the answer from an Accept header: the supported
// type with the highest quality, application/graphql-response+json on a tie, and
// application/json for an absent header or a wildcard.
func negotiate(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	best, bestQ := "", 0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1000
		if v, ok := params["q"]; ok {
			q = quality(v)
		}
		var media string
		switch mt {
		case mediaGraphQLResponse:
			media = mediaGraphQLResponse
		case mediaJSON, "*/*", "application/*":
			media = mediaJSON
		default:
			continue
		}
		if q == 0 {
			continue
		}
		if q > bestQ || (q == bestQ && media == mediaGraphQLResponse) {
			best, bestQ = media, q
		}
	}
	return best, best != ""
}

// quality reads an Accept q-value ("1", "0.9", "0.125") in thousandths; anything
// malformed counts as 0 (not acceptable).
func quality(v string) int {
	whole, frac, _ := strings.Cut(v, ".")
	if len(frac) > 3 || (whole != "0" && whole != "1") {
		return 0
	}
	n, err := strconv.Atoi(whole + (frac + "000")[:3])
	if err != nil || n > 1000 {
		return 0
	}
	return n
}

// jsonContentType reports whether a POST's Content-Type is JSON in UTF-8.
func jsonContentType(header string) bool {
	mt, params, err := mime.ParseMediaType(header)
	if err != nil || mt != mediaJSON {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

// decodeRequest reads a POST body: one JSON object with a string query, an optional
// string operationName and optional object variables and extensions (null allowed).
func decodeRequest(body []byte) (*graphql.RawParams, *fault.Error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, fault.Invalidf("", "the request has no body: POST a JSON object with a query")
	case body[0] == '[':
		return nil, fault.Invalidf("", "batched requests are not supported: send one operation per request")
	case body[0] != '{':
		return nil, fault.Invalidf("", "the request body is not a JSON object")
	}
	if d := jsonDepth(body); d > maxJSONDepth {
		return nil, fault.Invalidf("", "the request's JSON nests more than %d levels deep", maxJSONDepth)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fault.Invalidf("", "the request body is not valid JSON")
	}
	p := &graphql.RawParams{}
	if err := decodeParam(raw["query"], "query", &p.Query); err != nil {
		return nil, err
	}
	if err := decodeParam(raw["operationName"], "operationName", &p.OperationName); err != nil {
		return nil, err
	}
	if err := decodeParam(raw["variables"], "variables", &p.Variables); err != nil {
		return nil, err
	}
	if err := decodeParam(raw["extensions"], "extensions", &p.Extensions); err != nil {
		return nil, err
	}
	return p, needQuery(p)
}

// decodeQueryString reads a GET's parameters: variables and extensions are JSON text.
func decodeQueryString(q url.Values) (*graphql.RawParams, *fault.Error) {
	p := &graphql.RawParams{Query: q.Get("query"), OperationName: q.Get("operationName")}
	for name, into := range map[string]*map[string]any{"variables": &p.Variables, "extensions": &p.Extensions} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		if jsonDepth([]byte(v)) > maxJSONDepth {
			return nil, fault.Invalidf(name, "%s nests more than %d levels deep", name, maxJSONDepth)
		}
		if err := decodeParam(json.RawMessage(v), name, into); err != nil {
			return nil, err
		}
	}
	return p, needQuery(p)
}

// needQuery refuses a request without a document, unless it names a persisted one.
func needQuery(p *graphql.RawParams) *fault.Error {
	if p.Query != "" {
		return nil
	}
	if _, ok := p.Extensions["persistedQuery"]; ok {
		return nil
	}
	return fault.Invalidf("query", "the request has no query")
}

// decodeParam decodes one request parameter into v (a *string or a *map[string]any),
// refusing any other JSON type; null and absence leave v alone.
func decodeParam(raw json.RawMessage, name string, v any) *fault.Error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	want := "a string"
	if _, ok := v.(*map[string]any); ok {
		want = "a JSON object"
		if raw[0] != '{' {
			return fault.Invalidf(name, "%s must be %s", name, want)
		}
	} else if raw[0] != '"' {
		return fault.Invalidf(name, "%s must be %s", name, want)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers stay exact: a Decimal never passes through a float
	if err := dec.Decode(v); err != nil {
		return fault.Invalidf(name, "%s must be %s", name, want)
	}
	return nil
}

// jsonDepth returns how deeply the JSON text b nests objects and arrays, stopping
// early past maxJSONDepth. It skips strings, so brackets inside them do not count.
func jsonDepth(b []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > deepest {
				if deepest = depth; deepest > maxJSONDepth {
					return deepest
				}
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// writeJSONStatus writes v as the JSON answer with the status; the Content-Type was
// set by the caller.
func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}`)
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// front refuses, with a code, the requests to /query that no transport serves: other
// methods (405), POST bodies that are not JSON (415), and malformed websocket
// upgrades (400). Everything else goes to the GraphQL server.
func front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Upgrade") != "" && !isUpgrade(r):
			writeRefusal(w, http.StatusBadRequest, fault.Invalid, "only websocket upgrades are served here, not %q",
				r.Header.Get("Upgrade"))
			return
		case isUpgrade(r):
			if err := checkUpgrade(r); err != nil {
				w.Header().Set("Sec-WebSocket-Version", "13")
				writeRefusal(w, http.StatusBadRequest, fault.Invalid, "%s", err.Error())
				return
			}
		case r.Method == http.MethodPost:
			if !jsonContentType(r.Header.Get("Content-Type")) {
				writeRefusal(w, http.StatusUnsupportedMediaType, fault.UnsupportedMediaType,
					"POST a JSON body with Content-Type: application/json (charset utf-8), not %q",
					r.Header.Get("Content-Type"))
				return
			}
		case r.Method == http.MethodGet:
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			writeRefusal(w, http.StatusMethodNotAllowed, fault.MethodNotAllowed,
				"%s is not served here: POST a GraphQL request, or GET a query", r.Method)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isUpgrade reports whether r asks to become a websocket.
func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// checkUpgrade checks a websocket upgrade request the way the websocket handshake
// (RFC 6455, 4.2.1) requires, so a malformed one is refused with a code before the
// websocket library answers it in plain text.
func checkUpgrade(r *http.Request) error {
	if r.Method != http.MethodGet {
		return fmt.Errorf("a websocket upgrade must be a GET, not a %s", r.Method)
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return fmt.Errorf("a websocket upgrade needs Connection: Upgrade")
	}
	if v := r.Header.Get("Sec-WebSocket-Version"); v != "13" {
		return fmt.Errorf("websocket version %q is not supported: use 13", v)
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if len(key) != 24 {
		return fmt.Errorf("a websocket upgrade needs a Sec-WebSocket-Key of 16 bytes in base64")
	}
	return nil
}

// headerHasToken reports whether one of the comma-separated values of header name is
// token (case-insensitively).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
