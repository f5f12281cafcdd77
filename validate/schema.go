package validate

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"weak"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// JSON types as a bit set.
type typeSet uint8

const (
	tObject typeSet = 1 << iota
	tArray
	tString
	tNumber
	tInteger
	tBoolean
	tNull
)

var typeNames = []struct {
	t    typeSet
	name string
}{
	{tObject, "object"}, {tArray, "array"}, {tString, "string"}, {tInteger, "integer"},
	{tNumber, "number"}, {tBoolean, "boolean"}, {tNull, "null"},
}

// node is the part of a JSON Schema this package enforces, compiled once
// per tool definition. A nil *node accepts anything.
type node struct {
	types typeSet // 0: any type
	never bool    // the false schema: no value is allowed

	// objects
	props      map[string]*node
	names      []string          // sorted property names, for messages
	folded     map[string]string // case-folded name -> name, when props may differ only in case
	required   []string
	additional *node // schema of properties not in props; nil: anything
	closed     bool  // properties not in props are refused
	minProps   int
	maxProps   int // -1: none

	// arrays
	items    *node
	minItems int
	maxItems int // -1: none

	// strings
	minLen  int
	maxLen  int // -1: none
	pattern *regexp.Regexp
	format  string
	checkFn func([]byte) error
	// wantValue: the decoded string is needed (pattern, format, enum, const)
	wantValue bool
	// wantRunes: the length in runes is needed
	wantRunes bool

	// numbers
	minimum, maximum         *float64
	exclMinimum, exclMaximum *float64
	multipleOf               *float64 // positive and finite when set

	// any type
	enum     []any // decoded values; nil: no enum
	hasEnum  bool
	enumText string
	// enumComposite holds the canonical JSON of the enum's objects and
	// arrays; an object or array value is compared against these.
	enumComposite []string
}

// compiler turns *jsonschema.Schema trees into nodes.
type compiler struct {
	strict  bool
	formats map[string]func(string) error
}

