package graph

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Automatic persisted queries: the server keeps at most APQCacheSize queries by
// hash, each at most APQMaxQueryBytes long, so the cache holds at most about 32 MiB
// of query text whatever clients send. A longer query still runs; it is just not kept, and its
// client keeps sending it in full.
const (
	APQCacheSize     = 1000
	APQMaxQueryBytes = 32 << 10
)

// NewSchema wires the resolvers, the @hasScope directive and the list
// prices into gqlgen's executor.
func NewSchema(r *Resolver) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{
		Resolvers:  r,
		Directives: DirectiveRoot{HasScope: HasScope},
		Complexity: complexity(),
	})
}

// Options tunes NewHandler.
type Options struct {
	// Production turns off introspection and field suggestions.
	Production bool
	// Observer, when set, is told of every operation.
	Observer Observer
	// MaxDepth, MaxComplexity and MaxAliases override the default query limits
	// when positive.
	MaxDepth, MaxComplexity, MaxAliases int
	// Budget bounds what a request may hold, counted before validation; its
	// fields that are not positive take DefaultBudget's.
	Budget Budget
	// GenericLists turns off the sequential answer of root links lists
	// (fastlist.go), so that gqlgen's executor answers every field: the
	// reference that answer is tested against.
	GenericLists bool
	// RequestID, when set, gives the id of a request, which internal errors carry
	// so that a report can be matched with the log.
	RequestID func(ctx context.Context) string
	// APQCache, when set, keeps the persisted queries instead of an LRU of
	// APQCacheSize of this process's own (NewAPQCache); queries longer than
	// APQMaxQueryBytes are never given to it.
	APQCache graphql.Cache[string]
}

// NewAPQCache returns the process's own persisted-query cache: an LRU of
// APQCacheSize queries.
func NewAPQCache() graphql.Cache[string] { return lru.New[string](APQCacheSize) }

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// NewHandler returns the GraphQL endpoint for es: POST for anything, GET for
// queries only, both answering as the GraphQL-over-HTTP specification asks, with
// automatic persisted queries, depth and complexity limits, the error presenter
// and panic recovery. It refuses a schema whose @hasScope names an unknown scope.
func NewHandler(es graphql.ExecutableSchema, logger *slog.Logger, opts ...Options) (*handler.Server, error) {
	var o Options
	for _, opt := range opts {
		o = opt
	}
	if err := CheckSchemaScopes(es.Schema()); err != nil {
		return nil, err
	}
	srv := handler.New(es)
	srv.AddTransport(transport.Options{})
	budget := o.Budget.orDefault()
	srv.AddTransport(overHTTP{transport.GET{}, budget, o.Observer})
	srv.AddTransport(overHTTP{transport.POST{}, budget, o.Observer})
	srv.AddTransport(unsupported{o.Observer})
	queries := lru.New[*ast.QueryDocument](1000)
	srv.SetQueryCache(queries)
	if o.Production {
		// Production hides the schema: no introspection and no "Did you mean"
		// suggestions in validation errors.
		srv.SetDisableSuggestion(true)
		srv.Use(noIntrospection{})
	} else {
		srv.Use(extension.Introspection{})
	}
	if o.Observer != nil {
		srv.AroundResponses(observeResponses(o.Observer))
	}
	apq := o.APQCache
	if apq == nil {
		apq = NewAPQCache()
	}
	srv.Use(persistedQueries{extension.AutomaticPersistedQuery{Cache: apqCache{apq}}})
	srv.Use(budgetExtension{Budget: budget, cache: queries})
	srv.AroundResponses(capErrors(budget.Errors))
	srv.AroundResponses(collectWarnings(logger))
	srv.Use(DepthLimit{Max: orDefault(o.MaxDepth, MaxDepth), MaxAliases: orDefault(o.MaxAliases, MaxAliases)})
	srv.Use(newComplexityLimit(orDefault(o.MaxComplexity, MaxComplexity)))
	srv.AroundRootFields(withReads)
	if fl, ok := newFastLists(es); ok && !o.GenericLists {
		srv.Use(fl)
	}
	srv.SetErrorPresenter(ErrorPresenter(logger, o.RequestID))
	srv.SetRecoverFunc(RecoverFunc(logger))
	return srv, nil
}

// unsupported answers every request that the other transports do not take, which
// gqlgen would answer 400 with an uncoded error: a POST whose body is not
// application/json is 415, a GET asking for a connection upgrade 400, any other
// method 405; each with one BAD_REQUEST error and no data.
type unsupported struct{ observer Observer }

func (unsupported) Supports(*http.Request) bool { return true }

