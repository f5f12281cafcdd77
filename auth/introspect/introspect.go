package introspect

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Client authentication methods (RFC 7591 names).
const (
	ClientSecretBasic = "client_secret_basic" // HTTP Basic (the default)
	ClientSecretPost  = "client_secret_post"  // client_id and client_secret in the form
)

// MethodIntrospection is the Principal.Method of callers this verifier
// finds.
const MethodIntrospection = "introspection"

// Sentinel causes of refusals (errors.Is works through the bulwark.Error).
var (
	ErrInactive    = errors.New("introspect: token is not active")
	ErrExpired     = errors.New("introspect: token expired")
	ErrNotYetValid = errors.New("introspect: token not yet valid")
	ErrAudience    = errors.New("introspect: token is not for this server")
	ErrScope       = errors.New("introspect: token lacks a required scope")
	ErrEndpoint    = errors.New("introspect: introspection endpoint failed")
)

// Config configures a [Verifier].
type Config struct {
	// Endpoint is the authorization server's introspection URL: https, or
	// http on a loopback address. Required.
	Endpoint string
	// ClientID and ClientSecret authenticate this server to the endpoint.
	// Required.
	ClientID, ClientSecret string
	// AuthMethod is ClientSecretBasic ("" means it) or ClientSecretPost.
	AuthMethod string
	// Audience is this server's resource identifier (RFC 8707): a token
	// whose aud does not name it is refused. Required.
	Audience string
	// Scopes, when set, must all be granted to every token accepted.
	// Per-tool scopes belong to auth's policies.
	Scopes []string
	// CacheFor bounds how long an answer is reused: a token revoked at the
	// authorization server is refused here at most this long after. An
	// active token is never reused past its exp. Zero means 1 minute; a
	// negative value turns the cache off.
	CacheFor time.Duration
	// CacheSize bounds the number of cached answers (least recently used
	// go first). Zero means 10,000.
	CacheSize int
	// Timeout bounds one request to the endpoint. Zero means 5 seconds.
	Timeout time.Duration
	// HTTPClient sends the requests; nil means a client with Timeout that
	// follows no redirects.
	HTTPClient *http.Client
	// Clock is the time source for exp, nbf and the cache; nil is the
	// system clock.
	Clock bulwark.Clock
}

// Verifier checks opaque access tokens by asking the authorization server
// (RFC 7662). It is an auth.Verifier: give it to auth.TokenVerifier for
// the HTTP edge, or to the Guard's argument-token mode.
type Verifier struct {
	cfg    Config
	clock  bulwark.Clock
	client *http.Client
	cache  *lru.Cache[[sha256.Size]byte, entry]
}

// entry is a cached answer: a principal, or the refusal.
type entry struct {
	p     *auth.Principal
	err   *bulwark.Error
	until time.Time
}

