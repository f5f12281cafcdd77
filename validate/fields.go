package validate

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/bulwark-mcp/bulwark"
)

// Violation is what a field validator returns: the rule that failed and,
// in Message, why, phrased as a predicate of the field ("must be at most 50
// characters") so that [Field] can prefix it with the field's name. The
// message never repeats the offending value, which may be sensitive.
//
// Match the rule with errors.Is against the sentinels (errors.Is(err,
// validate.ErrEmail)) or read the whole value with errors.As.
type Violation struct {
	Rule    string
	Message string
}

func (v *Violation) Error() string { return v.Message }

// Is reports whether target is the sentinel of the same rule.
func (v *Violation) Is(target error) bool {
	t, ok := target.(*Violation)
	return ok && t.Message == "" && t.Rule == v.Rule
}

// Sentinels for errors.Is, one per rule. Every Violation of a rule matches
// its sentinel. The field validators return the first four; the refusals
// of [Middleware] carry a Violation as their cause, so
// errors.Is(err, validate.ErrLimit) tells an oversized document from a bad
// email (errors.Is(err, validate.ErrEmail)) without parsing messages.
var (
	ErrID       = &Violation{Rule: "id"}
	ErrEmail    = &Violation{Rule: "email"}
	ErrLength   = &Violation{Rule: "length"}   // also minLength and maxLength
	ErrOneOf    = &Violation{Rule: "enum"}     // also enum and const
	ErrLimit    = &Violation{Rule: "limit"}    // a [Limits] bound
	ErrEncoding = &Violation{Rule: "encoding"} // malformed JSON, not an object, bad UTF-8, control characters, duplicates
	ErrSchema   = &Violation{Rule: "schema"}   // type, required, unknown field, numeric and count bounds
	ErrPattern  = &Violation{Rule: "pattern"}
	ErrFormat   = &Violation{Rule: "format"} // a format checker failed with an error that is not a *Violation
)

func violation(rule, msg string) *Violation { return &Violation{Rule: rule, Message: msg} }

// Field turns the error of a validator into the refusal a handler returns:
// a bulwark invalid-argument error naming field (a JSON path such as
// "customer.email"). It returns nil when err is nil, so checks chain:
//
//	func updateEmail(ctx context.Context, req *mcp.CallToolRequest, in UpdateEmail) (*mcp.CallToolResult, any, error) {
//		if err := validate.Field("email", validate.Email(in.Email)); err != nil {
//			return nil, nil, err
//		}
//		// store the address
//		return &mcp.CallToolResult{}, nil, nil
//	}
//
// The message is the Violation's message. Errors that are not (and do not
// wrap) a *Violation are refused as "is invalid" and kept only as the cause,
// so an internal error text never reaches the client. An error that already
// is a *bulwark.Error is returned unchanged.
func Field(field string, err error) error {
	if err == nil {
		return nil
	}
	var be *bulwark.Error
	if errors.As(err, &be) {
		return err
	}
	msg := "is invalid"
	var v *Violation
	if errors.As(err, &v) && v.Message != "" {
		msg = v.Message
	}
	return &bulwark.Error{Code: bulwark.CodeInvalidArgument, Field: field, Message: msg, Cause: err}
}

// maxIDLength is the longest identifier [ID] accepts.
const maxIDLength = 50

// idPattern is the pattern [ID] enforces, in the regular expression syntax
// JSON Schema uses; [FormatID] advertises it.
const idPattern = "^[a-zA-Z0-9-]+$"

// ID checks an identifier: 1 to 50 ASCII letters, digits and hyphens
// (the pattern ^[a-zA-Z0-9-]+$). Such a value is safe in a URL path, a log line or a key
// without escaping.
func ID(s string) error { return checkID(s) }

func checkID[S ~string | ~[]byte](s S) error {
	if len(s) == 0 {
		return violation("id", "must not be empty")
	}
	if len(s) > maxIDLength {
		return violation("id", "must be at most "+strconv.Itoa(maxIDLength)+" characters")
	}
	for i := 0; i < len(s); i++ {
		if !isIDByte(s[i]) {
			return violation("id", "may contain only ASCII letters, digits and '-'")
		}
	}
	return nil
}

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// Email limits.
const (
	maxEmailLength  = 254 // bytes, the longest address SMTP can carry in a path
	maxLocalLength  = 64
	maxDomainLength = 253
	maxLabelLength  = 63
)

// Email checks a bare email address of the form local@domain, stricter than
// RFC 5322 on purpose, because the value will end up in databases, logs and
// mail headers:
//
//   - at most 254 bytes, ASCII only (internationalized domains must be
//     given in their xn-- form);
//   - exactly one '@';
//   - no display name, angle brackets, quotes, comments, spaces, CR or LF,
//     and no IP-address literal;
//   - a local part of at most 64 bytes in the dot-atom form: letters,
//     digits and !#$%&'*+/=?^_`{|}~- separated by single dots;
//   - a domain with at least one dot, made of labels of 1 to 63 letters,
//     digits and hyphens that neither start nor end with a hyphen, and a
//     last label that is not all digits.
func Email(s string) error { return checkEmail(s) }