// schemaOf returns the input schema of t as a *jsonschema.Schema, whatever
// Go value holds it (a *jsonschema.Schema, a map, json.RawMessage...).
func schemaOf(in any) (*jsonschema.Schema, error) {
	switch s := in.(type) {
	case nil:
		return nil, nil
	case *jsonschema.Schema:
		return s, nil
	case jsonschema.Schema:
		return &s, nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("input schema does not marshal to JSON: %w", err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("input schema is not a JSON Schema: %w", err)
	}
	return &s, nil
}

// jsonschema-go marshals the empty schema as true and {"not": {}} as
// false, however either was written.
func isFalseSchema(s *jsonschema.Schema) bool { return s != nil && schemaText(s) == "false" }

func schemaText(s *jsonschema.Schema) string {
	if s == nil {
		return "true"
	}
	b, err := json.Marshal(s)
	if err != nil {
		return ""
	}
	return string(b)
}

func (c *compiler) compile(s *jsonschema.Schema, depth int) (*node, error) {
	if s == nil {
		return nil, nil
	}
	if depth > maxDepthCap {
		return nil, errors.New("input schema is nested too deeply")
	}
	if isFalseSchema(s) {
		return &node{never: true}, nil
	}
	n := &node{maxProps: -1, maxItems: -1, maxLen: -1}
	useful := false
	types := s.Types
	if s.Type != "" {
		types = []string{s.Type}
	}
	for _, t := range types {
		found := false
		for _, tn := range typeNames {
			if tn.name == t {
				n.types |= tn.t
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("input schema: unknown type %q", t)
		}
		useful = true
	}
	if n.types&tNumber != 0 {
		n.types |= tInteger // every integer is a number
	}

	// Objects.
	open := s.AllOf != nil || s.AnyOf != nil || s.OneOf != nil || s.Ref != "" || s.DynamicRef != "" ||
		s.PatternProperties != nil || s.UnevaluatedProperties != nil || s.If != nil || s.DependentSchemas != nil
	if s.Properties != nil {
		n.props = make(map[string]*node, len(s.Properties))
		for name, ps := range s.Properties {
			pn, err := c.compile(ps, depth+1)
			if err != nil {
				return nil, err
			}
			n.props[name] = pn
			n.names = append(n.names, name)
		}
		sort.Strings(n.names)
		n.folded = make(map[string]string, len(n.names))
		for _, name := range n.names {
			n.folded[string(appendFold(nil, []byte(name)))] = name
		}
		useful = true
	}
	n.required = slices.Clone(s.Required)
	if len(n.required) > 0 {
		useful = true
	}
	switch {
	case s.AdditionalProperties != nil && isFalseSchema(s.AdditionalProperties):
		// Names matching patternProperties are not "additional"; without
		// a regexp engine for them here, stay open in that case.
		n.closed = s.PatternProperties == nil
	case s.AdditionalProperties != nil:
		if s.PatternProperties == nil {
			ap, err := c.compile(s.AdditionalProperties, depth+1)
			if err != nil {
				return nil, err
			}
			n.additional = ap
		}
	case c.strict && s.Properties != nil && !open:
		n.closed = true
	}
	if n.closed || n.additional != nil {
		useful = true
	}
	if s.MinProperties != nil {
		n.minProps = *s.MinProperties
		useful = true
	}
	if s.MaxProperties != nil {
		n.maxProps = *s.MaxProperties
		useful = true
	}

	// Arrays.
	if s.Items != nil {
		it, err := c.compile(s.Items, depth+1)
		if err != nil {
			return nil, err
		}
		n.items = it
		useful = useful || it != nil
	}
	if s.MinItems != nil {
		n.minItems = *s.MinItems
		useful = true
	}
	if s.MaxItems != nil {
		n.maxItems = *s.MaxItems
		useful = true
	}

	// Strings.
	if s.MinLength != nil {
		n.minLen = *s.MinLength
		n.wantRunes = true
	}
	if s.MaxLength != nil {
		n.maxLen = *s.MaxLength
		n.wantRunes = true
	}
	if s.Pattern != "" {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("input schema: pattern %q: %w", s.Pattern, err)
		}
		n.pattern = re
		n.wantValue = true
	}
	if s.Format != "" {
		if f, ok := c.formats[s.Format]; ok {
			if f != nil {
				n.format = s.Format
				n.checkFn = func(b []byte) error { return f(string(b)) }
			}
		} else if s.Format == "email" {
			n.format = s.Format
			n.checkFn = func(b []byte) error { return checkEmail(b) }
		}
		n.wantValue = n.wantValue || n.checkFn != nil
	}

	// Numbers.
	n.minimum, n.maximum = s.Minimum, s.Maximum
	n.exclMinimum, n.exclMaximum = s.ExclusiveMinimum, s.ExclusiveMaximum
	if m := s.MultipleOf; m != nil {
		if !(*m > 0) || math.IsInf(*m, 0) {
			return nil, fmt.Errorf("multipleOf must be a positive number, not %v", *m)
		}
		n.multipleOf = m
	}

	// Enum and const, for any type.
	switch {
	case s.Const != nil:
		n.enum, n.hasEnum = []any{*s.Const}, true
	case s.Enum != nil:
		n.enum, n.hasEnum = s.Enum, true
	}
	if n.hasEnum {
		for _, v := range n.enum {
			if _, ok := v.(string); ok {
				n.wantValue = true
			}
			if c, ok := canonicalComposite(v); ok {
				n.enumComposite = append(n.enumComposite, c)
			}
		}
		n.enumText = quoteList(n.enum)
	}
	useful = useful || n.wantValue || n.wantRunes || n.hasEnum || n.minimum != nil || n.maximum != nil ||
		n.exclMinimum != nil || n.exclMaximum != nil || n.multipleOf != nil
	if !useful {
		return nil, nil
	}
	return n, nil
}

// typeText names the types of n for a message: "a string", "an integer or
// null".
func (n *node) typeText() string {
	var out string
	count := 0
	for _, tn := range typeNames {
		if n.types&tn.t == 0 || tn.t == tInteger && n.types&tNumber != 0 {
			continue
		}
		word := tn.name
		if count == 0 {
			if word == "object" || word == "array" || word == "integer" {
				word = "an " + word
			} else if word != "null" {
				word = "a " + word
			}
			out = word
		} else {
			out += " or " + word
		}
		count++
	}
	return out
}

// enumHas reports whether the enum of n holds a value of the given kind
// and text (decoded string; raw token for numbers and literals).
func (n *node) enumHasString(b []byte) bool {
	for _, v := range n.enum {
		if s, ok := v.(string); ok && s == string(b) {
			return true
		}
	}
	return false
}

func (n *node) enumHasLiteral(tok []byte) bool {
	for _, v := range n.enum {
		switch x := v.(type) {
		case nil:
			if string(tok) == "null" {
				return true
			}
		case bool:
			if x && string(tok) == "true" || !x && string(tok) == "false" {
				return true
			}
		case float64, int, int64, json.Number:
			f, err := strconv.ParseFloat(string(tok), 64)
			if err == nil && compareLiteral(tok, f, toFloat(x)) == 0 {
				return true
			}
		}
	}
	return false
}

// canonicalComposite returns the canonical JSON text of v when v is a JSON
// object or array: decoded into plain Go values (numbers as float64) and
// encoded again, so that key order and number spelling do not matter.
func canonicalComposite(v any) (string, bool) {
	b, err := json.Marshal(v)
	if err != nil || len(b) == 0 || b[0] != '{' && b[0] != '[' {
		return "", false
	}
	return canonicalJSON(b)
}

func canonicalJSON(b []byte) (string, bool) {
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return "", false
	}
	out, err := json.Marshal(x)
	if err != nil {
		return "", false
	}
	return string(out), true
}