// New checks cfg and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" {
		return nil, errors.New("introspect: Config.Endpoint must be an absolute URL")
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, errors.New("introspect: Config.Endpoint must use https (http only on a loopback address): the client secret and tokens travel in it")
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("introspect: Config.ClientID and Config.ClientSecret are required")
	}
	switch cfg.AuthMethod {
	case "":
		cfg.AuthMethod = ClientSecretBasic
	case ClientSecretBasic, ClientSecretPost:
	default:
		return nil, fmt.Errorf("introspect: Config.AuthMethod must be %s or %s", ClientSecretBasic, ClientSecretPost)
	}
	if cfg.Audience == "" {
		return nil, errors.New("introspect: Config.Audience is required: the resource identifier tokens must be issued for")
	}
	if cfg.CacheFor == 0 {
		cfg.CacheFor = time.Minute
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10_000
	}
	if cfg.CacheSize < 0 {
		return nil, errors.New("introspect: Config.CacheSize must not be negative")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	v := &Verifier{cfg: cfg, clock: cfg.Clock, client: cfg.HTTPClient}
	if v.clock == nil {
		v.clock = sysclock.Clock{}
	}
	if v.client == nil {
		v.client = &http.Client{
			Timeout:       cfg.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.CacheFor > 0 {
		v.cache, _ = lru.New[[sha256.Size]byte, entry](cfg.CacheSize)
	}
	return v, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// maxToken bounds what is sent to the endpoint.
const maxToken = 8 << 10

// Verify returns the principal the token belongs to, asking the endpoint
// unless a cached answer for the token (filed under its SHA-256, never the
// token) is still within its bounds. It fails closed: when the endpoint
// cannot be reached or answers other than 200 with JSON, the token is
// refused as unavailable, and that answer is not cached.
func (v *Verifier) Verify(ctx context.Context, token string) (*auth.Principal, error) {
	if token == "" || len(token) > maxToken || !printable(token) {
		return nil, bulwark.Unauthenticated("invalid token", auth.ErrMalformedToken)
	}
	now := v.clock.Now()
	var key [sha256.Size]byte
	if v.cache != nil {
		key = sha256.Sum256([]byte(token))
		if e, ok := v.cache.Get(key); ok && now.Before(e.until) {
			return e.result()
		}
	}
	claims, err := v.ask(ctx, token)
	if err != nil {
		return nil, err
	}
	e := v.decide(claims, now)
	if v.cache != nil {
		v.cache.Add(key, e)
	}
	return e.result()
}

func (e entry) result() (*auth.Principal, error) {
	if e.err != nil {
		return nil, e.err
	}
	p := *e.p // the caller may keep it; the slices are shared, read-only
	return &p, nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// ask posts the token to the endpoint and decodes its answer.
func (v *Verifier) ask(ctx context.Context, token string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	if v.cfg.AuthMethod == ClientSecretPost {
		form.Set("client_id", v.cfg.ClientID)
		form.Set("client_secret", v.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.Endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, unavailable(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if v.cfg.AuthMethod == ClientSecretBasic {
		// RFC 6749 2.3.1: both parts form-encoded before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(v.cfg.ClientID), url.QueryEscape(v.cfg.ClientSecret))
	}
	resp, err := v.client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil, bulwark.ErrorOf(ctx.Err())
		}
		return nil, unavailable(redactErr(err, token))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, unavailable(fmt.Errorf("status %d", resp.StatusCode))
	}
	var claims map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&claims); err != nil || claims == nil {
		return nil, unavailable(errors.New("answer is not a JSON object"))
	}
	return claims, nil
}

// redactErr keeps the token out of a transport error's text (a
// *url.Error names the URL, which never holds it, but be sure).
func redactErr(err error, token string) error {
	if strings.Contains(err.Error(), token) {
		return errors.New(strings.ReplaceAll(err.Error(), token, "[token]"))
	}
	return err
}

func unavailable(cause error) *bulwark.Error {
	return bulwark.Unavailable("token introspection unavailable", 0, fmt.Errorf("%w: %w", ErrEndpoint, cause))
}

// decide turns the endpoint's answer into a cached entry.
func (v *Verifier) decide(c map[string]any, now time.Time) entry {
	until := now.Add(v.cfg.CacheFor)
	refuse := func(cause error) entry {
		return entry{err: bulwark.Unauthenticated("invalid token", cause), until: until}
	}
	if active, _ := c["active"].(bool); !active {
		return refuse(ErrInactive)
	}
	exp, hasExp := number(c["exp"])
	if hasExp {
		t := time.Unix(int64(exp), 0)
		if !now.Before(t) {
			return refuse(ErrExpired)
		}
		if t.Before(until) {
			until = t
		}
	}
	if nbf, ok := number(c["nbf"]); ok && now.Before(time.Unix(int64(nbf), 0)) {
		// Valid later: do not cache the refusal past that moment.
		e := refuse(ErrNotYetValid)
		if t := time.Unix(int64(nbf), 0); t.Before(e.until) {
			e.until = t
		}
		return e
	}
	if !contains(audiences(c["aud"]), v.cfg.Audience) {
		return refuse(ErrAudience)
	}
	scopes := strings.Fields(str(c["scope"]))
	for _, s := range v.cfg.Scopes {
		if !contains(scopes, s) {
			return refuse(fmt.Errorf("%w: %s", ErrScope, s))
		}
	}
	id := str(c["sub"])
	if id == "" {
		id = str(c["username"])
	}
	if id == "" {
		id = str(c["client_id"])
	}
	if id == "" {
		return refuse(errors.New("introspect: the answer names no subject, user or client"))
	}
	return entry{p: &auth.Principal{ID: id, Method: MethodIntrospection, Scopes: scopes, Claims: c}, until: until}
}

func number(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// audiences reads aud: a string or an array of strings.
func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
