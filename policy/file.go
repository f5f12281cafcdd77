package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// LoadError is one thing wrong with a policy file. Its text is
// "file:line: what is wrong"; a file with several problems fails with all
// of them, joined (errors.As finds the first).
type LoadError struct {
	File string
	Line int // 0 when the problem has no single line (an unreadable file)
	Msg  string
}

func (e *LoadError) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// The file as written. Pointers tell "not set" from zero, so that a later
// entry overrides only what it says.
type document struct {
	Version    int                     `yaml:"version"`
	Unlisted   string                  `yaml:"unlisted"`
	Defaults   entry                   `yaml:"defaults"`
	Tools      []entry                 `yaml:"tools"`
	Resources  []entry                 `yaml:"resources"`
	Prompts    []entry                 `yaml:"prompts"`
	Principals map[string]principalDoc `yaml:"principals"`
}

type entry struct {
	Name        string      `yaml:"name"`
	Scopes      []string    `yaml:"scopes"`
	AnyScopes   []string    `yaml:"any_scopes"`
	Roles       []string    `yaml:"roles"`
	Rule        string      `yaml:"rule"`
	RuleName    string      `yaml:"rule_name"`
	RateKey     string      `yaml:"rate_key"`
	Rate        *rateDoc    `yaml:"rate"`
	Concurrency *int        `yaml:"concurrency"`
	Timeout     *duration   `yaml:"timeout"`
	CacheTTL    *duration   `yaml:"cache_ttl"`
	Retry       *retryDoc   `yaml:"retry"`
	Breaker     *breakerDoc `yaml:"breaker"`
	Sensitive   []string    `yaml:"sensitive"`
}

type rateDoc struct {
	Calls *int      `yaml:"calls"`
	Per   *duration `yaml:"per"`
	Burst *int      `yaml:"burst"`
}

type retryDoc struct {
	Attempts   *int      `yaml:"attempts"`
	Backoff    *duration `yaml:"backoff"`
	MaxBackoff *duration `yaml:"max_backoff"`
}

type breakerDoc struct {
	TripAfter *int      `yaml:"trip_after"`
	OpenFor   *duration `yaml:"open_for"`
}

type principalDoc struct {
	Attributes map[string][]string `yaml:"attributes"`
}

// loader collects the problems of one file with their lines.
type loader struct {
	file string
	ast  *ast.File
	errs []error
}

func (l *loader) fail(path string, format string, args ...any) {
	l.errs = append(l.errs, &LoadError{File: l.file, Line: l.line(path), Msg: fmt.Sprintf(format, args...)})
}

// line finds the line of the node at path ("$.tools[2].rate.calls"), or of
// the nearest parent that exists.
func (l *loader) line(path string) int {
	for path != "" && path != "$" {
		if p, err := yaml.PathString(path); err == nil && l.ast != nil {
			if n, err := p.FilterFile(l.ast); err == nil && n != nil && n.GetToken() != nil {
				return n.GetToken().Position.Line
			}
		}
		i := strings.LastIndexAny(path, ".[")
		if i <= 0 {
			break
		}
		path = path[:i]
	}
	return 1
}

