package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/auth"
	"github.com/bulwark-mcp/bulwark/internal/ident"
	"github.com/bulwark-mcp/bulwark/internal/sysclock"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Config configures [New]. Zero fields take the defaults stated on each;
// Issuer, Audience and one key source are required.
type Config struct {
	// Issuer is the exact "iss" every token must carry: the authorization
	// server's issuer identifier. Required.
	Issuer string
	// Audience is this MCP server's resource identifier (RFC 8707, the
	// "resource" of its protected resource metadata); every token's "aud"
	// must contain it, so a token minted for another service is refused.
	// Required.
	Audience string

	// JWKSURL is where the authorization server publishes its keys. The
	// set is fetched at construction, refreshed every RefreshInterval, and
	// refetched when a token names an unknown "kid", at most once per
	// UnknownKeyRefreshInterval. It must be https, except on a loopback
	// host, and so must every URL it redirects to.
	JWKSURL string
	// StaticKeys are verification keys by key ID ("kid"), used instead of
	// a JWKS URL: *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey, or a
	// []byte HMAC secret of at least 32 bytes when Algorithms lists only
	// HS256/HS384/HS512. A token without "kid" is tried against every key.
	StaticKeys map[string]crypto.PublicKey

	// Algorithms is the allowlist of "alg" values. Default: RS256 and
	// ES256. "none" is always refused, and HMAC algorithms are refused
	// unless every key is an HMAC secret, which rules out HMAC/RSA
	// confusion.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30s;
	// at most 5 minutes.
	Leeway time.Duration
	// MaxTokenSize bounds the tokens accepted, in bytes. Default 8 KiB.
	MaxTokenSize int
	// RolesClaim names the claim holding roles (a string array or a
	// space-separated string). Default "roles".
	RolesClaim string

	// RefreshInterval is how often the JWKS is refetched. Default 1h.
	RefreshInterval time.Duration
	// UnknownKeyRefreshInterval is the least time between refetches caused
	// by an unknown "kid", so forged key IDs cannot make the server hammer
	// the authorization server. Default 5m. A token with an unknown kid
	// arriving before the next refetch is allowed is refused at once.
	UnknownKeyRefreshInterval time.Duration
	// HTTPClient fetches the JWKS. Default: a client with HTTPTimeout.
	// Responses larger than 1 MiB are refused either way.
	HTTPClient *http.Client
	// HTTPTimeout bounds each JWKS fetch. Default 10s.
	HTTPTimeout time.Duration
	// Logger receives JWKS refresh failures (with the URL's password and
	// query string left out). Default slog.Default().
	Logger *slog.Logger
	// Clock is the time source for exp, nbf and iat. Default the system
	// clock.
	Clock bulwark.Clock
}

const (
	defaultLeeway                    = 30 * time.Second
	defaultMaxTokenSize              = 8 << 10
	defaultRefreshInterval           = time.Hour
	defaultUnknownKeyRefreshInterval = 5 * time.Minute
	maxJWKSResponse                  = 1 << 20
)

// Verifier verifies JWT access tokens. It implements auth.Verifier. Create
// it with [New]; call Close when done with a JWKS-backed one to stop its
// background refresh.
type Verifier struct {
	cfg        Config
	parser     *jwt.Parser
	static     map[string]crypto.PublicKey
	jwks       keyfunc.Keyfunc
	cancel     context.CancelFunc
	allowedAlg map[string]bool
}

var knownAlgs = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true,
	"PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true,
	"EdDSA": true,
	"HS256": true, "HS384": true, "HS512": true,
}

func isHMAC(alg string) bool { return strings.HasPrefix(alg, "HS") }