// enumHasComposite reports whether the object or array written as raw is
// one of the enum's values. Composite enums are rare: the work of decoding
// is done only when the enum has one.
func (n *node) enumHasComposite(raw []byte) bool {
	if len(n.enumComposite) == 0 {
		return false
	}
	c, ok := canonicalJSON(raw)
	return ok && slices.Contains(n.enumComposite, c)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return math.NaN()
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// schemaCache holds the compiled schema of each tool definition. Tool
// definitions are immutable once registered, so the pointer is the key;
// it is held weakly, so a replaced definition does not stay alive here.
type schemaCache struct {
	c compiler
	m sync.Map // weak.Pointer[mcp.Tool] -> *compiled
}

type compiled struct {
	root *node
	err  error
}

func (sc *schemaCache) lookup(t *mcp.Tool) (*node, error) {
	if t == nil || t.InputSchema == nil {
		return nil, nil
	}
	key := weak.Make(t)
	if v, ok := sc.m.Load(key); ok {
		cp := v.(*compiled)
		return cp.root, cp.err
	}
	var cp compiled
	s, err := schemaOf(t.InputSchema)
	if err == nil {
		cp.root, cp.err = sc.c.compile(s, 0)
	} else {
		cp.err = err
	}
	if cp.err != nil {
		cp.err = fmt.Errorf("tool %q: %w", t.Name, cp.err)
	}
	if _, loaded := sc.m.LoadOrStore(key, &cp); !loaded {
		m := &sc.m
		runtime.AddCleanup(t, func(k weak.Pointer[mcp.Tool]) { m.Delete(k) }, key)
	}
	return cp.root, cp.err
}

// CompileSchemas compiles the input schemas of tools the way [Middleware]
// does and reports the first problem (an invalid pattern, an unknown type, a schema
// that is not JSON), so a server can refuse to start instead of failing
// calls at run time.
func CompileSchemas(tools ...*mcp.Tool) error {
	c := compiler{}
	for _, t := range tools {
		if t == nil {
			continue
		}
		s, err := schemaOf(t.InputSchema)
		if err == nil {
			_, err = c.compile(s, 0)
		}
		if err != nil {
			return fmt.Errorf("validate: tool %q: %w", t.Name, err)
		}
	}
	return nil
}
