package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/internal/ident"
	sdkauth "github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// principalExtraKey is the TokenInfo.Extra key under which [TokenVerifier]
// stores the verified principal for [Guard.Middleware].
const principalExtraKey = "bulwark/principal"

// keyInfoLifetime is the Expiration given to the TokenInfo of a credential
// that does not expire (an API key). RequireBearerToken refuses a TokenInfo
// without one, and the TokenInfo only describes this one HTTP request.
const keyInfoLifetime = 5 * time.Minute

// TokenVerifier adapts v to the go-sdk's auth.TokenVerifier, for
// auth.RequireBearerToken on streamable HTTP:
//
//	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
//	protected := sdkauth.RequireBearerToken(auth.TokenVerifier(jwtv), &sdkauth.RequireBearerTokenOptions{
//		ResourceMetadataURL: "https://mcp.example.com/.well-known/oauth-protected-resource",
//	})(handler)
//
// The TokenInfo it returns carries the principal (read back by [Guard.Middleware]
// from req.Extra.TokenInfo on every call), its scopes, the token's expiry
// and, as UserID, the principal's method and ID ("api_key:billing-bot",
// "jwt:alice"), which the SDK uses to stop one user from taking over
// another user's session: an API key's principal and a JWT whose subject
// is the same string are two users.
//
// A failed verification unwraps to sdkauth.ErrInvalidToken (so the SDK
// answers 401 with WWW-Authenticate) and to the bulwark.Error explaining
// it; the response body is that error's client-safe text. A request that
// also carries a token in its URL query ("access_token") is refused: tokens
// in URLs end up in logs and browser history, and OAuth 2.1 forbids them.
//
// A nil v refuses every token.
//
// RequireBearerToken checks the TokenInfo's Expiration against its own
// clock without leeway; set its ClockSkew to the JWT verifier's Leeway to
// accept the same tokens at both checks.
func TokenVerifier(v Verifier) sdkauth.TokenVerifier {
	return func(ctx context.Context, token string, r *http.Request) (*sdkauth.TokenInfo, error) {
		if r != nil && r.URL != nil && hasQueryToken(r) {
			return nil, invalidToken(unauthenticated("tokens in the URL query are not accepted", errQueryToken))
		}
		if v == nil {
			return nil, invalidToken(unauthenticated("invalid token", errNoVerifier))
		}
		p, err := v.Verify(ctx, token)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, invalidToken(bulwark.ErrorOf(err))
		}
		if p == nil {
			return nil, invalidToken(unauthenticated("invalid token", errors.New("auth: verifier returned no principal")))
		}
		return &sdkauth.TokenInfo{
			Scopes:     p.Scopes,
			Expiration: expiryOf(p),
			UserID:     userID(p),
			Extra:      map[string]any{principalExtraKey: p},
		}, nil
	}
}

// userID names p for the SDK's session-owner check and for per-caller
// bounds at the HTTP edge: how it authenticated and who it is, since IDs
// from different verifiers may coincide.
func userID(p *Principal) string {
	if p.Method == "" {
		return p.ID
	}
	return p.Method + ":" + p.ID
}

func hasQueryToken(r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return false
	}
	q := r.URL.Query()
	return q.Has("access_token") || q.Has("token") || q.Has("api_key")
}

func expiryOf(p *Principal) time.Time {
	if exp, ok := p.Claims["exp"].(float64); ok {
		sec := int64(exp)
		return time.Unix(sec, int64((exp-float64(sec))*1e9))
	}
	return time.Now().Add(keyInfoLifetime)
}

// tokenError is what TokenVerifier returns on failure: it matches
// sdkauth.ErrInvalidToken for the SDK's status mapping and unwraps to the
// bulwark refusal for everyone else. Its text is the refusal's client-safe
// message, which the SDK writes into the 401 body.
type tokenError struct{ e *bulwark.Error }

func invalidToken(e *bulwark.Error) error { return &tokenError{e: e} }

func (t *tokenError) Error() string        { return t.e.Error() }
func (t *tokenError) Unwrap() error        { return t.e }
func (t *tokenError) Is(target error) bool { return target == sdkauth.ErrInvalidToken }