// New checks cfg and returns a verifier. With a JWKS URL it
// fetches the key set once before returning; a failed first fetch is
// logged, not returned, so a server can start while its authorization
// server is briefly down (tokens are refused until a fetch succeeds).
func New(cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("jwtauth: Config.Issuer is required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("jwtauth: Config.Audience is required (the server's resource identifier)")
	}
	if (cfg.JWKSURL == "") == (len(cfg.StaticKeys) == 0) {
		return nil, errors.New("jwtauth: Config needs exactly one of JWKSURL and StaticKeys")
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{"RS256", "ES256"}
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	allowed := make(map[string]bool, len(cfg.Algorithms))
	hmacCount := 0
	for _, a := range cfg.Algorithms {
		if !knownAlgs[a] {
			return nil, fmt.Errorf("jwtauth: algorithm %q is not supported", a)
		}
		if isHMAC(a) {
			hmacCount++
		}
		allowed[a] = true
	}
	if hmacCount > 0 && hmacCount != len(cfg.Algorithms) {
		return nil, errors.New("jwtauth: HMAC and public-key algorithms cannot be allowed together")
	}
	if hmacCount > 0 && cfg.JWKSURL != "" {
		return nil, errors.New("jwtauth: HMAC algorithms cannot be used with a JWKS URL")
	}
	for kid, k := range cfg.StaticKeys {
		if err := checkStaticKey(k, hmacCount > 0); err != nil {
			return nil, fmt.Errorf("jwtauth: static key %q: %w", kid, err)
		}
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = defaultLeeway
	}
	if cfg.Leeway < 0 || cfg.Leeway > 5*time.Minute {
		return nil, errors.New("jwtauth: Config.Leeway must be between 0 and 5 minutes")
	}
	if cfg.MaxTokenSize == 0 {
		cfg.MaxTokenSize = defaultMaxTokenSize
	}
	if cfg.MaxTokenSize < 0 {
		return nil, errors.New("jwtauth: Config.MaxTokenSize must not be negative")
	}
	if cfg.RolesClaim == "" {
		cfg.RolesClaim = "roles"
	}
	if cfg.RefreshInterval == 0 {
		cfg.RefreshInterval = defaultRefreshInterval
	}
	if cfg.UnknownKeyRefreshInterval == 0 {
		cfg.UnknownKeyRefreshInterval = defaultUnknownKeyRefreshInterval
	}
	if cfg.HTTPTimeout == 0 {
		cfg.HTTPTimeout = 10 * time.Second
	}
	if cfg.RefreshInterval < 0 || cfg.UnknownKeyRefreshInterval < 0 || cfg.HTTPTimeout < 0 {
		return nil, errors.New("jwtauth: Config intervals must not be negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var clock bulwark.Clock = sysclock.Clock{}
	if cfg.Clock != nil {
		clock = cfg.Clock
	}

	v := &Verifier{cfg: cfg, allowedAlg: allowed}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(clock.Now),
		jwt.WithStrictDecoding(),
	)
	if len(cfg.StaticKeys) > 0 {
		v.static = make(map[string]crypto.PublicKey, len(cfg.StaticKeys))
		for kid, k := range cfg.StaticKeys {
			v.static[kid] = k
		}
		return v, nil
	}

	if err := checkJWKSURL(cfg.JWKSURL); err != nil {
		return nil, err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: cfg.HTTPTimeout}
	}
	limited := *client
	limited.Transport = limitTransport{base: client.Transport}
	limited.CheckRedirect = checkJWKSRedirect(client.CheckRedirect)
	ctx, cancel := context.WithCancel(context.Background())
	logger := cfg.Logger
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
		Client:      &limited,
		HTTPTimeout: cfg.HTTPTimeout,
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			shown := redactURL(u)
			return func(ctx context.Context, err error) {
				logger.WarnContext(ctx, "jwtauth: JWKS fetch failed", "url", shown, "error", err)
			}
		},
		RefreshInterval:   cfg.RefreshInterval,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.UnknownKeyRefreshInterval), 1),
		// A token with an unknown kid waits for the refetch limiter only
		// if its turn comes within this time; otherwise it is refused at
		// once. The same bound covers the refetch itself.
		RateLimitWaitMax: cfg.HTTPTimeout,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwtauth: JWKS: %w", err)
	}
	v.jwks = kf
	v.cancel = cancel
	return v, nil
}

// Close stops the background JWKS refresh. It is safe to call more than
// once, and on a verifier with static keys.
func (v *Verifier) Close() error {
	if v != nil && v.cancel != nil {
		v.cancel()
	}
	return nil
}

// redactURL returns raw without a password or query string, either of
// which may hold a credential, for logging.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.ForceQuery, u.Fragment = "", false, ""
	return u.Redacted()
}

func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("jwtauth: Config.JWKSURL is not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return errors.New("jwtauth: Config.JWKSURL must use https (plain http only on a loopback host)")
}

