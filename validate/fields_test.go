package validate_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/validate"
)

func TestID(t *testing.T) {
	tests := []struct {
		in   string
		want string // substring of the message; "" means valid
	}{
		{"c-1", ""},
		{"ABC-xyz-09", ""},
		{strings.Repeat("a", 50), ""},
		{"-", ""},
		{"", "must not be empty"},
		{strings.Repeat("a", 51), "at most 50 characters"},
		{"a b", "only ASCII letters, digits and '-'"},
		{"a_b", "only ASCII"},
		{"a/../b", "only ASCII"},
		{"1;DROP TABLE", "only ASCII"},
		{"café", "only ASCII"},
		{"a\x00", "only ASCII"},
		{"a\n", "only ASCII"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.in), func(t *testing.T) {
			checkViolation(t, validate.ID(tt.in), validate.ErrID, tt.want)
		})
	}
}

func TestEmail(t *testing.T) {
	// The longest valid address: 64 + 1 + 189 = 254 bytes.
	longest := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".com"
	if len(longest) != 254 {
		t.Fatalf("fixture is %d bytes", len(longest))
	}
	tests := []struct {
		in   string
		want string
	}{
		{"ada@example.com", ""},
		{"first.last+tag@sub.example.co.uk", ""},
		{"o'brien@example.ie", ""},
		{"x@a.io", ""},
		{"user@xn--bcher-kva.example", ""},
		{"a!#$%&'*+/=?^_`{|}~-z@example.com", ""},
		{longest, ""},
		{longest + "m", "at most 254 bytes"},
		{"", "must not be empty"},
		{strings.Repeat("a", 250) + "@b.cd", "at most 254 bytes"},
		{"ada.example.com", "exactly one '@'"},
		{"ada@@example.com", "exactly one '@'"},
		{"a@b@example.com", "exactly one '@'"},
		{"Ada <ada@example.com>", "without a display name"},
		{"<ada@example.com>", "without a display name"},
		{"\"ada\"@example.com", "without a display name, quotes"},
		{"ada(comment)@example.com", "comments"},
		{"ada@example.com\r\nBcc: eve@example.com", "line breaks"},
		{"ada@example.com\n", "line breaks"},
		{"ada\x00@example.com", "control characters"},
		{"ada\x7f@example.com", "control characters"},
		{"ada @example.com", "spaces"},
		{"adá@example.com", "must be ASCII"},
		{"ada@exämple.com", "must be ASCII"},
		{"@example.com", "local part"},
		{"ada@", "domain of 1 to 253 bytes"},
		{"ada@localhost", "domain with a dot"},
		{"ada@example..com", "between dots are 1 to 63"},
		{"ada@.example.com", "between dots are 1 to 63"},
		{"ada@example.com.", "between dots are 1 to 63"},
		{"ada@-example.com", "start or end with '-'"},
		{"ada@example-.com", "start or end with '-'"},
		{"ada@127.0.0.1", "not an IP address"},
		{"ada@[127.0.0.1]", "letters, digits, hyphens and dots"},
		{"ada@exa_mple.com", "letters, digits, hyphens and dots"},
		{".ada@example.com", "dot at the start or end"},
		{"ada.@example.com", "dot at the start or end"},
		{"a..da@example.com", "two dots in a row"},
		{"a,da@example.com", "may contain only letters"},
		{"a;da@example.com", "may contain only letters"},
		{"a\\da@example.com", "may contain only letters"},
		{strings.Repeat("a", 65) + "@example.com", "local part of at most 64"},
		{"ada@" + strings.Repeat("b", 64) + ".com", "between dots are 1 to 63"},
	}
	for _, tt := range tests {
		name := tt.in
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			checkViolation(t, validate.Email(tt.in), validate.ErrEmail, tt.want)
		})
	}
}

func TestLength(t *testing.T) {
	tests := []struct {
		in       string
		min, max int
		want     string
	}{
		{"abc", 1, 3, ""},
		{"héé", 3, 3, ""}, // runes, not bytes
		{"日本語", 0, 3, ""},
		{"", 0, -1, ""},
		{strings.Repeat("x", 10000), 0, -1, ""},
		{"", 1, 10, "must not be empty"},
		{"ab", 3, 10, "at least 3 characters"},
		{"abcd", 0, 3, "at most 3 characters"},
		{"日本語x", 0, 3, "at most 3 characters"},
		{"\xff", 0, 10, "valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q/%d-%d", tt.in, tt.min, tt.max), func(t *testing.T) {
			checkViolation(t, validate.Length(tt.in, tt.min, tt.max), validate.ErrLength, tt.want)
		})
	}
}

func TestOneOf(t *testing.T) {
	checkViolation(t, validate.OneOf("asc", "asc", "desc"), validate.ErrOneOf, "")
	checkViolation(t, validate.OneOf("ASC", "asc", "desc"), validate.ErrOneOf, `must be one of "asc", "desc"`)
	checkViolation(t, validate.OneOf("x"), validate.ErrOneOf, "no value is allowed")
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprint("v", i)
	}
	checkViolation(t, validate.OneOf("x", many...), validate.ErrOneOf, "(5 more)")
}

func checkViolation(t *testing.T, err error, sentinel error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("got %v, want valid", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got valid, want %q", want)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("errors.Is(%v, sentinel) = false", err)
	}
	var v *validate.Violation
	if !errors.As(err, &v) {
		t.Fatalf("%T is not a *Violation", err)
	}
	if !strings.Contains(v.Message, want) {
		t.Errorf("message %q does not contain %q", v.Message, want)
	}
	for _, other := range []error{validate.ErrID, validate.ErrEmail, validate.ErrLength, validate.ErrOneOf} {
		if other != sentinel && errors.Is(err, other) {
			t.Errorf("%v matches the wrong sentinel %v", err, other.(*validate.Violation).Rule)
		}
	}
}

func TestField(t *testing.T) {
	if validate.Field("email", nil) != nil {
		t.Fatal("Field(nil) != nil")
	}
	err := validate.Field("customer.email", validate.Email("nope"))
	if !errors.Is(err, bulwark.CodeInvalidArgument) {
		t.Fatalf("not an invalid-argument refusal: %v", err)
	}
	if !errors.Is(err, validate.ErrEmail) {
		t.Errorf("the violation is not reachable with errors.Is: %v", err)
	}
	be := bulwark.ErrorOf(err)
	if be.Field != "customer.email" || be.Message != "must contain exactly one '@'" {
		t.Errorf("got field %q message %q", be.Field, be.Message)
	}
	if got := err.Error(); got != `argument "customer.email": must contain exactly one '@'` {
		t.Errorf("Error() = %q", got)
	}

	// A wrapped violation keeps its message.
	err = validate.Field("id", fmt.Errorf("lookup: %w", validate.ID("")))
	if got := bulwark.ErrorOf(err).Message; got != "must not be empty" {
		t.Errorf("wrapped: message %q", got)
	}
	// Other errors never leak their text.
	err = validate.Field("id", errors.New("pq: connection refused at 10.0.0.5"))
	if got := err.Error(); got != `argument "id": is invalid` {
		t.Errorf("foreign error leaked: %q", got)
	}
	// A refusal passes through unchanged.
	orig := bulwark.InvalidArgument("x", "custom")
	if validate.Field("y", orig) != error(orig) {
		t.Error("a *bulwark.Error was rewrapped")
	}
}