func checkEmail[S ~string | ~[]byte](s S) error {
	if len(s) == 0 {
		return violation("email", "must not be empty; give an address like name@example.com")
	}
	if len(s) > maxEmailLength {
		return violation("email", "must be at most "+strconv.Itoa(maxEmailLength)+" bytes")
	}
	at := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r' || c == '\n':
			return violation("email", "must not contain line breaks")
		case c < 0x20 || c == 0x7f:
			return violation("email", "must not contain control characters")
		case c >= 0x80:
			return violation("email", "must be ASCII; write an internationalized domain in its xn-- form")
		case c == ' ' || c == '<' || c == '>' || c == '"' || c == '(' || c == ')':
			return violation("email", "must be a bare address like name@example.com, without a display name, quotes, comments or spaces")
		case c == '@':
			if at >= 0 {
				return violation("email", "must contain exactly one '@'")
			}
			at = i
		}
	}
	if at < 0 {
		return violation("email", "must contain exactly one '@'")
	}
	local, domain := s[:at], s[at+1:]
	if err := checkLocal(local); err != nil {
		return err
	}
	return checkDomain(domain)
}

func checkLocal[S ~string | ~[]byte](s S) error {
	if len(s) == 0 {
		return violation("email", "must have a local part before the '@'")
	}
	if len(s) > maxLocalLength {
		return violation("email", "must have a local part of at most "+strconv.Itoa(maxLocalLength)+" bytes")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if i == 0 || i == len(s)-1 || s[i-1] == '.' {
				return violation("email", "must not have a dot at the start or end of the local part, or two dots in a row")
			}
			continue
		}
		if !isAtext(c) {
			return violation("email", "may contain only letters, digits, dots and !#$%&'*+/=?^_`{|}~- before the '@'")
		}
	}
	return nil
}

func isAtext(c byte) bool {
	if isIDByte(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+/=?^_`{|}~", c) >= 0
}

func checkDomain[S ~string | ~[]byte](s S) error {
	if len(s) == 0 || len(s) > maxDomainLength {
		return violation("email", "must have a domain of 1 to "+strconv.Itoa(maxDomainLength)+" bytes after the '@'")
	}
	dots := 0
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '.' {
			c := s[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return violation("email", "must have a domain of letters, digits, hyphens and dots, like example.com")
			}
			continue
		}
		label := s[start:i]
		if len(label) == 0 || len(label) > maxLabelLength {
			return violation("email", "must have a domain whose parts between dots are 1 to "+strconv.Itoa(maxLabelLength)+" characters long")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return violation("email", "must have a domain whose parts do not start or end with '-'")
		}
		if i == len(s) {
			allDigits := true
			for j := 0; j < len(label); j++ {
				if label[j] < '0' || label[j] > '9' {
					allDigits = false
					break
				}
			}
			if allDigits {
				return violation("email", "must have a domain name, not an IP address, like example.com")
			}
		} else {
			dots++
		}
		start = i + 1
	}
	if dots == 0 {
		return violation("email", "must have a domain with a dot, like example.com")
	}
	return nil
}

// Length checks that s has between min and max characters, counting
// Unicode code points (runes), as JSON Schema's minLength and maxLength do,
// so [MinLength] and [MaxLength] in a schema and Length in a handler agree.
// A max below zero means no upper bound. Invalid UTF-8 is refused.
func Length(s string, min, max int) error {
	if !utf8.ValidString(s) {
		return violation("length", "must be valid UTF-8")
	}
	return checkLength(utf8.RuneCountInString(s), min, max)
}

func checkLength(n, min, max int) error {
	if n < min {
		if min == 1 {
			return violation("length", "must not be empty")
		}
		return violation("length", "must be at least "+strconv.Itoa(min)+" characters")
	}
	if max >= 0 && n > max {
		return violation("length", "must be at most "+strconv.Itoa(max)+" characters")
	}
	return nil
}

// OneOf checks that s is exactly (case-sensitively) one of allowed.
func OneOf(s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	return violation("enum", "must be one of "+quoteList(allowed))
}

// quoteList renders values for a message, shortening long lists: a model
// needs the choices, but a message must stay bounded.
func quoteList[T any](vals []T) string {
	const maxShown = 20
	var b strings.Builder
	for i, v := range vals {
		if i == maxShown {
			b.WriteString(", … (" + strconv.Itoa(len(vals)-maxShown) + " more)")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(jsonText(v))
	}
	if len(vals) == 0 {
		return "(nothing: no value is allowed)"
	}
	return b.String()
}