// checkJWKSRedirect holds every redirect target of a JWKS fetch to the rules
// of JWKSURL, so a redirect cannot move the fetch to plain http; then it
// applies the client's own policy (by default, at most 10 redirects).
func checkJWKSRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(r *http.Request, via []*http.Request) error {
		if err := checkJWKSURL(r.URL.String()); err != nil {
			return errors.New("jwtauth: JWKS redirect to a URL that is not https")
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("jwtauth: JWKS fetch stopped after 10 redirects")
		}
		return nil
	}
}

func checkStaticKey(k crypto.PublicKey, hmac bool) error {
	switch key := k.(type) {
	case []byte:
		if !hmac {
			return errors.New("an HMAC secret needs HMAC algorithms (and only those)")
		}
		if len(key) < 32 {
			return errors.New("an HMAC secret must be at least 32 bytes")
		}
		return nil
	case *rsa.PublicKey:
		if key == nil || key.N == nil || key.N.BitLen() < 2048 {
			return errors.New("RSA keys must be at least 2048 bits")
		}
	case *ecdsa.PublicKey:
		if key == nil {
			return errors.New("nil ECDSA key")
		}
	case ed25519.PublicKey:
		if len(key) != ed25519.PublicKeySize {
			return errors.New("bad Ed25519 key size")
		}
	default:
		return fmt.Errorf("unsupported key type %T", k)
	}
	if hmac {
		return errors.New("public keys cannot be used with HMAC algorithms")
	}
	return nil
}

// keyFits reports whether key is the right kind of key for alg, so a key
// published for one algorithm family never verifies a token of another.
func keyFits(alg string, key any) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := key.(*rsa.PublicKey)
		return ok && k != nil && k.N != nil && k.N.BitLen() >= 2048
	case "ES256", "ES384", "ES512":
		k, ok := key.(*ecdsa.PublicKey)
		if !ok || k == nil || k.Curve == nil {
			return false
		}
		var want elliptic.Curve
		switch alg {
		case "ES256":
			want = elliptic.P256()
		case "ES384":
			want = elliptic.P384()
		default:
			want = elliptic.P521()
		}
		return k.Curve == want
	case "EdDSA":
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	case "HS256", "HS384", "HS512":
		k, ok := key.([]byte)
		return ok && len(k) >= 32
	}
	return false
}

// Header parameters that point at, or carry, a key. Honouring any of them
// lets the token choose the key that verifies it, so tokens carrying them
// are refused outright. "crit" is refused because this verifier implements
// no extensions.
var forbiddenHeaders = []string{"jku", "x5u", "jwk", "x5c", "crit"}

func (v *Verifier) keyFunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		for _, h := range forbiddenHeaders {
			if _, ok := t.Header[h]; ok {
				return nil, fmt.Errorf("%w: %q", ErrForbiddenHeader, h)
			}
		}
		alg := t.Method.Alg()
		if !v.allowedAlg[alg] { // the parser checks too; belt and braces
			return nil, fmt.Errorf("%w: alg %q", ErrUnsupportedToken, alg)
		}
		kidRaw, hasKid := t.Header["kid"]
		kid, isString := kidRaw.(string)
		if hasKid && !isString {
			return nil, errors.New("jwtauth: kid header is not a string")
		}
		if v.static != nil {
			if hasKid {
				k, ok := v.static[kid]
				if !ok || !keyFits(alg, k) {
					return nil, fmt.Errorf("jwtauth: no %s key with kid %q", alg, kid)
				}
				return k, nil
			}
			var set jwt.VerificationKeySet
			for _, k := range v.static {
				if keyFits(alg, k) {
					set.Keys = append(set.Keys, k)
				}
			}
			return set, nil
		}
		key, err := v.jwksKey(ctx, alg, kid, hasKid)
		if err != nil {
			return nil, err
		}
		if set, ok := key.(jwt.VerificationKeySet); ok {
			kept := set.Keys[:0:0]
			for _, k := range set.Keys {
				if keyFits(alg, k) {
					kept = append(kept, k)
				}
			}
			return jwt.VerificationKeySet{Keys: kept}, nil
		}
		if !keyFits(alg, key) {
			return nil, fmt.Errorf("jwtauth: key %q does not fit alg %s", kid, alg)
		}
		return key, nil
	}
}

