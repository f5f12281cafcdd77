package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/ratelimit"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Snapshot is one compiled policy file. It never changes once built: a
// reload builds a new one and swaps it in whole.
type Snapshot struct {
	// Digest is "sha256:" and the hex SHA-256 of the file's bytes.
	Digest string
	// Generation counts the policies an [Engine] has put in force: 1 for
	// the one New loaded, and one more for each accepted reload. Load
	// gives 0.
	Generation uint64

	denyUnlisted bool
	defaults     *layer
	entries      []*compiled
	tools        map[string]*Terms // every served tool, resolved at load
	principals   map[string]map[string][]string
}

// Terms are what the policy says about one tool, resource or prompt,
// after the defaults and every entry that names it (in file order, later
// entries overriding the fields they set) have been applied. A zero field
// means the file says nothing, and the layer keeps its own default.
type Terms struct {
	// Listed is false for a target no entry names; with "unlisted: deny"
	// such a target is refused.
	Listed bool
	// Scopes a caller must all hold; AnyScopes of which it must hold one;
	// Roles of which it must hold one.
	Scopes, AnyScopes, Roles []string
	Rate                     Rate
	Concurrency              int
	Timeout                  time.Duration
	CacheTTL                 time.Duration
	Retry                    Retry
	Breaker                  Trip
	// Sensitive are argument names to redact, besides the layers' own.
	Sensitive []string

	rule     Program
	ruleName string
	rateKey  Program
	authz    func(context.Context, *bulwark.Principal, *mcp.Tool) error
}

// Rate is a token bucket: Calls per Per, with bursts of up to Burst.
type Rate struct {
	Calls int
	Per   time.Duration
	Burst int
}

// Limit is r as a ratelimit.Limit, for a limiter's Config.Limit:
//
//	policy.Value(eng, func(t *policy.Terms) ratelimit.Limit { return t.Rate.Limit() })
//
// A rate without calls (the file sets none) is the zero Limit, which
// exempts the call from the limiter; a Burst of zero means 1.
func (r Rate) Limit() ratelimit.Limit {
	if r.Calls <= 0 {
		return ratelimit.Limit{}
	}
	return ratelimit.Limit{Rate: float64(r.Calls) / r.Per.Seconds(), Burst: max(r.Burst, 1)}
}

// Retry bounds retries: Attempts in all (the first included), waiting
// Backoff, doubled each time up to MaxBackoff.
type Retry struct {
	Attempts            int
	Backoff, MaxBackoff time.Duration
}

// Trip is when a breaker opens: after TripAfter consecutive failures, for
// OpenFor.
type Trip struct {
	TripAfter int
	OpenFor   time.Duration
}

type kind int

const (
	kindTool kind = iota
	kindResource
	kindPrompt
)

func (k kind) String() string { return [...]string{"tool", "resource", "prompt"}[k] }

func (k kind) section() string { return [...]string{"tools", "resources", "prompts"}[k] }

// layer is one entry's contribution, nil pointers for what it leaves alone.
type layer struct {
	scopes, anyScopes, roles, sensitive []string
	rate                                *rateDoc
	concurrency                         *int
	timeout, cacheTTL                   *duration
	retry                               *retryDoc
	breaker                             *breakerDoc
	rule, rateKey                       Program
	ruleName                            string
}

// compiled is one entry: for tools one layer per served tool it names
// (rules are compiled against each tool's schema), else one for all.
type compiled struct {
	name    string
	glob    bool
	kind    kind
	line    int
	path    string // "$.tools[2]", for errors
	perTool map[string]*layer
	any     *layer
}

func (c *compiled) layerFor(k kind, name string) *layer {
	if c.kind != k || !match(c.name, name) {
		return nil
	}
	if c.perTool != nil {
		return c.perTool[name] // nil: a tool the server did not serve at load
	}
	return c.any
}