func (u unsupported) Do(w http.ResponseWriter, r *http.Request, _ graphql.GraphExecutor) {
	status, msg := http.StatusMethodNotAllowed, "the method must be GET or POST"
	switch r.Method {
	case http.MethodPost:
		status, msg = http.StatusUnsupportedMediaType, "the body must be application/json"
	case http.MethodGet:
		status, msg = http.StatusBadRequest, "this endpoint does not upgrade connections"
	default:
		w.Header().Set("Allow", "GET, POST")
	}
	err := gqlerror.Errorf("%s", msg)
	errcode.Set(err, "BAD_REQUEST")
	observeRefusal(r.Context(), u.observer, "BAD_REQUEST")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": gqlerror.List{err}})
}

// persistedQueries is gqlgen's automatic persisted queries, with the code
// BAD_REQUEST on the errors it leaves uncoded (a hash that does not match its
// query, an unknown version), which the error presenter would otherwise take for
// internal errors. PersistedQueryNotFound keeps its PERSISTED_QUERY_NOT_FOUND.
type persistedQueries struct {
	extension.AutomaticPersistedQuery
}

func (p persistedQueries) MutateOperationParameters(ctx context.Context, params *graphql.RawParams) *gqlerror.Error {
	err := p.AutomaticPersistedQuery.MutateOperationParameters(ctx, params)
	if err != nil && err.Extensions["code"] == nil {
		errcode.Set(err, "BAD_REQUEST")
	}
	return err
}

// apqCache is the persisted-query store, which declines queries longer than
// APQMaxQueryBytes.
type apqCache struct{ graphql.Cache[string] }

func (c apqCache) Add(ctx context.Context, hash, query string) {
	if len(query) <= APQMaxQueryBytes {
		c.Cache.Add(ctx, hash, query)
	}
}

// overHTTP wraps gqlgen's GET or POST transport, which already answers
// application/graphql-response+json or application/json as the Accept header asks,
// so that a request failing before execution (it does not parse or validate, its
// variables do not fit, it is over a limit, it names an unknown persisted query)
// gets the status the GraphQL-over-HTTP specification asks for: 400 under
// application/graphql-response+json, 200 under application/json (where gqlgen says
// 422 to some), 400 under either when there is no query at all, 405 to a mutation
// sent with GET. Such a response has no data entry, not even a null one, and a
// code on every error.
//
// Before the transport decodes the JSON of a request, its values are counted
// (budget.overJSON); a request with too many is answered VARIABLE_LIMIT_EXCEEDED
// by the same path as any other request error, without being decoded.
type overHTTP struct {
	graphql.Transport
	budget   Budget
	observer Observer
}

func (t overHTTP) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	rw := &requestErrorWriter{ResponseWriter: w, ctx: r.Context(), observer: t.observer}
	ex := requestErrorExec{GraphExecutor: exec, w: rw}
	if err := t.budget.overJSON(r); err != nil {
		ex.refuse = err
		r.Body = io.NopCloser(strings.NewReader("{}"))
		r.URL.RawQuery = ""
	}
	t.Transport.Do(rw, r, ex)
}

// requestErrorExec tells its writer when an operation fails before execution,
// and fails the operation with refuse when it is set.
type requestErrorExec struct {
	graphql.GraphExecutor
	w      *requestErrorWriter
	refuse *gqlerror.Error
}

func (e requestErrorExec) CreateOperationContext(ctx context.Context, params *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	if e.refuse != nil {
		e.w.failed = true
		return &graphql.OperationContext{}, gqlerror.List{e.refuse}
	}
	oc, errs := e.GraphExecutor.CreateOperationContext(ctx, params)
	if len(errs) > 0 {
		e.w.failed = true
		e.w.noQuery = params.Query == "" && params.Extensions["persistedQuery"] == nil
	}
	return oc, errs
}

// DispatchOperation answers TIMEOUT to an operation whose deadline passed while it
// was parsed and validated, which gqlgen would answer with a bare null.
func (e requestErrorExec) DispatchOperation(ctx context.Context, oc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	if ctx.Err() != nil {
		err := gqlerror.Errorf("the request took longer than the server allows")
		errcode.Set(err, "TIMEOUT")
		return graphql.OneShot(e.DispatchError(graphql.WithOperationContext(ctx, oc), gqlerror.List{err})), ctx
	}
	responses, ctx := e.GraphExecutor.DispatchOperation(ctx, oc)
	return e.w.writeData(responses), ctx
}