// jwksKey returns the JWKS key named by kid, or without a kid every key
// that may verify a token of alg, as a jwt.VerificationKeySet. Only keys
// published for signatures qualify (see forSignatures), and a key whose
// "alg" is set must name alg. A kid not in the set triggers the
// rate-limited refetch of the key set.
func (v *Verifier) jwksKey(ctx context.Context, alg, kid string, hasKid bool) (any, error) {
	store := v.jwks.Storage()
	if hasKid {
		jwk, err := store.KeyRead(ctx, kid)
		if err != nil {
			return nil, fmt.Errorf("jwtauth: no key with kid %q: %w", kid, err)
		}
		m := jwk.Marshal()
		if a := string(m.ALG); a != "" && a != alg {
			return nil, fmt.Errorf("jwtauth: key %q is for alg %s, not %s", kid, a, alg)
		}
		if !forSignatures(string(m.USE), m.KEYOPS) {
			return nil, fmt.Errorf("%w: key %q is not published for verifying signatures", ErrUnsupportedToken, kid)
		}
		return publicOf(jwk.Key()), nil
	}
	all, err := store.KeyReadAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: reading the key set: %w", err)
	}
	var set jwt.VerificationKeySet
	for _, jwk := range all {
		m := jwk.Marshal()
		if a := string(m.ALG); (a != "" && a != alg) || !forSignatures(string(m.USE), m.KEYOPS) {
			continue
		}
		set.Keys = append(set.Keys, publicOf(jwk.Key()))
	}
	return set, nil
}

// forSignatures reports whether a JWK with this "use" and these "key_ops"
// may verify signatures (RFC 7517 §4.2, §4.3): "use" absent or "sig", and
// "key_ops" absent or listing "verify". A key published for encryption
// must never verify a token, even one signed with its private half.
func forSignatures[Op ~string](use string, ops []Op) bool {
	if use != "" && use != "sig" {
		return false
	}
	if ops == nil {
		return true
	}
	for _, op := range ops {
		if op == "verify" {
			return true
		}
	}
	return false
}

// publicOf returns the public half of a key the JWKS holds in private form.
func publicOf(key any) any {
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		return pk.Public()
	}
	return key
}

// jwtChars reports whether s has the shape of a compact JWS: base64url
// segments separated by exactly two dots.
func jwtChars(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return dots == 2
}

// Verify checks token and returns its principal: ID from "sub", scopes
// from "scope" (space-separated) or "scp", roles from the configured roles
// claim, and every claim in Claims. Failures are unauthenticated errors
// whose text names the problem (expired, wrong audience, …) but never
// contains the token.
func (v *Verifier) Verify(ctx context.Context, token string) (*auth.Principal, error) {
	switch {
	case v == nil || v.parser == nil:
		return nil, unauthenticated("invalid token", errors.New("jwtauth: Verifier used without New"))
	case token == "":
		return nil, unauthenticated("bearer token required", auth.ErrNoCredentials)
	case len(token) > v.cfg.MaxTokenSize:
		return nil, unauthenticated("token too large", auth.ErrTokenTooLarge)
	case !jwtChars(token):
		return nil, unauthenticated("malformed token", auth.ErrMalformedToken)
	}
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyFunc(ctx)); err != nil {
		return nil, unauthenticated(jwtMessage(err), err)
	}
	sub, _ := claims["sub"].(string)
	if !ident.Name(sub) {
		return nil, unauthenticated("token has no valid subject", errors.New("jwtauth: sub claim missing or invalid"))
	}
	p := &auth.Principal{
		ID:     sub,
		Method: "jwt",
		Scopes: scopesOf(claims),
		Roles:  stringsOf(claims[v.cfg.RolesClaim]),
		Claims: claims,
	}
	return p, nil
}

func jwtMessage(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not yet valid"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience does not include this server"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim"
	default:
		return "invalid token"
	}
}

// scopesOf reads "scope" (RFC 8693/9068: one space-separated string), or
// failing that "scp" (a string or an array, as some providers send).
func scopesOf(c jwt.MapClaims) []string {
	if s, ok := c["scope"]; ok {
		return stringsOf(s)
	}
	return stringsOf(c["scp"])
}

func stringsOf(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		for _, f := range strings.Fields(x) {
			if ident.Scope(f) {
				out = append(out, f)
			}
		}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok && ident.Scope(s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// limitTransport refuses JWKS responses larger than maxJWKSResponse, so a
// misbehaving key server cannot exhaust memory.
type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	res.Body = http.MaxBytesReader(nil, res.Body, maxJWKSResponse)
	return res, nil
}