func (ly *layer) apply(s *Terms) {
	if ly.scopes != nil {
		s.Scopes = ly.scopes
	}
	if ly.anyScopes != nil {
		s.AnyScopes = ly.anyScopes
	}
	if ly.roles != nil {
		s.Roles = ly.roles
	}
	if ly.sensitive != nil {
		s.Sensitive = append(slices.Clip(s.Sensitive), ly.sensitive...)
	}
	if r := ly.rate; r != nil {
		set(&s.Rate.Calls, r.Calls)
		setD(&s.Rate.Per, r.Per)
		set(&s.Rate.Burst, r.Burst)
	}
	set(&s.Concurrency, ly.concurrency)
	setD(&s.Timeout, ly.timeout)
	setD(&s.CacheTTL, ly.cacheTTL)
	if r := ly.retry; r != nil {
		set(&s.Retry.Attempts, r.Attempts)
		setD(&s.Retry.Backoff, r.Backoff)
		setD(&s.Retry.MaxBackoff, r.MaxBackoff)
	}
	if b := ly.breaker; b != nil {
		set(&s.Breaker.TripAfter, b.TripAfter)
		setD(&s.Breaker.OpenFor, b.OpenFor)
	}
	if ly.rule != nil {
		s.rule, s.ruleName = ly.rule, ly.ruleName
	}
	if ly.rateKey != nil {
		s.rateKey = ly.rateKey
	}
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func setD(dst *time.Duration, v *duration) {
	if v != nil {
		*dst = time.Duration(*v)
	}
}

// resolve applies the defaults and every entry naming name.
func (p *Snapshot) resolve(k kind, name string) *Terms {
	s := &Terms{}
	p.defaults.apply(s)
	for _, c := range p.entries {
		if ly := c.layerFor(k, name); ly != nil {
			s.Listed = true
			ly.apply(s)
		}
	}
	s.buildAuthz()
	return s
}

// For returns the settings of a tool (or, with the method's name, a
// resource URI or prompt name; see [Use]) for the call req. It never
// returns nil.
func (p *Snapshot) For(ctx context.Context, req *mcp.CallToolRequest) *Terms {
	k, name := targetOf(ctx, req)
	return p.lookup(k, name)
}

func (p *Snapshot) lookup(k kind, name string) *Terms {
	if k == kindTool {
		if s, ok := p.tools[name]; ok {
			return s
		}
	}
	return p.resolve(k, name)
}

// Attributes returns what the file's principals section says about the
// principal with the given ID (nil when it says nothing). The map and its
// slices are shared: do not modify them.
func (p *Snapshot) Attributes(principalID string) map[string][]string {
	return p.principals[principalID]
}

// targetOf says what a call acts on: the tool of a tools/call, the URI of a
// resource method, the prompt of prompts/get, and for the lists the kind
// they list (and no name).
func targetOf(ctx context.Context, req *mcp.CallToolRequest) (kind, string) {
	c := bulwark.CallFrom(ctx)
	if c != nil {
		switch c.Method {
		case bulwark.MethodCallTool, bulwark.MethodListTools, "":
		case bulwark.MethodReadResource, bulwark.MethodSubscribe, bulwark.MethodListResources, bulwark.MethodListResourceTemplates:
			return kindResource, c.Target
		case bulwark.MethodGetPrompt, bulwark.MethodListPrompts:
			return kindPrompt, c.Target
		case bulwark.MethodComplete:
			if strings.Contains(c.Target, ":") {
				return kindResource, c.Target
			}
			return kindPrompt, c.Target
		default:
			return kindTool, c.Method
		}
	}
	if req != nil && req.Params != nil {
		return kindTool, req.Params.Name
	}
	return kindTool, ""
}

// schemaMap turns a typed schema into the JSON object it stands for.
func schemaMap(v any) (map[string]any, bool) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	return m, true
}

// Glob patterns: '*' matches any run of characters (slashes too, so
// "customer://*" covers every customer URI), '?' matches one character,
// and '\' quotes the next one.
func isGlob(s string) bool { return strings.ContainsAny(s, `*?\`) }

func checkGlob(pat string) error {
	if strings.HasSuffix(pat, `\`) && !strings.HasSuffix(pat, `\\`) {
		return fmt.Errorf("name %q ends in an unfinished escape", pat)
	}
	return nil
}

func match(pat, s string) bool {
	if !isGlob(pat) {
		return pat == s
	}
	// Iterative matching with one backtrack point for the last '*'.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pat) && pat[p] == '*':
			star, mark = p, i
			p++
		case p < len(pat) && pat[p] == '?':
			p++
			i++
		case p+1 < len(pat) && pat[p] == '\\' && pat[p+1] == s[i]:
			p += 2
			i++
		case p < len(pat) && pat[p] != '\\' && pat[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}
