package validate_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/bulwark-mcp/bulwark/validate"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type ruleTarget struct {
	Name  string   `json:"name"`
	Count int      `json:"count"`
	Tags  []string `json:"tags"`
	Ptr   *string  `json:"ptr,omitempty"`
	Sub   struct {
		Email string `json:"email"`
	} `json:"sub"`
	Items []struct {
		SKU string `json:"sku"`
	} `json:"items"`
}

func TestRules(t *testing.T) {
	tests := []struct {
		name string
		path string
		rule validate.Rule
		json string // the property's schema after the rule; "" when an error is expected
		err  string
	}{
		{"pattern", "name", validate.Pattern("^a$"), `{"type":"string","pattern":"^a$"}`, ""},
		{"bad pattern", "name", validate.Pattern("(["), "", "missing closing"},
		{"minLength", "name", validate.MinLength(2), `{"type":"string","minLength":2}`, ""},
		{"negative minLength", "name", validate.MinLength(-1), "", "negative"},
		{"maxLength", "name", validate.MaxLength(9), `{"type":"string","maxLength":9}`, ""},
		{"email", "sub.email", validate.FormatEmail(), `{"type":"string","maxLength":254,"format":"email"}`, ""},
		{"id", "name", validate.FormatID(), `{"type":"string","minLength":1,"maxLength":50,"pattern":"^[a-zA-Z0-9-]+$"}`, ""},
		{"enum", "name", validate.Enum("x", "y"), `{"type":"string","enum":["x","y"]}`, ""},
		{"empty enum", "name", validate.Enum(), "", "enum without values"},
		{"array items", "tags", validate.MaxLength(3), `{"type":"string","maxLength":3}`, ""},
		{"through array", "items.sku", validate.FormatID(), `{"type":"string","minLength":1,"maxLength":50,"pattern":"^[a-zA-Z0-9-]+$"}`, ""},
		{"pointer", "ptr", validate.MaxLength(4), `{"type":["null","string"],"maxLength":4}`, ""},
		{"wrong type", "count", validate.MaxLength(3), "", "string rule applied to a property of type integer"},
		{"missing", "nmae", validate.MaxLength(3), "", `no property "nmae"`},
		{"missing nested", "sub.mail", validate.MaxLength(3), "", `no property "mail" (in "sub.mail")`},
		{"nil rule", "name", nil, `{"type":"string"}`, ""},
		{"range", "count", validate.Range(1, 50), `{"type":"integer","minimum":1,"maximum":50}`, ""},
		{"range open above", "count", validate.Range(0, math.Inf(1)), `{"type":"integer","minimum":0}`, ""},
		{"empty range", "count", validate.Range(2, 1), "", "is empty"},
		{"NaN range", "count", validate.Range(math.NaN(), 1), "", "is empty"},
		{"range on a string", "name", validate.Range(1, 2), "", "number rule applied to a property of type string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := jsonschema.For[ruleTarget](nil)
			if err != nil {
				t.Fatal(err)
			}
			err = validate.Property(s, tt.path, tt.rule)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want error containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cur := s
			for _, p := range strings.Split(tt.path, ".") {
				if cur.Items != nil && cur.Properties == nil {
					cur = cur.Items
				}
				cur = cur.Properties[p]
			}
			if cur.Items != nil {
				cur = cur.Items
			}
			b, _ := json.Marshal(cur)
			if string(b) != tt.json {
				t.Errorf("schema %s, want %s", b, tt.json)
			}
		})
	}
	if err := validate.Property(nil, "x"); err == nil {
		t.Error("nil schema accepted")
	}
	if _, err := validate.Schema[chan int](); err == nil {
		t.Error("Schema of a channel type succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Error("MustSchema did not panic on a bad path")
		}
	}()
	validate.MustSchema[ruleTarget](validate.On("nope", validate.MaxLength(1)))
}

// The schema a tool advertises is what the layer enforces: every rule
// added with the helpers shows up in tools/list and refuses at call time.
func TestAdvertisedEqualsEnforced(t *testing.T) {
	schema := validate.MustSchema[ruleTarget](
		validate.On("name", validate.FormatID()),
		validate.On("sub.email", validate.FormatEmail()),
		validate.On("items.sku", validate.Pattern("^SKU-[0-9]+$")),
		validate.On("tags", validate.Enum("a", "b")),
	)
	def := &mcp.Tool{Name: "t", InputSchema: schema}
	base := `"count":1,"tags":["a"],"sub":{"email":"a@b.co"},"items":[{"sku":"SKU-1"}]`
	cases := map[string]string{
		`{"name":"ok-1",` + base + `}`:                                                      "",
		`{"name":"no way",` + base + `}`:                                                    "name",
		`{"name":"x","count":1,"tags":["c"],"sub":{"email":"a@b.co"},"items":[]}`:           "tags[0]",
		`{"name":"x","count":1,"tags":[],"sub":{"email":"a@b"},"items":[]}`:                 "sub.email",
		`{"name":"x","count":1,"tags":[],"sub":{"email":"a@b.co"},"items":[{"sku":"s-1"}]}`: "items[0].sku",
	}
	for args, field := range cases {
		_, err := invoke(t, validate.Middleware(validate.Config{}), def, "t", args)
		if field == "" {
			want(t, err, "", "")
			continue
		}
		if err == nil {
			t.Fatalf("%s accepted", args)
		}
		want(t, err, field, "must")
	}
}