// requestErrorWriter sets the status, drops the null data and codes the errors of
// a response to an operation that failed before execution.
type requestErrorWriter struct {
	http.ResponseWriter
	failed, noQuery bool
	// ctx and observer are told of the errors gqlgen's transport writes itself,
	// which no response middleware sees.
	ctx      context.Context
	observer Observer
	// wrote is set once writeData has written the response, and took is set
	// once the null the transport then writes has been dropped.
	wrote, took bool
}

// writeData writes the response of responses itself when it holds data and
// nothing else, as the transport would write it (appendResponseData), and
// hands the transport nil in its place, whose null it then drops. The
// transport would encode the response with encoding/json, which checks and
// copies the whole answer once more; the data is gqlgen's own output, valid
// JSON. Any other response (errors, extensions, none) goes to the transport.
func (w *requestErrorWriter) writeData(responses graphql.ResponseHandler) graphql.ResponseHandler {
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if w.wrote || w.failed || resp == nil || len(resp.Data) == 0 || len(resp.Errors) > 0 || resp.Label != "" ||
			resp.Path != nil || resp.HasNext != nil || len(resp.Extensions) > 0 {
			return resp
		}
		buf := appendResponseData(getFastBuffer(), resp.Data)
		w.wrote = true
		_, _ = w.ResponseWriter.Write(buf)
		putFastBuffer(buf)
		return nil
	}
}

// appendResponseData appends {"data":data} to dst as json.Marshal writes a
// graphql.Response holding only data: the data compacted (no space outside
// strings) and with <, >, & and U+2028, U+2029 escaped. data must be valid
// JSON.
func appendResponseData(dst, data []byte) []byte {
	dst = append(dst, `{"data":`...)
	inString, escaped := false, false
	start := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '<' || c == '>' || c == '&':
			dst = append(dst, data[start:i]...)
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && data[i+2]&^1 == 0xA8:
			dst = append(dst, data[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[data[i+2]&0xf])
			i += 2
			start = i + 1
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
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			dst = append(dst, data[start:i]...)
			start = i + 1
		}
	}
	dst = append(dst, data[start:]...)
	return append(dst, '}')
}

func (w *requestErrorWriter) WriteHeader(status int) {
	switch {
	case status == http.StatusNotAcceptable:
		// gqlgen's GET refusing a mutation, which the specification answers with 405.
		w.failed = true
		w.Header().Set("Allow", http.MethodPost)
		status = http.StatusMethodNotAllowed
	case w.failed:
		status = http.StatusOK
		if w.noQuery || strings.HasPrefix(w.Header().Get("Content-Type"), "application/graphql-response+json") {
			status = http.StatusBadRequest
		}
	case status == http.StatusBadRequest:
		// gqlgen's transport refusing what it could not decode (a body, or a GET's
		// variables or extensions, that is not JSON) before any operation: the
		// status stands.
		w.failed = true
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *requestErrorWriter) Write(b []byte) (int, error) {
	if w.wrote && !w.took && string(b) == "null" {
		w.took = true
		return len(b), nil
	}
	if !w.failed {
		return w.ResponseWriter.Write(b)
	}
	if out, coded, ok := requestErrorBody(b); ok {
		for range coded {
			observeRefusal(w.ctx, w.observer, "BAD_REQUEST")
		}
		if _, err := w.ResponseWriter.Write(out); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// requestErrorBody is the response b without its null data, and with the code
// BAD_REQUEST on each error that has none: the errors gqlgen's GET transport
// writes itself (a mutation, variables that are not JSON), which do not pass
// through the error presenter. It says how many errors it coded.
func requestErrorBody(b []byte) ([]byte, int, bool) {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, 0, false
	}
	if string(resp["data"]) == "null" {
		delete(resp, "data")
	}
	coded := 0
	var errs []map[string]any
	if err := json.Unmarshal(resp["errors"], &errs); err == nil {
		for _, e := range errs {
			ext, _ := e["extensions"].(map[string]any)
			if code, _ := ext["code"].(string); code == "" {
				if ext == nil {
					ext = map[string]any{}
					e["extensions"] = ext
				}
				ext["code"] = "BAD_REQUEST"
				coded++
			}
		}
		if coded > 0 {
			raw, err := json.Marshal(errs)
			if err != nil {
				return nil, 0, false
			}
			resp["errors"] = raw
		}
	}
	out, err := json.Marshal(resp)
	return out, coded, err == nil
}

// observeRefusal tells o of a request the transport refused with code before any
// operation, so that every error answered is counted once under its code.
func observeRefusal(ctx context.Context, o Observer, code string) {
	if o != nil {
		o.Operation(ctx, "", code, []string{code}, 0)
	}
}
