package validate

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// A Rule adds constraints to the schema of one property, so that what a
// tool advertises in tools/list is what [Middleware] (and, for tools added
// with mcp.AddTool, the SDK) enforces. Struct tags cannot express these:
// jsonschema.For reads its tags as descriptions only.
type Rule func(*jsonschema.Schema) error

// Pattern requires string values to match the regular expression expr
// (Go RE2 syntax, which JSON Schema patterns written for portability stay
// within). Anchor it with ^ and $ to match the whole value.
func Pattern(expr string) Rule {
	return func(s *jsonschema.Schema) error {
		if _, err := regexp.Compile(expr); err != nil {
			return fmt.Errorf("pattern %q: %w", expr, err)
		}
		if err := wantString(s); err != nil {
			return err
		}
		s.Pattern = expr
		return nil
	}
}

// MinLength requires at least n characters (Unicode code points).
func MinLength(n int) Rule {
	return func(s *jsonschema.Schema) error {
		if n < 0 {
			return fmt.Errorf("minLength %d is negative", n)
		}
		if err := wantString(s); err != nil {
			return err
		}
		s.MinLength = jsonschema.Ptr(n)
		return nil
	}
}

// MaxLength allows at most n characters (Unicode code points).
func MaxLength(n int) Rule {
	return func(s *jsonschema.Schema) error {
		if n < 0 {
			return fmt.Errorf("maxLength %d is negative", n)
		}
		if err := wantString(s); err != nil {
			return err
		}
		s.MaxLength = jsonschema.Ptr(n)
		return nil
	}
}

// FormatEmail declares "format": "email" and a maxLength of 254, which
// [Middleware] enforces with [Email]. The SDK's own validator ignores
// format, so without this layer the format is a hint only.
func FormatEmail() Rule {
	return func(s *jsonschema.Schema) error {
		if err := wantString(s); err != nil {
			return err
		}
		s.Format = "email"
		if s.MaxLength == nil || *s.MaxLength > maxEmailLength {
			s.MaxLength = jsonschema.Ptr(maxEmailLength)
		}
		return nil
	}
}

// FormatID declares what [ID] accepts in standard keywords: the pattern
// ^[a-zA-Z0-9-]+$, a minLength of 1 and a maxLength of 50. Every JSON Schema
// validator, the SDK's included, enforces these.
func FormatID() Rule {
	return func(s *jsonschema.Schema) error {
		if err := wantString(s); err != nil {
			return err
		}
		s.Pattern = idPattern
		s.MinLength = jsonschema.Ptr(1)
		s.MaxLength = jsonschema.Ptr(maxIDLength)
		return nil
	}
}

// Range bounds a number (or integer) property to [min, max], inclusive.
// Use math.Inf for a side without a bound.
func Range(min, max float64) Rule {
	return func(s *jsonschema.Schema) error {
		if !(min <= max) {
			return fmt.Errorf("range [%v, %v] is empty", min, max)
		}
		if s.Type != "" && s.Type != "number" && s.Type != "integer" ||
			len(s.Types) > 0 && !slices.Contains(s.Types, "number") && !slices.Contains(s.Types, "integer") {
			return fmt.Errorf("a number rule applied to a property of type %s", typeList(s))
		}
		if !math.IsInf(min, -1) {
			s.Minimum = jsonschema.Ptr(min)
		}
		if !math.IsInf(max, 1) {
			s.Maximum = jsonschema.Ptr(max)
		}
		return nil
	}
}

// Enum restricts the property to the listed strings, as [OneOf] does.
func Enum(values ...string) Rule {
	return func(s *jsonschema.Schema) error {
		if len(values) == 0 {
			return errors.New("enum without values")
		}
		if err := wantString(s); err != nil {
			return err
		}
		s.Enum = make([]any, len(values))
		for i, v := range values {
			s.Enum[i] = v
		}
		return nil
	}
}

func wantString(s *jsonschema.Schema) error {
	if s.Type == "" && len(s.Types) == 0 || s.Type == "string" || slices.Contains(s.Types, "string") {
		return nil
	}
	return fmt.Errorf("a string rule applied to a property of type %s", typeList(s))
}

func typeList(s *jsonschema.Schema) string {
	if s.Type != "" {
		return s.Type
	}
	return strings.Join(s.Types, "|")
}

// Property applies rules to the property of s at path: a dotted path of
// property names ("customer.email"). A step through an array property goes
// to its items ("orders.sku" reaches the sku of every order). It reports
// an error if the path does not exist or a rule does not fit; s is
// modified in place.
func Property(s *jsonschema.Schema, path string, rules ...Rule) error {
	if s == nil {
		return errors.New("validate: nil schema")
	}
	cur := s
	for _, name := range strings.Split(path, ".") {
		for cur.Properties == nil && cur.Items != nil {
			cur = cur.Items
		}
		next, ok := cur.Properties[name]
		if !ok || next == nil {
			return fmt.Errorf("validate: schema has no property %q (in %q)", name, path)
		}
		cur = next
	}
	for cur.Items != nil && (cur.Type == "array" || slices.Contains(cur.Types, "array")) {
		cur = cur.Items
	}
	for _, r := range rules {
		if r == nil {
			continue
		}
		if err := r(cur); err != nil {
			return fmt.Errorf("validate: property %q: %w", path, err)
		}
	}
	return nil
}

// PropertyRules pairs a property path with its rules, for [Schema].
type PropertyRules struct {
	path  string
	rules []Rule
}

// On names the property (see [Property] for the path syntax) that rules
// apply to.
func On(path string, rules ...Rule) PropertyRules {
	return PropertyRules{path: path, rules: rules}
}

// Schema infers the input schema of T with jsonschema.For and applies the
// rules, for use as the InputSchema of a tool:
//
//	type UpdateEmail struct {
//		ID    string `json:"id"`
//		Email string `json:"email"`
//	}
//	schema, err := validate.Schema[UpdateEmail](
//		validate.On("id", validate.FormatID()),
//		validate.On("email", validate.FormatEmail()),
//	)
//	if err != nil { return err }
//	bulwark.AddTool(server, &mcp.Tool{Name: "update_email", InputSchema: schema}, updateEmail)
func Schema[T any](props ...PropertyRules) (*jsonschema.Schema, error) {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	for _, p := range props {
		if err := Property(s, p.path, p.rules...); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MustSchema is [Schema] for package-level variables and start-up code: it
// panics on error, which can only come from a mistake in the program (a
// misspelled path, an invalid pattern), never from a call.
func MustSchema[T any](props ...PropertyRules) *jsonschema.Schema {
	s, err := Schema[T](props...)
	if err != nil {
		panic(err)
	}
	return s
}