// compile parses and validates data (the file named file) against the
// tools the server serves, and returns the immutable policy it describes.
func compile(file string, data []byte, tools []*mcp.Tool, rules Compiler, gen uint64) (*Snapshot, error) {
	l := &loader{file: file}
	digest := digestOf(data)
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, l.yamlError(err)
	}
	l.ast = f
	var doc document
	if err := yaml.UnmarshalWithOptions(data, &doc, yaml.DisallowUnknownField()); err != nil {
		return nil, l.yamlError(err)
	}
	if doc.Version != 1 {
		l.fail("$.version", "version must be 1 (got %d)", doc.Version)
	}
	deny := false
	switch doc.Unlisted {
	case "", "allow":
	case "deny":
		deny = true
	default:
		l.fail("$.unlisted", "unlisted must be allow or deny (got %q)", doc.Unlisted)
	}

	byName := make(map[string]*mcp.Tool, len(tools))
	for _, t := range tools {
		if t != nil {
			byName[t.Name] = t
		}
	}
	p := &Snapshot{
		Digest:       digest,
		Generation:   gen,
		denyUnlisted: deny,
		tools:        make(map[string]*Terms, len(byName)),
		principals:   make(map[string]map[string][]string, len(doc.Principals)),
	}
	defaults := l.entry("$.defaults", doc.Defaults, kindTool, nil, rules)
	if doc.Defaults.Name != "" {
		l.fail("$.defaults.name", "defaults apply to everything and take no name")
	}
	if doc.Defaults.Rule != "" || doc.Defaults.RateKey != "" {
		l.fail("$.defaults", "defaults cannot hold a rule or rate_key: they depend on a tool's arguments")
	}
	p.defaults = defaults

	for kind, list := range map[kind][]entry{kindTool: doc.Tools, kindResource: doc.Resources, kindPrompt: doc.Prompts} {
		for i, e := range list {
			path := fmt.Sprintf("$.%s[%d]", kind.section(), i)
			if e.Name == "" {
				l.fail(path, "%s entry has no name", kind)
				continue
			}
			if err := checkGlob(e.Name); err != nil {
				l.fail(path+".name", "%v", err)
				continue
			}
			c := &compiled{name: e.Name, glob: isGlob(e.Name), kind: kind, line: l.line(path + ".name"), path: path}
			if kind == kindTool {
				var matched []*mcp.Tool
				for _, t := range tools {
					if t != nil && match(e.Name, t.Name) {
						matched = append(matched, t)
					}
				}
				switch {
				case len(matched) == 0 && c.glob:
					l.fail(path+".name", "%q matches no tool the server serves", e.Name)
					continue
				case len(matched) == 0:
					l.fail(path+".name", "tool %q is not served (known: %s)", e.Name, knownNames(tools))
					continue
				}
				c.perTool = make(map[string]*layer, len(matched))
				for _, t := range matched {
					c.perTool[t.Name] = l.entry(path, e, kind, t, rules)
				}
			} else {
				c.any = l.entry(path, e, kind, nil, rules)
			}
			p.entries = append(p.entries, c)
		}
	}
	// Map iteration above visits sections in any order; entries apply in
	// file order within their kind, which is all that matters.
	slices.SortStableFunc(p.entries, func(a, b *compiled) int { return a.line - b.line })

	for id, pd := range doc.Principals {
		if id == "" {
			l.fail("$.principals", "a principal needs an ID")
			continue
		}
		attrs := make(map[string][]string, len(pd.Attributes))
		for k, v := range pd.Attributes {
			attrs[k] = slices.Clone(v)
		}
		p.principals[id] = attrs
	}

	// A rate's calls and per may come from different entries: check what
	// each tool ends up with.
	hadErrs := len(l.errs) > 0
	var wheres []string
	perless := map[string][]string{}
	for _, t := range tools {
		if t == nil || hadErrs {
			continue
		}
		if s := p.resolve(kindTool, t.Name); s.Rate.Calls > 0 && s.Rate.Per <= 0 {
			where := "$.defaults.rate"
			for _, c := range p.entries {
				if ly := c.layerFor(kindTool, t.Name); ly != nil && ly.rate != nil && ly.rate.Calls != nil {
					where = c.path + ".rate"
				}
			}
			if perless[where] == nil {
				wheres = append(wheres, where)
			}
			perless[where] = append(perless[where], strconv.Quote(t.Name))
		}
	}
	for _, where := range wheres {
		l.fail(where, "rate has calls but no per (a duration such as 1m, here or in defaults), for tool %s", strings.Join(perless[where], ", "))
	}

	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b error) int {
			return a.(*LoadError).Line - b.(*LoadError).Line
		})
		return nil, errors.Join(l.errs...)
	}
	for _, t := range tools {
		if t != nil {
			p.tools[t.Name] = p.resolve(kindTool, t.Name)
		}
	}
	return p, nil
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func knownNames(tools []*mcp.Tool) string {
	names := make([]string, 0, len(tools))
	for _, t := range tools {
		if t != nil {
			names = append(names, t.Name)
		}
	}
	slices.Sort(names)
	if len(names) > 8 {
		names = append(names[:8], "…")
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// duration is a time.Duration written as "1m30s" (or 0), whose decoding
// errors carry their line.
type duration time.Duration

type posError struct {
	line int
	msg  string
}

func (e *posError) Error() string { return e.msg }

func (d *duration) UnmarshalYAML(node ast.Node) error {
	line := 0
	if tk := node.GetToken(); tk != nil {
		line = tk.Position.Line
	}
	sc, ok := node.(ast.ScalarNode)
	if !ok {
		return &posError{line, "a duration must be written like 1m30s"}
	}
	switch v := sc.GetValue().(type) {
	case uint64:
		if v == 0 {
			*d = 0
			return nil
		}
	case int64:
		if v == 0 {
			*d = 0
			return nil
		}
	case string:
		x, err := time.ParseDuration(v)
		if err == nil {
			*d = duration(x)
			return nil
		}
	}
	return &posError{line, fmt.Sprintf("%q is not a duration: write one like 1m30s", fmt.Sprint(sc.GetValue()))}
}

func (l *loader) yamlError(err error) error {
	var pe *posError
	if errors.As(err, &pe) {
		return &LoadError{File: l.file, Line: pe.line, Msg: pe.msg}
	}
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		return &LoadError{File: l.file, Line: ye.GetToken().Position.Line, Msg: ye.GetMessage()}
	}
	return &LoadError{File: l.file, Msg: err.Error()}
}

// entry checks one entry and turns it into a layer of settings. t is the
// tool the entry is compiled for (nil for defaults, resources and prompts).
func (l *loader) entry(path string, e entry, k kind, t *mcp.Tool, rules Compiler) *layer {
	ly := &layer{
		scopes:    slices.Clone(e.Scopes),
		anyScopes: slices.Clone(e.AnyScopes),
		roles:     slices.Clone(e.Roles),
		sensitive: slices.Clone(e.Sensitive),
	}
	nonNeg := func(field string, v *int) *int {
		if v != nil && *v < 0 {
			l.fail(path+"."+field, "%s must not be negative (got %d)", field, *v)
		}
		return v
	}
	nonNegD := func(field string, v *duration) *duration {
		if v != nil && *v < 0 {
			l.fail(path+"."+field, "%s must not be negative (got %v)", field, time.Duration(*v))
		}
		return v
	}
	if e.Rate != nil {
		nonNeg("rate.calls", e.Rate.Calls)
		nonNeg("rate.burst", e.Rate.Burst)
		nonNegD("rate.per", e.Rate.Per)
		ly.rate = e.Rate
	}
	ly.concurrency = nonNeg("concurrency", e.Concurrency)
	ly.timeout = nonNegD("timeout", e.Timeout)
	ly.cacheTTL = nonNegD("cache_ttl", e.CacheTTL)
	if e.Retry != nil {
		nonNeg("retry.attempts", e.Retry.Attempts)
		nonNegD("retry.backoff", e.Retry.Backoff)
		nonNegD("retry.max_backoff", e.Retry.MaxBackoff)
		ly.retry = e.Retry
	}
	if e.Breaker != nil {
		nonNeg("breaker.trip_after", e.Breaker.TripAfter)
		nonNegD("breaker.open_for", e.Breaker.OpenFor)
		ly.breaker = e.Breaker
	}
	for field, list := range map[string][]string{"scopes": e.Scopes, "any_scopes": e.AnyScopes, "roles": e.Roles, "sensitive": e.Sensitive} {
		for i, s := range list {
			if strings.TrimSpace(s) == "" {
				l.fail(fmt.Sprintf("%s.%s[%d]", path, field, i), "%s holds an empty name", field)
			}
		}
	}
	if t != nil && !isGlob(e.Name) {
		props := properties(t)
		for i, s := range e.Sensitive {
			if props != nil && !props[s] {
				l.fail(fmt.Sprintf("%s.sensitive[%d]", path, i), "tool %q has no argument %q", t.Name, s)
			}
		}
	}
	for _, src := range []struct {
		field, expr string
		want        Result
		dst         *Program
	}{{"rule", e.Rule, Bool, &ly.rule}, {"rate_key", e.RateKey, String, &ly.rateKey}} {
		if src.expr == "" {
			continue
		}
		if rules == nil {
			l.fail(path+"."+src.field, "%s needs a rule compiler (Config.Rules, such as celrule.New())", src.field)
			continue
		}
		target := t
		if target == nil {
			target = &mcp.Tool{Name: e.Name}
		}
		prog, err := rules.Compile(Source{Expr: src.expr, Tool: target, Result: src.want, Kind: k.String()})
		if err != nil {
			l.fail(path+"."+src.field, "%s for %s %q: %v", src.field, k, target.Name, err)
			continue
		}
		*src.dst = prog
	}
	if e.Rule != "" {
		ly.ruleName = e.RuleName
		if ly.ruleName == "" {
			ly.ruleName = fmt.Sprintf("%s:%d", l.file, l.line(path+".rule"))
		}
	}
	return ly
}

// properties returns the names of a tool's top-level arguments, or nil when
// its schema does not list them (anything may then be named).
func properties(t *mcp.Tool) map[string]bool {
	if t == nil || t.InputSchema == nil {
		return nil
	}
	var props map[string]any
	switch s := t.InputSchema.(type) {
	case map[string]any:
		props, _ = s["properties"].(map[string]any)
	default:
		m, ok := schemaMap(s)
		if !ok {
			return nil
		}
		props, _ = m["properties"].(map[string]any)
	}
	if props == nil {
		return nil
	}
	out := make(map[string]bool, len(props))
	for k := range props {
		out[k] = true
	}
	return out
}

// Load reads and validates the policy file at path against tools, as
// [New] does, without installing it: what an offline check runs.
func Load(path string, tools []*mcp.Tool, rules Compiler) (*Snapshot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &LoadError{File: path, Msg: "cannot read the file: " + pathErr(err)}
	}
	return compile(path, data, tools, rules, 0)
}