// principalFromTokenInfo rebuilds the caller from what RequireBearerToken
// verified for this HTTP request. TokenInfo made by [TokenVerifier] carries
// the principal itself; TokenInfo from another verifier is accepted when it
// names a user.
func principalFromTokenInfo(ti *sdkauth.TokenInfo) (*Principal, error) {
	if p, ok := ti.Extra[principalExtraKey].(*Principal); ok && p != nil {
		return p, nil
	}
	if !ident.Name(ti.UserID) {
		return nil, unauthenticated("invalid token", errors.New("auth: TokenInfo has no UserID"))
	}
	return &Principal{ID: ti.UserID, Method: methodBearer, Scopes: ti.Scopes}, nil
}

func challenge(code string, scopes []string, metadataURL string) string {
	var b strings.Builder
	b.WriteString(`Bearer error=`)
	b.WriteString(strconv.Quote(code))
	if len(scopes) > 0 {
		b.WriteString(`, scope=`)
		b.WriteString(strconv.Quote(strings.Join(scopes, " ")))
	}
	if metadataURL != "" {
		b.WriteString(`, resource_metadata=`)
		b.WriteString(strconv.Quote(metadataURL))
	}
	return b.String()
}

// HTTPToolPolicies is HTTP middleware, placed inside
// sdkauth.RequireBearerToken (as edge.Config.Authorize, for example), that
// applies g's per-tool policies to a tools/call before it reaches the MCP
// layer, so that a token lacking a scope the tool needs gets what the MCP
// authorization spec asks for:
//
//	403 Forbidden
//	WWW-Authenticate: Bearer error="insufficient_scope", scope="customers:write", resource_metadata="…"
//
// and the client can obtain a token with more scope and retry (step-up
// authorization). resourceMetadataURL is repeated in the challenge ("" for
// none). server, when not nil, supplies the tool definitions registered with
// bulwark.AddTool (or Register), so policies that read annotations decide
// here as they do at call time; without it a policy sees only the tool's
// name. Bodies over 4 MiB (the SDK's own limit) pass through undecided.
//
// Only refusals caused by missing scope ([RequireAll], [RequireAny]) are
// answered here; every other request, including other refusals, goes on to
// the MCP layer, where g's Middleware decides again and remains the
// enforcement point. Without this middleware a missing scope is a
// permission-denied tool result the model reads, which suits clients that
// cannot re-authorize. (A scope the whole endpoint needs is
// sdkauth.RequireBearerTokenOptions.Scopes, or edge.Config.Scopes.)
func (g *Guard) HTTPToolPolicies(resourceMetadataURL string, server *mcp.Server) func(http.Handler) http.Handler {
	return httpToolPolicies(resourceMetadataURL, server, g.settings())
}

func httpToolPolicies(metadataURL string, server *mcp.Server, s *settings) func(http.Handler) http.Handler {
	const limit = 4 << 20
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ti := sdkauth.TokenInfoFromContext(r.Context())
			if r.Method != http.MethodPost || ti == nil || r.Body == nil {
				next.ServeHTTP(w, r)
				return
			}
			buf, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			// Hand the next handler the body it would have read.
			r.Body = readCloser{io.MultiReader(bytes.NewReader(buf), r.Body), r.Body}
			if err != nil || int64(len(buf)) > limit {
				next.ServeHTTP(w, r)
				return
			}
			var msg struct {
				Method string `json:"method"`
				Params struct {
					Name string `json:"name"`
				} `json:"params"`
			}
			if json.Unmarshal(buf, &msg) != nil || msg.Method != "tools/call" || msg.Params.Name == "" {
				next.ServeHTTP(w, r)
				return
			}
			p, err := principalFromTokenInfo(ti)
			if err != nil {
				next.ServeHTTP(w, r)
				return
			}
			var tool *mcp.Tool
			if server != nil {
				tool, _ = bulwark.LookupTool(server, msg.Params.Name)
			}
			if tool == nil {
				tool = &mcp.Tool{Name: msg.Params.Name}
			}
			var se *ScopeError
			derr := s.decide(r.Context(), p, tool)
			if bulwark.OutcomeOf(r.Context(), nil, derr) != bulwark.Outcome(bulwark.CodePermissionDenied) || !errors.As(derr, &se) {
				next.ServeHTTP(w, r)
				return
			}
			scopes := se.Scopes
			if se.AnyOf && len(scopes) > 1 {
				scopes = scopes[:1]
			}
			w.Header().Set("WWW-Authenticate", challenge("insufficient_scope", scopes, metadataURL))
			http.Error(w, derr.Error(), http.StatusForbidden)
		})
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}
